//! `passbridge setup-bridge`: the one-time system set-up that lets the desktop user run the
//! bridge (the core's `bridge_setup` writes the files and runs the commands; this says so).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use passbridge_core::bridge_setup::{self, CommandOutcome, SetupError};

use super::fail;

/// `passbridge setup-bridge`.
#[derive(Debug, clap::Args)]
pub(super) struct SetupBridgeArgs {
    /// Only print what would be written and run.
    #[arg(long)]
    dry_run: bool,
    /// Write under this directory instead of / (for packaging and tests).
    #[arg(long, default_value = "/", hide = true)]
    root: PathBuf,
}

/// Runs `passbridge setup-bridge`.
pub(super) fn run(args: &SetupBridgeArgs) -> ExitCode {
    // The helper runs this very binary as root: name it by its installed path.
    let passbridge =
        std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/bin/passbridge"));
    let files = bridge_setup::files(&passbridge);
    println!(
        "Passbridge's bridge appears to browsers as a USB security key. Creating that key needs\n\
         /dev/uhid, which can create any input device (a keyboard too), so it stays root's: a\n\
         small helper, started by systemd for each connection, creates only the FIDO key for\n\
         the user who connects. Browsers of the user at the active seat may open the key; while\n\
         that is not the user whose Passbridge runs (after a fast user switch), Passbridge\n\
         refuses every request. This writes:\n"
    );
    for file in &files {
        println!("  /{}:", file.path);
        for line in file.text.lines() {
            println!("    {line}");
        }
    }
    println!(
        "\nand then runs `modprobe uhid`, `udevadm control --reload-rules`, `udevadm trigger`,\n\
         `systemctl daemon-reload` and `systemctl enable --now passbridge-uhid.socket` so it\n\
         applies without a reboot. Nothing else changes; to undo it, disable the socket and\n\
         delete the four files."
    );
    if args.dry_run {
        println!("\n--dry-run: nothing was written.");
        return ExitCode::SUCCESS;
    }
    match bridge_setup::write_files(&args.root, &files) {
        Ok(written) => {
            for path in written {
                println!("wrote {}", path.display());
            }
        }
        Err(error @ SetupError::PermissionDenied { .. }) => {
            return fail(&format!("{error} (run `sudo passbridge setup-bridge`)"));
        }
        Err(error) => return fail(&error.to_string()),
    }
    if args.root != Path::new("/") {
        println!(
            "\nwritten under {} (not the live system: nothing was run)",
            args.root.display()
        );
        return ExitCode::SUCCESS;
    }
    bridge_setup::run_commands(|program, rest, outcome| {
        let shown = format!("{program} {}", rest.join(" "));
        match outcome {
            CommandOutcome::Ran => println!("ran: {shown}"),
            CommandOutcome::Failed(status) => eprintln!("warning: `{shown}` failed ({status})"),
            CommandOutcome::NotRun(error) => eprintln!("warning: cannot run `{shown}`: {error}"),
        }
    });
    println!(
        "\nDone. A user who had /dev/uhid from an older set-up keeps it until they log in again."
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use passbridge_core::bridge_setup::{MODULES_LOAD_PATH, UDEV_RULE, UDEV_RULE_PATH};

    use super::*;

    #[test]
    fn setup_writes_both_files_under_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let code = run(&SetupBridgeArgs {
            dry_run: false,
            root: dir.path().to_path_buf(),
        });
        assert_eq!(code, ExitCode::SUCCESS);
        let rule = std::fs::read_to_string(dir.path().join(UDEV_RULE_PATH)).unwrap();
        assert_eq!(rule, UDEV_RULE);
        assert!(dir.path().join(MODULES_LOAD_PATH).exists());
    }

    #[test]
    fn a_dry_run_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let code = run(&SetupBridgeArgs {
            dry_run: true,
            root: dir.path().to_path_buf(),
        });
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(!dir.path().join(UDEV_RULE_PATH).exists());
    }
}
