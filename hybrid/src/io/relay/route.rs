//! The routing decision, without sockets: what a WebSocket upgrade asks for (its path and
//! headers) against what the relay holds (tunnels waiting for their second peer, listening
//! linked phones, unlinked contact IDs). [`Table::route`] either refuses with a status and a
//! reason, or says where the connection goes once the upgrade completes.
//!
//! Routes (the tunnel services' protocol, plus Passbridge's stand-in for the cloud push
//! channel):
//! - `/cable/new/{tunnel id}`: a phone opens a tunnel (QR flow) and waits for its client.
//! - `/cable/connect/{routing id}/{tunnel id}`: the client joins it.
//! - `/cable/contact/{contact id}`: a client contacts a linked phone; the relay opens a tunnel,
//!   pushes its coordinates and the client's payload to the phone's listener, and the client
//!   waits in it for the phone.
//! - `/cable/listen/{contact id}`: a linked phone listens for contacts (with
//!   `X-Passbridge-Revoke: true` it unlinks instead: later contacts get 410 Gone). Either
//!   takes effect only once the phone has proved it owns the ID ([`crate::contact_proof`]):
//!   the table answers [`Route::Prove`], and [`Table::listen`] or [`Table::revoke`] follow.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::super::parse_hex;
use super::metrics::Refused;
use crate::contact_proof::{ContactId, ContactOp};
use crate::keys::{RoutingId, TunnelId};
use crate::tunnel_url::{ClientPayload, ContactPush};

/// How many contact pushes may wait for a listening phone.
const PUSH_QUEUE: usize = 8;

/// What the routing decision needs from an upgrade request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Upgrade<'a> {
    /// The request path.
    pub(crate) path: &'a str,
    /// Whether `Sec-WebSocket-Protocol` offers `fido.cable`.
    pub(crate) cable_protocol: bool,
    /// The `X-caBLE-Client-Payload` header.
    pub(crate) client_payload: Option<&'a str>,
    /// `X-caBLE-Signal-Connection: true`.
    pub(crate) signal: bool,
    /// `X-Passbridge-Revoke: true`.
    pub(crate) revoke: bool,
}

/// A refused upgrade: the HTTP status and the reason sent with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// HTTP status.
    pub(crate) status: u16,
    /// Why, for the body and the peer's error.
    pub(crate) reason: &'static str,
    /// How `/metrics` counts it.
    pub(crate) kind: Refused,
}

const fn refuse(status: u16, reason: &'static str) -> Refusal {
    let kind = match status {
        400 => Refused::BadRequest,
        404 => Refused::NotFound,
        409 => Refused::Conflict,
        410 => Refused::Gone,
        _ => Refused::RelayError,
    };
    Refusal {
        status,
        reason,
        kind,
    }
}

const fn full(reason: &'static str, kind: Refused) -> Refusal {
    Refusal {
        status: 503,
        reason,
        kind,
    }
}

/// Who opened a tunnel and waits in it for the second peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FirstPeer {
    /// A phone (`/cable/new`, the QR flow): it gets the relay's routing ID.
    Phone,
    /// A linked phone's client (`/cable/contact`); with `signal` it is sent `[0x00]` when the
    /// phone joins.
    Client {
        /// The client asked for the connect signal.
        signal: bool,
    },
}

/// Where an accepted upgrade goes. `W` is the joining peer's socket.
#[derive(Debug)]
pub(crate) enum Route<W> {
    /// The first peer waits in tunnel `id` for the second peer's socket.
    Wait {
        /// The tunnel.
        id: [u8; 16],
        /// Where the second peer's socket arrives.
        joined: oneshot::Receiver<W>,
        /// Who waits.
        first: FirstPeer,
    },
    /// The second peer: its socket goes to the first peer's side through `join`.
    Join(oneshot::Sender<W>),
    /// A linked phone asks to listen or to unlink: after the upgrade it must prove it owns
    /// `contact`, then [`Table::listen`] or [`Table::revoke`] applies.
    Prove {
        /// The contact ID in the path.
        contact: ContactId,
        /// What the phone asks for.
        op: ContactOp,
    },
}

