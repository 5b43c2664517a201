//! The desktop (client, Noise initiator) session: QR-initiated and linked-phone flows.
//!
//! ```text
//! QR:     new_qr ─► ShowQr, StartScan ─Advert(match)─► StopScan, Connect(/cable/connect)
//!         ─TunnelUp─► Send(msg1) ─TunnelData(msg2)─► (await post-handshake)
//!         ─TunnelData(getInfo…)─► [Linked] ─CtapRequest─► Send(request)
//!         ─TunnelData(reply)─► CtapResponse, Send(shutdown) ─TunnelDown─► Finished
//! Linked: new_linked ─► Connect(/cable/contact + payload header), StartScan;
//!         msg1 once both TunnelUp and a matching advert have happened (either order).
//! ```

use std::collections::VecDeque;
use std::time::Instant;

use rand_core::CryptoRngCore;

use super::{Deadline, Timeouts};
use crate::advert::LengthPolicy;
use crate::error::{Error, FrameProblem, Phase, SessionProblem};
use crate::frame::{LinkingInfo, Message, PostHandshake, Revision};
use crate::keys::{EidKey, LinkSecret, PrivateKey, Psk, QrSecret, TunnelId};
use crate::noise::{Crypter, InitiatorSent, InitiatorStart};
use crate::qr::{ClientQr, KNOWN_ASSIGNED_DOMAINS, RequestHint};
use crate::tunnel_url::{
    CLIENT_PAYLOAD_HEADER, ClientPayload, DomainId, TunnelBase, TunnelRequest,
};

/// Client configuration.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// Where tunnel URLs point.
    pub tunnel_base: TunnelBase,
    /// Phase time limits.
    pub timeouts: Timeouts,
    /// Advert length policy.
    pub advert_length: LengthPolicy,
}

/// A linked phone as the client stores it: verified linking info plus the domain its
/// advert used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLink {
    /// Linking info (contact ID, link ID, secret, phone key, name).
    pub linking: LinkingInfo,
    /// Tunnel-server domain of the session the link arrived in.
    pub domain: DomainId,
}

/// Events a driver feeds into [`ClientSession::handle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientInput<'a> {
    /// Service data seen under 0xFFF9 or 0xFDE2 (anything else need not be passed).
    Advert(&'a [u8]),
    /// The WebSocket requested by [`ClientAction::Connect`] is open.
    TunnelUp,
    /// One binary WebSocket message.
    TunnelData(&'a [u8]),
    /// The WebSocket closed.
    TunnelDown,
    /// A CTAP request (`cmd || CBOR`) from the caller. One per session; getInfo (`[0x04]`)
    /// is answered locally from the phone's post-handshake copy.
    CtapRequest(&'a [u8]),
    /// Time passed (call at or after [`ClientSession::next_deadline`]).
    Tick,
    /// The user cancelled.
    Cancel,
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAction {
    /// Render this `FIDO:/…` text as a QR code.
    ShowQr(String),
    /// Start scanning for service data under both caBLE UUIDs.
    StartScan,
    /// Stop scanning.
    StopScan,
    /// Open a WebSocket (subprotocol `fido.cable`) with these URL and headers.
    Connect(TunnelRequest),
    /// Send one binary WebSocket message.
    Send(Vec<u8>),
    /// The phone's reply (`status || CBOR`) to the caller's CTAP request.
    CtapResponse(Vec<u8>),
    /// The phone sent verified linking info: store it for linked-phone sessions.
    Linked(Box<StoredLink>),
    /// Close the WebSocket.
    CloseTunnel,
    /// The session is complete; drop it.
    Finished,
}

enum Secret {
    Qr {
        secret: QrSecret,
        identity: PrivateKey,
    },
    Link {
        secret: LinkSecret,
        link: Box<StoredLink>,
    },
}

/// The tunnel's side of discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TunnelStep {
    /// Not asked for yet (a QR session connects once the advert names the relay).
    NotRequested,
    /// [`ClientAction::Connect`] is out; the WebSocket is not open yet.
    Connecting,
    /// The WebSocket is open.
    Up,
}

/// Where discovery stands: the handshake starts once the advert has matched *and* the tunnel
/// is up, in either order.
enum Discovery {
    /// No matching advert yet.
    AwaitAdvert(TunnelStep),
    /// The advert matched (its decrypted plaintext keys the PSK); the tunnel is connecting.
    AwaitTunnel([u8; 16]),
}

enum State {
    /// Before the handshake: waiting for advert and/or tunnel.
    Discover {
        eid_key: EidKey,
        discovery: Discovery,
        deadline: Deadline,
    },
    AwaitReply {
        hs: InitiatorSent,
        deadline: Deadline,
    },
    AwaitPostHandshake {
        crypter: Crypter,
        deadline: Deadline,
    },
    Ready {
        crypter: Crypter,
    },
    AwaitResponse {
        crypter: Crypter,
        deadline: Deadline,
    },
    ShuttingDown {
        crypter: Crypter,
        deadline: Deadline,
    },
    Done,
    Failed(Error),
    /// Transient placeholder while a transition is computed.
    Poisoned,
}

/// The client's session state machine.
pub struct ClientSession {
    state: State,
    secret: Secret,
    tunnel_id: Option<TunnelId>,
    domain: Option<DomainId>,
    ephemeral: Option<PrivateKey>,
    handshake_hash: [u8; 32],
    config: ClientConfig,
    actions: VecDeque<ClientAction>,
    get_info: Option<Vec<u8>>,
    revision: Revision,
    pending_get_info: bool,
    pending_request: Option<Vec<u8>>,
    command_sent: bool,
}

impl core::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientSession")
            .field("phase", &self.phase())
            .finish_non_exhaustive()
    }
}

