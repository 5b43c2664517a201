//! The phone flow: run a ceremony (its steps stream over a channel), cancel it.

use std::sync::Arc;

use passbridge_core::app::types::PhoneOutcome;
use tauri::{Runtime, Webview};

use super::super::args::{Args, PhoneCancelArgs, PhoneRunArgs};
use super::super::error::{IpcError, IpcResult};
use super::super::events::PhoneEvent;
use super::Core;

/// Runs a phone ceremony; its steps stream over the arguments' channel.
#[tauri::command]
pub async fn phone_run<R: Runtime>(
    webview: Webview<R>,
    core: Core<'_>,
    args: Args<PhoneRunArgs>,
) -> IpcResult<PhoneOutcome> {
    let Args(PhoneRunArgs { request, on_event }) = args;
    let channel = on_event.channel_on::<R, PhoneEvent>(webview);
    let core = Arc::clone(&core);
    // The ceremony's futures hold a vault reference across awaits; run it on the app's runtime
    // as its own task so the IPC handler only waits for the answer.
    tauri::async_runtime::spawn(async move {
        let mut emit = |progress| {
            if let Err(error) = channel.send(PhoneEvent::from(progress)) {
                tracing::warn!(%error, "the window stopped listening to a phone flow");
            }
        };
        core.run_phone(request, &mut emit)
            .await
            .map_err(IpcError::from)
    })
    .await
    .map_err(|e| IpcError::internal(&e))?
}

/// Cancels a running phone ceremony.
#[tauri::command]
pub fn phone_cancel(core: Core<'_>, args: Args<PhoneCancelArgs>) -> bool {
    core.cancel_phone(args.0.flow)
}
