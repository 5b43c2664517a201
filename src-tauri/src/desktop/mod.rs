//! The Tauri window. Only wiring lives here: commands are thin adapters over the app core.

use std::process::ExitCode;

pub mod commands;

/// Builds the app on any Tauri runtime, so tests can use `tauri::test::mock_builder()`.
pub fn builder<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![commands::app_info])
}

/// Opens the main window and runs until it is closed.
pub fn run() -> ExitCode {
    let result = builder(tauri::Builder::default()).run(tauri::generate_context!());
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

    /// The window's `app_info` command answers through the real IPC layer, ACL included.
    #[test]
    fn app_info_command_answers_over_ipc() {
        // The real context: the capabilities in `capabilities/` decide what the window may call.
        let app = builder(mock_builder())
            .build(tauri::generate_context!())
            .unwrap();
        let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        let response = get_ipc_response(
            &webview,
            InvokeRequest {
                cmd: "app_info".into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                // On Linux the webview origin is tauri://localhost; other origins are refused.
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::default(),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .unwrap();
        let info: serde_json::Value = response.deserialize().unwrap();
        assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(info["desktop"], true);
    }
}
