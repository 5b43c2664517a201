//! The one-time system set-up the uhid bridge needs: a udev rule that lets the user at the
//! active seat create the virtual key (and that user's browsers open it), and the uhid module
//! loaded at boot. Writing the files and running the reload commands is here; saying what is
//! done is the face's (`passbridge setup-bridge`).

use std::path::{Path, PathBuf};

use ctap::uhid::{PRODUCT_ID, VENDOR_ID};

/// One file the set-up writes: where (relative to the root) and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupFile {
    /// Path under the root (no leading slash).
    pub path: &'static str,
    /// The whole file.
    pub text: &'static str,
}

/// Where the udev rule goes.
pub const UDEV_RULE_PATH: &str = "etc/udev/rules.d/70-passbridge.rules";
/// Where the module-load line goes.
pub const MODULES_LOAD_PATH: &str = "etc/modules-load.d/passbridge.conf";

/// The udev rule: the user at the active seat may open `/dev/uhid` (to create the key) and the
/// key's hidraw node (so that user's browsers can talk to it). `uaccess` is logind's ACL
/// mechanism: no group, nothing for other users of a shared machine.
pub const UDEV_RULE: &str = "\
# Installed by `passbridge setup-bridge`.
# Let the user at the active seat create Passbridge's virtual FIDO key through /dev/uhid...
KERNEL==\"uhid\", SUBSYSTEM==\"misc\", TAG+=\"uaccess\", OPTIONS+=\"static_node=uhid\"
# ...and let that user's browsers open it (USB bus 0003, pid.codes vendor 1209, product 0001).
SUBSYSTEM==\"hidraw\", KERNELS==\"0003:1209:0001.*\", TAG+=\"uaccess\"
";

/// Loads the uhid module at boot.
pub const MODULES_LOAD: &str =
    "# Installed by `passbridge setup-bridge`: /dev/uhid for the virtual FIDO key.\nuhid\n";

/// Every file the set-up writes.
pub const FILES: [SetupFile; 2] = [
    SetupFile {
        path: UDEV_RULE_PATH,
        text: UDEV_RULE,
    },
    SetupFile {
        path: MODULES_LOAD_PATH,
        text: MODULES_LOAD,
    },
];

/// The commands that make the files apply without a reboot: program and arguments.
pub const COMMANDS: [(&str, &[&str]); 3] = [
    ("modprobe", &["uhid"]),
    ("udevadm", &["control", "--reload-rules"]),
    (
        "udevadm",
        &["trigger", "--subsystem-match=misc", "--sysname-match=uhid"],
    ),
];

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// Only root may write there.
    #[error("cannot write {}: permission denied", path.display())]
    PermissionDenied {
        /// The file.
        path: PathBuf,
    },
    /// Another I/O failure.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Writes every file under `root` (`/` for the live system). Returns the paths written.
///
/// # Errors
/// [`SetupError`] for the first file that cannot be written.
pub fn write_files(root: &Path) -> Result<Vec<PathBuf>, SetupError> {
    FILES
        .iter()
        .map(|file| {
            let path = root.join(file.path);
            let failed = |source: std::io::Error| {
                if source.kind() == std::io::ErrorKind::PermissionDenied {
                    SetupError::PermissionDenied { path: path.clone() }
                } else {
                    SetupError::Io {
                        path: path.clone(),
                        source,
                    }
                }
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(failed)?;
            }
            std::fs::write(&path, file.text).map_err(failed)?;
            Ok(path)
        })
        .collect()
}

/// How one command went.
#[derive(Debug)]
pub enum CommandOutcome {
    /// It ran and succeeded.
    Ran,
    /// It ran and failed with this status.
    Failed(std::process::ExitStatus),
    /// It could not be started.
    NotRun(std::io::Error),
}

/// Runs [`COMMANDS`] in order, telling `on_done` about each (its program, arguments and
/// outcome). A failing command does not stop the others: each is worth trying.
pub fn run_commands(mut on_done: impl FnMut(&str, &[&str], CommandOutcome)) {
    for (program, args) in COMMANDS {
        let outcome = match std::process::Command::new(program).args(args).status() {
            Ok(status) if status.success() => CommandOutcome::Ran,
            Ok(status) => CommandOutcome::Failed(status),
            Err(error) => CommandOutcome::NotRun(error),
        };
        on_done(program, args, outcome);
    }
}

/// Whether the rule names the key's USB IDs (a changed ID would leave browsers without
/// access).
pub fn rule_matches_key() -> bool {
    UDEV_RULE.contains(&format!("0003:{VENDOR_ID:04X}:{PRODUCT_ID:04X}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hidraw_rule_names_the_keys_ids() {
        assert!(rule_matches_key(), "{UDEV_RULE}");
    }

    #[test]
    fn both_files_are_written_under_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_files(dir.path()).unwrap();
        assert_eq!(written.len(), 2);
        let rule = std::fs::read_to_string(dir.path().join(UDEV_RULE_PATH)).unwrap();
        assert_eq!(rule, UDEV_RULE);
        let modules = std::fs::read_to_string(dir.path().join(MODULES_LOAD_PATH)).unwrap();
        assert!(modules.lines().any(|l| l == "uhid"));
    }

    #[test]
    fn an_unwritable_root_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        match write_files(&file) {
            Err(SetupError::Io { path, .. }) => assert!(path.starts_with(&file)),
            other => panic!("{other:?}"),
        }
    }
}
