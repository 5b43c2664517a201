//! Async drivers: one loop per role that feeds a sans-IO session ([`ClientSession`],
//! [`PhoneSession`]) from real I/O — the tunnel (through a [`Connector`]), the (loopback or
//! BLE) air, the clock — and performs the actions it asks for. No protocol logic lives here:
//! every decision is the session's, so what the drivers do is what the sans-IO tests and
//! fuzzers checked. Every seam is a parameter, so the drivers run over an in-memory relay and
//! air in tests (`hybrid::testing`) exactly as over sockets and radios.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use ctap::Clock;

use super::air::{AirError, BleAdvertiser, BleScanner};
use super::tunnel::{CloseReason, Connector, TunnelConn, TunnelError};
use crate::contact_proof::{ContactId, ContactKey, ContactOp, LISTENING, NONCE_LEN};
use crate::error::{Error, Phase};
use crate::session::{
    ClientAction, ClientInput, ClientSession, PhoneAction, PhoneInput, PhoneSession, StoredLink,
};
use crate::tunnel_url::TunnelRequest;

/// Progress of a client ceremony, in the order a user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientStep {
    /// Show this `FIDO:/…` text as a QR code (QR sessions only).
    QrShown(String),
    /// Waiting for the linked phone to answer the relay's contact (linked sessions only).
    ContactingPhone,
    /// The first FIDO advert reached the scanner, before any was decrypted: something nearby
    /// advertises (whether it is this session's phone is the next step).
    AdvertHeard,
    /// A phone's advert decrypted under this session's key: the phone is nearby.
    AdvertMatched,
    /// Opening the tunnel at this relay or tunnel service (`scheme://host[:port]`, no path:
    /// the path carries the tunnel's IDs).
    Connecting(String),
    /// The WebSocket to the tunnel relay is open.
    TunnelOpen,
    /// The Noise handshake completed: the channel is encrypted and authenticated.
    HandshakeDone,
    /// The phone's post-handshake message (its getInfo, maybe linking info) arrived.
    PostHandshake,
    /// The CTAP request went to the phone; from here the phone's user decides.
    RequestSent,
    /// The phone answered the CTAP request.
    PhoneAnswered,
}

/// `scheme://authority` of a tunnel URL: what may be shown and logged of it.
fn url_origin(url: &str) -> String {
    let authority_at = url.find("://").map_or(0, |at| at.saturating_add(3));
    let end = url
        .get(authority_at..)
        .and_then(|rest| rest.find('/'))
        .map_or(url.len(), |at| at.saturating_add(authority_at));
    url.get(..end).unwrap_or(url).to_owned()
}

/// What a finished client ceremony produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOutcome {
    /// The phone's CTAP reply: status byte, then CBOR.
    pub response: Vec<u8>,
    /// Linking info the phone sent and the session verified ("remember this phone").
    pub links: Vec<StoredLink>,
    /// The phone's authenticatorGetInfo (from the post-handshake message).
    pub get_info: Option<Vec<u8>>,
}

