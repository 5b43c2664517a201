//! The cross-device test an admin runs on a machine: a registration and then a sign-in
//! against a built-in test relying party, with a real phone (QR codes) or the virtual phone
//! in this process, both verified as a relying party would, and every phase of each
//! ceremony timed — so "use a phone does not work here" becomes "it stops after the tunnel
//! opened: the handshake never completes".
//!
//! The phases are named after what the desktop sees; each also carries the names the phone
//! side of Chromium (`device/fido/cable/v2_authenticator.h`, `Platform::Status` and
//! `Platform::Error`) uses for the same point, so an admin can hold the report next to an
//! Android phone's own log.

use std::future::Future;
use std::time::Instant;

use hybrid::io::driver::ClientStep;
use hybrid::io::phone::Behaviour;
use hybrid::io::relay::{Relay, RelayConfig};
use serde::Serialize;

use super::Air;
use super::ceremony::{self, CeremonyOptions, Start};
use super::failure::PhoneFailure;
use super::info::PhoneInfo;
use super::virtual_phone::{self, MemoryPhone, PhoneOptions, QrRound};
use crate::system::{Env, SharedClock};
use crate::webauthn::{AttestationFacts, Registration};

/// The test's relying party: a name under `.invalid` (RFC 6761), which no real site can
/// own, so the test's passkey can never sign in anywhere else.
pub const TEST_RP_ID: &str = "cross-device-test.invalid";
/// The test account's name, as the phone shows it.
pub const TEST_USER: &str = "passbridge-test";
/// The test account's user handle, the same on every run: a phone keeps one passkey per site
/// and handle, so each run replaces the last run's test passkey instead of adding one.
pub const TEST_USER_ID: &[u8; 16] = b"passbridge-test1";

/// The two ceremonies of the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "kebab-case")]
pub enum CeremonyKind {
    /// makeCredential.
    Registration,
    /// getAssertion with the passkey just made.
    SignIn,
}

/// A point a ceremony with a phone passes, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "kebab-case")]
pub enum TestPhase {
    /// The QR code is on the screen.
    QrShown,
    /// The first FIDO advert reached this machine's scanner.
    AdvertHeard,
    /// An advert decrypted under this ceremony's key: the phone that scanned is nearby.
    AdvertDecrypted,
    /// The WebSocket to the tunnel service is open.
    TunnelConnected,
    /// The Noise handshake with the phone completed.
    HandshakeDone,
    /// The phone's post-handshake message (its getInfo) arrived.
    PostHandshake,
    /// The request went to the phone.
    RequestSent,
    /// The phone answered.
    PhoneAnswered,
    /// The answer passed the relying party's checks.
    Verified,
}

/// Chromium's phone-side names for a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChromiumNames {
    /// The `Platform::Status` the phone reports on reaching this phase, if any.
    pub status: Option<&'static str>,
    /// The `Platform::Error`s the phone reports when the ceremony breaks on the way here.
    pub errors: &'static [&'static str],
}

impl TestPhase {
    /// Every phase, in the order a QR ceremony passes them.
    pub const ALL: [Self; 9] = [
        Self::QrShown,
        Self::AdvertHeard,
        Self::AdvertDecrypted,
        Self::TunnelConnected,
        Self::HandshakeDone,
        Self::PostHandshake,
        Self::RequestSent,
        Self::PhoneAnswered,
        Self::Verified,
    ];

    /// The phase a driver step marks (`None`: a step that is not a phase).
    fn of(step: &ClientStep) -> Option<Self> {
        Some(match step {
            ClientStep::QrShown(_) => Self::QrShown,
            ClientStep::AdvertHeard => Self::AdvertHeard,
            ClientStep::AdvertMatched => Self::AdvertDecrypted,
            ClientStep::TunnelOpen => Self::TunnelConnected,
            ClientStep::HandshakeDone => Self::HandshakeDone,
            ClientStep::PostHandshake => Self::PostHandshake,
            ClientStep::RequestSent => Self::RequestSent,
            ClientStep::PhoneAnswered => Self::PhoneAnswered,
            _ => return None,
        })
    }

