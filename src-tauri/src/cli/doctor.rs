//! `passbridge doctor`: the machine's checks, each with pass / warn / fail, what was measured
//! and one sentence of what to do; and the firewall list a phone sign-in needs. The checks
//! are the core's (`passbridge_core::diagnostics`); the words are here.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use passbridge_core::diagnostics::{self, Area, Check, Finding, MachineSetup, Status};
use passbridge_core::profile::{LockState, Protection};
use serde::Serialize;

use super::{fail, print_json};

/// `passbridge doctor`.
#[derive(Debug, clap::Args)]
pub(super) struct DoctorArgs {
    /// Data directory (default: $XDG_DATA_HOME/passbridge or ~/.local/share/passbridge).
    #[arg(long, env = "PASSBRIDGE_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print the report as JSON (the same checks, with each sentence).
    #[arg(long)]
    json: bool,
    /// Write every host name and port a phone sign-in may need to FILE, one per line.
    #[arg(long, value_name = "FILE")]
    firewall_list: Option<PathBuf>,
    /// A relay to add to the firewall list (ws:// or wss:// URL).
    #[arg(long, value_name = "URL")]
    relay: Option<String>,
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    check: &'a Check,
    /// What it means and what to do.
    message: String,
}

#[derive(Serialize)]
struct Report<'a> {
    status: Status,
    checks: Vec<Line<'a>>,
}

pub(super) fn run(args: &DoctorArgs) -> ExitCode {
    let setup = match MachineSetup::system(args.data_dir.as_deref()) {
        Ok(setup) => setup,
        Err(error) => return fail(&format!("{error}: set PASSBRIDGE_DATA_DIR or HOME")),
    };
    let checks = diagnostics::machine_checks(&setup);
    let status = diagnostics::worst(&checks);
    if let Some(path) = &args.firewall_list {
        let hosts = diagnostics::firewall_hosts(args.relay.as_deref());
        if let Err(error) = write_firewall_list(path, &hosts) {
            return fail(&format!("cannot write {}: {error}", path.display()));
        }
        if !args.json {
            println!(
                "firewall list: {} host names (port 443 unless shown) written to {}",
                hosts.len(),
                path.display()
            );
        }
    }
    if args.json {
        let report = Report {
            status,
            checks: checks
                .iter()
                .map(|check| Line {
                    check,
                    message: message(&check.finding),
                })
                .collect(),
        };
        if let Err(error) = print_json(&report) {
            return fail(&format!("could not encode the report: {error}"));
        }
    } else {
        for check in &checks {
            println!(
                "{:<4}  {:<12}  {}",
                status_word(check.status),
                area_word(check.area),
                message(&check.finding)
            );
        }
        let count = |wanted| checks.iter().filter(|c| c.status == wanted).count();
        println!(
            "{} passed, {} to look at, {} failed",
            count(Status::Pass),
            count(Status::Warn),
            count(Status::Fail)
        );
    }
    if status == Status::Fail {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn write_firewall_list(path: &std::path::Path, hosts: &[(String, u16)]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "# Host names a phone sign-in (FIDO hybrid transport, caBLE v2) may need, from \
         `passbridge doctor`: WebSocket over TLS.\n# The phone names one of them: the two \
         assigned tunnel services, then the hashed names of tunnel domain IDs 256-65535, \
         then the relay given with --relay, if any."
    )?;
    for (host, port) in hosts {
        writeln!(out, "{host} {port}")?;
    }
    out.flush()
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Warn => "WARN",
        Status::Fail => "FAIL",
    }
}

fn area_word(area: Area) -> &'static str {
    match area {
        Area::Policy => "policy",
        Area::Keychain => "keychain",
        Area::Profiles => "profiles",
        Area::SecurityKey => "security key",
    }
}

/// The sentence for a finding: what was measured, and what to do when something is wrong.
fn message(finding: &Finding) -> String {
    match finding {
        Finding::PolicyDefaults => {
            "no policy file: the built-in defaults apply (an administrator may write \
             /etc/passbridge/policy.toml)"
                .to_owned()
        }
        Finding::PolicyLoaded { path } => format!("policy read from {}", path.display()),
        Finding::PolicyInvalid { problem } => {
            format!("{problem}; Passbridge will not start until the file is fixed or removed")
        }
        Finding::KeychainReady { backend } => format!("the OS keychain ({backend}) answers"),
        Finding::KeychainUnavailable { backend, detail } => format!(
            "the OS keychain ({backend}) cannot be used: {detail}; log in to a desktop \
             session (or start gnome-keyring and unlock it) and run doctor again"
        ),
        Finding::NoProfiles => {
            "no profile yet: create one in the window or with `passbridge profile create NAME`"
                .to_owned()
        }
        Finding::ProfilesUnreadable { problem } => format!(
            "the profiles cannot be listed: {problem}; check the data directory's permissions"
        ),
        Finding::Profile {
            name,
            state,
            protection,
        } => profile_message(name, *state, *protection),
        Finding::UhidOpen { path } => format!(
            "{} can be opened: the USB security key can start",
            path.display()
        ),
        Finding::UhidHelper { socket } => format!(
            "the uhid helper listens at {}: the USB security key starts through it",
            socket.display()
        ),
        Finding::UhidNoAccess { device, socket } => match device {
            Some(device) => format!(
                "{} cannot be opened and no helper listens at {}: browsers cannot use \
                 Passbridge as a security key until an administrator runs `sudo passbridge \
                 setup-bridge`",
                device.display(),
                socket.display()
            ),
            None => format!(
                "no /dev/uhid (the uhid module is not loaded) and no helper at {}: run \
                 `sudo passbridge setup-bridge` to use Passbridge as a security key",
                socket.display()
            ),
        },
        Finding::UdevRule { path } => format!("{} lets browsers open the key", path.display()),
        Finding::UdevRuleMissing { path } => format!(
            "{} is missing: browsers may not be allowed to open the key; run `sudo \
             passbridge setup-bridge`",
            path.display()
        ),
        _ => "a check this version cannot describe".to_owned(),
    }
}

fn profile_message(name: &str, state: LockState, protection: Protection) -> String {
    let kind = match protection {
        Protection::Keychain => "keychain",
        Protection::KeychainPin => "keychain and PIN",
        Protection::PassphraseOnly => "passphrase only",
    };
    match (state, protection) {
        (LockState::Unlocked, _) => format!("\"{name}\" ({kind}): ready"),
        (LockState::Locked, Protection::Keychain) => format!(
            "\"{name}\" ({kind}): its key is not in this keychain (another login's keychain, \
             or the keychain was reset); its passkeys cannot be opened here"
        ),
        (LockState::Locked, _) => format!("\"{name}\" ({kind}): locked, opens with its PIN"),
        (LockState::KeychainUnavailable, _) => {
            format!("\"{name}\" ({kind}): cannot be opened while the keychain is unavailable")
        }
    }
}
