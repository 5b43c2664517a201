//! The Diagnostics page: `doctor`'s machine and network checks, with the same sentences the
//! command line prints; the cross-device test; and the report of what the page found.

use std::sync::Arc;
use std::time::Duration;

use passbridge_core::diagnostics::{Area, Check, NetStep, Status};
use passbridge_core::phone::cross_device::{CeremonyKind, CrossDeviceRun, TestPhase, TestProgress};
use serde::Serialize;
use tauri::{Runtime, Webview};
use ts_rs::TS;

use super::{Core, blocking};
use crate::desktop::args::{Args, DiagnosticsNetworkArgs, DiagnosticsTestArgs, ReportArgs};
use crate::desktop::error::{IpcError, IpcResult};
use crate::desktop::words;
use crate::doctor_words;

/// How long each network step may take, as the command line's default.
const STEP_LIMIT: Duration = Duration::from_secs(10);

/// A network step starting, as the page shows it while the checks run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct NetStepView {
    /// The host being checked.
    pub host: String,
    /// The step.
    pub step: NetStep,
    /// The step in words ("name lookup", "TLS" …).
    pub label: String,
}

/// One check as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CheckView {
    /// What it is about.
    pub area: Area,
    /// "policy", "keychain", "profiles", "security key".
    pub area_label: String,
    /// How it came out.
    pub status: Status,
    /// What was measured and what to do.
    pub message: String,
}

fn view(check: &Check) -> CheckView {
    CheckView {
        area: check.area,
        area_label: doctor_words::area_word(check.area).to_owned(),
        status: check.status,
        message: doctor_words::message(&check.finding),
    }
}

/// Runs the machine's checks (the keychain call is on the blocking pool).
#[tauri::command]
pub async fn diagnostics_run(core: Core<'_>) -> IpcResult<Vec<CheckView>> {
    blocking(core.inner(), |core| {
        Ok(core.machine_checks().iter().map(view).collect())
    })
    .await
}

/// Runs the network checks, telling `on_step` each step as it starts; `null` when
/// `diagnostics_cancel` stopped them.
#[tauri::command]
pub async fn diagnostics_network<R: Runtime>(
    webview: Webview<R>,
    core: Core<'_>,
    args: Args<DiagnosticsNetworkArgs>,
) -> IpcResult<Option<Vec<CheckView>>> {
    let Args(DiagnosticsNetworkArgs {
        only_relay,
        on_step,
    }) = args;
    let channel = on_step.channel_on::<R, NetStepView>(webview);
    let core = Arc::clone(&core);
    tauri::async_runtime::spawn(async move {
        let progress = Arc::new(move |host: &str, step: NetStep| {
            let event = NetStepView {
                host: host.to_owned(),
                step,
                label: doctor_words::step_word(step).to_owned(),
            };
            if let Err(error) = channel.send(event) {
                tracing::debug!(%error, "the window stopped listening to the network checks");
            }
        });
        core.network_checks(STEP_LIMIT, only_relay, progress)
            .await
            .map(|checks| checks.iter().map(view).collect())
    })
    .await
    .map_err(|e| IpcError::internal(&e))
}

/// Stops running network checks.
#[tauri::command]
pub fn diagnostics_cancel(core: Core<'_>) {
    core.cancel_network_checks();
}

/// A phase of the cross-device test reached, as the page shows it while the test runs.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TestPhaseView {
    /// The ceremony.
    pub ceremony: CeremonyKind,
    /// "registration", "sign-in".
    pub ceremony_label: String,
    /// The phase.
    pub phase: TestPhase,
    /// The phase in words.
    pub label: String,
    /// Milliseconds since the ceremony began.
    pub at_ms: f64,
    /// With a real phone's `qr-shown`: the QR code to scan, as SVG.
    pub qr_svg: Option<String>,
}

/// The cross-device test's outcome, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TestResultView {
    /// Whether both ceremonies verified.
    pub passed: bool,
    /// The verdict in a sentence (where it stopped, and why).
    pub summary: String,
    /// What to do, when it failed.
    pub fix: Option<String>,
    /// Facts to show: name and value (tunnel, phone, attestation, Chromium's names).
    pub facts: Vec<(String, String)>,
}

fn phase_view(progress: TestProgress) -> TestPhaseView {
    TestPhaseView {
        ceremony: progress.ceremony,
        ceremony_label: doctor_words::ceremony_word(progress.ceremony).to_owned(),
        phase: progress.phase,
        label: doctor_words::phase_word(progress.phase).to_owned(),
        at_ms: progress.at_ms,
        qr_svg: progress
            .qr
            .as_deref()
            .and_then(passbridge_core::app::phone::qr_svg),
    }
}

