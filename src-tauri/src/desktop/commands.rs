//! Tauri commands. Each is a thin adapter: call the core, return a serialisable answer.

use crate::about::{self, AppInfo};

/// The app's version and build facts, for the window's "About" line.
#[tauri::command]
pub fn app_info() -> AppInfo {
    about::app_info()
}
