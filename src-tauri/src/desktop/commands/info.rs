//! The app's version and build facts.

use passbridge_core::about::{self, AppInfo};

/// The app's version and build facts, for the window's "About" line.
#[tauri::command]
pub fn app_info() -> AppInfo {
    about::app_info(true)
}
