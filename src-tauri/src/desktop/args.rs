//! The commands' arguments as Rust types: each command takes one `Args<T>`, the whole invoke
//! body deserialised as `T`. The TypeScript bindings describe the arguments from the same
//! types (`bindings.rs`), so renaming a field here changes the bindings, and a stale window
//! fails its type-check.

use passbridge_core::app::types::{NewProfile, PhoneRequest, RequestAnswer, UserSettings};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tauri::Runtime;
use tauri::ipc::{CommandArg, CommandItem, InvokeBody, InvokeError, JavaScriptChannelId};
use ts_rs::TS;

/// A command's arguments: the invoke body, deserialised as `T`.
#[derive(Debug)]
pub struct Args<T>(pub T);

impl<'de, T: DeserializeOwned, R: Runtime> CommandArg<'de, R> for Args<T> {
    fn from_command(command: CommandItem<'de, R>) -> Result<Self, InvokeError> {
        let parsed = match command.message.payload() {
            InvokeBody::Json(body) => T::deserialize(body).map_err(|e| e.to_string()),
            InvokeBody::Raw(_) => Err("arguments must be JSON".to_owned()),
        };
        parsed
            .map(Args)
            .map_err(|e| InvokeError::from(format!("{}: bad arguments: {e}", command.name)))
    }
}

/// `profile_create`.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProfileCreateArgs {
    /// The new profile.
    pub profile: NewProfile,
}

/// `profile_switch`, `profile_lock`.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProfileArgs {
    /// The profile's name.
    pub name: String,
}

/// `profile_unlock`.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ProfileUnlockArgs {
    /// The profile's name.
    pub name: String,
    /// Its PIN or passphrase.
    pub pin: String,
}

/// `passkey_delete`.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyArgs {
    /// The passkey's credential ID, hex.
    pub id: String,
}

/// `passkey_rename`.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRenameArgs {
    /// The passkey's credential ID, hex.
    pub id: String,
    /// The account's new display name.
    pub display_name: String,
}

/// `phone_remove`.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PhoneArgs {
    /// The linked phone's name.
    pub name: String,
}

/// `settings_save`.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SettingsSaveArgs {
    /// The user's settings.
    pub settings: UserSettings,
}

/// `phone_run`.
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PhoneRunArgs {
    /// What to do with the phone.
    pub request: PhoneRequest,
    /// Where each step goes (a `Channel` the window made).
    #[ts(type = "Channel<PhoneEvent>")]
    pub on_event: JavaScriptChannelId,
}

/// `diagnostics_network`.
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticsNetworkArgs {
    /// Check only the relay the settings name, not the public tunnel services.
    pub only_relay: bool,
    /// Where each step goes as it starts (a `Channel` the window made).
    #[ts(type = "Channel<NetStepView>")]
    pub on_step: JavaScriptChannelId,
}

/// `diagnostics_test`.
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticsTestArgs {
    /// Play the phone with the virtual phone (no phone needed).
    pub virtual_phone: bool,
    /// Where each phase goes as it is reached (a `Channel` the window made).
    #[ts(type = "Channel<TestPhaseView>")]
    pub on_phase: JavaScriptChannelId,
}

/// `diagnostics_open_report`.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReportArgs {
    /// The report's page, as `diagnostics_export` returned it.
    pub path: String,
}

/// `phone_cancel`.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PhoneCancelArgs {
    /// The flow to cancel.
    pub flow: u32,
}

/// `request_answer`.
#[derive(Debug, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RequestAnswerArgs {
    /// The person's answer.
    pub answer: RequestAnswer,
}
