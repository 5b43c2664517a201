//! `passbridge bridge` (the virtual FIDO security key over `/dev/uhid`) and
//! `passbridge setup-bridge` (the one-time system set-up that lets the desktop user run it).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::authenticator::hid_loop::{self, Forwarder};
use crate::authenticator::prompt::{
    AutoApproveForTesting, PolicyGate, PromptSource, TerminalPrompt,
};
use crate::hybrid_cli::fail;
use crate::policy::Policy;
use crate::system::SystemRng;

/// `passbridge bridge`.
#[derive(Debug, clap::Args)]
pub struct BridgeArgs {
    /// Answer from this profile's passkeys (its vault must be unlocked to start). Without it
    /// the passkeys live in memory and are forgotten when the bridge stops.
    #[arg(long, env = "PASSBRIDGE_PROFILE", value_name = "NAME")]
    profile: Option<String>,
    #[command(flatten)]
    profile_opts: crate::profile::cli::CommonOpts,
    /// FOR TESTING ONLY: grant user presence to every request without asking. Never grants
    /// user verification. (For named sites, prefer the policy's `silent_presence_rps`.)
    #[arg(long)]
    auto_approve_for_testing: bool,
    /// Attestation for new credentials: "packed-self" (default: signed by the new credential's
    /// own key, so it identifies nobody, and clients such as fido2-cred that expect a
    /// signature accept it) or "none".
    #[arg(long, value_enum, default_value_t = crate::cli::AttestationArg::PackedSelf)]
    attestation: crate::cli::AttestationArg,
    /// Send every registration and sign-in to your phone (FIDO hybrid: a QR code on this
    /// terminal, then the phone over Bluetooth and the tunnel relay) instead of answering from
    /// this computer. getInfo, PIN and credential management stay local.
    #[arg(long)]
    phone: bool,
    #[command(flatten)]
    phone_opts: crate::hybrid_cli::PhoneOpts,
    /// The uhid device to use.
    #[arg(long, default_value = "/dev/uhid", hide = true)]
    uhid: PathBuf,
}