    /// What the phone side of Chromium calls this point.
    pub fn chromium(self) -> ChromiumNames {
        let (status, errors): (Option<&'static str>, &'static [&'static str]) = match self {
            // The phone's camera read the QR code, or could not.
            Self::QrShown => (None, &["QR_URI_ERROR"]),
            // The phone needs Bluetooth permission to advertise at all.
            Self::AdvertHeard | Self::AdvertDecrypted => (None, &["NO_BLUETOOTH_PERMISSION"]),
            Self::TunnelConnected => (
                Some("TUNNEL_SERVER_CONNECT"),
                &["TUNNEL_SERVER_CONNECT_FAILED"],
            ),
            Self::HandshakeDone => (Some("HANDSHAKE_COMPLETE"), &["HANDSHAKE_FAILED"]),
            Self::PostHandshake => (None, &["UNEXPECTED_EOF"]),
            Self::RequestSent => (
                Some("REQUEST_RECEIVED"),
                &[
                    "DECRYPT_FAILURE",
                    "INVALID_CBOR",
                    "INVALID_CTAP",
                    "UNKNOWN_COMMAND",
                ],
            ),
            Self::PhoneAnswered => (None, &["NO_SCREENLOCK", "EOF_WHILE_PROCESSING"]),
            Self::Verified => (Some("FIRST_TRANSACTION_DONE"), &["CTAP_ERROR"]),
        };
        ChromiumNames { status, errors }
    }
}

/// One phase reached, with when.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PhaseMark {
    /// The phase.
    pub phase: TestPhase,
    /// Milliseconds since the ceremony began.
    pub at_ms: f64,
}

/// One ceremony of the test, as it went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CeremonyRun {
    /// Which.
    pub kind: CeremonyKind,
    /// When it began, milliseconds since the test began.
    pub started_ms: f64,
    /// Every phase reached, in order.
    pub marks: Vec<PhaseMark>,
    /// The tunnel service or relay it connected to (`scheme://host[:port]`).
    pub tunnel: Option<String>,
    /// How long it took, milliseconds.
    pub total_ms: f64,
    /// The phase it did not reach, when it failed.
    pub failed_at: Option<TestPhase>,
}

impl CeremonyRun {
    fn new(kind: CeremonyKind, started_ms: f64) -> Self {
        Self {
            kind,
            started_ms,
            marks: Vec::new(),
            tunnel: None,
            total_ms: 0.0,
            failed_at: None,
        }
    }

    /// The first phase of the sequence not reached.
    fn first_missing(&self) -> TestPhase {
        TestPhase::ALL
            .into_iter()
            .find(|phase| !self.marks.iter().any(|mark| mark.phase == *phase))
            .unwrap_or(TestPhase::Verified)
    }
}

/// Which phone the test uses.
#[derive(Debug, Clone)]
pub enum TestPhone {
    /// A real phone: the person scans each QR code the face shows.
    Real,
    /// The virtual phone (the `ctap` engine) in this process.
    Virtual {
        /// Where it advertises.
        air: Air,
        /// How it answers (faults for tests: a stalled phone, a refusing one).
        behaviour: Behaviour,
    },
}

/// How the test runs.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// How the desktop reaches the phone. With the virtual phone and no relay, a relay on
    /// loopback in this process carries the tunnel.
    pub ceremony: CeremonyOptions,
    /// The phone.
    pub phone: TestPhone,
}

/// Progress the face shows as it happens.
#[derive(Debug, Clone, PartialEq)]
pub struct TestProgress {
    /// The ceremony.
    pub ceremony: CeremonyKind,
    /// The phase reached.
    pub phase: TestPhase,
    /// Milliseconds since the ceremony began.
    pub at_ms: f64,
    /// With `QrShown` for a real phone: the `FIDO:/…` text to show as a QR code.
    pub qr: Option<String>,
}

