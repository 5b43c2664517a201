//! `passbridge doctor`: the machine's checks, each with pass / warn / fail, what was measured
//! and one sentence of what to do; and the firewall list a phone sign-in needs. The checks
//! are the core's (`passbridge_core::diagnostics`); their sentences are shared with the
//! window's Diagnostics page (`crate::doctor_words`), so both say the same.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use passbridge_core::diagnostics::{self, Check, MachineSetup, Status};
use serde::Serialize;

use super::{fail, print_json};
use crate::doctor_words::{area_word, message, status_word};

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
