//! The phones linked to the active profile: list, remove.

use passbridge_core::app::AppCore;
use passbridge_core::app::types::LinkedPhoneView;

use super::super::args::{Args, PhoneArgs};
use super::super::error::IpcResult;
use super::{Core, blocking};

/// Phones linked to the active profile.
#[tauri::command]
pub async fn phones_list(core: Core<'_>) -> IpcResult<Vec<LinkedPhoneView>> {
    blocking(&core, AppCore::linked_phones).await
}

/// Forgets a linked phone.
#[tauri::command]
pub async fn phone_remove(
    core: Core<'_>,
    args: Args<PhoneArgs>,
) -> IpcResult<Vec<LinkedPhoneView>> {
    let Args(PhoneArgs { name }) = args;
    blocking(&core, move |core| core.remove_phone(&name)).await
}