/// What the test found.
#[derive(Debug, Clone, Serialize)]
pub struct CrossDeviceRun {
    /// The relying party tested.
    pub rp_id: String,
    /// Whether the virtual phone played the phone.
    pub virtual_phone: bool,
    /// The relay the settings named, or the one started for the virtual phone (`None`: the
    /// tunnel service each phone names).
    pub relay: Option<String>,
    /// When it began (Unix seconds).
    pub started_unix: u64,
    /// The ceremonies run, in order (the sign-in only after a registration that verified).
    pub ceremonies: Vec<CeremonyRun>,
    /// The phone's getInfo, as it described itself (not attested).
    pub phone_info: Option<PhoneInfo>,
    /// The registration's attestation format ("none", "packed", …).
    pub attestation_format: Option<String>,
    /// What the attestation established.
    pub attestation: Option<AttestationFacts>,
    /// The flags of the registration and of the sign-in, as the phone set them.
    pub flags: Vec<u8>,
    /// How long the whole test took, milliseconds.
    pub total_ms: f64,
    /// Why it failed (`None`: both ceremonies verified). The faces put it in words.
    #[serde(skip)]
    pub failure: Option<PhoneFailure>,
}

impl CrossDeviceRun {
    /// Whether both ceremonies verified.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }

    /// The ceremony that failed and the phase it did not reach.
    pub fn failed_at(&self) -> Option<(CeremonyKind, TestPhase)> {
        self.ceremonies
            .iter()
            .find_map(|run| run.failed_at.map(|phase| (run.kind, phase)))
    }
}

/// Milliseconds from `from` to `to`, to a tenth.
fn millis(from: Instant, to: Instant) -> f64 {
    (to.saturating_duration_since(from).as_secs_f64() * 10_000.0).round() / 10.0
}

/// The virtual phone's setup: its engine, and where it meets the desktop.
struct VirtualSetup {
    /// Its engine, between ceremonies (a ceremony's task holds it meanwhile).
    phone: Option<MemoryPhone>,
    opts: PhoneOptions,
    /// The loopback relay started for it, stopped when the test ends.
    relay_task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for VirtualSetup {
    fn drop(&mut self) {
        if let Some(task) = self.relay_task.take() {
            task.abort();
        }
    }
}

async fn virtual_setup(
    options: &mut TestOptions,
    env: &Env,
    air: Air,
    behaviour: Behaviour,
) -> Result<VirtualSetup, PhoneFailure> {
    let (relay, relay_task) = match &options.ceremony.relay {
        Some(relay) => (relay.clone(), None),
        None => {
            let local = Relay::bind(([127, 0, 0, 1], 0).into(), RelayConfig::default())
                .await
                .map_err(|e| PhoneFailure::Internal(format!("cannot start a local relay: {e}")))?;
            let addr = local
                .local_addr()
                .map_err(|e| PhoneFailure::Internal(e.to_string()))?;
            let url = format!("ws://{addr}");
            options.ceremony.relay = Some(url.clone());
            // A loopback relay needs no proxy, whatever the environment says.
            options.ceremony.tunnel = hybrid::io::tunnel::TunnelConfig::default();
            let task = tokio::spawn(local.run());
            (url, Some(task))
        }
    };
    let phone = virtual_phone::memory_phone(env, behaviour)
        .map_err(|e| PhoneFailure::Internal(e.to_string()))?;
    Ok(VirtualSetup {
        phone: Some(phone),
        opts: PhoneOptions {
            relay,
            air,
            timeout: options.ceremony.timeout,
            wrong_psk_for_testing: false,
            tunnel: options.ceremony.tunnel.clone(),
        },
        relay_task,
    })
}

/// Records a ceremony's steps and reports each phase.
struct Recorder<'a> {
    clock: SharedClock,
    started: Instant,
    run: CeremonyRun,
    qr_to_phone: Option<tokio::sync::oneshot::Sender<String>>,
    real_phone: bool,
    progress: &'a mut (dyn FnMut(TestProgress) + Send),
}

impl<'a> Recorder<'a> {
    /// Starts recording a ceremony `kind` now; `phone` is where the QR code goes (the virtual
    /// phone's round) and whether a real phone is to be shown it instead.
    fn begin(
        kind: CeremonyKind,
        env: &Env,
        test_started: Instant,
        (qr_to_phone, real_phone): (Option<tokio::sync::oneshot::Sender<String>>, bool),
        progress: &'a mut (dyn FnMut(TestProgress) + Send),
    ) -> Self {
        let started = env.now();
        Self {
            clock: env.clock.clone(),
            started,
            run: CeremonyRun::new(kind, millis(test_started, started)),
            qr_to_phone,
            real_phone,
            progress,
        }
    }

