//! The Tauri window. Only wiring and words live here: the commands are thin adapters over
//! [`AppCore`], which is tested without a display, and every sentence the window shows for a
//! failure is in [`error`] and [`words`].

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use passbridge_core::app::AppCore;
use tauri::{Emitter, Manager};

pub mod args;
pub mod bindings;
pub mod commands;
pub mod error;
pub mod events;
pub mod tray;
pub mod words;

use events::{PHONE_EVENT, PhoneEvent, REQUEST_EVENT};

/// The main window's label (`tauri.conf.json`).
const MAIN: &str = "main";

/// How the app lives on the desktop.
#[derive(Debug, Clone, Copy, Default)]
pub struct Life {
    /// Put an icon in the tray, and hide the window when it is closed instead of quitting.
    pub tray: bool,
    /// Start with the window hidden (`gui --background`, starting at login).
    pub background: bool,
}

/// Whether the tray icon is up: closing the window then only hides it.
struct InTray(AtomicBool);

/// Shows the main window and brings it to the front; where the desktop refuses to hand over
/// the focus, it flags the window as wanting attention (the taskbar or dock shows it).
pub fn show_main<R: tauri::Runtime>(app: &tauri::AppHandle<R>) {
    let Some(window) = app.get_webview_window(MAIN) else {
        return;
    };
    let shown = window
        .show()
        .and_then(|()| window.unminimize())
        .and_then(|()| window.set_focus());
    if let Err(error) = shown {
        tracing::warn!(%error, "cannot bring the window to the front");
    }
    if !window.is_focused().unwrap_or(false)
        && let Err(error) = window.request_user_attention(Some(tauri::UserAttentionType::Critical))
    {
        tracing::warn!(%error, "cannot ask for attention");
    }
}

/// Builds the app on any Tauri runtime around `core`, so tests can use
/// `tauri::test::mock_builder()`.
pub fn builder<R: tauri::Runtime>(
    builder: tauri::Builder<R>,
    core: Arc<AppCore>,
    life: Life,
) -> tauri::Builder<R> {
    builder
        .manage(core)
        .manage(InTray(AtomicBool::new(false)))
        .on_window_event(|window, event| {
            let in_tray = window.state::<InTray>().0.load(Ordering::SeqCst);
            if let tauri::WindowEvent::CloseRequested { api, .. } = event
                && in_tray
                && window.label() == MAIN
            {
                // The security key and linked phones keep answering from the tray.
                api.prevent_close();
                if let Err(error) = window.hide() {
                    tracing::warn!(%error, "cannot hide the window");
                }
            }
        })
        .setup(move |app| {
            let handle = app.handle().clone();
            let core = app.state::<Arc<AppCore>>().inner().clone();
            core.broker().set_notify(Box::new(move |view| {
                // A site asks: the dialog comes to the person, wherever the window was.
                if view.is_some() {
                    show_main(&handle);
                }
                if let Err(error) = handle.emit(REQUEST_EVENT, view) {
                    tracing::warn!(%error, "cannot tell the window about a request");
                }
            }));
            if life.tray {
                let up = tray::start(app.handle(), &core, |app, action| match action {
                    tray::TrayAction::None => {}
                    tray::TrayAction::Open => show_main(app),
                    tray::TrayAction::Quit => app.exit(0),
                });
                match up {
                    Ok(()) => app.state::<InTray>().0.store(true, Ordering::SeqCst),
                    // Without a tray, closing the window quits, as before.
                    Err(error) => tracing::warn!(%error, "no tray icon"),
                }
            }
            // In the background only with a tray to come back from.
            if !life.background || !app.state::<InTray>().0.load(Ordering::SeqCst) {
                show_main(app.handle());
            }
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
            commands::diagnostics::diagnostics_run,
            commands::diagnostics::diagnostics_network,
            commands::diagnostics::diagnostics_cancel,
            commands::diagnostics::diagnostics_test,
            commands::diagnostics::diagnostics_export,
            commands::diagnostics::diagnostics_open_report,
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

/// Opens the main window (or, `background`, only the tray icon) and runs until the person
/// quits from the tray, or closes the window where there is no tray.
pub fn run(background: bool) -> ExitCode {
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
    let life = Life {
        tray: true,
        background,
    };
    // One instance per user session, registered first so a second launch goes no further: it
    // hands its command line to this one, which comes to the front (unless the second was
    // started in the background too, as at login).
    let single = tauri_plugin_single_instance::init(|app, argv, _cwd| {
        if !argv.iter().any(|arg| arg == "--background") {
            show_main(app);
        }
    });
    // What only the one instance may start, after the single-instance check (plugins set up
    // in the order they are added): a second launch must not put up a second security key.
    let services = Arc::clone(&core);
    let services = tauri::plugin::Builder::<tauri::Wry, ()>::new("passbridge-services")
        .setup(move |_, _| {
            // The security key: off unless the settings (or PASSBRIDGE_SECURITY_KEY) ask for
            // it. A failure is not fatal: the window opens and Settings shows the key as off.
            if let Err(error) = services.apply_security_key() {
                tracing::error!("{}", error::IpcError::from(error).message);
            }
            if let Err(error) = services.apply_start_at_login() {
                tracing::warn!("{}", error::IpcError::from(error).message);
            }
            Ok(())
        })
        .build();
    let app = builder(
        tauri::Builder::default().plugin(single).plugin(services),
        Arc::clone(&core),
        life,
    )
    .build(tauri::generate_context!());
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
