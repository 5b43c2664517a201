//! The Diagnostics page's services beyond the checks themselves: the cross-device test with
//! this app's phone settings, and what the page last found, for "Export report".

use hybrid::io::phone::Behaviour;

use super::AppCore;
use crate::diagnostics::Check;
use crate::phone::Air;
use crate::phone::cross_device::{self, CrossDeviceRun, TestOptions, TestPhone, TestProgress};

/// What the Diagnostics page last found: the checks of its last run (the machine's, then the
/// network's) and its last cross-device test.
#[derive(Debug, Clone, Default)]
pub struct LastDiagnostics {
    /// The machine's checks, then the network's.
    pub checks: Vec<Check>,
    /// The last cross-device test.
    pub test: Option<CrossDeviceRun>,
}

impl AppCore {
    /// Runs the cross-device test with this app's relay, proxy and timeout: with the virtual
    /// phone (on a loopback air of its own, and a loopback relay unless the settings name
    /// one) or with a real phone over the air the settings name. `progress` hears each phase
    /// (with a real phone, the QR code to show). [`Self::cancel_network_checks`] stops it;
    /// the run then says where it was.
    pub async fn cross_device_test(
        &self,
        virtual_phone: bool,
        progress: &mut (dyn FnMut(TestProgress) + Send),
    ) -> CrossDeviceRun {
        let mut ceremony = self.ceremony_options();
        let phone = if virtual_phone {
            match std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()) {
                Ok(addr) => {
                    ceremony.air = Air::Udp(addr);
                    TestPhone::Virtual {
                        air: Air::Udp(addr),
                        behaviour: Behaviour::Answer,
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "no loopback port for the virtual phone's air");
                    TestPhone::Real
                }
            }
        } else {
            TestPhone::Real
        };
        let cancelled = self.network_cancel.notified();
        let run = cross_device::run(
            TestOptions { ceremony, phone },
            &self.env,
            progress,
            cancelled,
        )
        .await;
        if let Ok(mut last) = self.last_diagnostics.lock() {
            last.test = Some(run.clone());
        }
        run
    }

    /// What the Diagnostics page last found.
    pub fn last_diagnostics(&self) -> LastDiagnostics {
        self.last_diagnostics
            .lock()
            .map(|last| last.clone())
            .unwrap_or_default()
    }

    /// Keeps `checks` as the page's latest: the machine's replace the last run's, the
    /// network's follow them.
    pub(super) fn remember_checks(&self, checks: &[Check], network: bool) {
        if let Ok(mut last) = self.last_diagnostics.lock() {
            if !network {
                last.checks.clear();
            }
            last.checks.extend_from_slice(checks);
        }
    }
}