    fn on_step(&mut self, step: ClientStep) {
        if let ClientStep::Connecting(origin) = &step {
            self.run.tunnel = Some(origin.clone());
        }
        let Some(phase) = TestPhase::of(&step) else {
            return;
        };
        let mut qr = None;
        if let ClientStep::QrShown(url) = step {
            match self.qr_to_phone.take() {
                Some(tx) => {
                    let _ = tx.send(url);
                }
                None if self.real_phone => qr = Some(url),
                None => {}
            }
        }
        self.mark(phase, qr);
    }

    fn mark(&mut self, phase: TestPhase, qr: Option<String>) {
        let at_ms = millis(self.started, self.clock.now());
        self.run.marks.push(PhaseMark { phase, at_ms });
        (self.progress)(TestProgress {
            ceremony: self.run.kind,
            phase,
            at_ms,
            qr,
        });
    }

    /// The ceremony's run: a verified one reaches its last phase; any other is told the
    /// first phase it did not reach.
    fn end(mut self, verified: bool) -> CeremonyRun {
        if verified {
            self.mark(TestPhase::Verified, None);
        }
        self.run.total_ms = millis(self.started, self.clock.now());
        if !verified {
            self.run.failed_at = Some(self.run.first_missing());
        }
        self.run
    }
}

/// Runs the test: a registration, then (if it verified) a sign-in with the new passkey.
/// `progress` hears each phase as it is reached; `cancel` resolving ends the test (the
/// ceremony under way fails as cancelled and the run says where it was).
pub async fn run(
    mut options: TestOptions,
    env: &Env,
    progress: &mut (dyn FnMut(TestProgress) + Send),
    cancel: impl Future<Output = ()>,
) -> CrossDeviceRun {
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let test = run_test(&mut options, env, progress, cancel_rx);
    let mut test = std::pin::pin!(test);
    let mut cancel = std::pin::pin!(cancel);
    let mut cancelled = false;
    loop {
        tokio::select! {
            run = &mut test => return run,
            () = &mut cancel, if !cancelled => {
                cancelled = true;
                let _ = cancel_tx.send(true);
            }
        }
    }
}

