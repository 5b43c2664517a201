//! Tauri commands. Each is a thin adapter: call the app core, return its answer or its typed
//! error. The names, arguments and results are listed for TypeScript in
//! [`crate::app::bindings::commands`]; `build.rs` grants the same list.
//!
//! Commands that touch the keychain or run Argon2 are `async` and move the work to a blocking
//! thread, so the window never freezes on them.

use std::sync::Arc;

use tauri::State;
use tauri::ipc::Channel;

use crate::about::{self, AppInfo};
use crate::app::types::{
    LinkedPhoneView, NewProfile, PasskeyView, PhoneEvent, PhoneOutcome, PhoneRequest, ProfileView,
    RequestAnswer, RequestView, SettingsView, UserSettings,
};
use crate::app::{AppCore, AppError, AppResult};

/// The core, as Tauri state.
pub type Core<'a> = State<'a, Arc<AppCore>>;

/// Runs `work` on the blocking pool: keychain calls and Argon2 must not hold the IPC thread.
async fn blocking<T: Send + 'static>(
    core: &Arc<AppCore>,
    work: impl FnOnce(&AppCore) -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    let core = Arc::clone(core);
    tauri::async_runtime::spawn_blocking(move || work(&core))
        .await
        .map_err(|e| AppError::internal(&e))?
}

/// The app's version and build facts, for the window's "About" line.
#[tauri::command]
pub fn app_info() -> AppInfo {
    about::app_info()
}

/// Every profile, the active one marked.
#[tauri::command]
pub async fn profiles_list(core: Core<'_>) -> AppResult<Vec<ProfileView>> {
    super::note_interactive();
    blocking(&core, AppCore::profiles).await
}

/// Creates a profile and makes it active.
#[tauri::command]
pub async fn profile_create(core: Core<'_>, profile: NewProfile) -> AppResult<Vec<ProfileView>> {
    blocking(&core, move |core| core.create_profile(profile)).await
}

/// Makes a profile active.
#[tauri::command]
pub async fn profile_switch(core: Core<'_>, name: String) -> AppResult<Vec<ProfileView>> {
    blocking(&core, move |core| core.switch_profile(&name)).await
}

/// Unlocks a profile with its PIN.
#[tauri::command]
pub async fn profile_unlock(
    core: Core<'_>,
    name: String,
    pin: String,
) -> AppResult<Vec<ProfileView>> {
    blocking(&core, move |core| core.unlock_profile(&name, pin)).await
}

/// Locks a profile.
#[tauri::command]
pub async fn profile_lock(core: Core<'_>, name: String) -> AppResult<Vec<ProfileView>> {
    blocking(&core, move |core| core.lock_profile(&name)).await
}

/// The active profile's passkeys.
#[tauri::command]
pub async fn passkeys_list(core: Core<'_>) -> AppResult<Vec<PasskeyView>> {
    blocking(&core, AppCore::passkeys).await
}

/// Renames a passkey's account display name.
#[tauri::command]
pub async fn passkey_rename(
    core: Core<'_>,
    id: String,
    display_name: String,
) -> AppResult<Vec<PasskeyView>> {
    blocking(&core, move |core| core.rename_passkey(&id, &display_name)).await
}

/// Deletes a passkey (a phone passkey is only forgotten here).
#[tauri::command]
pub async fn passkey_delete(core: Core<'_>, id: String) -> AppResult<Vec<PasskeyView>> {
    blocking(&core, move |core| core.delete_passkey(&id)).await
}

/// Phones linked to the active profile.
#[tauri::command]
pub async fn phones_list(core: Core<'_>) -> AppResult<Vec<LinkedPhoneView>> {
    blocking(&core, AppCore::linked_phones).await
}

/// Forgets a linked phone.
#[tauri::command]
pub async fn phone_remove(core: Core<'_>, name: String) -> AppResult<Vec<LinkedPhoneView>> {
    blocking(&core, move |core| core.remove_phone(&name)).await
}

/// The policy and the user's settings.
#[tauri::command]
pub fn settings_get(core: Core<'_>) -> AppResult<SettingsView> {
    core.settings()
}

/// Saves the user's settings; the security key follows its setting at once.
#[tauri::command]
pub async fn settings_save(core: Core<'_>, settings: UserSettings) -> AppResult<SettingsView> {
    let core = Arc::clone(&core);
    tauri::async_runtime::spawn_blocking(move || {
        core.save_settings(settings)?;
        core.apply_security_key()?;
        core.settings()
    })
    .await
    .map_err(|e| AppError::internal(&e))?
}

/// Runs a phone ceremony; its steps stream over `on_event`.
#[tauri::command]
pub async fn phone_run(
    core: Core<'_>,
    request: PhoneRequest,
    on_event: Channel<PhoneEvent>,
) -> AppResult<PhoneOutcome> {
    let core = Arc::clone(&core);
    // The ceremony's futures hold a vault reference across awaits; run it on the app's runtime
    // as its own task so the IPC handler only waits for the answer.
    tauri::async_runtime::spawn(async move {
        let mut emit = |event: PhoneEvent| {
            if let Err(error) = on_event.send(event) {
                tracing::warn!(%error, "the window stopped listening to a phone flow");
            }
        };
        core.run_phone(request, &mut emit).await
    })
    .await
    .map_err(|e| AppError::internal(&e))?
}

/// Cancels a running phone ceremony.
#[tauri::command]
pub fn phone_cancel(core: Core<'_>, flow: u32) -> bool {
    core.cancel_phone(flow)
}

/// The request waiting for an answer, if any.
#[tauri::command]
pub fn request_current(core: Core<'_>) -> Option<RequestView> {
    core.current_request()
}

/// Answers the request dialog.
#[tauri::command]
pub async fn request_answer(core: Core<'_>, answer: RequestAnswer) -> AppResult<()> {
    blocking(&core, move |core| core.answer_request(answer)).await
}
