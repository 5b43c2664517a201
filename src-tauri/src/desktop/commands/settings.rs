//! The Settings screen: the policy, the user's settings, the security key.

use std::sync::Arc;

use passbridge_core::app::types::SettingsView;

use super::super::args::{Args, SettingsSaveArgs};
use super::super::error::{IpcError, IpcResult};
use super::Core;

/// The policy and the user's settings.
#[tauri::command]
pub fn settings_get(core: Core<'_>) -> IpcResult<SettingsView> {
    Ok(core.settings()?)
}

/// Saves the user's settings; the security key follows its setting at once.
#[tauri::command]
pub async fn settings_save(
    core: Core<'_>,
    args: Args<SettingsSaveArgs>,
) -> IpcResult<SettingsView> {
    let Args(SettingsSaveArgs { settings }) = args;
    let core = Arc::clone(&core);
    tauri::async_runtime::spawn_blocking(move || {
        core.save_settings(settings)?;
        core.apply_security_key()?;
        Ok(core.settings()?)
    })
    .await
    .map_err(|e| IpcError::internal(&e))?
}