/// Resolves once the test is cancelled.
async fn cancelled(mut rx: tokio::sync::watch::Receiver<bool>) {
    if rx.wait_for(|cancelled| *cancelled).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn run_test(
    options: &mut TestOptions,
    env: &Env,
    progress: &mut (dyn FnMut(TestProgress) + Send),
    cancel: tokio::sync::watch::Receiver<bool>,
) -> CrossDeviceRun {
    let test_started = env.now();
    let mut report = CrossDeviceRun {
        rp_id: TEST_RP_ID.to_owned(),
        virtual_phone: matches!(options.phone, TestPhone::Virtual { .. }),
        relay: options.ceremony.relay.clone(),
        started_unix: env.unix_time(),
        ceremonies: Vec::new(),
        phone_info: None,
        attestation_format: None,
        attestation: None,
        flags: Vec::new(),
        total_ms: 0.0,
        failure: None,
    };
    let mut setup = match options.phone.clone() {
        TestPhone::Real => None,
        TestPhone::Virtual { air, behaviour } => {
            match virtual_setup(options, env, air, behaviour).await {
                Ok(setup) => {
                    report.relay = options.ceremony.relay.clone();
                    Some(setup)
                }
                Err(failure) => {
                    report.failure = Some(failure);
                    return report;
                }
            }
        }
    };

    // 1. The registration.
    let (round, qr_to_phone) = start_round(setup.as_mut(), env);
    let mut recorder = Recorder::begin(
        CeremonyKind::Registration,
        env,
        test_started,
        (qr_to_phone, setup.is_none()),
        &mut *progress,
    );
    let registered = {
        let mut on_step = |step: ClientStep| recorder.on_step(step);
        ceremony::register_account(
            &options.ceremony,
            env,
            Start::Qr,
            TEST_RP_ID,
            (TEST_USER, TEST_USER_ID),
            &mut on_step,
            cancelled(cancel.clone()),
        )
        .await
    };
    report.ceremonies.push(recorder.end(registered.is_ok()));
    end_round(round, setup.as_mut()).await;
    let registration: Registration = match registered {
        Ok(verified) => {
            report.phone_info = verified
                .get_info
                .as_deref()
                .and_then(|info| PhoneInfo::parse(info).ok());
            report.attestation_format = Some(verified.result.attestation_format.clone());
            report.attestation = Some(verified.result.attestation.clone());
            report.flags.push(verified.result.flags);
            verified.result
        }
        Err(failure) => {
            report.failure = Some(failure);
            report.total_ms = millis(test_started, env.now());
            return report;
        }
    };

    // 2. The sign-in with the passkey just made.
    let (round, qr_to_phone) = start_round(setup.as_mut(), env);
    let mut recorder = Recorder::begin(
        CeremonyKind::SignIn,
        env,
        test_started,
        (qr_to_phone, setup.is_none()),
        &mut *progress,
    );
    let known = [registration];
    let signed_in = {
        let mut on_step = |step: ClientStep| recorder.on_step(step);
        ceremony::sign_in(
            &options.ceremony,
            env,
            Start::Qr,
            TEST_RP_ID,
            &known,
            &mut on_step,
            cancelled(cancel.clone()),
        )
        .await
    };
    report.ceremonies.push(recorder.end(signed_in.is_ok()));
    end_round(round, setup.as_mut()).await;
    match signed_in {
        Ok(verified) => report.flags.push(verified.result.flags),
        Err(failure) => report.failure = Some(failure),
    }
    report.total_ms = millis(test_started, env.now());
    report
}

/// Starts the virtual phone's half of a ceremony, if the test uses it.
fn start_round(
    setup: Option<&mut VirtualSetup>,
    env: &Env,
) -> (
    Option<QrRound>,
    Option<tokio::sync::oneshot::Sender<String>>,
) {
    let Some(setup) = setup else {
        return (None, None);
    };
    let Some(phone) = setup.phone.take() else {
        return (None, None);
    };
    let (round, qr) = QrRound::start(phone, &setup.opts, env);
    (Some(round), Some(qr))
}

/// How long the virtual phone may take to wind down after the desktop's ceremony ended (it
/// may still be waiting at the relay for a desktop that gave up).
const PHONE_WIND_DOWN: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits for the virtual phone's half to end and keeps its engine (and passkeys); a phone
/// still busy after [`PHONE_WIND_DOWN`] is stopped, and no further ceremony gets one.
async fn end_round(round: Option<QrRound>, setup: Option<&mut VirtualSetup>) {
    let (Some(round), Some(setup)) = (round, setup) else {
        return;
    };
    let abort = round.abort_handle();
    setup.phone = match tokio::time::timeout(PHONE_WIND_DOWN, round.finish()).await {
        Ok(Ok((phone, result))) => {
            // Only logged: the desktop's failure says more than the phone's consequence of it.
            if let Err(error) = result {
                tracing::debug!(%error, "the virtual phone's side of the test failed");
            }
            Some(phone)
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "the virtual phone's task ended abnormally");
            None
        }
        Err(_) => {
            abort.abort();
            None
        }
    };
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::phone::PhoneFailure;

    /// The virtual phone with `behaviour`, a relay and air of its own on loopback.
    fn options(behaviour: Behaviour, timeout: Duration) -> TestOptions {
        let addr = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|socket| socket.local_addr())
            .unwrap();
        TestOptions {
            ceremony: CeremonyOptions {
                relay: None,
                air: Air::Udp(addr),
                timeout,
                tunnel: hybrid::io::tunnel::TunnelConfig::default(),
            },
            phone: TestPhone::Virtual {
                air: Air::Udp(addr),
                behaviour,
            },
        }
    }

    async fn test(options: TestOptions) -> (CrossDeviceRun, Vec<TestProgress>) {
        let mut heard = Vec::new();
        let run = run(
            options,
            &Env::system(),
            &mut |progress| heard.push(progress),
            std::future::pending(),
        )
        .await;
        (run, heard)
    }

    #[tokio::test]
    async fn the_virtual_phone_passes_every_phase_of_both_ceremonies_in_order() {
        let (run, heard) = test(options(Behaviour::Answer, Duration::from_secs(10))).await;
        assert!(run.passed(), "{:?}", run.failure);
        assert_eq!(run.failed_at(), None);
        assert_eq!(run.ceremonies.len(), 2);
        for ceremony in &run.ceremonies {
            let phases: Vec<TestPhase> = ceremony.marks.iter().map(|m| m.phase).collect();
            assert_eq!(phases, TestPhase::ALL, "{:?}", ceremony.kind);
            assert!(
                ceremony.marks.windows(2).all(|w| w[0].at_ms <= w[1].at_ms),
                "times go forward"
            );
            let tunnel = ceremony.tunnel.as_deref().unwrap();
            assert!(tunnel.starts_with("ws://127.0.0.1:"), "{tunnel}");
        }
        assert!(run.ceremonies[1].started_ms >= run.ceremonies[0].total_ms);
        assert_eq!(heard.len(), 18, "every phase reported as it happened");
        assert!(
            heard.iter().all(|p| p.qr.is_none()),
            "the virtual phone gets the QR code"
        );
        let info = run.phone_info.as_ref().unwrap();
        assert!(info.versions.iter().any(|v| v == "FIDO_2_1"));
        assert_eq!(run.attestation_format.as_deref(), Some("packed"));
        assert_eq!(
            run.attestation.as_ref().map(|a| a.kind),
            Some(crate::webauthn::AttestationKind::SelfAttestation)
        );
        assert_eq!(run.flags.len(), 2);
        assert!(run.relay.as_deref().unwrap().starts_with("ws://127.0.0.1:"));
    }

    /// A phone that declines (CTAP2_ERR_OPERATION_DENIED, 0x27): it answered, and the
    /// registration stopped before it verified — Chromium's phone side calls that a CTAP
    /// error.
    #[tokio::test]
    async fn a_phone_answering_0x27_stops_the_registration_before_verified() {
        let (run, _) = test(options(Behaviour::Error(0x27), Duration::from_secs(10))).await;
        assert_eq!(
            run.failure,
            Some(PhoneFailure::PhoneError(ctap::StatusCode::OperationDenied))
        );
        assert_eq!(
            run.failed_at(),
            Some((CeremonyKind::Registration, TestPhase::Verified))
        );
        assert_eq!(run.ceremonies.len(), 1, "no sign-in without a passkey");
        assert_eq!(TestPhase::Verified.chromium().errors, ["CTAP_ERROR"]);
    }

    /// A phone that never answers: the request went out, the answer never came, and the test
    /// says so when the timeout ends it.
    #[tokio::test]
    async fn a_stalled_phone_stops_the_registration_before_the_answer() {
        let (run, _) = test(options(Behaviour::Stall, Duration::from_secs(2))).await;
        assert!(
            matches!(run.failure, Some(PhoneFailure::Timeout { .. })),
            "{:?}",
            run.failure
        );
        assert_eq!(
            run.failed_at(),
            Some((CeremonyKind::Registration, TestPhase::PhoneAnswered))
        );
        let marks = &run.ceremonies[0].marks;
        assert_eq!(marks.last().map(|m| m.phase), Some(TestPhase::RequestSent));
        assert!(run.ceremonies[0].total_ms >= 2000.0);
    }

    /// No phone at all (a real phone nobody scans for): cancelling ends the test at once,
    /// and the run says it was waiting for the advert.
    #[tokio::test]
    async fn cancelling_ends_the_test_where_it_was() {
        let mut opts = options(Behaviour::Answer, Duration::from_secs(60));
        opts.phone = TestPhone::Real;
        opts.ceremony.relay = Some("ws://127.0.0.1:9".to_owned());
        let mut heard = Vec::new();
        let run = run(
            opts,
            &Env::system(),
            &mut |progress| heard.push(progress),
            tokio::time::sleep(Duration::from_millis(300)),
        )
        .await;
        assert_eq!(run.failure, Some(PhoneFailure::Cancelled));
        assert_eq!(
            run.failed_at(),
            Some((CeremonyKind::Registration, TestPhase::AdvertHeard))
        );
        // A real phone is shown the QR code.
        assert!(heard[0].qr.as_deref().unwrap().starts_with("FIDO:/"));
    }
}
