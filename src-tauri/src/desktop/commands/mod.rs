//! The Tauri commands, one file per area. Each is a thin adapter: take its `Args`, call the
//! core, return the core's answer or its failure in the window's words. The names, arguments
//! and results are listed for TypeScript in [`super::bindings::commands`]; `build.rs` grants
//! the same list.
//!
//! Commands that touch the keychain or run Argon2 move the work to a blocking thread, so the
//! window never freezes on them.

pub mod diagnostics;
pub mod info;
pub mod passkeys;
pub mod phone;
pub mod phones;
pub mod profiles;
pub mod requests;
pub mod settings;

use std::sync::Arc;

use passbridge_core::app::{AppCore, AppResult};
use tauri::State;

use super::error::{IpcError, IpcResult};

/// The core, as Tauri state.
pub type Core<'a> = State<'a, Arc<AppCore>>;

/// Runs `work` on the blocking pool: keychain calls and Argon2 must not hold the IPC thread.
async fn blocking<T: Send + 'static>(
    core: &Arc<AppCore>,
    work: impl FnOnce(&AppCore) -> AppResult<T> + Send + 'static,
) -> IpcResult<T> {
    let core = Arc::clone(core);
    tauri::async_runtime::spawn_blocking(move || work(&core).map_err(IpcError::from))
        .await
        .map_err(|e| IpcError::internal(&e))?
}
