//! The Diagnostics page: `doctor`'s machine and network checks, with the same sentences the
//! command line prints.

use std::sync::Arc;
use std::time::Duration;

use passbridge_core::diagnostics::{Area, Check, NetStep, Status};
use serde::Serialize;
use tauri::{Runtime, Webview};
use ts_rs::TS;

use super::{Core, blocking};
use crate::desktop::args::{Args, DiagnosticsNetworkArgs};
use crate::desktop::error::{IpcError, IpcResult};
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
