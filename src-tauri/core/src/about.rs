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

/// Facts of the machine a report was made on (nothing that identifies the person: no host
/// or user name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct MachineFacts {
    /// The distribution's name and version (`PRETTY_NAME` of os-release), where known.
    pub os: Option<String>,
    /// The kernel's release, where known.
    pub kernel: Option<String>,
    /// The processor architecture.
    pub arch: &'static str,
}

/// `PRETTY_NAME` of an os-release file's text.
fn pretty_name(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?;
        let value = value.trim().trim_matches('"').trim_matches('\'');
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// This machine's facts (os-release(5): `/etc/os-release`, else `/usr/lib/os-release`).
pub fn machine_facts() -> MachineFacts {
    let os = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| pretty_name(&text))
        .or_else(|| (std::env::consts::OS != "linux").then(|| std::env::consts::OS.to_owned()));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty());
    MachineFacts {
        os,
        kernel,
        arch: std::env::consts::ARCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_distributions_name_comes_from_os_release() {
        let text = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n";
        assert_eq!(
            pretty_name(text).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(pretty_name("ID=debian\n"), None);
        assert_eq!(machine_facts().arch, std::env::consts::ARCH);
    }

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