/// Runs the bridge until the process is stopped.
#[cfg(target_os = "linux")]
pub fn run_bridge(args: BridgeArgs) -> ExitCode {
    use crate::authenticator::uhid::{DEVICE_NAME, PRODUCT_ID, UhidKey, VENDOR_ID};

    let policy = match Policy::load() {
        Ok(policy) => policy,
        Err(error) => return fail(&error.to_string()),
    };
    let inner: Box<dyn PromptSource> = if args.auto_approve_for_testing {
        tracing::warn!("user presence is granted automatically (--auto-approve-for-testing)");
        Box::new(AutoApproveForTesting)
    } else {
        Box::new(TerminalPrompt::new())
    };
    let mut prompt = PolicyGate::new(inner, &policy);
    let vault = match &args.profile {
        Some(name) => match crate::profile::cli::open_vault(&args.profile_opts, name) {
            Ok(vault) => Some(vault),
            Err(code) => return code,
        },
        None => None,
    };
    let mut serial = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut SystemRng::default(), &mut serial);
    let mut key = match UhidKey::create(&args.uhid, &hex::encode(serial)) {
        Ok(key) => key,
        Err(error) => return fail(&error.to_string()),
    };
    println!(
        "virtual security key \"{DEVICE_NAME}\" ({VENDOR_ID:04x}:{PRODUCT_ID:04x}) is ready; \
         browsers and other FIDO clients can use it now"
    );
    match &args.profile {
        Some(name) => println!("answering from profile '{name}'"),
        None => println!("no --profile: passkeys live in memory and are forgotten when this exits"),
    }
    if !policy.silent_presence_rps.is_empty() {
        println!(
            "policy: presence is granted without a prompt for {}",
            policy.silent_presence_rps.join(", ")
        );
    }
    let mut forwarder = if args.phone {
        match crate::hybrid_cli::PhoneForwarder::new(&args.phone_opts) {
            Ok(forwarder) => {
                println!("registrations and sign-ins go to your phone (a QR code appears here)");
                Some(forwarder)
            }
            Err(error) => return fail(&format!("cannot start the phone client: {error}")),
        }
    } else {
        None
    };
    let _ = std::io::stdout().flush();
    let stop = Arc::new(AtomicBool::new(false));
    let config = ctap::Config {
        attestation: args.attestation.into(),
        ..ctap::Config::default()
    };
    let forwarder: Option<&mut dyn Forwarder> = match forwarder.as_mut() {
        Some(f) => Some(f),
        None => None,
    };
    let result = match vault {
        Some(vault) => serve_store(vault, config, &mut key, &mut prompt, forwarder, &stop),
        None => serve_store(
            ctap::MemoryStore::new(),
            config,
            &mut key,
            &mut prompt,
            forwarder,
            &stop,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

#[cfg(target_os = "linux")]
fn serve_store<S: ctap::CredentialStore>(
    store: S,
    config: ctap::Config,
    key: &mut crate::authenticator::uhid::UhidKey,
    prompt: &mut dyn PromptSource,
    forwarder: Option<&mut dyn Forwarder>,
    stop: &Arc<AtomicBool>,
) -> Result<(), String> {
    let engine = ctap::Authenticator::new(
        store,
        crate::system::SystemClock,
        SystemRng::default(),
        config,
    )
    .map_err(|error| format!("the credential store failed: {error}"))?;
    let mut device = ctap::device::HidDevice::new(engine, SystemRng::default());
    // `--phone`: every registration and sign-in goes to the phone.
    device.set_forwarding(forwarder.is_some());
    hid_loop::serve(&mut device, key, prompt, forwarder, stop)
        .map_err(|error| format!("the virtual key stopped: {error}"))
}

/// The bridge needs Linux's uhid.
#[cfg(not(target_os = "linux"))]
pub fn run_bridge(_args: BridgeArgs) -> ExitCode {
    fail("the virtual security key needs Linux's /dev/uhid; on this system use the app instead")
}

/// `passbridge setup-bridge`.
#[derive(Debug, clap::Args)]
pub struct SetupBridgeArgs {
    /// Only print what would be written and run.
    #[arg(long)]
    dry_run: bool,
    /// Write under this directory instead of / (for packaging and tests).
    #[arg(long, default_value = "/", hide = true)]
    root: PathBuf,
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

/// Runs `passbridge setup-bridge`.
pub fn run_setup_bridge(args: SetupBridgeArgs) -> ExitCode {
    println!(
        "Passbridge's bridge appears to browsers as a USB security key. Creating that key needs\n\
         /dev/uhid, which only root may open by default. This writes:\n"
    );
    let files = [
        (UDEV_RULE_PATH, UDEV_RULE),
        (MODULES_LOAD_PATH, MODULES_LOAD),
    ];
    for (path, text) in files {
        println!("  /{path}:");
        for line in text.lines() {
            println!("    {line}");
        }
    }
    println!(
        "\nand then runs `modprobe uhid` and `udevadm control --reload-rules` and\n\
         `udevadm trigger` so it applies without a reboot. Nothing else changes; delete the two\n\
         files to undo it."
    );
    if args.dry_run {
        println!("\n--dry-run: nothing was written.");
        return ExitCode::SUCCESS;
    }
    for (path, text) in files {
        if let Err(message) = write_file(&args.root.join(path), text) {
            return fail(&message);
        }
    }
    if args.root != Path::new("/") {
        println!(
            "\nwritten under {} (not the live system: nothing was run)",
            args.root.display()
        );
        return ExitCode::SUCCESS;
    }
    for (program, rest) in [
        ("modprobe", &["uhid"][..]),
        ("udevadm", &["control", "--reload-rules"]),
        (
            "udevadm",
            &["trigger", "--subsystem-match=misc", "--sysname-match=uhid"],
        ),
    ] {
        let shown = format!("{program} {}", rest.join(" "));
        match std::process::Command::new(program).args(rest).status() {
            Ok(status) if status.success() => println!("ran: {shown}"),
            Ok(status) => eprintln!("warning: `{shown}` failed ({status})"),
            Err(error) => eprintln!("warning: cannot run `{shown}`: {error}"),
        }
    }
    println!("\nDone: log out and in again if `passbridge bridge` still cannot open /dev/uhid.");
    ExitCode::SUCCESS
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    let denied = |error: std::io::Error| {
        if error.kind() == std::io::ErrorKind::PermissionDenied {
            format!(
                "cannot write {}: permission denied (run `sudo passbridge setup-bridge`)",
                path.display()
            )
        } else {
            format!("cannot write {}: {error}", path.display())
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(denied)?;
    }
    std::fs::write(path, text).map_err(denied)?;
    println!("wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hidraw_rule_names_the_keys_ids() {
        use crate::authenticator::uhid::{PRODUCT_ID, VENDOR_ID};
        let ids = format!("0003:{VENDOR_ID:04X}:{PRODUCT_ID:04X}");
        assert!(UDEV_RULE.contains(&ids), "{UDEV_RULE}");
    }

    #[test]
    fn setup_writes_both_files_under_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let code = run_setup_bridge(SetupBridgeArgs {
            dry_run: false,
            root: dir.path().to_path_buf(),
        });
        assert_eq!(code, ExitCode::SUCCESS);
        let rule = std::fs::read_to_string(dir.path().join(UDEV_RULE_PATH)).unwrap();
        assert_eq!(rule, UDEV_RULE);
        let modules = std::fs::read_to_string(dir.path().join(MODULES_LOAD_PATH)).unwrap();
        assert!(modules.lines().any(|l| l == "uhid"));
    }

    #[test]
    fn a_dry_run_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let code = run_setup_bridge(SetupBridgeArgs {
            dry_run: true,
            root: dir.path().to_path_buf(),
        });
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(!dir.path().join(UDEV_RULE_PATH).exists());
    }
}
