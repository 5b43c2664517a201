//! One client ceremony with a phone, as both faces run it: build the relying party's request,
//! find the phone (QR code or linked phone), drive the hybrid session over the air and a
//! tunnel, and check what the phone answers the way a relying party would.

use std::time::Duration;

use hybrid::io::driver::{ClientOutcome, ClientStep, DriveError, Io, run_client};
use hybrid::io::tunnel::{TunnelConfig, TunnelError, WsConnector};
use hybrid::qr::RequestHint;
use hybrid::session::{ClientConfig, ClientSession, StoredLink, Timeouts};
use hybrid::tunnel_url::TunnelBase;

use super::air::Air;
use super::failure::PhoneFailure;
use super::linked;
use crate::profile::Vault;
use crate::system::Env;
use crate::webauthn::{self, Assertion, ClientData, Registration};

/// Which phone adverts the desktop accepts: 20 bytes of service data and longer. CTAP 2.3's
/// hybrid transport lets a phone append a suffix after the 20 bytes the tag covers; a client
/// that insists on exactly 20 (as Chromium does) never matches such a phone.
pub const ADVERT_LENGTH: hybrid::advert::LengthPolicy = hybrid::advert::LengthPolicy::AllowSuffix;

/// After the reply, a phone that does not close promptly is not worth waiting for.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

/// How a ceremony reaches the phone.
#[derive(Debug, Clone)]
pub struct CeremonyOptions {
    /// Send every tunnel to this relay (self-hosted or local); `None`: the tunnel service the
    /// phone names in its advert.
    pub relay: Option<String>,
    /// Where to look for the phone's advert.
    pub air: Air,
    /// How long to wait for the advert after the QR code is shown, and for the answer.
    pub timeout: Duration,
    /// The proxy and TLS settings tunnels are opened with.
    pub tunnel: TunnelConfig,
}

impl CeremonyOptions {
    /// Bluetooth, the phone's own tunnel service, two minutes, the environment's proxy and
    /// CA file.
    pub fn from_env() -> Self {
        Self {
            relay: None,
            air: Air::default(),
            timeout: Duration::from_secs(120),
            tunnel: TunnelConfig::from_env(),
        }
    }

    fn failure(&self, error: DriveError) -> PhoneFailure {
        PhoneFailure::from_drive(error, self.relay.as_deref(), self.timeout)
    }
}

/// How a ceremony finds the phone.
#[derive(Debug, Clone)]
pub enum Start {
    /// Show a QR code.
    Qr,
    /// Contact a linked phone through the relay: no QR code.
    Linked {
        /// The phone's name (its link is forgotten if it unlinked itself).
        name: String,
        /// Its link.
        link: Box<StoredLink>,
    },
}

impl Start {
    /// The linked phone `name` of `vault`.
    ///
    /// # Errors
    /// The vault's errors; `Ok(None)` when no such phone is linked.
    pub fn linked(vault: &Vault, name: &str) -> Result<Option<Self>, crate::profile::Error> {
        Ok(linked::find(vault, name)?.map(|link| Self::Linked {
            name: name.to_owned(),
            link: Box::new(link),
        }))
    }
}

/// Runs one ceremony to the phone's answer: `request` is a CTAP command (`cmd || CBOR`);
/// `on_step` hears each step as it happens; `cancel` resolving ends it.
///
/// # Errors
/// [`PhoneFailure`]; for a linked phone that unlinked itself, [`PhoneFailure::Unlinked`].
pub async fn run(
    opts: &CeremonyOptions,
    env: &Env,
    start: Start,
    hint: RequestHint,
    request: &[u8],
    on_step: &mut (dyn FnMut(ClientStep) + Send),
    cancel: impl Future<Output = ()>,
) -> Result<ClientOutcome, PhoneFailure> {
    let mut scanner = opts.air.scanner().await.map_err(PhoneFailure::from_air)?;
    let config = ClientConfig {
        tunnel_base: opts
            .relay
            .clone()
            .map_or(TunnelBase::Default, TunnelBase::Custom),
        timeouts: Timeouts {
            advert: opts.timeout,
            response: opts.timeout,
            shutdown: SHUTDOWN_WAIT,
            ..Timeouts::default()
        },
        advert_length: ADVERT_LENGTH,
    };
    let mut rng = env.rng.clone();
    let (session, linked_name) = match start {
        Start::Qr => (
            ClientSession::new_qr(config, hint, env.unix_time(), &mut rng, env.now()),
            None,
        ),
        Start::Linked { name, link } => (
            ClientSession::new_linked(config, *link, hint, &mut rng, env.now())
                .map_err(PhoneFailure::Session)?,
            Some(name),
        ),
    };
    let connector = WsConnector::new(opts.tunnel.clone());
    let io = Io {
        air: &mut scanner,
        connector: &connector,
        clock: &env.clock,
    };
    run_client(session, request, io, on_step, cancel)
        .await
        .map_err(|error| match (error, linked_name) {
            // The relay says the phone unlinked itself: the link is dead for good.
            (DriveError::Tunnel(TunnelError::Refused(410)), Some(phone)) => {
                PhoneFailure::Unlinked { phone }
            }
            (error, _) => opts.failure(error),
        })
}

