//! The window's TypeScript bindings, generated from the Rust types (ts-rs) and the command
//! table below, committed as `ui/src/ipc/bindings.ts`. A test fails when the committed file
//! differs from what the code generates; `./dev bindings` rewrites it.

use passbridge_core::about::AppInfo;
use passbridge_core::app::types::{
    AccountChoice, CounterRegression, LinkedPhoneView, LogLevel, NewProfile, PasskeyLocation,
    PasskeyView, PhoneCeremony, PhoneOutcome, PhoneRequest, PhoneStep, PolicyView, ProfileView,
    RequestAnswer, RequestKind, RequestView, SettingsView, UserSettings,
};
use passbridge_core::diagnostics::{Area, NetStep, Status};
use passbridge_core::phone::cross_device::{CeremonyKind, TestPhase};
use passbridge_core::profile::{LockState, Protection};
use ts_rs::{Config, TS};

use super::args::{
    DiagnosticsNetworkArgs, DiagnosticsTestArgs, PasskeyArgs, PasskeyRenameArgs, PhoneArgs,
    PhoneCancelArgs, PhoneRunArgs, ProfileArgs, ProfileCreateArgs, ProfileUnlockArgs, ReportArgs,
    RequestAnswerArgs, SettingsSaveArgs,
};
use super::commands::diagnostics::{CheckView, NetStepView, TestPhaseView, TestResultView};
use super::error::{ErrorCode, IpcError};
use super::events::{PHONE_EVENT, PROFILES_EVENT, PhoneEvent, REQUEST_EVENT};

/// Where the bindings live, relative to the workspace root.
pub const BINDINGS_PATH: &str = "ui/src/ipc/bindings.ts";

fn config() -> Config {
    // Unix seconds and millisecond counts fit a JavaScript number exactly.
    Config::new().with_large_int("number")
}

fn name<T: TS>(cfg: &Config) -> String {
    T::name(cfg)
}

/// Every command the window may call: name, arguments (the type of its whole invoke body, as
/// the command's `Args` deserialises it; `{}` for none) and result. The desktop module
/// registers exactly these.
pub fn commands(cfg: &Config) -> Vec<(&'static str, String, String)> {
    let list = |t: String| format!("{t}[]");
    let none = || "{}".to_owned();
    vec![
        ("app_info", none(), name::<AppInfo>(cfg)),
        ("profiles_list", none(), list(name::<ProfileView>(cfg))),
        (
            "profile_create",
            name::<ProfileCreateArgs>(cfg),
            list(name::<ProfileView>(cfg)),
        ),
        (
            "profile_switch",
            name::<ProfileArgs>(cfg),
            list(name::<ProfileView>(cfg)),
        ),
        (
            "profile_unlock",
            name::<ProfileUnlockArgs>(cfg),
            list(name::<ProfileView>(cfg)),
        ),
        (
            "profile_lock",
            name::<ProfileArgs>(cfg),
            list(name::<ProfileView>(cfg)),
        ),
        ("passkeys_list", none(), list(name::<PasskeyView>(cfg))),
        (
            "passkey_rename",
            name::<PasskeyRenameArgs>(cfg),
            list(name::<PasskeyView>(cfg)),
        ),
        (
            "passkey_delete",
            name::<PasskeyArgs>(cfg),
            list(name::<PasskeyView>(cfg)),
        ),
        ("phones_list", none(), list(name::<LinkedPhoneView>(cfg))),
        (
            "phone_remove",
            name::<PhoneArgs>(cfg),
            list(name::<LinkedPhoneView>(cfg)),
        ),
        ("settings_get", none(), name::<SettingsView>(cfg)),
        (
            "settings_save",
            name::<SettingsSaveArgs>(cfg),
            name::<SettingsView>(cfg),
        ),
        (
            "phone_run",
            name::<PhoneRunArgs>(cfg),
            name::<PhoneOutcome>(cfg),
        ),
        (
            "phone_cancel",
            name::<PhoneCancelArgs>(cfg),
            "boolean".into(),
        ),
        (
            "request_current",
            none(),
            format!("{} | null", name::<RequestView>(cfg)),
        ),
        (
            "request_answer",
            name::<RequestAnswerArgs>(cfg),
            "null".into(),
        ),
        ("diagnostics_run", none(), list(name::<CheckView>(cfg))),
        (
            "diagnostics_network",
            name::<DiagnosticsNetworkArgs>(cfg),
            format!("{} | null", list(name::<CheckView>(cfg))),
        ),
        ("diagnostics_cancel", none(), "null".into()),
        (
            "diagnostics_test",
            name::<DiagnosticsTestArgs>(cfg),
            name::<TestResultView>(cfg),
        ),
        ("diagnostics_export", none(), "string".into()),
        (
            "diagnostics_open_report",
            name::<ReportArgs>(cfg),
            "null".into(),
        ),
    ]
}

