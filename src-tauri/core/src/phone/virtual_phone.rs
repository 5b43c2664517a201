//! The virtual phone: the `ctap` engine playing a phone's part of a hybrid ceremony (QR code
//! or linked), for admins' tests and the loopback demo.

use std::time::Duration;

use hybrid::io::driver::{ContactListener, Io, run_phone};
use hybrid::io::phone::{Behaviour, CtapPhone};
use hybrid::io::tunnel::{TunnelConfig, WsConnector};
use hybrid::qr::QrPayload;
use hybrid::session::{PhoneConfig, PhoneLinking, PhoneSession, Timeouts};
use hybrid::tunnel_url::TunnelBase;

use super::air::Air;
use super::failure::PhoneFailure;
use crate::system::{Env, SharedClock, SharedRng};

/// The engine settings of a phone: it verifies its user (biometric) and self-attests, so the
/// desktop can check the registration signature too.
pub fn engine_config() -> ctap::Config {
    ctap::Config {
        built_in_uv: true,
        attestation: ctap::Attestation::PackedSelf,
        ..ctap::Config::default()
    }
}

/// The virtual phone with its passkeys in memory, as the demo and the cross-device test run it.
pub type MemoryPhone = CtapPhone<ctap::MemoryStore, SharedClock, SharedRng>;

/// A [`MemoryPhone`] with no passkeys yet, answering as `behaviour` says.
///
/// # Errors
/// The engine's, setting up its (in-memory) store.
pub fn memory_phone(env: &Env, behaviour: Behaviour) -> Result<MemoryPhone, ctap::StoreError> {
    let engine = ctap::Authenticator::new(
        ctap::MemoryStore::new(),
        env.clock.clone(),
        env.rng.clone(),
        engine_config(),
    )?;
    Ok(CtapPhone::new(engine, behaviour))
}

/// The virtual phone's half of one QR ceremony, on a task of its own: it waits for the QR code
/// the desktop shows (its "camera"), then plays the phone, and hands its engine (and passkeys)
/// back for the next ceremony. A round that never gets a QR code ends without a ceremony.
pub struct QrRound {
    task: tokio::task::JoinHandle<(MemoryPhone, Result<(), PhoneError>)>,
}

impl std::fmt::Debug for QrRound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrRound")
            .field("finished", &self.task.is_finished())
            .finish_non_exhaustive()
    }
}

impl QrRound {
    /// Starts the round; the QR code's `FIDO:/…` text goes into the sender.
    pub fn start(
        phone: MemoryPhone,
        opts: &PhoneOptions,
        env: &Env,
    ) -> (Self, tokio::sync::oneshot::Sender<String>) {
        let (qr, qr_rx) = tokio::sync::oneshot::channel::<String>();
        let opts = opts.clone();
        let env = env.clone();
        let task = tokio::spawn(async move {
            let mut phone = phone;
            let result = match qr_rx.await {
                Ok(qr) => {
                    run(
                        &mut phone,
                        &env,
                        PhoneStart::Qr(&qr),
                        None,
                        &opts,
                        &mut |_| {},
                        std::future::pending(),
                    )
                    .await
                }
                Err(_) => Ok(()),
            };
            (phone, result)
        });
        (Self { task }, qr)
    }

    /// Stops the round where it is (its engine is lost).
    pub fn abort_handle(&self) -> tokio::task::AbortHandle {
        self.task.abort_handle()
    }

    /// Waits for the round to end: the engine and the phone's own outcome.
    ///
    /// # Errors
    /// The task's, if it panicked or was aborted.
    pub async fn finish(
        self,
    ) -> Result<(MemoryPhone, Result<(), PhoneError>), tokio::task::JoinError> {
        self.task.await
    }
}

/// How the virtual phone's ceremony begins.
#[derive(Debug, Clone, Copy)]
pub enum PhoneStart<'a> {
    /// The desktop showed this QR code (its `FIDO:/…` text).
    Qr(&'a str),
    /// A linked desktop contacts the phone through the relay.
    Listen,
}

/// How the virtual phone reaches the desktop.
#[derive(Debug, Clone)]
pub struct PhoneOptions {
    /// The relay to open the tunnel on (and listen at, when linked).
    pub relay: String,
    /// Where to send the advert.
    pub air: Air,
    /// How long to wait at each step.
    pub timeout: Duration,
    /// FOR TESTING: use a wrong Noise pre-shared key (the desktop must refuse the handshake).
    pub wrong_psk_for_testing: bool,
    /// The proxy and TLS settings tunnels are opened with.
    pub tunnel: TunnelConfig,
}

/// What the virtual phone reports while it waits for a linked desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneEvent {
    /// It listens at the relay for linked desktops.
    Listening,
    /// A linked desktop made contact.
    Contacted,
}