/// A tunnel's slot: the second peer's way in, taken by the first client that joins.
#[derive(Debug)]
struct Slot<W> {
    join: Option<oneshot::Sender<W>>,
}

/// Everything the relay routes by, under one lock.
#[derive(Debug)]
pub(crate) struct Table<W> {
    routing_id: [u8; 3],
    max_tunnels: usize,
    tunnels: HashMap<[u8; 16], Slot<W>>,
    /// Linked phones listening for contacts.
    listeners: HashMap<ContactId, mpsc::Sender<Vec<u8>>>,
    /// Contact IDs whose phone unlinked: contacting them answers 410 Gone.
    revoked: Revoked,
}

/// Unlinked contact IDs, bounded in count and in age: a flood of (proven) revokes cannot grow
/// it past `max`, and an entry is forgotten after `ttl` (contacts then get 404, as for any
/// phone that is not listening).
#[derive(Debug)]
struct Revoked {
    /// When each ID was unlinked, and the sequence number of that entry.
    since: HashMap<ContactId, (Instant, u64)>,
    /// Entries in insertion order, for expiry and eviction; one whose sequence number no
    /// longer matches `since` (unlinked again, or re-linked) is stale and skipped.
    order: VecDeque<(ContactId, u64)>,
    next: u64,
    max: usize,
    ttl: Duration,
}

impl Revoked {
    fn new(max: usize, ttl: Duration) -> Self {
        Self {
            since: HashMap::new(),
            order: VecDeque::new(),
            next: 0,
            max,
            ttl,
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(id, seq)) = self.order.front() {
            let live = self.since.get(&id).copied().filter(|(_, s)| *s == seq);
            if let Some((at, _)) = live
                && now.saturating_duration_since(at) < self.ttl
                && self.since.len() <= self.max
            {
                break;
            }
            self.order.pop_front();
            if live.is_some() {
                self.since.remove(&id);
            }
        }
        // One phone revoking, re-linking and revoking again leaves stale entries behind the
        // oldest live one; drop them before they outnumber the live ones.
        if self.order.len() > 2 * self.max.max(1) {
            let since = &self.since;
            self.order
                .retain(|(id, seq)| since.get(id).is_some_and(|(_, s)| s == seq));
        }
    }

    fn insert(&mut self, id: ContactId, now: Instant) {
        self.next += 1;
        self.since.insert(id, (now, self.next));
        self.order.push_back((id, self.next));
        self.expire(now);
    }

    fn remove(&mut self, id: &ContactId) {
        self.since.remove(id);
    }

    fn contains(&mut self, id: &ContactId, now: Instant) -> bool {
        self.expire(now);
        self.since.contains_key(id)
    }

    fn len(&self) -> usize {
        self.since.len()
    }
}

impl<W> Table<W> {
    /// An empty table for the relay `routing_id`, holding at most `max_tunnels` tunnels (and
    /// as many listeners), remembering at most `max_revoked` unlinked IDs for `revoked_ttl`.
    pub(crate) fn new(
        routing_id: [u8; 3],
        max_tunnels: usize,
        max_revoked: usize,
        revoked_ttl: Duration,
    ) -> Self {
        Self {
            routing_id,
            max_tunnels,
            tunnels: HashMap::new(),
            listeners: HashMap::new(),
            revoked: Revoked::new(max_revoked, revoked_ttl),
        }
    }

    /// Unlinked contact IDs remembered.
    pub(crate) fn revoked_len(&self) -> usize {
        self.revoked.len()
    }

    /// Tunnels open or waiting.
    #[cfg(test)]
    fn tunnels(&self) -> usize {
        self.tunnels.len()
    }

