//! The one-time system set-up the uhid bridge needs: the privileged helper that creates the
//! virtual key for whichever user connects (systemd socket activation), a udev rule that lets
//! the user at the active seat open the key's hidraw node (so that user's browsers can talk to
//! it), and the uhid module loaded at boot. No user gets `/dev/uhid` itself, which could
//! create any HID device, a keyboard included. Writing the files and running the reload
//! commands is here; saying what is done is the face's (`passbridge setup-bridge`).

use std::path::{Path, PathBuf};

use ctap::uhid::{PRODUCT_ID, VENDOR_ID};

/// One file the set-up writes: where (relative to the root) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupFile {
    /// Path under the root (no leading slash).
    pub path: &'static str,
    /// The whole file.
    pub text: String,
}

/// Where the udev rule goes.
pub const UDEV_RULE_PATH: &str = "etc/udev/rules.d/70-passbridge.rules";
/// Where the module-load line goes.
pub const MODULES_LOAD_PATH: &str = "etc/modules-load.d/passbridge.conf";
/// The helper's socket unit.
pub const SOCKET_UNIT_PATH: &str = "etc/systemd/system/passbridge-uhid.socket";
/// The helper's service, one instance per connection.
pub const SERVICE_UNIT_PATH: &str = "etc/systemd/system/passbridge-uhid@.service";

/// The udev rule: the user at the active seat may open the key's hidraw node (`uaccess` is
/// logind's ACL mechanism: no group, and it follows the seat). After a fast user switch that
/// is the other user; Passbridge then refuses every request until its owner is back.
pub const UDEV_RULE: &str = "\
# Installed by `passbridge setup-bridge`.
# Let the browsers of the user at the active seat open Passbridge's virtual FIDO key (USB bus
# 0003, pid.codes vendor 1209, product 0001). /dev/uhid itself stays root's: the
# passbridge-uhid helper creates the key for each user.
SUBSYSTEM==\"hidraw\", KERNELS==\"0003:1209:0001.*\", TAG+=\"uaccess\"
";

/// Loads the uhid module at boot.
pub const MODULES_LOAD: &str =
    "# Installed by `passbridge setup-bridge`: /dev/uhid for the virtual FIDO key.\nuhid\n";

/// The socket users connect to; systemd starts one helper per connection.
pub const SOCKET_UNIT: &str = "\
# Installed by `passbridge setup-bridge`.
[Unit]
Description=Passbridge: creates the virtual FIDO key for the user who connects

[Socket]
ListenStream=/run/passbridge-uhid.sock
SocketMode=0666
Accept=yes
# One key per running Passbridge; a runaway program cannot make hundreds.
MaxConnections=16

[Install]
WantedBy=sockets.target
";

/// The helper's service: root, but with only `/dev/uhid` and the connection.
pub fn service_unit(passbridge: &Path) -> String {
    format!(
        "\
# Installed by `passbridge setup-bridge`.
[Unit]
Description=Passbridge virtual FIDO key for one user

[Service]
ExecStart={} uhid-helper
StandardInput=socket
StandardOutput=journal
DevicePolicy=closed
DeviceAllow=/dev/uhid rw
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateNetwork=yes
RestrictAddressFamilies=AF_UNIX
CapabilityBoundingSet=
",
        passbridge.display()
    )
}

/// Every file the set-up writes, the service naming the `passbridge` binary to run.
pub fn files(passbridge: &Path) -> Vec<SetupFile> {
    vec![
        SetupFile {
            path: UDEV_RULE_PATH,
            text: UDEV_RULE.to_owned(),
        },
        SetupFile {
            path: MODULES_LOAD_PATH,
            text: MODULES_LOAD.to_owned(),
        },
        SetupFile {
            path: SOCKET_UNIT_PATH,
            text: SOCKET_UNIT.to_owned(),
        },
        SetupFile {
            path: SERVICE_UNIT_PATH,
            text: service_unit(passbridge),
        },
    ]
}

/// The commands that make the files apply without a reboot: program and arguments.
pub const COMMANDS: [(&str, &[&str]); 5] = [
    ("modprobe", &["uhid"]),
    ("udevadm", &["control", "--reload-rules"]),
    (
        "udevadm",
        &["trigger", "--subsystem-match=misc", "--sysname-match=uhid"],
    ),
    ("systemctl", &["daemon-reload"]),
    ("systemctl", &["enable", "--now", "passbridge-uhid.socket"]),
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
pub fn write_files(root: &Path, files: &[SetupFile]) -> Result<Vec<PathBuf>, SetupError> {
    files
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
            std::fs::write(&path, &file.text).map_err(failed)?;
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
    fn every_file_is_written_under_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_files(dir.path(), &files(Path::new("/usr/bin/passbridge"))).unwrap();
        assert_eq!(written.len(), 4);
        let rule = std::fs::read_to_string(dir.path().join(UDEV_RULE_PATH)).unwrap();
        assert_eq!(rule, UDEV_RULE);
        let modules = std::fs::read_to_string(dir.path().join(MODULES_LOAD_PATH)).unwrap();
        assert!(modules.lines().any(|l| l == "uhid"));
        let service = std::fs::read_to_string(dir.path().join(SERVICE_UNIT_PATH)).unwrap();
        assert!(service.contains("ExecStart=/usr/bin/passbridge uhid-helper"));
        assert!(service.contains("DeviceAllow=/dev/uhid rw"));
    }

    /// No user gets /dev/uhid (which can create a keyboard): only the helper opens it.
    #[test]
    fn no_rule_opens_uhid_to_users() {
        for line in UDEV_RULE.lines().filter(|l| !l.starts_with('#')) {
            assert!(!line.contains("KERNEL==\"uhid\""), "{line}");
        }
    }

    #[test]
    fn an_unwritable_root_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        match write_files(&file, &files(Path::new("/usr/bin/passbridge"))) {
            Err(SetupError::Io { path, .. }) => assert!(path.starts_with(&file)),
            other => panic!("{other:?}"),
        }
    }
}