/// Why the virtual phone's ceremony failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// The text is not a usable `FIDO:/` QR code.
    #[error("not a usable QR code: {0}")]
    BadQr(hybrid::Error),
    /// The relay did not answer the listener in time.
    #[error("the relay did not answer within {} s", waited.as_secs())]
    RelaySilent {
        /// How long it waited.
        waited: Duration,
    },
    /// No linked desktop made contact in time.
    #[error("no desktop made contact within {} s", waited.as_secs())]
    NoContact {
        /// How long it waited.
        waited: Duration,
    },
    /// The contact could not be answered.
    #[error("cannot answer that contact: {0}")]
    BadContact(hybrid::Error),
    /// The advert could not be sent.
    #[error("cannot advertise: {0}")]
    Advertise(PhoneFailure),
    /// Listening for linked desktops needs the phone's linking identity (a profile).
    #[error("this phone has no linking identity to listen with")]
    NotLinkable,
    /// The ceremony itself failed (relay, handshake, …).
    #[error(transparent)]
    Failed(#[from] PhoneFailure),
}

fn session_config(opts: &PhoneOptions, get_info: Vec<u8>) -> PhoneConfig {
    let mut config = PhoneConfig::new(get_info);
    config.tunnel_base = TunnelBase::Custom(opts.relay.clone());
    config.timeouts = Timeouts {
        tunnel: opts.timeout,
        handshake: opts.timeout,
        request: opts.timeout,
        shutdown: Duration::from_secs(2),
        ..Timeouts::default()
    };
    config.wrong_psk_for_testing_only = opts.wrong_psk_for_testing;
    config
}

/// Runs one ceremony of the virtual phone `phone`. A `linking` identity makes it offer linking
/// (a QR ceremony) and is what a linked desktop contacts (`PhoneStart::Listen`).
///
/// # Errors
/// [`PhoneError`].
pub async fn run<S, C, R>(
    phone: &mut CtapPhone<S, C, R>,
    env: &Env,
    start: PhoneStart<'_>,
    linking: Option<PhoneLinking>,
    opts: &PhoneOptions,
    on_event: &mut (dyn FnMut(PhoneEvent) + Send),
    cancel: impl Future<Output = ()>,
) -> Result<(), PhoneError>
where
    S: ctap::CredentialStore,
    C: ctap::Clock,
    R: ctap::platform::Rng,
{
    let relay_failure = |error| PhoneFailure::from_drive(error, Some(&opts.relay), opts.timeout);
    let connector = WsConnector::new(opts.tunnel.clone());
    let mut rng = env.rng.clone();
    let mut config = session_config(opts, phone.get_info());
    let contact_key = linking.as_ref().map(PhoneLinking::contact_key);
    config.linking = linking;
    let session = match start {
        PhoneStart::Qr(qr) => {
            let payload = QrPayload::from_url(qr).map_err(|e| PhoneError::BadQr(e.into()))?;
            PhoneSession::new(payload, config, &mut rng, env.now()).map_err(PhoneError::BadQr)?
        }
        PhoneStart::Listen => {
            let key = contact_key.ok_or(PhoneError::NotLinkable)?;
            let waited = opts.timeout;
            let mut listener = tokio::time::timeout(
                waited,
                ContactListener::connect(&connector, &opts.relay, &key),
            )
            .await
            .map_err(|_| PhoneError::RelaySilent { waited })?
            .map_err(|e| relay_failure(e.into()))?;
            on_event(PhoneEvent::Listening);
            let push = tokio::time::timeout(waited, listener.next_contact())
                .await
                .map_err(|_| PhoneError::NoContact { waited })?
                .map_err(relay_failure)?;
            on_event(PhoneEvent::Contacted);
            PhoneSession::new_linked(&push, config, &mut rng, env.now())
                .map_err(PhoneError::BadContact)?
        }
    };
    let mut advertiser = opts
        .air
        .advertiser()
        .await
        .map_err(|e| PhoneError::Advertise(PhoneFailure::from_air(e)))?;
    let io = Io {
        air: &mut advertiser,
        connector: &connector,
        clock: &env.clock,
    };
    run_phone(session, phone, io, cancel)
        .await
        .map_err(|e| relay_failure(e).into())
}

/// Unlinks the phone `linking` describes at `opts.relay` (proving it owns its contact ID):
/// desktops that contact it get 410 Gone and forget it.
///
/// # Errors
/// [`PhoneFailure`] about the relay.
pub async fn unlink(opts: &PhoneOptions, linking: &PhoneLinking) -> Result<(), PhoneFailure> {
    let connector = WsConnector::new(opts.tunnel.clone());
    ContactListener::revoke(&connector, &opts.relay, &linking.contact_key())
        .await
        .map_err(|e| PhoneFailure::from_tunnel(e, Some(opts.relay.clone())))
}
