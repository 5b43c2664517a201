//! The Tauri window. Only wiring lives here: the commands are thin adapters over
//! [`crate::app::AppCore`], which is tested without a display.

use std::process::ExitCode;
use std::sync::Arc;

use tauri::{Emitter, Manager};

use crate::app::AppCore;
use crate::app::bindings::{PHONE_EVENT, REQUEST_EVENT};

pub mod commands;

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
            core.broker().set_phone_notify(Box::new(move |event| {
                if let Err(error) = handle.emit(PHONE_EVENT, event) {
                    tracing::warn!(%error, "cannot tell the window about a phone step");
                }
            }));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::profiles_list,
            commands::profile_create,
            commands::profile_switch,
            commands::profile_unlock,
            commands::profile_lock,
            commands::passkeys_list,
            commands::passkey_rename,
            commands::passkey_delete,
            commands::phones_list,
            commands::phone_remove,
            commands::settings_get,
            commands::settings_save,
            commands::phone_run,
            commands::phone_cancel,
            commands::request_current,
            commands::request_answer,
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
            let now = ctap::Clock::now(&crate::system::SystemClock);
            let ms = now.saturating_duration_since(*started).as_secs_f64() * 1000.0;
            tracing::info!(ms, "window interactive");
        }
    });
}

/// Opens the main window and runs until it is closed.
pub fn run() -> ExitCode {
    let _ = STARTED.set(ctap::Clock::now(&crate::system::SystemClock));
    let core = match AppCore::system() {
        Ok(core) => Arc::new(core),
        Err(error) => {
            eprintln!("passbridge: cannot start: {}", error.message);
            return ExitCode::FAILURE;
        }
    };
    if let Ok(settings) = core.user_settings() {
        crate::telemetry::set_level(settings.log_level);
    }
    // The security key: off unless the settings (or PASSBRIDGE_SECURITY_KEY) ask for it. A
    // failure is not fatal: the window opens and Settings shows the key as off.
    if let Err(error) = core.apply_security_key() {
        eprintln!("passbridge: {}", error.message);
    }
    let result =
        builder(tauri::Builder::default(), Arc::clone(&core)).run(tauri::generate_context!());
    core.stop_security_key();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the window could not start");
            eprintln!(
                "passbridge: the window could not start ({error}). \
                 Is a display available? Run `passbridge --help` for the command-line tools."
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder};
    use tauri::webview::InvokeRequest;

    use super::*;
    use crate::profile::keychain::MemoryKeychain;

    fn core(dir: &std::path::Path) -> Arc<AppCore> {
        let policy = crate::policy::Policy {
            argon2_memory_kib: 8,
            argon2_iterations: 1,
            ..Default::default()
        };
        Arc::new(
            AppCore::new(
                dir,
                policy,
                None,
                Arc::new(MemoryKeychain::new()),
                Arc::new(crate::profile::SystemClock),
            )
            .unwrap(),
        )
    }

    /// The app on the mock runtime with the real context: the capabilities in `capabilities/`
    /// decide what the window may call.
    fn window(
        dir: &std::path::Path,
    ) -> (
        tauri::App<tauri::test::MockRuntime>,
        tauri::WebviewWindow<tauri::test::MockRuntime>,
    ) {
        let app = builder(mock_builder(), core(dir))
            .build(tauri::generate_context!())
            .unwrap();
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        (app, webview)
    }

    fn invoke(
        webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
        cmd: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        get_ipc_response(
            webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                // On Linux the webview origin is tauri://localhost; other origins are refused.
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize().unwrap())
    }

    /// The commands answer through the real IPC layer, ACL included, with typed errors.
    #[test]
    fn commands_answer_over_ipc_with_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (_app, webview) = window(dir.path());
        let info = invoke(&webview, "app_info", serde_json::json!({})).unwrap();
        assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(info["desktop"], true);

        let error = invoke(&webview, "passkeys_list", serde_json::json!({})).unwrap_err();
        assert_eq!(error["code"], "no-active-profile");

        let profiles = invoke(
            &webview,
            "profile_create",
            serde_json::json!({"profile": {"name": "Ana", "pin": "2468"}}),
        )
        .unwrap();
        assert_eq!(profiles[0]["name"], "Ana");
        assert_eq!(profiles[0]["active"], true);
        assert_eq!(profiles[0]["passkeyCount"], 0);
        let error = invoke(
            &webview,
            "profile_unlock",
            serde_json::json!({"name": "Ana", "pin": "0000"}),
        )
        .unwrap_err();
        assert_eq!(error["code"], "wrong-pin");
        let profiles =
            invoke(&webview, "profile_lock", serde_json::json!({"name": "Ana"})).unwrap();
        assert_eq!(profiles[0]["state"], "locked");
        let error = invoke(&webview, "passkeys_list", serde_json::json!({})).unwrap_err();
        assert_eq!(error["code"], "locked");
        assert_eq!(
            invoke(&webview, "request_current", serde_json::json!({})).unwrap(),
            serde_json::Value::Null
        );
    }

    /// The grant list (`build.rs`), the handler and the TypeScript bindings name the same
    /// commands, so nothing is callable that the bindings do not describe, and nothing is
    /// described that the window may not call.
    #[test]
    fn granted_registered_and_described_commands_agree() {
        let build_rs = include_str!("../../build.rs");
        let capabilities = include_str!("../../capabilities/default.json");
        let cfg = ts_rs::Config::new();
        let dir = tempfile::tempdir().unwrap();
        let (_app, webview) = window(dir.path());
        for (name, _, _) in crate::app::bindings::commands(&cfg) {
            assert!(
                build_rs.contains(&format!("\"{name}\"")),
                "{name} not in build.rs"
            );
            let permission = format!("\"allow-{}\"", name.replace('_', "-"));
            assert!(
                capabilities.contains(&permission),
                "{permission} not granted"
            );
            // A registered, granted command fails on its arguments, not as unknown/denied.
            if let Err(error) = invoke(&webview, name, serde_json::json!({})) {
                let text = error.to_string();
                assert!(
                    !text.contains("not allowed") && !text.contains("not found"),
                    "{name}: {text}"
                );
            }
        }
        let granted = capabilities.matches("\"allow-").count();
        assert_eq!(granted, crate::app::bindings::commands(&cfg).len());
    }
}