    /// Decides where `upgrade` goes at `now`. `fresh_id` names the tunnel a contact opens.
    ///
    /// # Errors
    /// The [`Refusal`] to answer the upgrade with.
    pub(crate) fn route(
        &mut self,
        upgrade: &Upgrade<'_>,
        fresh_id: impl FnOnce() -> [u8; 16],
        now: Instant,
    ) -> Result<Route<W>, Refusal> {
        if !upgrade.cable_protocol {
            return Err(refuse(400, "subprotocol fido.cable required"));
        }
        let parts: Vec<&str> = upgrade.path.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            ["cable", "new", tunnel] => {
                let id = tunnel_id(tunnel).ok_or(refuse(400, "bad tunnel id"))?;
                if self.tunnels.contains_key(&id) {
                    return Err(refuse(409, "tunnel exists"));
                }
                self.open(id, FirstPeer::Phone)
            }
            ["cable", "connect", routing, tunnel] => {
                let ours = parse_hex(routing).is_some_and(|r| r.as_slice() == self.routing_id);
                let id = tunnel_id(tunnel)
                    .filter(|_| ours)
                    .ok_or(refuse(404, "unknown tunnel"))?;
                let slot = self
                    .tunnels
                    .get_mut(&id)
                    .ok_or(refuse(404, "unknown tunnel"))?;
                // Taken at once, so a second client is refused even before the first one's 101.
                slot.join
                    .take()
                    .map(Route::Join)
                    .ok_or(refuse(409, "tunnel already joined"))
            }
            ["cable", "contact", contact] => self.contact(upgrade, contact, fresh_id, now),
            ["cable", "listen", contact] => {
                let contact =
                    ContactId::from_path(contact).map_err(|_| refuse(400, "bad contact id"))?;
                let op = if upgrade.revoke {
                    ContactOp::Revoke
                } else {
                    // Refused before the proof when it could not be honoured after it.
                    self.listener_room(&contact)?;
                    ContactOp::Listen
                };
                Ok(Route::Prove { contact, op })
            }
            _ => Err(refuse(404, "not found")),
        }
    }

    /// Opens tunnel `id` for a first peer. The join channel exists from that moment, so a
    /// second peer arriving right after the first one's 101 always finds it.
    fn open(&mut self, id: [u8; 16], first: FirstPeer) -> Result<Route<W>, Refusal> {
        if self.tunnels.len() >= self.max_tunnels {
            return Err(full("too many tunnels", Refused::TunnelsFull));
        }
        let (join, joined) = oneshot::channel();
        self.tunnels.insert(id, Slot { join: Some(join) });
        Ok(Route::Wait { id, joined, first })
    }

    fn contact(
        &mut self,
        upgrade: &Upgrade<'_>,
        contact: &str,
        fresh_id: impl FnOnce() -> [u8; 16],
        now: Instant,
    ) -> Result<Route<W>, Refusal> {
        let contact = ContactId::from_path(contact).map_err(|_| refuse(400, "bad contact id"))?;
        if self.revoked.contains(&contact, now) {
            return Err(refuse(410, "this phone unlinked itself"));
        }
        let payload = upgrade
            .client_payload
            .and_then(|v| ClientPayload::from_header_value(v).ok())
            .ok_or(refuse(400, "missing or bad client payload"))?;
        let listener = self
            .listeners
            .get(&contact)
            .ok_or(refuse(404, "the phone is not listening on this relay"))?;
        if self.tunnels.len() >= self.max_tunnels {
            return Err(full("too many tunnels", Refused::TunnelsFull));
        }
        let id = fresh_id();
        let push = ContactPush {
            routing_id: RoutingId(self.routing_id),
            tunnel_id: TunnelId(id),
            payload,
        };
        if listener.try_send(push.to_cbor()).is_err() {
            return Err(full(
                "the phone is not reachable",
                Refused::PhoneUnreachable,
            ));
        }
        self.open(
            id,
            FirstPeer::Client {
                signal: upgrade.signal,
            },
        )
    }

    fn listener_room(&self, contact: &ContactId) -> Result<(), Refusal> {
        if self.listeners.len() >= self.max_tunnels && !self.listeners.contains_key(contact) {
            return Err(full("too many listeners", Refused::ListenersFull));
        }
        Ok(())
    }

    /// A phone that proved it owns `contact` listens: contacts to it are pushed to the
    /// receiver. A newer listener for the same contact replaces the old one (the phone
    /// reconnected), whose receiver then ends.
    ///
    /// # Errors
    /// [`Refused::ListenersFull`].
    pub(crate) fn listen(
        &mut self,
        contact: ContactId,
    ) -> Result<mpsc::Receiver<Vec<u8>>, Refusal> {
        self.listener_room(&contact)?;
        let (tx, pushes) = mpsc::channel(PUSH_QUEUE);
        self.listeners.insert(contact, tx);
        self.revoked.remove(&contact);
        Ok(pushes)
    }

    /// A phone that proved it owns `contact` unlinks at `now`: its listener goes, and contacts
    /// are answered 410 Gone for the revoked set's lifetime.
    pub(crate) fn revoke(&mut self, contact: ContactId, now: Instant) {
        self.listeners.remove(&contact);
        self.revoked.insert(contact, now);
    }

    /// Frees tunnel `id`. Returns whether it was held.
    pub(crate) fn release(&mut self, id: &[u8; 16]) -> bool {
        self.tunnels.remove(id).is_some()
    }

    /// Forgets the listener for `contact` if it is the one that left (its receiver is
    /// closed); a newer listener for the same contact stays.
    pub(crate) fn listener_left(&mut self, contact: &ContactId) {
        if self
            .listeners
            .get(contact)
            .is_some_and(mpsc::Sender::is_closed)
        {
            self.listeners.remove(contact);
        }
    }
}

