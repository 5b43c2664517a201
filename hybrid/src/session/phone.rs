//! The phone (authenticator, Noise responder) session, for the QR-initiated flow and for a
//! linked ("state-assisted") client that contacted the phone through the tunnel service.
//!
//! ```text
//! new ─► Connect(/cable/new/…) ─TunnelUp{routing id}─► StartAdvert(20 bytes)
//! new_linked ─► Connect(/cable/connect/…) ─TunnelUp─► StartAdvert (EID key from the link
//!     secret and the client's nonce; Noise NKpsk0 with the phone's static key)
//!     ─TunnelData(msg1)─► Send(msg2), StopAdvert, Send(post-handshake) [, Send(update)]
//!     ─TunnelData(request)─► CtapRequest(cmd || CBOR) ─CtapResponse─► Send(reply)
//!     ─TunnelData(shutdown) / TunnelDown─► CloseTunnel, Finished
//! ```

use std::collections::VecDeque;
use std::time::Instant;

use rand_core::CryptoRngCore;

use super::{Deadline, Timeouts};
use crate::advert::{ADVERT_LEN, Eid};
use crate::error::{Error, FrameProblem, Phase, SessionProblem};
use crate::frame::{LinkingInfo, Message, PostHandshake, Revision};
use crate::keys::{LinkSecret, PrivateKey, RoutingId};
use crate::noise::{Construction, Crypter, ResponderStart};
use crate::qr::QrPayload;
use crate::tunnel_url::ContactPush;
use crate::tunnel_url::{DomainId, TunnelBase, TunnelRequest};

/// What a phone offers for linking (state-assisted later sessions).
#[derive(Debug, Clone)]
pub struct PhoneLinking {
    /// The phone's long-term static key (key 4 is its public half).
    pub static_key: PrivateKey,
    /// Key 1.
    pub contact_id: Vec<u8>,
    /// Key 2.
    pub link_id: Vec<u8>,
    /// Key 3.
    pub link_secret: LinkSecret,
    /// Key 5.
    pub name: String,
    /// Key 999.
    pub google_tag: Option<bool>,
    /// Put linking into the post-handshake map (key 2, older phones) instead of sending an
    /// `update` message.
    pub in_post_handshake: bool,
}

impl PhoneLinking {
    /// The key this phone proves its contact ID with at a Passbridge relay, derived from its
    /// static key; its [`crate::contact_proof::ContactKey::contact_id`] is the contact ID such
    /// a phone should link with.
    pub fn contact_key(&self) -> crate::contact_proof::ContactKey {
        crate::contact_proof::ContactKey::derive(self.static_key.expose_secret().as_slice())
    }
}

/// Phone configuration.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    /// Where tunnel URLs point.
    pub tunnel_base: TunnelBase,
    /// The tunnel-server domain this phone uses (Chrome phones: 0).
    pub domain: DomainId,
    /// Phase time limits.
    pub timeouts: Timeouts,
    /// authenticatorGetInfo response CBOR (no status byte) for the post-handshake message.
    pub get_info: Vec<u8>,
    /// Post-handshake features (key 3); `None` omits the key (CTAP only).
    pub features: Option<Vec<String>>,
    /// Linking to offer when the QR says the client supports it (key 4 = true).
    pub linking: Option<PhoneLinking>,
    /// Protocol revision to speak (revision 0 only to emulate old phones).
    pub revision: Revision,
    /// Transport construction (legacy only to emulate old phones).
    pub construction: Construction,
    /// FOR TESTS ONLY: derive a PSK that differs from the client's (one bit flipped), to show
    /// that the client refuses the handshake. Never set in a real phone.
    pub wrong_psk_for_testing_only: bool,
}

impl PhoneConfig {
    /// A current-revision phone answering with `get_info`, features `["ctap"]`, domain 0.
    pub fn new(get_info: Vec<u8>) -> Self {
        Self {
            tunnel_base: TunnelBase::Default,
            domain: DomainId::GOOGLE,
            timeouts: Timeouts::default(),
            get_info,
            features: Some(vec!["ctap".to_owned()]),
            linking: None,
            revision: Revision::One,
            construction: Construction::Current,
            wrong_psk_for_testing_only: false,
        }
    }
}