/// Why a driven ceremony failed, by the component that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriveError {
    /// The protocol session failed (timeout, handshake, framing, cancelled …).
    #[error(transparent)]
    Session(#[from] Error),
    /// The tunnel relay could not be reached, refused, or broke.
    #[error(transparent)]
    Tunnel(#[from] TunnelError),
    /// Scanning or advertising failed.
    #[error(transparent)]
    Air(#[from] AirError),
    /// The relay ended the tunnel because of one of its limits (size, count, idle time).
    #[error("the tunnel relay ended the connection: {} (close code {})", .0.reason, .0.code)]
    RelayLimit(CloseReason),
    /// The tunnel closed before the ceremony finished (the peer or the relay hung up).
    #[error("the tunnel closed before the ceremony finished (while waiting for {phase:?})")]
    TunnelClosed {
        /// What the session was waiting for when it closed.
        phase: Option<Phase>,
    },
}

type Connecting<T> = Pin<Box<dyn Future<Output = Result<T, TunnelError>> + Send>>;

fn connect<K: Connector>(connector: &K, request: TunnelRequest) -> Connecting<K::Conn> {
    Box::pin(connector.connect(request))
}

/// Sleeps until `deadline` (forever without one).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// Awaits the pending connection, or never.
async fn connecting<T>(slot: &mut Option<Connecting<T>>) -> Result<T, TunnelError> {
    match slot.as_mut() {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// Receives from the open tunnel, or never.
async fn receive<T: TunnelConn>(slot: &mut Option<T>) -> Result<Option<Vec<u8>>, TunnelError> {
    match slot.as_mut() {
        Some(tunnel) => tunnel.recv().await,
        None => std::future::pending().await,
    }
}

async fn send<T: TunnelConn>(slot: &mut Option<T>, data: Vec<u8>) -> Result<(), DriveError> {
    match slot.as_mut() {
        Some(tunnel) => Ok(tunnel.send(data).await?),
        // The session only sends after `TunnelUp`; reaching this is a session bug, and failing
        // the ceremony is the safe answer.
        None => Err(DriveError::TunnelClosed { phase: None }),
    }
}

/// One event for the client loop (owned, so the borrow of the I/O ends before `handle`).
enum ClientEvent<T> {
    Advert(Vec<u8>),
    Connected(Result<Box<T>, TunnelError>),
    Data(Result<Option<Vec<u8>>, TunnelError>),
    Tick,
    Cancel,
}

/// What a ceremony's driver runs on: the air, the tunnels and the clock.
#[derive(Debug)]
pub struct Io<'a, A, K, C> {
    /// Scans (client) or advertises (phone).
    pub air: &'a mut A,
    /// Opens tunnels.
    pub connector: &'a K,
    /// Time.
    pub clock: &'a C,
}

/// Runs a client (desktop) ceremony to the end: sends `request` (`cmd || CBOR`) to the phone
/// and returns its reply. `on_step` hears each step as it happens; `cancel` resolving ends
/// the ceremony (the phone is told to shut down when the channel is already up).
///
/// # Errors
/// [`DriveError`]: the session's own error (with the phase that timed out), or the tunnel's
/// or scanner's.
pub async fn run_client<S: BleScanner, K: Connector, C: Clock>(
    mut session: ClientSession,
    request: &[u8],
    io: Io<'_, S, K, C>,
    on_step: &mut (dyn FnMut(ClientStep) + Send),
    cancel: impl Future<Output = ()>,
) -> Result<ClientOutcome, DriveError> {
    let Io {
        air: scanner,
        connector,
        clock,
    } = io;
    let mut cancel = std::pin::pin!(cancel);
    let mut tunnel: Option<K::Conn> = None;
    let mut pending_connect: Option<Connecting<K::Conn>> = None;
    let mut scanning = false;
    let mut heard = false;
    let mut request_sent = false;
    let mut response = None;
    let mut links = Vec::new();
    let mut phase = session.phase();
    session.handle(clock.now(), ClientInput::CtapRequest(request))?;
    loop {
        while let Some(action) = session.poll_action() {
            match action {
                ClientAction::ShowQr(url) => on_step(ClientStep::QrShown(url)),
                ClientAction::StartScan => scanning = true,
                ClientAction::StopScan => {
                    if scanning && session.error().is_none() {
                        on_step(ClientStep::AdvertMatched);
                    }
                    scanning = false;
                }
                ClientAction::Connect(request) => {
                    if phase == Some(Phase::Advert) && !scanning {
                        // A linked session connects before it scans.
                        on_step(ClientStep::ContactingPhone);
                    }
                    on_step(ClientStep::Connecting(url_origin(&request.url)));
                    pending_connect = Some(connect(connector, request));
                }
                ClientAction::Send(data) => {
                    send(&mut tunnel, data).await?;
                    // The first message sent once the phone's post-handshake message is in is
                    // the request (the session queues it at once).
                    if phase == Some(Phase::Response) && !request_sent {
                        request_sent = true;
                        on_step(ClientStep::RequestSent);
                    }
                }
                ClientAction::CtapResponse(reply) => {
                    on_step(ClientStep::PhoneAnswered);
                    response = Some(reply);
                }
                ClientAction::Linked(link) => links.push(*link),
                ClientAction::CloseTunnel => {
                    if let Some(open) = tunnel.as_mut() {
                        open.close().await;
                    }
                    tunnel = None;
                }
                ClientAction::Finished => {
                    if let Some(open) = tunnel.as_mut() {
                        open.close().await;
                    }
                    return match response {
                        Some(response) => Ok(ClientOutcome {
                            response,
                            links,
                            get_info: session.get_info().map(<[u8]>::to_vec),
                        }),
                        None => Err(DriveError::TunnelClosed { phase }),
                    };
                }
            }
        }
        if let Some(error) = session.error() {
            return Err(error.clone().into());
        }
        let event = tokio::select! {
            advert = scanner.next_advert(), if scanning => ClientEvent::Advert(advert?.data),
            result = connecting(&mut pending_connect), if pending_connect.is_some() => {
                ClientEvent::Connected(result.map(Box::new))
            }
            data = receive(&mut tunnel), if tunnel.is_some() => ClientEvent::Data(data),
            () = sleep_until(session.next_deadline()) => ClientEvent::Tick,
            () = &mut cancel => ClientEvent::Cancel,
        };
        let now = clock.now();
        let result = match event {
            ClientEvent::Advert(data) => {
                if !heard {
                    heard = true;
                    on_step(ClientStep::AdvertHeard);
                }
                session.handle(now, ClientInput::Advert(&data))
            }
            ClientEvent::Connected(result) => {
                pending_connect = None;
                tunnel = Some(*result?);
                on_step(ClientStep::TunnelOpen);
                session.handle(now, ClientInput::TunnelUp)
            }
            ClientEvent::Data(Ok(Some(data))) => {
                session.handle(now, ClientInput::TunnelData(&data))
            }
            ClientEvent::Data(Ok(None)) => {
                let reason = tunnel.as_ref().and_then(TunnelConn::close_reason).cloned();
                tunnel = None;
                match reason {
                    Some(reason) if reason.is_relay_limit() && response.is_none() => {
                        return Err(DriveError::RelayLimit(reason));
                    }
                    _ => session.handle(now, ClientInput::TunnelDown),
                }
            }
            ClientEvent::Data(Err(error)) => {
                if response.is_some() {
                    // The phone dropped the connection after answering: that is an ending.
                    tunnel = None;
                    session.handle(now, ClientInput::TunnelDown)
                } else {
                    return Err(error.into());
                }
            }
            ClientEvent::Tick => session.handle(now, ClientInput::Tick),
            ClientEvent::Cancel => session.handle(now, ClientInput::Cancel),
        };
        let before = phase;
        phase = session.phase();
        if before == Some(Phase::Handshake) && phase != Some(Phase::Handshake) && result.is_ok() {
            on_step(ClientStep::HandshakeDone);
        }
        if before == Some(Phase::PostHandshake)
            && phase != Some(Phase::PostHandshake)
            && result.is_ok()
        {
            on_step(ClientStep::PostHandshake);
        }
        if let Err(error) = result {
            // Flush what the session queued on failure (close, shutdown) before reporting.
            while let Some(action) = session.poll_action() {
                if let ClientAction::Send(data) = action {
                    let _ = send(&mut tunnel, data).await;
                }
            }
            if let Some(open) = tunnel.as_mut() {
                open.close().await;
            }
            if matches!(
                error,
                Error::Session(crate::error::SessionProblem::TunnelClosed)
            ) && response.is_none()
            {
                return Err(DriveError::TunnelClosed { phase: before });
            }
            return Err(error.into());
        }
    }
}

/// How the phone's authenticator answers one CTAP request.
pub trait PhoneAuthenticator {
    /// The reply (`status || CBOR`) to `request` (`cmd || CBOR`), or `None` to never answer
    /// (a phone whose user walked away; for failure tests).
    fn answer(&mut self, request: &[u8]) -> Option<Vec<u8>>;
}

enum PhoneEvent<T> {
    Connected(Result<Box<T>, TunnelError>),
    Data(Result<Option<Vec<u8>>, TunnelError>),
    Tick,
    Cancel,
}

/// Runs the phone (authenticator) side of one ceremony: opens `/cable/new`, advertises,
/// answers one CTAP request with `authenticator`, and ends when the client shuts down.
///
/// # Errors
/// [`DriveError`].
pub async fn run_phone<P: PhoneAuthenticator, A: BleAdvertiser, K: Connector, C: Clock>(
    mut session: PhoneSession,
    authenticator: &mut P,
    io: Io<'_, A, K, C>,
    cancel: impl Future<Output = ()>,
) -> Result<(), DriveError> {
    let Io {
        air: advertiser,
        connector,
        clock,
    } = io;
    let mut cancel = std::pin::pin!(cancel);
    let mut tunnel: Option<K::Conn> = None;
    let mut pending_connect: Option<Connecting<K::Conn>> = None;
    loop {
        while let Some(action) = session.poll_action() {
            match action {
                PhoneAction::Connect(request) => {
                    pending_connect = Some(connect(connector, request))
                }
                PhoneAction::StartAdvert(payload) => advertiser.start(payload).await?,
                PhoneAction::StopAdvert => advertiser.stop(),
                PhoneAction::Send(data) => send(&mut tunnel, data).await?,
                PhoneAction::CtapRequest(request) => {
                    if let Some(reply) = authenticator.answer(&request) {
                        session.handle(clock.now(), PhoneInput::CtapResponse(&reply))?;
                    }
                }
                PhoneAction::CloseTunnel => {
                    if let Some(open) = tunnel.as_mut() {
                        open.close().await;
                    }
                    tunnel = None;
                }
                PhoneAction::Finished => {
                    advertiser.stop();
                    if let Some(open) = tunnel.as_mut() {
                        open.close().await;
                    }
                    return Ok(());
                }
            }
        }
        let event = tokio::select! {
            result = connecting(&mut pending_connect), if pending_connect.is_some() => {
                PhoneEvent::Connected(result.map(Box::new))
            }
            data = receive(&mut tunnel), if tunnel.is_some() => PhoneEvent::Data(data),
            () = sleep_until(session.next_deadline()) => PhoneEvent::Tick,
            () = &mut cancel => PhoneEvent::Cancel,
        };
        let now = clock.now();
        let result = match event {
            PhoneEvent::Connected(result) => {
                pending_connect = None;
                let open = *result?;
                let routing_id = open
                    .routing_id()
                    .or_else(|| session.known_routing_id())
                    .ok_or(TunnelError::NoRoutingId)?;
                tunnel = Some(open);
                session.handle(now, PhoneInput::TunnelUp { routing_id })
            }
            PhoneEvent::Data(Ok(Some(data))) => session.handle(now, PhoneInput::TunnelData(&data)),
            PhoneEvent::Data(Ok(None) | Err(_)) => {
                tunnel = None;
                session.handle(now, PhoneInput::TunnelDown)
            }
            PhoneEvent::Tick => session.handle(now, PhoneInput::Tick),
            PhoneEvent::Cancel => session.handle(now, PhoneInput::Cancel),
        };
        if let Err(error) = result {
            advertiser.stop();
            if let Some(open) = tunnel.as_mut() {
                open.close().await;
            }
            return Err(error.into());
        }
    }
}

/// A linked phone's line to its relay: `/cable/listen/{contact}` held open to hear contacts
/// (Passbridge's relay; Google's service pushes through FCM instead).
#[derive(Debug)]
pub struct ContactListener<T> {
    tunnel: T,
}

/// `/cable/listen/{contact}` at `base`.
fn listen_url(base: &str, contact: &ContactId) -> String {
    format!(
        "{}/cable/listen/{}",
        base.trim_end_matches('/'),
        contact.to_path()
    )
}

/// Answers the relay's challenge on a fresh `/cable/listen` tunnel: its nonce, then `key`'s
/// proof for `op` (see [`crate::contact_proof`]).
async fn answer_challenge<T: TunnelConn>(
    tunnel: &mut T,
    key: &ContactKey,
    op: ContactOp,
) -> Result<(), TunnelError> {
    let nonce: [u8; NONCE_LEN] = match tunnel.recv().await? {
        Some(nonce) => nonce.as_slice().try_into().map_err(|_| {
            TunnelError::ContactRefused("the relay sent no valid challenge".to_owned())
        })?,
        None => return Err(refusal(tunnel)),
    };
    tunnel.send(key.prove(op, &nonce).to_vec()).await
}

/// Why the relay closed a `/cable/listen` tunnel instead of accepting the phone.
fn refusal<T: TunnelConn>(tunnel: &T) -> TunnelError {
    TunnelError::ContactRefused(tunnel.close_reason().map_or_else(
        || "it closed the connection".to_owned(),
        |c| c.reason.clone(),
    ))
}

impl<T: TunnelConn + 'static> ContactListener<T> {
    /// Starts listening for contacts at `base` (a relay base URL), proving with `key` that
    /// this phone owns its contact ID.
    ///
    /// # Errors
    /// [`TunnelError`] when the relay cannot be reached or refuses
    /// ([`TunnelError::ContactRefused`] when it does not accept the proof).
    pub async fn connect<K: Connector<Conn = T>>(
        connector: &K,
        base: &str,
        key: &ContactKey,
    ) -> Result<Self, TunnelError> {
        let request = TunnelRequest::plain(listen_url(base, &key.contact_id()));
        let mut tunnel = connector.connect(request).await?;
        answer_challenge(&mut tunnel, key, ContactOp::Listen).await?;
        match tunnel.recv().await? {
            Some(answer) if answer == [LISTENING] => Ok(Self { tunnel }),
            Some(_) => Err(TunnelError::ContactRefused(
                "the relay answered the proof with something else".to_owned(),
            )),
            None => Err(refusal(&tunnel)),
        }
    }

    /// Waits for the next contact.
    ///
    /// # Errors
    /// [`DriveError::TunnelClosed`] if the relay hangs up; [`DriveError::Session`] for a
    /// malformed push.
    pub async fn next_contact(&mut self) -> Result<crate::tunnel_url::ContactPush, DriveError> {
        match self.tunnel.recv().await? {
            Some(push) => {
                Ok(crate::tunnel_url::ContactPush::from_cbor(&push).map_err(Error::from)?)
            }
            None => Err(DriveError::TunnelClosed { phase: None }),
        }
    }

    /// Unlinks the phone `key` proves: the relay answers later contacts to its contact ID
    /// with 410 Gone.
    ///
    /// # Errors
    /// [`TunnelError`] ([`TunnelError::ContactRefused`] when the relay does not accept the
    /// proof).
    pub async fn revoke<K: Connector<Conn = T>>(
        connector: &K,
        base: &str,
        key: &ContactKey,
    ) -> Result<(), TunnelError> {
        let request = TunnelRequest {
            url: listen_url(base, &key.contact_id()),
            headers: vec![(super::relay::REVOKE_HEADER.to_owned(), "true".to_owned())],
        };
        let mut tunnel = connector.connect(request).await?;
        answer_challenge(&mut tunnel, key, ContactOp::Revoke).await?;
        // The relay confirms by closing normally.
        let done = match tunnel.recv().await {
            Ok(None) if tunnel.close_reason().is_some_and(|c| c.code == 1000) => Ok(()),
            Ok(_) | Err(_) => Err(refusal(&tunnel)),
        };
        tunnel.close().await;
        done
    }
}

#[cfg(test)]
mod tests {
    use super::url_origin;

    #[test]
    fn a_tunnel_urls_origin_leaves_out_the_path() {
        assert_eq!(
            url_origin("wss://cable.ua5v.com/cable/connect/0102/0304"),
            "wss://cable.ua5v.com"
        );
        assert_eq!(
            url_origin("ws://127.0.0.1:8787/cable/new/ab"),
            "ws://127.0.0.1:8787"
        );
        assert_eq!(url_origin("ws://127.0.0.1:8787"), "ws://127.0.0.1:8787");
    }
}
