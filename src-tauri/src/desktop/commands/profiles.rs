//! Profiles: list, create, switch, unlock, lock.

use passbridge_core::app::AppCore;
use passbridge_core::app::types::ProfileView;

use super::super::args::{Args, ProfileArgs, ProfileCreateArgs, ProfileUnlockArgs};
use super::super::error::IpcResult;
use super::{Core, blocking};

/// Every profile, the active one marked.
#[tauri::command]
pub async fn profiles_list(core: Core<'_>) -> IpcResult<Vec<ProfileView>> {
    super::super::note_interactive();
    blocking(&core, AppCore::profiles).await
}

/// Creates a profile and makes it active.
#[tauri::command]
pub async fn profile_create(
    core: Core<'_>,
    args: Args<ProfileCreateArgs>,
) -> IpcResult<Vec<ProfileView>> {
    let Args(ProfileCreateArgs { profile }) = args;
    blocking(&core, move |core| core.create_profile(profile)).await
}

/// Makes a profile active.
#[tauri::command]
pub async fn profile_switch(
    core: Core<'_>,
    args: Args<ProfileArgs>,
) -> IpcResult<Vec<ProfileView>> {
    let Args(ProfileArgs { name }) = args;
    blocking(&core, move |core| core.switch_profile(&name)).await
}

/// Unlocks a profile with its PIN.
#[tauri::command]
pub async fn profile_unlock(
    core: Core<'_>,
    args: Args<ProfileUnlockArgs>,
) -> IpcResult<Vec<ProfileView>> {
    let Args(ProfileUnlockArgs { name, pin }) = args;
    blocking(&core, move |core| core.unlock_profile(&name, pin)).await
}

/// Locks a profile.
#[tauri::command]
pub async fn profile_lock(core: Core<'_>, args: Args<ProfileArgs>) -> IpcResult<Vec<ProfileView>> {
    let Args(ProfileArgs { name }) = args;
    blocking(&core, move |core| core.lock_profile(&name)).await
}
