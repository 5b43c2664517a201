//! `passbridge hybrid test`: the cross-device test — a registration and a sign-in against the
//! built-in test site, with a phone (QR codes) or the virtual phone, each phase shown as it is
//! reached; at the end the verdict, and with `--report DIR` the shareable report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use hybrid::io::phone::Behaviour;
use hybrid::io::tunnel::TunnelConfig;
use passbridge_core::diagnostics::{self, MachineSetup};
use passbridge_core::phone::Air;
use passbridge_core::phone::ceremony::CeremonyOptions;
use passbridge_core::phone::cross_device::{
    self, CeremonyKind, CrossDeviceRun, TEST_RP_ID, TestOptions, TestPhase, TestPhone, TestProgress,
};
use passbridge_core::system::Env;

use super::{ctrl_c, fail, print_json, runtime, words};
use crate::doctor_words::{
    attestation_words, ceremony_word, chromium_words, format_time, phase_word,
};
use crate::report::{self, ReportInput, TestSection};

/// `passbridge hybrid test`.
#[derive(Debug, clap::Args)]
pub(super) struct TestArgs {
    /// Play the phone with the virtual phone in this process (no phone needed). Without
    /// --relay it meets the desktop at a relay started on loopback; without --air, on a
    /// loopback air.
    #[arg(long)]
    virtual_phone: bool,
    /// Where the virtual phone advertises (default: the desktop's --air), e.g. `ble:hci1`
    /// when the desktop scans with another adapter.
    #[arg(long, value_name = "AIR", requires = "virtual_phone")]
    phone_air: Option<String>,
    /// Write report.json and report.html (one self-contained page) into DIR.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    #[command(flatten)]
    reach: super::hybrid::ReachOpts,
    /// Data directory, for the machine's checks in the report (default:
    /// $XDG_DATA_HOME/passbridge or ~/.local/share/passbridge).
    #[arg(long, env = "PASSBRIDGE_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// The test's options from the command line.
fn options(args: &TestArgs) -> Result<TestOptions, String> {
    let air_error =
        |error| words::phone_failure(&passbridge_core::phone::PhoneFailure::from_air(error));
    let air = match (&args.reach.air, args.virtual_phone) {
        (Some(text), _) => Air::parse(Some(text)).map_err(air_error)?,
        // The virtual phone and the desktop meet on a loopback air of their own.
        (None, true) => {
            let addr = std::net::UdpSocket::bind("127.0.0.1:0")
                .and_then(|socket| socket.local_addr())
                .map_err(|e| format!("cannot find a free loopback port for the air: {e}"))?;
            Air::Udp(addr)
        }
        (None, false) => Air::default(),
    };
    let phone = if args.virtual_phone {
        let phone_air = match &args.phone_air {
            Some(text) => Air::parse(Some(text)).map_err(air_error)?,
            None => air.clone(),
        };
        TestPhone::Virtual {
            air: phone_air,
            behaviour: Behaviour::Answer,
        }
    } else {
        TestPhone::Real
    };
    Ok(TestOptions {
        ceremony: CeremonyOptions {
            relay: args.reach.relay.clone(),
            air,
            timeout: Duration::from_secs(args.reach.timeout),
            tunnel: TunnelConfig::from_env(),
        },
        phone,
    })
}

/// Prints each phase as it is reached (and, for a real phone, the QR code to scan).
fn show(progress: &TestProgress) {
    if progress.phase == TestPhase::QrShown {
        eprintln!("{}", ceremony_word(progress.ceremony));
    }
    if let Some(qr) = &progress.qr {
        eprintln!("{}", super::steps::render_qr(qr));
        let what = match progress.ceremony {
            CeremonyKind::Registration => "make the test passkey",
            CeremonyKind::SignIn => "sign in with it",
        };
        eprintln!("Scan this QR code with the phone's camera to {what}.");
    }
    eprintln!(
        "  [{:>9.1} ms] {}",
        progress.at_ms,
        phase_word(progress.phase)
    );
}

/// The verdict, and the facts, as lines.
fn summary(run: &CrossDeviceRun) -> String {
    let mut lines = Vec::new();
    if let (Some((ceremony, phase)), Some(failure)) = (run.failed_at(), &run.failure) {
        lines.push(format!(
            "Failed: the {} stopped before \"{}\": {}",
            ceremony_word(ceremony),
            phase_word(phase),
            words::phone_failure(failure)
        ));
        let chromium = chromium_words(phase);
        if !chromium.is_empty() {
            lines.push(format!("  on an Android phone, look for: {chromium}"));
        }
    } else if let Some(failure) = &run.failure {
        lines.push(format!("Failed: {}", words::phone_failure(failure)));
    } else {
        lines.push(format!(
            "Passed: registration and sign-in at {} verified in {:.0} ms.",
            run.rp_id, run.total_ms
        ));
    }
    if let Some(tunnel) = run.ceremonies.iter().find_map(|c| c.tunnel.as_deref()) {
        lines.push(format!("  tunnel       {tunnel}"));
    }
    if let Some(info) = &run.phone_info {
        lines.push(format!(
            "  phone        AAGUID {}; {}; transports {}",
            info.aaguid,
            info.versions.join(" "),
            info.transports.join(" ")
        ));
    }
    if let (Some(format), Some(facts)) = (&run.attestation_format, &run.attestation) {
        lines.push(format!(
            "  attestation  {}",
            attestation_words(format, facts)
        ));
    }
    // The attestation is known only once the registration verified: from then on the phone
    // keeps the passkey.
    if run.attestation_format.is_some() && !run.virtual_phone {
        lines.push(format!(
            "  The phone keeps a test passkey for {TEST_RP_ID}; the next test replaces it, or \
             delete it in the phone's password manager."
        ));
    }
    lines.join("\n")
}

/// The checks for the report: the adapter the desktop used (no scan: the test was the
/// scan), then the machine's; the network's are the test itself.
fn report_checks(
    args: &TestArgs,
    air: &Air,
    runtime: &tokio::runtime::Runtime,
) -> Vec<diagnostics::Check> {
    let mut checks = runtime.block_on(diagnostics::air_checks(air, None, Duration::from_secs(5)));
    match MachineSetup::system(args.data_dir.as_deref()) {
        Ok(setup) => checks.extend(diagnostics::machine_checks(&setup)),
        Err(error) => eprintln!("warning: the report leaves out the machine's checks: {error}"),
    }
    checks
}

fn write_report(
    dir: &Path,
    run: &CrossDeviceRun,
    checks: &[diagnostics::Check],
) -> Result<PathBuf, String> {
    let failure = run.failure.as_ref().map(words::phone_failure);
    let input = ReportInput {
        generated_unix: Env::system().unix_time(),
        app: passbridge_core::about::app_info(cfg!(feature = "desktop")),
        machine: passbridge_core::about::machine_facts(),
        checks,
        test: Some(TestSection {
            run,
            failure: failure.as_deref(),
        }),
    };
    report::write(dir, &input)
        .map_err(|e| format!("cannot write the report to {}: {e}", dir.display()))
}

/// Runs `passbridge hybrid test`.
pub(super) fn run(args: &TestArgs) -> ExitCode {
    let options = match options(args) {
        Ok(options) => options,
        Err(message) => return fail(&message),
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let env = Env::system();
    eprintln!(
        "Cross-device test at {TEST_RP_ID} ({}), started {}",
        if args.virtual_phone {
            "the virtual phone"
        } else {
            "scan each QR code with your phone"
        },
        format_time(env.unix_time())
    );
    let desktop_air = options.ceremony.air.clone();
    let mut on_progress = |progress: TestProgress| show(&progress);
    let run = runtime.block_on(cross_device::run(options, &env, &mut on_progress, ctrl_c()));
    if let Some(dir) = &args.report {
        let checks = report_checks(args, &desktop_air, &runtime);
        match write_report(dir, &run, &checks) {
            Ok(html) => eprintln!("report written: {}", html.display()),
            Err(message) => return fail(&message),
        }
    }
    let failure_words = run.failure.as_ref().map(words::phone_failure);
    if args.reach.json {
        let mut value = report::to_json(&ReportInput {
            generated_unix: env.unix_time(),
            app: passbridge_core::about::app_info(cfg!(feature = "desktop")),
            machine: passbridge_core::about::machine_facts(),
            checks: &[],
            test: Some(TestSection {
                run: &run,
                failure: failure_words.as_deref(),
            }),
        });
        let test = value
            .get_mut("cross_device_test")
            .map(serde_json::Value::take)
            .unwrap_or_default();
        if let Err(message) = print_json(&test) {
            return fail(&message);
        }
    } else {
        println!("{}", summary(&run));
    }
    if run.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
