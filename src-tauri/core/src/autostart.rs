//! Start at login, the platform's way. On Linux and the other freedesktop systems that is an
//! autostart entry: a desktop entry file in `$XDG_CONFIG_HOME/autostart/` (XDG Autostart
//! Specification 0.5), which the session starts at login. Its `Exec` line opens Passbridge in
//! the background (`gui --background`): the tray icon and the security key, no window.
//!
//! The entry is written when the setting (or the admin policy) turns it on and removed when it
//! turns off; nothing else in that directory is touched.

use std::io;
use std::path::{Path, PathBuf};

/// The entry's file name: the app's identifier, as the Desktop Entry Specification asks.
pub const ENTRY_FILE: &str = "org.passbridge.app.desktop";

/// The autostart entry for one program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Autostart {
    dir: PathBuf,
    program: PathBuf,
}

impl Autostart {
    /// The entry in `dir` that starts `program`.
    pub fn new(dir: impl Into<PathBuf>, program: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            program: program.into(),
        }
    }

    /// This user's autostart directory and this executable; `None` where there is no such
    /// directory to write (no `XDG_CONFIG_HOME` or `HOME`, or not a freedesktop system).
    pub fn system() -> Option<Self> {
        if !cfg!(all(unix, not(target_os = "macos"))) {
            return None;
        }
        let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        let config = var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".config")))?;
        let program = std::env::current_exe().ok()?;
        Some(Self::new(config.join("autostart"), program))
    }

    /// Where the entry is (or would be).
    pub fn path(&self) -> PathBuf {
        self.dir.join(ENTRY_FILE)
    }

    /// Whether the entry is there.
    pub fn is_on(&self) -> bool {
        self.path().is_file()
    }

    /// Writes the entry (`on`) or removes it. Idempotent.
    ///
    /// # Errors
    /// The file system's error, with nothing half-written: the entry is replaced atomically.
    pub fn set(&self, on: bool) -> io::Result<()> {
        if on {
            crate::profile::write_private_file(&self.dir, ENTRY_FILE, self.entry().as_bytes())
        } else {
            match std::fs::remove_file(self.path()) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
                _ => Ok(()),
            }
        }
    }

    /// The desktop entry's text.
    pub fn entry(&self) -> String {
        format!(
            "[Desktop Entry]\n\
             Type=Application\n\
             Name=Passbridge\n\
             Comment=Passkeys on this computer and from your phone\n\
             Exec={} gui --background\n\
             Icon=org.passbridge.app\n\
             Terminal=false\n\
             X-GNOME-Autostart-enabled=true\n",
            exec_quote(&self.program)
        )
    }
}

/// One `Exec` argument, quoted as the Desktop Entry Specification ("The Exec key") asks:
/// inside double quotes, `"`, `` ` ``, `$` and `\` take a backslash; then the whole value is a
/// string value, whose own escape doubles every backslash; and `%` (field codes) is doubled.
fn exec_quote(program: &Path) -> String {
    let text = program.to_string_lossy();
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' | '`' | '$' => {
                quoted.push_str("\\\\");
                quoted.push(c);
            }
            '\\' => quoted.push_str("\\\\\\\\"),
            '%' => quoted.push_str("%%"),
            '\n' => quoted.push_str("\\n"),
            _ => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_appears_and_disappears() {
        let dir = tempfile::tempdir().unwrap();
        let autostart = Autostart::new(dir.path().join("autostart"), "/opt/Passbridge/passbridge");
        assert!(!autostart.is_on());
        autostart.set(false).unwrap();
        autostart.set(true).unwrap();
        assert!(autostart.is_on());
        let text = std::fs::read_to_string(autostart.path()).unwrap();
        assert!(text.starts_with("[Desktop Entry]\n"), "{text}");
        assert!(
            text.contains("\nExec=\"/opt/Passbridge/passbridge\" gui --background\n"),
            "{text}"
        );
        assert!(text.contains("\nType=Application\n"), "{text}");
        autostart.set(true).unwrap();
        autostart.set(false).unwrap();
        assert!(!autostart.is_on());
        assert!(dir.path().join("autostart").is_dir(), "the directory stays");
    }

    #[test]
    fn exec_paths_are_quoted_per_the_desktop_entry_spec() {
        assert_eq!(
            exec_quote(Path::new("/usr/bin/passbridge")),
            "\"/usr/bin/passbridge\""
        );
        assert_eq!(
            exec_quote(Path::new("/home/a b/100%/$x\"y")),
            "\"/home/a b/100%%/\\\\$x\\\\\"y\""
        );
        assert_eq!(exec_quote(Path::new("/a\\b")), "\"/a\\\\\\\\b\"");
    }
}
