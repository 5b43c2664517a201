//! Facts about this build, shared by `passbridge info` and the window's `app_info` command.

use serde::Serialize;

/// What this binary is and what it was built with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct AppInfo {
    /// Product name shown to people.
    pub name: &'static str,
    /// Semantic version from Cargo.
    pub version: &'static str,
    /// Whether this binary has the Tauri window (`desktop` feature).
    pub desktop: bool,
    /// Target operating system (`linux`, `macos`, `windows`).
    pub os: &'static str,
}

/// The facts of the running binary; `desktop` says whether it has the window (the face knows).
pub fn app_info(desktop: bool) -> AppInfo {
    AppInfo {
        name: "Passbridge",
        version: env!("CARGO_PKG_VERSION"),
        desktop,
        os: std::env::consts::OS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_reports_cargo_version_and_build_flavour() {
        let info = app_info(true);
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
        assert!(info.desktop);
        assert!(!app_info(false).desktop);
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["name"], "Passbridge");
    }
}
