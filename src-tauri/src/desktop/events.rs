//! What the window hears while a phone flow runs: the core's [`PhoneProgress`], with the
//! window's own sentence for how the flow ended.

use passbridge_core::app::types::{PhoneProgress, PhoneStep};
use serde::Serialize;
use ts_rs::TS;

use super::words;

/// The name of the event that carries the request dialog (`RequestView | null`).
pub const REQUEST_EVENT: &str = "request";

/// The name of the event that says the profiles changed outside the window (the tray menu, an
/// auto-lock): the window asks for the list again. No payload.
pub const PROFILES_EVENT: &str = "profiles-changed";

/// The name of the event that carries the steps of a request sent to the phone (`PhoneEvent`).
pub const PHONE_EVENT: &str = "phone-progress";

/// One step of a phone ceremony.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PhoneEvent {
    /// The ceremony this belongs to (what `phone_cancel` takes).
    pub flow: u32,
    /// The step reached.
    pub step: PhoneStep,
    /// Milliseconds since the ceremony started.
    pub elapsed_ms: u32,
    /// With `QrShown`: the `FIDO:/` text.
    pub qr_url: Option<String>,
    /// With `QrShown`: the QR code as SVG (module-exact, scales crisply).
    pub qr_svg: Option<String>,
    /// With `Done`/`Failed`/`Cancelled`: a sentence for the person.
    pub message: Option<String>,
}

impl From<PhoneProgress> for PhoneEvent {
    fn from(progress: PhoneProgress) -> Self {
        Self {
            flow: progress.flow,
            step: progress.step,
            elapsed_ms: progress.elapsed_ms,
            message: progress.end.as_ref().and_then(words::flow_end),
            qr_url: progress.qr_url,
            qr_svg: progress.qr_svg,
        }
    }
}