fn tunnel_id(text: &str) -> Option<[u8; 16]> {
    parse_hex(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TUNNEL: &str = "000102030405060708090A0B0C0D0E0F";

    fn upgrade(path: &str) -> Upgrade<'_> {
        Upgrade {
            path,
            cable_protocol: true,
            client_payload: None,
            signal: false,
            revoke: false,
        }
    }

    fn table(max: usize) -> Table<u32> {
        Table::new([0, 0, 1], max, 3, Duration::from_secs(100))
    }

    /// A fixed origin for the table's clock (the relay passes tokio's).
    fn t0() -> Instant {
        static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        #[allow(
            clippy::disallowed_methods,
            reason = "a fixed origin; the tests move from it"
        )]
        *ORIGIN.get_or_init(Instant::now)
    }

    fn id(n: u8) -> ContactId {
        ContactId([n; 16])
    }

    fn refusal(result: Result<Route<u32>, Refusal>) -> (u16, &'static str) {
        match result {
            Err(refusal) => (refusal.status, refusal.reason),
            Ok(route) => panic!("routed: {route:?}"),
        }
    }

    fn payload_header() -> String {
        ClientPayload {
            link_id: vec![1; 8],
            client_nonce: [2; 16],
            hint: crate::qr::RequestHint::GetAssertion,
        }
        .header_value()
    }

    #[test]
    fn a_phone_opens_and_one_client_joins() {
        let mut table = table(4);
        let Ok(Route::Wait {
            id,
            mut joined,
            first: FirstPeer::Phone,
        }) = table.route(&upgrade(&format!("/cable/new/{TUNNEL}")), || [0; 16], t0())
        else {
            panic!("the phone is not waiting");
        };
        assert_eq!(table.tunnels(), 1);
        assert_eq!(
            refusal(table.route(&upgrade(&format!("/cable/new/{TUNNEL}")), || [0; 16], t0())),
            (409, "tunnel exists")
        );
        let connect = format!("/cable/connect/000001/{}", TUNNEL.to_lowercase());
        let Ok(Route::Join(join)) = table.route(&upgrade(&connect), || [0; 16], t0()) else {
            panic!("the client did not join");
        };
        join.send(7).unwrap();
        assert_eq!(joined.try_recv(), Ok(7));
        // The slot stays (joined): a second client is refused until the tunnel ends.
        assert_eq!(
            refusal(table.route(&upgrade(&connect), || [0; 16], t0())),
            (409, "tunnel already joined")
        );
        assert!(table.release(&id));
        assert!(!table.release(&id));
        assert_eq!(
            refusal(table.route(&upgrade(&connect), || [0; 16], t0())),
            (404, "unknown tunnel")
        );
    }

    #[test]
    fn bad_requests_are_refused_with_their_reason() {
        let mut table = table(1);
        let mut no_protocol = upgrade("/cable/new/00");
        no_protocol.cable_protocol = false;
        assert_eq!(
            refusal(table.route(&no_protocol, || [0; 16], t0())),
            (400, "subprotocol fido.cable required")
        );
        for (path, expected) in [
            ("/cable/new/zz", (400, "bad tunnel id")),
            ("/cable/new/0001", (400, "bad tunnel id")),
            (
                &*format!("/cable/connect/000002/{TUNNEL}"),
                (404, "unknown tunnel"),
            ),
            (
                &*format!("/cable/connect/000001/{TUNNEL}"),
                (404, "unknown tunnel"),
            ),
            ("/cable/other", (404, "not found")),
            ("/", (404, "not found")),
        ] {
            assert_eq!(
                refusal(table.route(&upgrade(path), || [0; 16], t0())),
                expected,
                "{path}"
            );
        }
        assert!(
            table
                .route(&upgrade(&format!("/cable/new/{TUNNEL}")), || [0; 16], t0())
                .is_ok()
        );
        let other = format!("/cable/new/{}", "F".repeat(32));
        assert_eq!(
            refusal(table.route(&upgrade(&other), || [0; 16], t0())),
            (503, "too many tunnels")
        );
    }

    #[test]
    fn contacts_reach_a_listening_phone_until_it_unlinks() {
        let mut table = table(4);
        let header = payload_header();
        let phone = id(1).to_path();
        let mut contact_path = format!("/cable/contact/{phone}");
        let mut contact = upgrade(&contact_path);
        assert_eq!(
            refusal(table.route(&contact, || [5; 16], t0())),
            (400, "missing or bad client payload")
        );
        contact.client_payload = Some(&header);
        contact.signal = true;
        assert_eq!(
            refusal(table.route(&contact, || [5; 16], t0())),
            (404, "the phone is not listening on this relay")
        );
        // Listening is a request to prove; nothing is registered until the proof.
        let listen_path = format!("/cable/listen/{phone}");
        assert!(matches!(
            table.route(&upgrade(&listen_path), || [0; 16], t0()),
            Ok(Route::Prove { contact, op: ContactOp::Listen }) if contact == id(1)
        ));
        assert_eq!(
            refusal(table.route(&contact, || [5; 16], t0())),
            (404, "the phone is not listening on this relay")
        );
        let mut pushes = table.listen(id(1)).unwrap();
        let Ok(Route::Wait {
            id: tunnel, first, ..
        }) = table.route(&contact, || [5; 16], t0())
        else {
            panic!("the client is not waiting");
        };
        assert_eq!(
            (tunnel, first),
            ([5; 16], FirstPeer::Client { signal: true })
        );
        let push = ContactPush::from_cbor(&pushes.try_recv().unwrap()).unwrap();
        assert_eq!(push.tunnel_id, TunnelId([5; 16]));
        assert_eq!(push.routing_id, RoutingId([0, 0, 1]));
        // The phone's client joins the tunnel the push named.
        let connect = format!("/cable/connect/000001/{}", "05".repeat(16));
        assert!(matches!(
            table.route(&upgrade(&connect), || [0; 16], t0()),
            Ok(Route::Join(_))
        ));

        let mut revoke = upgrade(&listen_path);
        revoke.revoke = true;
        assert!(matches!(
            table.route(&revoke, || [0; 16], t0()),
            Ok(Route::Prove {
                op: ContactOp::Revoke,
                ..
            })
        ));
        table.revoke(id(1), t0());
        assert!(pushes.try_recv().is_err() && pushes.is_closed());
        assert_eq!(
            refusal(table.route(&contact, || [6; 16], t0())),
            (410, "this phone unlinked itself")
        );
        // Listening again re-links it.
        let _pushes = table.listen(id(1)).unwrap();
        assert!(matches!(
            table.route(&contact, || [6; 16], t0()),
            Ok(Route::Wait { .. })
        ));
        // Contact IDs have one strict spelling.
        for bad in [
            "phone-1",
            &phone[..21],
            &format!("{phone}A"),
            &format!("{}_", &phone[..21]),
        ] {
            contact_path = format!("/cable/contact/{bad}");
            let mut bad_contact = upgrade(&contact_path);
            bad_contact.client_payload = Some(&header);
            assert_eq!(
                refusal(table.route(&bad_contact, || [7; 16], t0())),
                (400, "bad contact id"),
                "{bad}"
            );
            assert_eq!(
                refusal(table.route(&upgrade(&format!("/cable/listen/{bad}")), || [7; 16], t0())),
                (400, "bad contact id"),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_revoked_set_is_bounded_and_expires() {
        let mut table = table(8);
        let header = payload_header();
        let gone = |table: &mut Table<u32>, n: u8, at: Instant| {
            let path = format!("/cable/contact/{}", id(n).to_path());
            let mut contact = upgrade(&path);
            contact.client_payload = Some(&header);
            table
                .route(&contact, || [n; 16], at)
                .err()
                .map(|r| r.status)
                == Some(410)
        };
        // Capacity 3: the fourth revoke forgets the oldest.
        for n in 1..=4 {
            table.revoke(id(n), t0() + Duration::from_secs(u64::from(n)));
        }
        let now = t0() + Duration::from_secs(5);
        assert_eq!(table.revoked_len(), 3);
        assert!(!gone(&mut table, 1, now));
        assert!((2..=4).all(|n| gone(&mut table, n, now)));
        // Re-revoking renews an entry; churn on one ID does not grow the bookkeeping.
        for _ in 0..100 {
            table.revoke(id(2), now);
        }
        assert_eq!(table.revoked_len(), 3);
        assert!(table.revoked.order.len() <= 6);
        // After the TTL (100 s) entries go, oldest first: 3 and 4 were revoked at 3 s and 4 s,
        // 2 again at 5 s.
        let later = t0() + Duration::from_secs(104);
        assert!(!gone(&mut table, 3, later));
        assert!(!gone(&mut table, 4, later));
        assert!(gone(&mut table, 2, later));
        assert!(!gone(&mut table, 2, t0() + Duration::from_secs(105)));
        assert_eq!(table.revoked_len(), 0);
    }

    #[test]
    fn a_newer_listener_replaces_the_older_and_stays_when_the_older_leaves() {
        let mut table = table(4);
        let mut old = table.listen(id(3)).unwrap();
        let new = table.listen(id(3)).unwrap();
        old.close();
        table.listener_left(&id(3));
        let header = payload_header();
        let path = format!("/cable/contact/{}", id(3).to_path());
        let mut contact = upgrade(&path);
        contact.client_payload = Some(&header);
        assert!(table.route(&contact, || [1; 16], t0()).is_ok());
        drop(new);
        table.listener_left(&id(3));
        assert_eq!(
            refusal(table.route(&contact, || [2; 16], t0())),
            (404, "the phone is not listening on this relay")
        );
    }

    #[test]
    fn listeners_are_capped() {
        let mut table = table(1);
        let _first = table.listen(id(1)).unwrap();
        let other = format!("/cable/listen/{}", id(2).to_path());
        assert_eq!(
            refusal(table.route(&upgrade(&other), || [0; 16], t0())),
            (503, "too many listeners")
        );
        assert!(table.listen(id(2)).is_err());
        // The same phone reconnecting is not a new listener.
        assert!(table.listen(id(1)).is_ok());
        // Revoking needs no room.
        let mut revoke = upgrade(&other);
        revoke.revoke = true;
        assert!(table.route(&revoke, || [0; 16], t0()).is_ok());
    }
}
