//! The Tauri window. Only wiring and words live here: the commands are thin adapters over
//! [`AppCore`], which is tested without a display, and every sentence the window shows for a
//! failure is in [`error`] and [`words`].

use std::process::ExitCode;
use std::sync::Arc;

use passbridge_core::app::AppCore;
use tauri::{Emitter, Manager};

pub mod args;
pub mod bindings;
pub mod commands;
pub mod error;
pub mod events;
pub mod words;

use events::{PHONE_EVENT, PhoneEvent, REQUEST_EVENT};

/// Builds the app on any Tauri runtime around `core`, so tests can use
/// `tauri::test::mock_builder()`.
pub fn builder<R: tauri::Runtime>(
    builder: tauri::Builder<R>,
    core: Arc<AppCore>,
) -> tauri::Builder<R> {
    builder
        .manage(core)
        .setup(|app| {
            let handle = app.handle().clone();
            let core = app.state::<Arc<AppCore>>().inner().clone();
            core.broker().set_notify(Box::new(move |view| {
                if let Err(error) = handle.emit(REQUEST_EVENT, view) {
                    tracing::warn!(%error, "cannot tell the window about a request");
                }
            }));
            let handle = app.handle().clone();
            core.broker().set_phone_notify(Box::new(move |progress| {
                let event = PhoneEvent::from(progress.clone());
                if let Err(error) = handle.emit(PHONE_EVENT, event) {
                    tracing::warn!(%error, "cannot tell the window about a phone step");
                }
            }));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::info::app_info,
            commands::profiles::profiles_list,
            commands::profiles::profile_create,
            commands::profiles::profile_switch,
            commands::profiles::profile_unlock,
            commands::profiles::profile_lock,
            commands::passkeys::passkeys_list,
            commands::passkeys::passkey_rename,
            commands::passkeys::passkey_delete,
            commands::phones::phones_list,
            commands::phones::phone_remove,
            commands::settings::settings_get,
            commands::settings::settings_save,
            commands::phone::phone_run,
            commands::phone::phone_cancel,
            commands::requests::request_current,
            commands::requests::request_answer,
        ])
}

/// When the process started, for the "window interactive" log line the startup benchmark reads.
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Logs, once, how long the window took to become interactive: the front-end's first call
/// comes after it has rendered and wired its controls.
pub(crate) fn note_interactive() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Some(started) = STARTED.get() {
            let now = ctap::Clock::now(&passbridge_core::system::SystemClock);
            let ms = now.saturating_duration_since(*started).as_secs_f64() * 1000.0;
            tracing::info!(ms, "window interactive");
        }
    });
}

/// Opens the main window and runs until it is closed.
pub fn run() -> ExitCode {
    let _ = STARTED.set(ctap::Clock::now(&passbridge_core::system::SystemClock));
    let core = match AppCore::system() {
        Ok(core) => Arc::new(core),
        Err(error) => {
            tracing::error!("cannot start: {}", error::IpcError::from(error).message);
            return ExitCode::FAILURE;
        }
    };
    if let Ok(settings) = core.user_settings() {
        passbridge_core::telemetry::set_level(settings.log_level);
    }
    // The security key: off unless the settings (or PASSBRIDGE_SECURITY_KEY) ask for it. A
    // failure is not fatal: the window opens and Settings shows the key as off.
    if let Err(error) = core.apply_security_key() {
        tracing::error!("{}", error::IpcError::from(error).message);
    }
    let app =
        builder(tauri::Builder::default(), Arc::clone(&core)).build(tauri::generate_context!());
    match app {
        Ok(app) => {
            // The event loop ends the process itself (it does not return here), so the
            // keys leave memory on its last event: the key stops and every vault locks.
            app.run(move |_, event| {
                if matches!(event, tauri::RunEvent::Exit) {
                    core.shutdown();
                }
            });
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(
                %error,
                "the window could not start; is a display available? `passbridge --help` lists \
                 the command-line tools"
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests;