/// A ceremony's verified result and the phones that offered to link.
#[derive(Debug, Clone)]
pub struct Verified<T> {
    /// What the phone did, checked.
    pub result: T,
    /// Linking info the phone sent and the session verified ("remember this phone").
    pub links: Vec<StoredLink>,
    /// The phone's authenticatorGetInfo (CBOR, from its post-handshake message).
    pub get_info: Option<Vec<u8>>,
}

/// Creates a discoverable passkey on the phone for `user` at `rp_id` (origin
/// `https://{rp_id}`) and checks the phone's registration.
///
/// # Errors
/// [`PhoneFailure`].
pub async fn register(
    opts: &CeremonyOptions,
    env: &Env,
    start: Start,
    rp_id: &str,
    user: &str,
    on_step: &mut (dyn FnMut(ClientStep) + Send),
    cancel: impl Future<Output = ()>,
) -> Result<Verified<Registration>, PhoneFailure> {
    let user_id = env.rng.clone().bytes::<16>();
    register_account(opts, env, start, rp_id, (user, &user_id), on_step, cancel).await
}

/// [`register`] for the account `(name, user handle)`: a phone keeps one passkey per site
/// and user handle, so registering the same handle again replaces the earlier passkey.
///
/// # Errors
/// [`PhoneFailure`].
pub async fn register_account(
    opts: &CeremonyOptions,
    env: &Env,
    start: Start,
    rp_id: &str,
    (user, user_id): (&str, &[u8]),
    on_step: &mut (dyn FnMut(ClientStep) + Send),
    cancel: impl Future<Output = ()>,
) -> Result<Verified<Registration>, PhoneFailure> {
    let mut rng = env.rng.clone();
    let client_data = ClientData::new(
        "webauthn.create",
        &rng.bytes::<32>(),
        &format!("https://{rp_id}"),
    );
    let request = webauthn::make_credential_request(&client_data.hash, rp_id, user_id, user)
        .map_err(|e| PhoneFailure::Internal(e.to_string()))?;
    let outcome = run(
        opts,
        env,
        start,
        RequestHint::MakeCredential,
        &request,
        on_step,
        cancel,
    )
    .await?;
    let result = webauthn::verify_registration(&outcome.response, rp_id, &client_data.hash)
        .map_err(PhoneFailure::from_verify)?;
    // The request asked the phone to verify the person (`uv`): a passkey made without that is
    // not the phone-screen-lock passkey the person was promised.
    webauthn::require_user_verified(result.flags).map_err(PhoneFailure::from_verify)?;
    Ok(Verified {
        result,
        links: outcome.links,
        get_info: outcome.get_info,
    })
}

/// Signs in at `rp_id` with one of the phone's passkeys in `known` (their public keys check
/// the signature; an empty list asks for any discoverable passkey, which then cannot verify).
///
/// # Errors
/// [`PhoneFailure`].
pub async fn sign_in(
    opts: &CeremonyOptions,
    env: &Env,
    start: Start,
    rp_id: &str,
    known: &[Registration],
    on_step: &mut (dyn FnMut(ClientStep) + Send),
    cancel: impl Future<Output = ()>,
) -> Result<Verified<Assertion>, PhoneFailure> {
    let mut rng = env.rng.clone();
    let client_data = ClientData::new(
        "webauthn.get",
        &rng.bytes::<32>(),
        &format!("https://{rp_id}"),
    );
    let allow: Vec<Vec<u8>> = known
        .iter()
        .filter(|c| c.rp_id == rp_id)
        .map(|c| c.credential_id.clone())
        .collect();
    let request = webauthn::get_assertion_request(&client_data.hash, rp_id, &allow)
        .map_err(|e| PhoneFailure::Internal(e.to_string()))?;
    let outcome = run(
        opts,
        env,
        start,
        RequestHint::GetAssertion,
        &request,
        on_step,
        cancel,
    )
    .await?;
    let result = webauthn::verify_assertion(&outcome.response, rp_id, &client_data.hash, known)
        .map_err(PhoneFailure::from_verify)?;
    webauthn::require_user_verified(result.flags).map_err(PhoneFailure::from_verify)?;
    Ok(Verified {
        result,
        links: outcome.links,
        get_info: outcome.get_info,
    })
}

/// Forgets a linked phone that unlinked itself, so the next attempt offers the QR code.
/// Returns the failure unchanged.
pub fn forget_if_unlinked(vault: Option<&Vault>, failure: PhoneFailure) -> PhoneFailure {
    if let (PhoneFailure::Unlinked { phone }, Some(vault)) = (&failure, vault)
        && let Err(error) = linked::forget(vault, phone)
    {
        tracing::warn!(%error, "cannot forget the unlinked phone");
    }
    failure
}
