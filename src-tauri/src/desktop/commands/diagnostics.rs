//! The Diagnostics page: `doctor`'s machine checks, with the same sentences the command line
//! prints.

use passbridge_core::diagnostics::{Area, Status};
use serde::Serialize;
use ts_rs::TS;

use super::{Core, blocking};
use crate::desktop::error::IpcResult;
use crate::doctor_words;

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

/// Runs the machine's checks (the keychain call is on the blocking pool).
#[tauri::command]
pub async fn diagnostics_run(core: Core<'_>) -> IpcResult<Vec<CheckView>> {
    blocking(core.inner(), |core| {
        Ok(core
            .machine_checks()
            .iter()
            .map(|check| CheckView {
                area: check.area,
                area_label: doctor_words::area_word(check.area).to_owned(),
                status: check.status,
                message: doctor_words::message(&check.finding),
            })
            .collect())
    })
    .await
}