/// Events a driver feeds into [`PhoneSession::handle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhoneInput<'a> {
    /// The `/cable/new` WebSocket is open; `routing_id` is the `X-caBLE-Routing-ID`
    /// response header (the phone must fail if it is missing).
    TunnelUp {
        /// Routing ID assigned by the tunnel server.
        routing_id: RoutingId,
    },
    /// One binary WebSocket message.
    TunnelData(&'a [u8]),
    /// The WebSocket closed.
    TunnelDown,
    /// The authenticator's answer (`status || CBOR`) to [`PhoneAction::CtapRequest`].
    CtapResponse(&'a [u8]),
    /// Time passed.
    Tick,
    /// The user cancelled.
    Cancel,
}

/// What the phone driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhoneAction {
    /// Open a WebSocket (subprotocol `fido.cable`) and report the routing-ID header.
    Connect(TunnelRequest),
    /// Broadcast this 20-byte service data (UUID 0xFFF9), non-connectable.
    StartAdvert([u8; ADVERT_LEN]),
    /// Stop advertising.
    StopAdvert,
    /// Send one binary WebSocket message.
    Send(Vec<u8>),
    /// Hand this CTAP request (`cmd || CBOR`) to the authenticator.
    CtapRequest(Vec<u8>),
    /// Close the WebSocket.
    CloseTunnel,
    /// The session is complete.
    Finished,
}

enum State {
    AwaitTunnel {
        deadline: Deadline,
    },
    AwaitHandshake {
        hs: ResponderStart,
        deadline: Deadline,
    },
    AwaitRequest {
        crypter: Crypter,
        deadline: Deadline,
    },
    AwaitCaller {
        crypter: Crypter,
    },
    AwaitShutdown {
        crypter: Crypter,
        deadline: Deadline,
    },
    Done,
    Failed(Error),
    Poisoned,
}

/// The phone's session state machine.
pub struct PhoneSession {
    state: State,
    origin: Origin,
    config: PhoneConfig,
    nonce: [u8; 10],
    ephemeral: Option<PrivateKey>,
    actions: VecDeque<PhoneAction>,
}

impl core::fmt::Debug for PhoneSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PhoneSession").finish_non_exhaustive()
    }
}

/// What started the session: a scanned QR code, or a linked client's contact.
enum Origin {
    Qr(QrPayload),
    Linked {
        routing_id: RoutingId,
        client_nonce: [u8; 16],
    },
}

impl PhoneSession {
    /// Starts from a scanned QR code; queues [`PhoneAction::Connect`] to `/cable/new/…`.
    /// Randomness (EID nonce, ephemeral key) is drawn here.
    ///
    /// # Errors
    /// [`Error::Tunnel`] if the configured domain is unknown.
    pub fn new(
        qr: QrPayload,
        config: PhoneConfig,
        rng: &mut impl CryptoRngCore,
        now: Instant,
    ) -> Result<Self, Error> {
        let url = config
            .tunnel_base
            .new_tunnel_url(config.domain, &qr.secret.tunnel_id())?;
        Ok(Self::start(Origin::Qr(qr), url, config, rng, now))
    }

    /// Starts a linked ("state-assisted") session from the tunnel service's contact push:
    /// queues [`PhoneAction::Connect`] to `/cable/connect/{routing}/{tunnel}`. The config's
    /// [`PhoneLinking`] must be the link the client names (its link ID).
    ///
    /// # Errors
    /// [`TunnelProblem::UnknownLink`](crate::error::TunnelProblem::UnknownLink) when the config
    /// has no linking or another link ID; [`Error::Tunnel`] for an unknown domain.
    pub fn new_linked(
        push: &ContactPush,
        config: PhoneConfig,
        rng: &mut impl CryptoRngCore,
        now: Instant,
    ) -> Result<Self, Error> {
        let known = config
            .linking
            .as_ref()
            .is_some_and(|l| l.link_id == push.payload.link_id);
        if !known {
            return Err(crate::error::TunnelProblem::UnknownLink.into());
        }
        let url =
            config
                .tunnel_base
                .connect_url(config.domain, &push.routing_id, &push.tunnel_id)?;
        let origin = Origin::Linked {
            routing_id: push.routing_id,
            client_nonce: push.payload.client_nonce,
        };
        Ok(Self::start(origin, url, config, rng, now))
    }