fn decl<T: TS>(cfg: &Config) -> String {
    let docs = T::docs()
        .map(|d| format!("{}\n", d.trim_end()))
        .unwrap_or_default();
    format!("{docs}export {}\n", T::decl(cfg))
}

/// The whole `bindings.ts` text.
pub fn generate() -> String {
    let cfg = config();
    let decls = [
        decl::<AppInfo>(&cfg),
        decl::<ErrorCode>(&cfg),
        decl::<IpcError>(&cfg),
        decl::<LockState>(&cfg),
        decl::<Protection>(&cfg),
        decl::<ProfileView>(&cfg),
        decl::<NewProfile>(&cfg),
        decl::<PasskeyLocation>(&cfg),
        decl::<PasskeyView>(&cfg),
        decl::<LinkedPhoneView>(&cfg),
        decl::<LogLevel>(&cfg),
        decl::<PolicyView>(&cfg),
        decl::<UserSettings>(&cfg),
        decl::<SettingsView>(&cfg),
        decl::<PhoneCeremony>(&cfg),
        decl::<PhoneRequest>(&cfg),
        decl::<PhoneStep>(&cfg),
        decl::<Status>(&cfg),
        decl::<Area>(&cfg),
        decl::<CheckView>(&cfg),
        decl::<NetStep>(&cfg),
        decl::<NetStepView>(&cfg),
        decl::<CeremonyKind>(&cfg),
        decl::<TestPhase>(&cfg),
        decl::<TestPhaseView>(&cfg),
        decl::<TestResultView>(&cfg),
        decl::<PhoneEvent>(&cfg),
        decl::<PhoneOutcome>(&cfg),
        decl::<CounterRegression>(&cfg),
        decl::<RequestKind>(&cfg),
        decl::<AccountChoice>(&cfg),
        decl::<RequestView>(&cfg),
        decl::<RequestAnswer>(&cfg),
        decl::<ProfileCreateArgs>(&cfg),
        decl::<ProfileArgs>(&cfg),
        decl::<ProfileUnlockArgs>(&cfg),
        decl::<PasskeyArgs>(&cfg),
        decl::<PasskeyRenameArgs>(&cfg),
        decl::<PhoneArgs>(&cfg),
        decl::<SettingsSaveArgs>(&cfg),
        decl::<PhoneRunArgs>(&cfg),
        decl::<PhoneCancelArgs>(&cfg),
        decl::<RequestAnswerArgs>(&cfg),
        decl::<DiagnosticsNetworkArgs>(&cfg),
        decl::<DiagnosticsTestArgs>(&cfg),
        decl::<ReportArgs>(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by `./dev bindings` (src-tauri/src/desktop/bindings.rs).\n\
         // Do not edit: a test fails when this file and the Rust code disagree.\n\n\
         import type { Channel } from \"@tauri-apps/api/core\";\n\n",
    );
    for decl in decls {
        out.push_str(&decl);
        out.push('\n');
    }
    out.push_str(&format!(
        "/** The event that opens (a RequestView) or closes (null) the request dialog. */\n\
         export const REQUEST_EVENT = \"{REQUEST_EVENT}\";\n\n\
         /** The event that carries each step (a PhoneEvent) of a request sent to the phone. */\n\
         export const PHONE_EVENT = \"{PHONE_EVENT}\";\n\n\
         /** The event that says the profiles changed outside the window (no payload). */\n\
         export const PROFILES_EVENT = \"{PROFILES_EVENT}\";\n\n"
    ));
    out.push_str("/** Every command: its arguments and result. */\nexport interface Commands {\n");
    for (command, args, result) in commands(&cfg) {
        out.push_str(&format!(
            "  {command}: {{ args: {args}; result: {result} }};\n"
        ));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn committed_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(BINDINGS_PATH)
    }

    /// `PASSBRIDGE_WRITE_BINDINGS=1 cargo test -p passbridge desktop::bindings` (`./dev bindings`)
    /// rewrites the file; otherwise it must match.
    #[test]
    fn bindings_are_fresh() {
        let generated = generate();
        let path = committed_path();
        if std::env::var_os("PASSBRIDGE_WRITE_BINDINGS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: run `./dev bindings` and commit the result",
            path.display()
        );
    }

    #[test]
    fn every_command_is_named_once() {
        let cfg = config();
        let mut names: Vec<_> = commands(&cfg).into_iter().map(|(n, _, _)| n).collect();
        let before = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), before);
    }
}
