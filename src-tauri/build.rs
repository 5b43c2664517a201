//! Runs tauri-build only for the desktop build; the headless CLI needs no build step.
//!
//! The app manifest lists our commands so Tauri generates an `allow-<command>` permission for
//! each; `capabilities/default.json` then grants exactly those, and any command not granted is
//! refused by the IPC layer (Tauri's ACL applies to app commands once a manifest lists them).

/// Every Tauri command the window may be granted. A test checks this list against the handler
/// and the TypeScript bindings (`desktop::tests`).
#[cfg(feature = "desktop")]
const COMMANDS: &[&str] = &[
    "app_info",
    "profiles_list",
    "profile_create",
    "profile_switch",
    "profile_unlock",
    "profile_lock",
    "passkeys_list",
    "passkey_rename",
    "passkey_delete",
    "phones_list",
    "phone_remove",
    "settings_get",
    "settings_save",
    "phone_run",
    "phone_cancel",
    "request_current",
    "request_answer",
    "diagnostics_run",
    "diagnostics_network",
    "diagnostics_cancel",
    "diagnostics_test",
    "diagnostics_export",
    "diagnostics_open_report",
];

fn main() {
    #[cfg(feature = "desktop")]
    {
        let attributes = tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
        if let Err(error) = tauri_build::try_build(attributes) {
            // A build script reports failure by exiting non-zero with a message.
            eprintln!("tauri-build failed: {error:#}");
            std::process::exit(1);
        }
    }
}
