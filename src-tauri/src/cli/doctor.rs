//! `passbridge doctor`: the machine's checks and the network's (each tunnel service a phone
//! may name, the relay, the clock), each with pass / warn / fail, what was measured and one
//! sentence of what to do; and the firewall list a phone sign-in needs. The checks are the
//! core's (`passbridge_core::diagnostics`); their sentences are shared with the window's
//! Diagnostics page (`crate::doctor_words`), so both say the same.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hybrid::io::probe::ProbeOptions;
use hybrid::io::tunnel::TunnelConfig;
use passbridge_core::diagnostics::{self, Check, MachineSetup, NetStep, Status};
use passbridge_core::phone::Air;
use passbridge_core::phone::air::AIR_FORMS;
use passbridge_core::system::Env;
use serde::Serialize;

use super::{ctrl_c, fail, print_json, runtime};
use crate::doctor_words::{area_word, message, status_word, step_word};

/// `passbridge doctor`.
#[derive(Debug, clap::Args)]
pub(super) struct DoctorArgs {
    /// Data directory (default: $XDG_DATA_HOME/passbridge or ~/.local/share/passbridge).
    #[arg(long, env = "PASSBRIDGE_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print the report as JSON (the same checks, with each sentence).
    #[arg(long)]
    json: bool,
    /// Write report.json and report.html (one self-contained page to share) into DIR.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Write every host name and port a phone sign-in may need to FILE, one per line.
    #[arg(long, value_name = "FILE")]
    firewall_list: Option<PathBuf>,
    /// Also check this relay (wss://, or ws:// on this machine), and add it to the firewall
    /// list.
    #[arg(long, env = "PASSBRIDGE_RELAY", value_name = "URL", value_parser = super::words::relay_url)]
    relay: Option<String>,
    /// Where phones' adverts are looked for: `ble` (the first adapter, the default),
    /// `ble:ADAPTER`, or a loopback test air `udp://127.0.0.1:PORT` (no Bluetooth check).
    #[arg(long, value_name = "AIR")]
    air: Option<String>,
    /// Also scan this long for FIDO adverts (0xFFF9, 0xFDE2) and report each one heard, its
    /// length and signal, without decrypting anything: scan the QR code with a phone
    /// meanwhile.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=120))]
    scan: Option<u64>,
    /// Skip the Bluetooth checks.
    #[arg(long, conflicts_with = "scan")]
    no_bluetooth: bool,
    /// Check only the relay on the network, not the public tunnel services.
    #[arg(long, requires = "relay")]
    only_relay: bool,
    /// Skip the network checks (the machine's checks only).
    #[arg(long, conflicts_with = "only_relay")]
    offline: bool,
    /// The longest each network step (name lookup, connection, proxy, TLS, upgrade) may take.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    timeout: u64,
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
    let air = match Air::parse(args.air.as_deref()) {
        Ok(air) => air,
        Err(error) => return fail(&format!("--air: {error} ({AIR_FORMS})")),
    };
    // In the order a phone sign-in needs them: the radio, the network, then this machine.
    let mut checks = Vec::new();
    if !args.no_bluetooth || !args.offline {
        let runtime = match runtime() {
            Ok(runtime) => runtime,
            Err(code) => return code,
        };
        if !args.no_bluetooth {
            match bluetooth_checks(args, &air, &runtime) {
                Some(bluetooth) => checks.extend(bluetooth),
                None => return fail("cancelled"),
            }
        }
        if !args.offline {
            match network_checks(args, &runtime) {
                Some(network) => checks.extend(network),
                None => return fail("cancelled"),
            }
        }
    }
    checks.extend(diagnostics::machine_checks(&setup));
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
    if let Some(dir) = &args.report {
        let input = crate::report::ReportInput {
            generated_unix: Env::system().unix_time(),
            app: passbridge_core::about::app_info(cfg!(feature = "desktop")),
            machine: passbridge_core::about::machine_facts(),
            checks: &checks,
            test: None,
        };
        let firewall = dir.join("firewall.txt");
        let written = crate::report::write(dir, &input).and_then(|html| {
            write_firewall_list(
                &firewall,
                &diagnostics::firewall_hosts(args.relay.as_deref()),
            )
            .map(|()| html)
        });
        match written {
            Ok(html) => eprintln!(
                "report written: {} (and {}, the firewall list)",
                html.display(),
                firewall.display()
            ),
            Err(error) => {
                return fail(&format!(
                    "cannot write the report to {}: {error}",
                    dir.display()
                ));
            }
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

/// The Bluetooth checks (and the scan, with a live line); `None` on Ctrl-C.
fn bluetooth_checks(
    args: &DoctorArgs,
    air: &Air,
    runtime: &tokio::runtime::Runtime,
) -> Option<Vec<Check>> {
    let scan = args.scan.map(Duration::from_secs);
    let live = std::io::stderr().is_terminal();
    if live && let Some(secs) = args.scan {
        eprint!("scanning for phones' adverts for {secs} s (scan the QR code with a phone now)…");
    }
    let checks = runtime.block_on(async {
        tokio::select! {
            checks = diagnostics::air_checks(air, scan, Duration::from_secs(args.timeout)) => Some(checks),
            () = ctrl_c() => None,
        }
    });
    if live && args.scan.is_some() {
        eprint!("\r\x1b[2K");
    }
    checks
}

/// The network checks, with a live line on stderr when it is a terminal; `None` when the
/// person pressed Ctrl-C.
fn network_checks(args: &DoctorArgs, runtime: &tokio::runtime::Runtime) -> Option<Vec<Check>> {
    let mut env = Env::system();
    let targets = diagnostics::probe_targets(args.relay.as_deref(), args.only_relay, &mut env.rng);
    let options = ProbeOptions {
        step_limit: Duration::from_secs(args.timeout),
        connect_to: None,
    };
    let live = std::io::stderr().is_terminal();
    let progress = Arc::new(move |host: &str, step: NetStep| {
        if live {
            eprint!("\r\x1b[2Kchecking {host}: {}…", step_word(step));
        }
    });
    let tunnel = TunnelConfig::from_env();
    let checks = runtime.block_on(async {
        tokio::select! {
            checks = diagnostics::network_checks(targets, &tunnel, &options, &env.clock, progress) => Some(checks),
            () = ctrl_c() => None,
        }
    });
    if live {
        eprint!("\r\x1b[2K");
    }
    checks
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