impl ClientSession {
    /// Starts a QR-initiated session: generates the QR identity key and secret. Queues
    /// [`ClientAction::ShowQr`] and [`ClientAction::StartScan`].
    pub fn new_qr(
        config: ClientConfig,
        hint: RequestHint,
        unix_time: u64,
        rng: &mut impl CryptoRngCore,
        now: Instant,
    ) -> Self {
        let qr = ClientQr::generate(rng, hint, unix_time);
        Self::from_qr(config, qr, rng, now)
    }

    /// As [`ClientSession::new_qr`] with a caller-built [`ClientQr`] (fixed keys in tests,
    /// custom QR keys 4/6).
    pub fn from_qr(
        config: ClientConfig,
        qr: ClientQr,
        rng: &mut impl CryptoRngCore,
        now: Instant,
    ) -> Self {
        let secret = qr.payload().secret.clone();
        let eid_key = secret.eid_key();
        let tunnel_id = secret.tunnel_id();
        let url = qr.url();
        let deadline = config.timeouts.deadline(now, Phase::Advert);
        let mut s = Self::base(
            config,
            Secret::Qr {
                secret,
                identity: qr.identity().clone(),
            },
            rng,
        );
        s.tunnel_id = Some(tunnel_id);
        s.state = State::Discover {
            eid_key,
            discovery: Discovery::AwaitAdvert(TunnelStep::NotRequested),
            deadline,
        };
        s.actions.push_back(ClientAction::ShowQr(url));
        s.actions.push_back(ClientAction::StartScan);
        s
    }

    /// Starts a linked-phone (state-assisted) session. Queues [`ClientAction::Connect`] to
    /// `/cable/contact/…` with the client-payload header, and [`ClientAction::StartScan`].
    /// A `410 Gone` from the server means the link is dead: delete it.
    ///
    /// # Errors
    /// [`Error::Tunnel`] if the stored domain is unknown.
    pub fn new_linked(
        config: ClientConfig,
        link: StoredLink,
        hint: RequestHint,
        rng: &mut impl CryptoRngCore,
        now: Instant,
    ) -> Result<Self, Error> {
        let mut client_nonce = [0u8; 16];
        rng.fill_bytes(&mut client_nonce);
        let secret = link.linking.link_secret.clone();
        let eid_key = secret.eid_key(&client_nonce);
        let payload = ClientPayload {
            link_id: link.linking.link_id.clone(),
            client_nonce,
            hint,
        };
        let url = config
            .tunnel_base
            .contact_url(link.domain, &link.linking.contact_id)?;
        let request = TunnelRequest {
            url,
            headers: vec![(CLIENT_PAYLOAD_HEADER.to_owned(), payload.header_value())],
        };
        let deadline = config.timeouts.deadline(now, Phase::Advert);
        let domain = link.domain;
        let mut s = Self::base(
            config,
            Secret::Link {
                secret,
                link: Box::new(link),
            },
            rng,
        );
        s.domain = Some(domain);
        s.state = State::Discover {
            eid_key,
            discovery: Discovery::AwaitAdvert(TunnelStep::Connecting),
            deadline,
        };
        s.actions.push_back(ClientAction::Connect(request));
        s.actions.push_back(ClientAction::StartScan);
        Ok(s)
    }