fn result_view(run: &CrossDeviceRun) -> TestResultView {
    let mut facts = Vec::new();
    if let Some(tunnel) = run.ceremonies.iter().find_map(|c| c.tunnel.clone()) {
        facts.push(("Tunnel".to_owned(), tunnel));
    }
    if let Some(info) = &run.phone_info {
        facts.push((
            "Phone".to_owned(),
            format!("AAGUID {}, {}", info.aaguid, info.versions.join(" ")),
        ));
    }
    if let (Some(format), Some(attestation)) = (&run.attestation_format, &run.attestation) {
        facts.push((
            "Attestation".to_owned(),
            doctor_words::attestation_words(format, attestation),
        ));
    }
    let (summary, fix) = match (run.failed_at(), &run.failure) {
        (_, None) => (
            format!(
                "Passed: a registration and a sign-in with {} verified in {:.0} ms.",
                if run.virtual_phone {
                    "the virtual phone"
                } else {
                    "your phone"
                },
                run.total_ms
            ),
            None,
        ),
        (Some((ceremony, phase)), Some(failure)) => {
            let chromium = doctor_words::chromium_words(phase);
            if !chromium.is_empty() {
                facts.push(("On an Android phone, look for".to_owned(), chromium));
            }
            (
                format!(
                    "Failed: the {} stopped before \u{201c}{}\u{201d}.",
                    doctor_words::ceremony_word(ceremony),
                    doctor_words::phase_word(phase)
                ),
                Some(words::phone(failure)),
            )
        }
        (None, Some(failure)) => ("Failed.".to_owned(), Some(words::phone(failure))),
    };
    TestResultView {
        passed: run.passed(),
        summary,
        fix,
        facts,
    }
}

/// Runs the cross-device test (the virtual phone, or a real one shown QR codes), telling
/// `on_phase` each phase as it is reached. `diagnostics_cancel` stops it.
#[tauri::command]
pub async fn diagnostics_test<R: Runtime>(
    webview: Webview<R>,
    core: Core<'_>,
    args: Args<DiagnosticsTestArgs>,
) -> IpcResult<TestResultView> {
    let Args(DiagnosticsTestArgs {
        virtual_phone,
        on_phase,
    }) = args;
    let channel = on_phase.channel_on::<R, TestPhaseView>(webview);
    let core = Arc::clone(&core);
    tauri::async_runtime::spawn(async move {
        let mut progress = move |progress: TestProgress| {
            if let Err(error) = channel.send(phase_view(progress)) {
                tracing::debug!(%error, "the window stopped listening to the test");
            }
        };
        let run = core.cross_device_test(virtual_phone, &mut progress).await;
        result_view(&run)
    })
    .await
    .map_err(|e| IpcError::internal(&e))
}

/// Where a report goes: `reports/passbridge-report-<time>` in the data directory (the
/// person's own, as the command line's `--data-dir`); the page shows the path and opens it.
fn report_dir(core: &passbridge_core::app::AppCore, unix: u64) -> std::path::PathBuf {
    let stamp = doctor_words::format_time(unix)
        .replace([' ', ':'], "-")
        .replace('Z', "");
    core.data_dir()
        .join("reports")
        .join(format!("passbridge-report-{stamp}-{unix}"))
}

/// Writes the report of what the page last found (its checks and its last test) and returns
/// the path of its page, `report.html`.
#[tauri::command]
pub async fn diagnostics_export(core: Core<'_>) -> IpcResult<String> {
    let core = Arc::clone(&core);
    tauri::async_runtime::spawn_blocking(move || {
        let last = core.last_diagnostics();
        let unix = core.unix_time();
        let failure = last
            .test
            .as_ref()
            .and_then(|run| run.failure.as_ref())
            .map(words::phone);
        let input = crate::report::ReportInput {
            generated_unix: unix,
            app: passbridge_core::about::app_info(true),
            machine: passbridge_core::about::machine_facts(),
            checks: &last.checks,
            test: last.test.as_ref().map(|run| crate::report::TestSection {
                run,
                failure: failure.as_deref(),
            }),
        };
        let dir = report_dir(&core, unix);
        crate::report::write(&dir, &input)
            .map(|html| html.display().to_string())
            .map_err(|error| IpcError::io(&dir, &error))
    })
    .await
    .map_err(|e| IpcError::internal(&e))?
}

/// Opens a report the page wrote in the system's browser.
#[tauri::command]
pub fn diagnostics_open_report(args: Args<ReportArgs>) -> IpcResult<()> {
    let Args(ReportArgs { path }) = args;
    let html = std::path::Path::new(&path);
    // Only a report this page wrote: a page cannot have the window open anything else.
    if html.file_name() != Some(std::ffi::OsStr::new(crate::report::HTML_NAME))
        || !html
            .parent()
            .and_then(std::path::Path::file_name)
            .and_then(std::ffi::OsStr::to_str)
            .is_some_and(|dir| dir.starts_with("passbridge-report-"))
        || !html.is_file()
    {
        return Err(IpcError::internal(&"not a Passbridge report"));
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(html)
        .spawn()
        .map(drop)
        .map_err(|error| IpcError::io(html, &error))
}
