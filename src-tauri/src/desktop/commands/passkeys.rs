//! The active profile's passkeys: list, rename, delete.

use passbridge_core::app::AppCore;
use passbridge_core::app::types::PasskeyView;

use super::super::args::{Args, PasskeyArgs, PasskeyRenameArgs};
use super::super::error::IpcResult;
use super::{Core, blocking};

/// The active profile's passkeys.
#[tauri::command]
pub async fn passkeys_list(core: Core<'_>) -> IpcResult<Vec<PasskeyView>> {
    blocking(&core, AppCore::passkeys).await
}

/// Renames a passkey's account display name.
#[tauri::command]
pub async fn passkey_rename(
    core: Core<'_>,
    args: Args<PasskeyRenameArgs>,
) -> IpcResult<Vec<PasskeyView>> {
    let Args(PasskeyRenameArgs { id, display_name }) = args;
    blocking(&core, move |core| core.rename_passkey(&id, &display_name)).await
}

/// Deletes a passkey (a phone passkey is only forgotten here).
#[tauri::command]
pub async fn passkey_delete(
    core: Core<'_>,
    args: Args<PasskeyArgs>,
) -> IpcResult<Vec<PasskeyView>> {
    let Args(PasskeyArgs { id }) = args;
    blocking(&core, move |core| core.delete_passkey(&id)).await
}