    /// Both constructors' common part: draw the EID nonce and ephemeral key, queue the
    /// connection, wait for the tunnel.
    fn start(
        origin: Origin,
        url: String,
        config: PhoneConfig,
        rng: &mut impl CryptoRngCore,
        now: Instant,
    ) -> Self {
        let mut nonce = [0u8; 10];
        rng.fill_bytes(&mut nonce);
        let deadline = config.timeouts.deadline(now, Phase::Tunnel);
        let mut actions = VecDeque::new();
        actions.push_back(PhoneAction::Connect(TunnelRequest::plain(url)));
        Self {
            state: State::AwaitTunnel { deadline },
            origin,
            config,
            nonce,
            ephemeral: Some(PrivateKey::generate(rng)),
            actions,
        }
    }

    /// The routing ID the advert must carry when the tunnel response has none: a linked
    /// session joins with `/cable/connect`, whose answer carries no routing-ID header.
    pub fn known_routing_id(&self) -> Option<RoutingId> {
        match &self.origin {
            Origin::Linked { routing_id, .. } => Some(*routing_id),
            Origin::Qr(_) => None,
        }
    }

    /// The next queued action.
    pub fn poll_action(&mut self) -> Option<PhoneAction> {
        self.actions.pop_front()
    }

    /// When the driver must call `handle(now, PhoneInput::Tick)` at the latest.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadline().and_then(|d| d.at)
    }

    /// Whether the session finished successfully.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The sticky error, if any.
    pub fn error(&self) -> Option<&Error> {
        match &self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    fn deadline(&self) -> Option<Deadline> {
        match &self.state {
            State::AwaitTunnel { deadline }
            | State::AwaitHandshake { deadline, .. }
            | State::AwaitRequest { deadline, .. }
            | State::AwaitShutdown { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }

    /// Feeds one event. Fatal errors are sticky.
    ///
    /// # Errors
    /// See [`Error`].
    pub fn handle(&mut self, now: Instant, input: PhoneInput<'_>) -> Result<(), Error> {
        match &self.state {
            State::Failed(e) => return Err(e.clone()),
            State::Done => {
                return match input {
                    PhoneInput::TunnelDown | PhoneInput::Tick => Ok(()),
                    _ => Err(SessionProblem::Finished.into()),
                };
            }
            _ => {}
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

    fn step(&mut self, state: State, now: Instant, input: PhoneInput<'_>) -> Result<State, Error> {
        match input {
            PhoneInput::Cancel => {
                if matches!(state, State::AwaitHandshake { .. }) {
                    self.actions.push_back(PhoneAction::StopAdvert);
                }
                self.actions.push_back(PhoneAction::CloseTunnel);
                return Err(Error::Cancelled);
            }
            PhoneInput::Tick => {
                return match self.deadline_of(&state) {
                    Some(d) if d.expired(now) && d.phase == Phase::Shutdown => {
                        self.finish();
                        Ok(State::Done)
                    }
                    Some(d) if d.expired(now) => Err(Error::Timeout(d.phase)),
                    _ => Ok(state),
                };
            }
            _ => {}
        }
        match state {
            State::AwaitTunnel { deadline } => match input {
                PhoneInput::TunnelUp { routing_id } => {
                    // A linked session's routing ID came with the contact; whatever the
                    // connection reported, the advert must carry that one.
                    let routing_id = self.known_routing_id().unwrap_or(routing_id);
                    let eid = Eid {
                        nonce: self.nonce,
                        routing_id,
                        domain: self.config.domain,
                    };
                    let plain = eid.to_bytes();
                    let (advert, mut psk) = match &self.origin {
                        Origin::Qr(qr) => (
                            qr.secret.eid_key().encrypt_block(&plain),
                            qr.secret.psk(&plain),
                        ),
                        Origin::Linked { client_nonce, .. } => {
                            let link = self
                                .config
                                .linking
                                .as_ref()
                                .ok_or(crate::error::TunnelProblem::UnknownLink)?;
                            (
                                link.link_secret.eid_key(client_nonce).encrypt_block(&plain),
                                link.link_secret.psk(&plain),
                            )
                        }
                    };
                    if self.config.wrong_psk_for_testing_only {
                        let mut bytes = *psk.expose_secret();
                        if let Some(first) = bytes.first_mut() {
                            *first ^= 0x01;
                        }
                        psk = crate::keys::Psk::from_bytes(bytes);
                    }
                    let e = self
                        .ephemeral
                        .take()
                        .ok_or(SessionProblem::UnexpectedInput)?;
                    let hs = match (&self.origin, &self.config.linking) {
                        (Origin::Qr(qr), _) => {
                            ResponderStart::qr_with_ephemeral(&psk, &qr.identity_key, &e)?
                        }
                        (Origin::Linked { .. }, Some(link)) => {
                            ResponderStart::linked_with_ephemeral(&psk, &link.static_key, &e)?
                        }
                        (Origin::Linked { .. }, None) => {
                            return Err(crate::error::TunnelProblem::UnknownLink.into());
                        }
                    };
                    self.actions.push_back(PhoneAction::StartAdvert(advert));
                    let deadline = self.config.timeouts.deadline(now, Phase::Handshake);
                    Ok(State::AwaitHandshake { hs, deadline })
                }
                PhoneInput::TunnelDown => Err(SessionProblem::TunnelClosed.into()),
                PhoneInput::TunnelData(_) | PhoneInput::CtapResponse(_) => {
                    Err(SessionProblem::UnexpectedInput.into())
                }
                _ => Ok(State::AwaitTunnel { deadline }),
            },
            State::AwaitHandshake { hs, deadline } => match input {
                PhoneInput::TunnelData(msg1) => {
                    let (est, msg2) = hs.read_message(msg1)?.write_message()?;
                    self.actions.push_back(PhoneAction::StopAdvert);
                    self.actions.push_back(PhoneAction::Send(msg2.to_vec()));
                    let mut crypter = est.crypter.with_construction(self.config.construction);
                    self.send_post_handshake(&mut crypter, &est.handshake_hash)?;
                    let deadline = self.config.timeouts.deadline(now, Phase::Request);
                    Ok(State::AwaitRequest { crypter, deadline })
                }
                PhoneInput::TunnelDown => Err(SessionProblem::TunnelClosed.into()),
                PhoneInput::CtapResponse(_) => Err(SessionProblem::UnexpectedInput.into()),
                _ => Ok(State::AwaitHandshake { hs, deadline }),
            },
            State::AwaitRequest {
                mut crypter,
                deadline,
            } => match input {
                PhoneInput::TunnelData(d) => {
                    let plain = crypter.decrypt(d)?;
                    if self.config.revision == Revision::Zero {
                        if plain.is_empty() {
                            return Err(FrameProblem::Empty.into());
                        }
                        self.actions.push_back(PhoneAction::CtapRequest(plain));
                        return Ok(State::AwaitCaller { crypter });
                    }
                    match Message::parse(&plain)? {
                        Message::Ctap(req) => {
                            self.actions.push_back(PhoneAction::CtapRequest(req));
                            Ok(State::AwaitCaller { crypter })
                        }
                        Message::Shutdown => {
                            self.finish();
                            Ok(State::Done)
                        }
                        Message::Update(_) => Err(FrameProblem::UnexpectedType(2).into()),
                        Message::Json(_) => Err(FrameProblem::UnexpectedType(3).into()),
                    }
                }
                PhoneInput::TunnelDown => Err(SessionProblem::TunnelClosed.into()),
                PhoneInput::CtapResponse(_) => Err(SessionProblem::UnexpectedInput.into()),
                _ => Ok(State::AwaitRequest { crypter, deadline }),
            },
            State::AwaitCaller { mut crypter } => match input {
                PhoneInput::CtapResponse(resp) => {
                    let plain = match self.config.revision {
                        Revision::One => Message::Ctap(resp.to_vec()).encode(),
                        Revision::Zero => resp.to_vec(),
                    };
                    let ct = crypter.encrypt(&plain)?;
                    self.actions.push_back(PhoneAction::Send(ct));
                    let deadline = self.config.timeouts.deadline(now, Phase::Shutdown);
                    Ok(State::AwaitShutdown { crypter, deadline })
                }
                PhoneInput::TunnelDown => Err(SessionProblem::TunnelClosed.into()),
                PhoneInput::TunnelData(_) => Err(SessionProblem::UnexpectedMessage.into()),
                _ => Ok(State::AwaitCaller { crypter }),
            },
            State::AwaitShutdown {
                mut crypter,
                deadline,
            } => match input {
                PhoneInput::TunnelData(d) => {
                    let plain = crypter.decrypt(d)?;
                    match Message::parse(&plain)? {
                        Message::Shutdown => {
                            self.finish();
                            Ok(State::Done)
                        }
                        _ => Err(SessionProblem::UnexpectedMessage.into()),
                    }
                }
                PhoneInput::TunnelDown => {
                    self.actions.push_back(PhoneAction::Finished);
                    Ok(State::Done)
                }
                PhoneInput::CtapResponse(_) => Err(SessionProblem::UnexpectedInput.into()),
                _ => Ok(State::AwaitShutdown { crypter, deadline }),
            },
            State::Done | State::Failed(_) | State::Poisoned => {
                Err(SessionProblem::UnexpectedInput.into())
            }
        }
    }

    fn deadline_of(&self, state: &State) -> Option<Deadline> {
        match state {
            State::AwaitTunnel { deadline }
            | State::AwaitHandshake { deadline, .. }
            | State::AwaitRequest { deadline, .. }
            | State::AwaitShutdown { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }

    fn finish(&mut self) {
        self.actions.push_back(PhoneAction::CloseTunnel);
        self.actions.push_back(PhoneAction::Finished);
    }

    fn send_post_handshake(
        &mut self,
        crypter: &mut Crypter,
        handshake_hash: &[u8; 32],
    ) -> Result<(), Error> {
        // Linking info goes only to a QR client that says it can store it; a linked client
        // already has it (and could not verify it: no QR identity key).
        let qr = match &self.origin {
            Origin::Qr(qr) => Some(qr),
            Origin::Linked { .. } => None,
        };
        let linking = match (&self.config.linking, qr) {
            (Some(l), Some(qr)) if qr.supports_linking == Some(true) => Some((
                LinkingInfo {
                    contact_id: l.contact_id.clone(),
                    link_id: l.link_id.clone(),
                    link_secret: l.link_secret.clone(),
                    authenticator_public_key: l.static_key.public_key().clone(),
                    name: l.name.clone(),
                    signature: LinkingInfo::sign(&l.static_key, &qr.identity_key, handshake_hash),
                    google_tag: l.google_tag,
                },
                l.in_post_handshake || self.config.revision == Revision::Zero,
            )),
            _ => None,
        };
        let (in_map, as_update) = match linking {
            Some((info, true)) => (Some(info), None),
            Some((info, false)) => (None, Some(info)),
            None => (None, None),
        };
        let ctap = self
            .config
            .features
            .as_ref()
            .is_none_or(|f| f.iter().any(|s| s == "ctap"));
        let ph = PostHandshake {
            get_info: ctap.then(|| self.config.get_info.clone()),
            linking: in_map,
            features: self.config.features.clone(),
            revision: self.config.revision,
        };
        let ct = crypter.encrypt(&ph.encode())?;
        self.actions.push_back(PhoneAction::Send(ct));
        if let Some(info) = as_update {
            let ct = crypter.encrypt(&Message::Update(Some(Box::new(info))).encode())?;
            self.actions.push_back(PhoneAction::Send(ct));
        }
        Ok(())
    }
}