    fn base(config: ClientConfig, secret: Secret, rng: &mut impl CryptoRngCore) -> Self {
        Self {
            state: State::Poisoned,
            secret,
            tunnel_id: None,
            domain: None,
            ephemeral: Some(PrivateKey::generate(rng)),
            handshake_hash: [0; 32],
            config,
            actions: VecDeque::new(),
            get_info: None,
            revision: Revision::One,
            pending_get_info: false,
            pending_request: None,
            command_sent: false,
        }
    }

    /// The next queued action, if any.
    pub fn poll_action(&mut self) -> Option<ClientAction> {
        self.actions.pop_front()
    }

    /// When the driver must call `handle(now, ClientInput::Tick)` at the latest.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadline().and_then(|d| d.at)
    }

    /// The phase the session is waiting in (`None` once finished, failed or idle-ready).
    pub fn phase(&self) -> Option<Phase> {
        self.deadline().map(|d| d.phase)
    }

    /// Whether the session has finished successfully.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The sticky error, if the session failed.
    pub fn error(&self) -> Option<&Error> {
        match &self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// The phone's getInfo (from the post-handshake message), once received.
    pub fn get_info(&self) -> Option<&[u8]> {
        self.get_info.as_deref()
    }

    fn deadline(&self) -> Option<Deadline> {
        match &self.state {
            State::Discover { deadline, .. }
            | State::AwaitReply { deadline, .. }
            | State::AwaitPostHandshake { deadline, .. }
            | State::AwaitResponse { deadline, .. }
            | State::ShuttingDown { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }

    /// Feeds one event. Fatal errors are sticky: every later call returns the same error.
    /// Caller misuse ([`SessionProblem::OneCommandPerSession`],
    /// [`SessionProblem::EmptyRequest`]) is reported without killing the session.
    ///
    /// # Errors
    /// See [`Error`].
    pub fn handle(&mut self, now: Instant, input: ClientInput<'_>) -> Result<(), Error> {
        match &self.state {
            State::Failed(e) => return Err(e.clone()),
            State::Done => {
                return match input {
                    ClientInput::TunnelDown | ClientInput::Tick | ClientInput::Advert(_) => Ok(()),
                    _ => Err(Error::Session(SessionProblem::Finished)),
                };
            }
            _ => {}
        }
        if let ClientInput::CtapRequest(req) = input {
            return self.on_request(now, req);
        }
        let state = core::mem::replace(&mut self.state, State::Poisoned);
        match self.step(state, now, input) {
            Ok(next) => {
                self.state = next;
                Ok(())
            }
            Err(e) => {
                self.state = State::Failed(e.clone());
                Err(e)
            }
        }
    }

    fn on_request(&mut self, now: Instant, req: &[u8]) -> Result<(), Error> {
        let Some(&cmd) = req.first() else {
            return Err(Error::Session(SessionProblem::EmptyRequest));
        };
        if cmd == ctap::types::command::GET_INFO && req.len() == 1 {
            match &self.get_info {
                Some(info) => self.respond_get_info(info.clone()),
                None => self.pending_get_info = true,
            }
            return Ok(());
        }
        if self.command_sent || self.pending_request.is_some() {
            return Err(Error::Session(SessionProblem::OneCommandPerSession));
        }
        self.pending_request = Some(req.to_vec());
        let state = core::mem::replace(&mut self.state, State::Poisoned);
        let next = match state {
            State::Ready { crypter } => self.send_request(crypter, now),
            other => Ok(other),
        };
        match next {
            Ok(s) => {
                self.state = s;
                Ok(())
            }
            Err(e) => {
                self.state = State::Failed(e.clone());
                Err(e)
            }
        }
    }

    fn respond_get_info(&mut self, info: Vec<u8>) {
        let mut resp = Vec::with_capacity(info.len() + 1);
        resp.push(0x00);
        resp.extend_from_slice(&info);
        self.actions.push_back(ClientAction::CtapResponse(resp));
    }

    fn step(&mut self, state: State, now: Instant, input: ClientInput<'_>) -> Result<State, Error> {
        if let ClientInput::Cancel = input {
            return self.cancel(state);
        }
        if let ClientInput::Tick = input {
            return self.tick(state, now);
        }
        match state {
            State::Discover {
                eid_key,
                discovery,
                deadline,
            } => self.discover(now, input, eid_key, discovery, deadline),
            State::AwaitReply { hs, deadline } => match input {
                ClientInput::TunnelData(d) if self.is_linked() && d == [0x00] => {
                    // Connect signal from the tunnel server (state-assisted flow).
                    Ok(State::AwaitReply { hs, deadline })
                }
                ClientInput::TunnelData(d) => {
                    let est = hs.read_message(d)?;
                    self.handshake_hash = est.handshake_hash;
                    self.ephemeral = None;
                    let deadline = self.config.timeouts.deadline(now, Phase::PostHandshake);
                    Ok(State::AwaitPostHandshake {
                        crypter: est.crypter,
                        deadline,
                    })
                }
                ClientInput::TunnelDown => Err(SessionProblem::TunnelClosed.into()),
                _ => Ok(State::AwaitReply { hs, deadline }),
            },
            State::AwaitPostHandshake {
                mut crypter,
                deadline,
            } => match input {
                ClientInput::TunnelData(d) => {
                    let plain = crypter.decrypt(d)?;
                    let ph = PostHandshake::parse(&plain)?;
                    self.revision = ph.revision;
                    if !ph.supports_ctap() {
                        return Err(SessionProblem::CtapNotSupported.into());
                    }
                    if let Some(linking) = ph.linking {
                        self.offer_link(linking);
                    }
                    self.get_info = ph.get_info;
                    if self.pending_get_info {
                        self.pending_get_info = false;
                        if let Some(info) = self.get_info.clone() {
                            self.respond_get_info(info);
                        }
                    }
                    if self.pending_request.is_some() {
                        self.send_request(crypter, now)
                    } else {
                        Ok(State::Ready { crypter })
                    }
                }
                ClientInput::TunnelDown => Err(SessionProblem::TunnelClosed.into()),
                _ => Ok(State::AwaitPostHandshake { crypter, deadline }),
            },
            State::Ready { mut crypter } => match input {
                ClientInput::TunnelData(d) => {
                    self.on_phone_message(&mut crypter, d, false)?;
                    Ok(State::Ready { crypter })
                }
                ClientInput::TunnelDown => Err(SessionProblem::TunnelClosed.into()),
                _ => Ok(State::Ready { crypter }),
            },
            State::AwaitResponse {
                mut crypter,
                deadline,
            } => match input {
                ClientInput::TunnelData(d) => {
                    if self.on_phone_message(&mut crypter, d, true)? {
                        let shutdown = crypter.encrypt(&Message::Shutdown.encode())?;
                        if self.revision == Revision::One {
                            self.actions.push_back(ClientAction::Send(shutdown));
                        }
                        let deadline = self.config.timeouts.deadline(now, Phase::Shutdown);
                        Ok(State::ShuttingDown { crypter, deadline })
                    } else {
                        Ok(State::AwaitResponse { crypter, deadline })
                    }
                }
                ClientInput::TunnelDown => Err(SessionProblem::TunnelClosed.into()),
                _ => Ok(State::AwaitResponse { crypter, deadline }),
            },
            State::ShuttingDown {
                mut crypter,
                deadline,
            } => match input {
                ClientInput::TunnelData(d) => {
                    // Late linking updates are still welcome; anything else is ignored.
                    if let Ok(plain) = crypter.decrypt(d)
                        && let Ok(Message::Update(Some(linking))) = Message::parse(&plain)
                    {
                        self.offer_link(*linking);
                    }
                    Ok(State::ShuttingDown { crypter, deadline })
                }
                ClientInput::TunnelDown => {
                    self.actions.push_back(ClientAction::Finished);
                    Ok(State::Done)
                }
                _ => Ok(State::ShuttingDown { crypter, deadline }),
            },
            State::Done | State::Failed(_) | State::Poisoned => {
                Err(SessionProblem::UnexpectedInput.into())
            }
        }
    }

    fn discover(
        &mut self,
        now: Instant,
        input: ClientInput<'_>,
        eid_key: EidKey,
        discovery: Discovery,
        mut deadline: Deadline,
    ) -> Result<State, Error> {
        let discovery = match (discovery, input) {
            (Discovery::AwaitAdvert(tunnel), ClientInput::Advert(data)) => {
                let Ok(adv) =
                    eid_key.decrypt_with(data, KNOWN_ASSIGNED_DOMAINS, self.config.advert_length)
                else {
                    // Foreign or malformed adverts are normal traffic.
                    return Ok(State::Discover {
                        eid_key,
                        discovery: Discovery::AwaitAdvert(tunnel),
                        deadline,
                    });
                };
                self.actions.push_back(ClientAction::StopScan);
                match tunnel {
                    TunnelStep::NotRequested => {
                        let tunnel_id = self.tunnel_id.ok_or(SessionProblem::UnexpectedInput)?;
                        let url = self.config.tunnel_base.connect_url(
                            adv.eid.domain,
                            &adv.eid.routing_id,
                            &tunnel_id,
                        )?;
                        self.domain = Some(adv.eid.domain);
                        self.actions
                            .push_back(ClientAction::Connect(TunnelRequest::plain(url)));
                        deadline = self.config.timeouts.deadline(now, Phase::Tunnel);
                        Discovery::AwaitTunnel(adv.plaintext)
                    }
                    TunnelStep::Connecting => Discovery::AwaitTunnel(adv.plaintext),
                    TunnelStep::Up => return self.start_handshake(now, &adv.plaintext),
                }
            }
            (Discovery::AwaitAdvert(TunnelStep::Connecting), ClientInput::TunnelUp) => {
                Discovery::AwaitAdvert(TunnelStep::Up)
            }
            (Discovery::AwaitTunnel(plaintext), ClientInput::TunnelUp) => {
                return self.start_handshake(now, &plaintext);
            }
            (discovery, ClientInput::TunnelData(d)) if self.is_linked() && d == [0x00] => discovery,
            (_, ClientInput::TunnelData(_)) => {
                return Err(SessionProblem::UnexpectedMessage.into());
            }
            (
                Discovery::AwaitTunnel(_)
                | Discovery::AwaitAdvert(TunnelStep::Connecting | TunnelStep::Up),
                ClientInput::TunnelDown,
            ) => return Err(SessionProblem::TunnelClosed.into()),
            (discovery, _) => discovery,
        };
        Ok(State::Discover {
            eid_key,
            discovery,
            deadline,
        })
    }

    /// The advert matched and the tunnel is up: sends the first handshake message.
    fn start_handshake(&mut self, now: Instant, plaintext: &[u8; 16]) -> Result<State, Error> {
        let psk = self.psk(plaintext);
        let e = self
            .ephemeral
            .take()
            .ok_or(SessionProblem::UnexpectedInput)?;
        let start = match &self.secret {
            Secret::Qr { identity, .. } => InitiatorStart::qr_with_ephemeral(&psk, identity, &e)?,
            Secret::Link { link, .. } => InitiatorStart::linked_with_ephemeral(
                &psk,
                &link.linking.authenticator_public_key,
                &e,
            )?,
        };
        let (hs, msg1) = start.write_message()?;
        self.actions.push_back(ClientAction::Send(msg1.to_vec()));
        let deadline = self.config.timeouts.deadline(now, Phase::Handshake);
        Ok(State::AwaitReply { hs, deadline })
    }

    fn is_linked(&self) -> bool {
        matches!(self.secret, Secret::Link { .. })
    }

    fn psk(&self, plain: &[u8; 16]) -> Psk {
        match &self.secret {
            Secret::Qr { secret, .. } => secret.psk(plain),
            Secret::Link { secret, .. } => secret.psk(plain),
        }
    }

    /// Verifies and reports linking info. Only QR sessions can verify it; invalid updates are
    /// dropped without failing the session (a stored link is never deleted because of one).
    fn offer_link(&mut self, linking: LinkingInfo) {
        if let (Secret::Qr { identity, .. }, Some(domain)) = (&self.secret, self.domain)
            && linking.verify(identity, &self.handshake_hash).is_ok()
        {
            self.actions
                .push_back(ClientAction::Linked(Box::new(StoredLink {
                    linking,
                    domain,
                })));
        }
    }

    /// Handles a transport message after the post-handshake message. Returns `true` when it
    /// was the CTAP reply.
    fn on_phone_message(
        &mut self,
        crypter: &mut Crypter,
        data: &[u8],
        awaiting: bool,
    ) -> Result<bool, Error> {
        let plain = crypter.decrypt(data)?;
        if self.revision == Revision::Zero {
            if !awaiting || plain.is_empty() {
                return Err(SessionProblem::UnexpectedMessage.into());
            }
            self.actions.push_back(ClientAction::CtapResponse(plain));
            return Ok(true);
        }
        match Message::parse(&plain)? {
            Message::Ctap(body) if awaiting => {
                self.actions.push_back(ClientAction::CtapResponse(body));
                Ok(true)
            }
            Message::Update(linking) => {
                if let Some(linking) = linking {
                    self.offer_link(*linking);
                }
                Ok(false)
            }
            Message::Ctap(_) => Err(SessionProblem::UnexpectedMessage.into()),
            Message::Shutdown => Err(FrameProblem::UnexpectedType(0).into()),
            Message::Json(_) => Err(FrameProblem::UnexpectedType(3).into()),
        }
    }

    fn send_request(&mut self, mut crypter: Crypter, now: Instant) -> Result<State, Error> {
        let Some(req) = self.pending_request.take() else {
            return Ok(State::Ready { crypter });
        };
        let plain = match self.revision {
            Revision::One => Message::Ctap(req).encode(),
            Revision::Zero => req,
        };
        let ct = crypter.encrypt(&plain)?;
        self.actions.push_back(ClientAction::Send(ct));
        self.command_sent = true;
        let deadline = self.config.timeouts.deadline(now, Phase::Response);
        Ok(State::AwaitResponse { crypter, deadline })
    }

    fn tick(&mut self, state: State, now: Instant) -> Result<State, Error> {
        let expired = match &state {
            State::Discover { deadline, .. }
            | State::AwaitReply { deadline, .. }
            | State::AwaitPostHandshake { deadline, .. }
            | State::AwaitResponse { deadline, .. }
            | State::ShuttingDown { deadline, .. } => {
                deadline.expired(now).then_some(deadline.phase)
            }
            _ => None,
        };
        match (expired, state) {
            (Some(Phase::Shutdown), _) => {
                self.actions.push_back(ClientAction::CloseTunnel);
                self.actions.push_back(ClientAction::Finished);
                Ok(State::Done)
            }
            (Some(phase), _) => Err(Error::Timeout(phase)),
            (None, state) => Ok(state),
        }
    }

    fn cancel(&mut self, state: State) -> Result<State, Error> {
        match state {
            State::Discover { .. } => self.actions.push_back(ClientAction::StopScan),
            State::Ready { mut crypter }
            | State::AwaitResponse { mut crypter, .. }
            | State::AwaitPostHandshake { mut crypter, .. } => {
                if self.revision == Revision::One
                    && let Ok(ct) = crypter.encrypt(&Message::Shutdown.encode())
                {
                    self.actions.push_back(ClientAction::Send(ct));
                }
            }
            _ => {}
        }
        self.actions.push_back(ClientAction::CloseTunnel);
        Err(Error::Cancelled)
    }
}
