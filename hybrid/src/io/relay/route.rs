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
//!   `X-Passbridge-Revoke: true` it unlinks instead: later contacts get 410 Gone).

use std::collections::{HashMap, HashSet};

use tokio::sync::{mpsc, oneshot};

use super::super::parse_hex;
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
}

const fn refuse(status: u16, reason: &'static str) -> Refusal {
    Refusal { status, reason }
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
    /// A linked phone listening for contacts: pushes arrive on the receiver.
    Listen {
        /// The contact ID, as it appears in the path.
        contact: String,
        /// The contact pushes.
        pushes: mpsc::Receiver<Vec<u8>>,
    },
    /// A linked phone unlinked itself; the socket is closed at once.
    Revoked,
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
    /// Linked phones listening for contacts, by contact ID (as it appears in the path).
    listeners: HashMap<String, mpsc::Sender<Vec<u8>>>,
    /// Contact IDs whose phone unlinked: contacting them answers 410 Gone.
    revoked: HashSet<String>,
}

impl<W> Table<W> {
    /// An empty table for the relay `routing_id`, holding at most `max_tunnels` tunnels (and
    /// as many listeners).
    pub(crate) fn new(routing_id: [u8; 3], max_tunnels: usize) -> Self {
        Self {
            routing_id,
            max_tunnels,
            tunnels: HashMap::new(),
            listeners: HashMap::new(),
            revoked: HashSet::new(),
        }
    }

    /// Tunnels open or waiting.
    #[cfg(test)]
    fn tunnels(&self) -> usize {
        self.tunnels.len()
    }

    /// Decides where `upgrade` goes. `fresh_id` names the tunnel a contact opens.
    ///
    /// # Errors
    /// The [`Refusal`] to answer the upgrade with.
    pub(crate) fn route(
        &mut self,
        upgrade: &Upgrade<'_>,
        fresh_id: impl FnOnce() -> [u8; 16],
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
            ["cable", "contact", contact] => self.contact(upgrade, contact, fresh_id),
            ["cable", "listen", contact] => self.listen(upgrade, contact),
            _ => Err(refuse(404, "not found")),
        }
    }

    /// Opens tunnel `id` for a first peer. The join channel exists from that moment, so a
    /// second peer arriving right after the first one's 101 always finds it.
    fn open(&mut self, id: [u8; 16], first: FirstPeer) -> Result<Route<W>, Refusal> {
        if self.tunnels.len() >= self.max_tunnels {
            return Err(refuse(503, "too many tunnels"));
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
    ) -> Result<Route<W>, Refusal> {
        if self.revoked.contains(contact) {
            return Err(refuse(410, "this phone unlinked itself"));
        }
        let payload = upgrade
            .client_payload
            .and_then(|v| ClientPayload::from_header_value(v).ok())
            .ok_or(refuse(400, "missing or bad client payload"))?;
        let listener = self
            .listeners
            .get(contact)
            .ok_or(refuse(404, "the phone is not listening on this relay"))?;
        if self.tunnels.len() >= self.max_tunnels {
            return Err(refuse(503, "too many tunnels"));
        }
        let id = fresh_id();
        let push = ContactPush {
            routing_id: RoutingId(self.routing_id),
            tunnel_id: TunnelId(id),
            payload,
        };
        if listener.try_send(push.to_cbor()).is_err() {
            return Err(refuse(503, "the phone is not reachable"));
        }
        self.open(
            id,
            FirstPeer::Client {
                signal: upgrade.signal,
            },
        )
    }

    fn listen(&mut self, upgrade: &Upgrade<'_>, contact: &str) -> Result<Route<W>, Refusal> {
        let contact = contact.to_owned();
        if upgrade.revoke {
            self.listeners.remove(&contact);
            self.revoked.insert(contact);
            return Ok(Route::Revoked);
        }
        if self.listeners.len() >= self.max_tunnels && !self.listeners.contains_key(&contact) {
            return Err(refuse(503, "too many listeners"));
        }
        let (tx, pushes) = mpsc::channel(PUSH_QUEUE);
        // A newer listener for the same contact replaces the old one (the phone reconnected).
        self.listeners.insert(contact.clone(), tx);
        self.revoked.remove(&contact);
        Ok(Route::Listen { contact, pushes })
    }

    /// Frees tunnel `id`. Returns whether it was held.
    pub(crate) fn release(&mut self, id: &[u8; 16]) -> bool {
        self.tunnels.remove(id).is_some()
    }

    /// Forgets the listener for `contact` if it is the one that left (its receiver is
    /// closed); a newer listener for the same contact stays.
    pub(crate) fn listener_left(&mut self, contact: &str) {
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
        Table::new([0, 0, 1], max)
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
        }) = table.route(&upgrade(&format!("/cable/new/{TUNNEL}")), || [0; 16])
        else {
            panic!("the phone is not waiting");
        };
        assert_eq!(table.tunnels(), 1);
        assert_eq!(
            refusal(table.route(&upgrade(&format!("/cable/new/{TUNNEL}")), || [0; 16])),
            (409, "tunnel exists")
        );
        let connect = format!("/cable/connect/000001/{}", TUNNEL.to_lowercase());
        let Ok(Route::Join(join)) = table.route(&upgrade(&connect), || [0; 16]) else {
            panic!("the client did not join");
        };
        join.send(7).unwrap();
        assert_eq!(joined.try_recv(), Ok(7));
        // The slot stays (joined): a second client is refused until the tunnel ends.
        assert_eq!(
            refusal(table.route(&upgrade(&connect), || [0; 16])),
            (409, "tunnel already joined")
        );
        assert!(table.release(&id));
        assert!(!table.release(&id));
        assert_eq!(
            refusal(table.route(&upgrade(&connect), || [0; 16])),
            (404, "unknown tunnel")
        );
    }

    #[test]
    fn bad_requests_are_refused_with_their_reason() {
        let mut table = table(1);
        let mut no_protocol = upgrade("/cable/new/00");
        no_protocol.cable_protocol = false;
        assert_eq!(
            refusal(table.route(&no_protocol, || [0; 16])),
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
                refusal(table.route(&upgrade(path), || [0; 16])),
                expected,
                "{path}"
            );
        }
        assert!(
            table
                .route(&upgrade(&format!("/cable/new/{TUNNEL}")), || [0; 16])
                .is_ok()
        );
        let other = format!("/cable/new/{}", "F".repeat(32));
        assert_eq!(
            refusal(table.route(&upgrade(&other), || [0; 16])),
            (503, "too many tunnels")
        );
    }

    #[test]
    fn contacts_reach_a_listening_phone_until_it_unlinks() {
        let mut table = table(4);
        let header = payload_header();
        let mut contact = upgrade("/cable/contact/phone-1");
        assert_eq!(
            refusal(table.route(&contact, || [5; 16])),
            (400, "missing or bad client payload")
        );
        contact.client_payload = Some(&header);
        contact.signal = true;
        assert_eq!(
            refusal(table.route(&contact, || [5; 16])),
            (404, "the phone is not listening on this relay")
        );
        let Ok(Route::Listen { mut pushes, .. }) =
            table.route(&upgrade("/cable/listen/phone-1"), || [0; 16])
        else {
            panic!("the phone is not listening");
        };
        let Ok(Route::Wait { id, first, .. }) = table.route(&contact, || [5; 16]) else {
            panic!("the client is not waiting");
        };
        assert_eq!((id, first), ([5; 16], FirstPeer::Client { signal: true }));
        let push = ContactPush::from_cbor(&pushes.try_recv().unwrap()).unwrap();
        assert_eq!(push.tunnel_id, TunnelId([5; 16]));
        assert_eq!(push.routing_id, RoutingId([0, 0, 1]));
        // The phone's client joins the tunnel the push named.
        let connect = format!("/cable/connect/000001/{}", "05".repeat(16));
        assert!(matches!(
            table.route(&upgrade(&connect), || [0; 16]),
            Ok(Route::Join(_))
        ));

        let mut revoke = upgrade("/cable/listen/phone-1");
        revoke.revoke = true;
        assert!(matches!(
            table.route(&revoke, || [0; 16]),
            Ok(Route::Revoked)
        ));
        assert_eq!(
            refusal(table.route(&contact, || [6; 16])),
            (410, "this phone unlinked itself")
        );
        // Listening again re-links it.
        let relisten = table.route(&upgrade("/cable/listen/phone-1"), || [0; 16]);
        assert!(matches!(relisten, Ok(Route::Listen { .. })));
        assert!(matches!(
            table.route(&contact, || [6; 16]),
            Ok(Route::Wait { .. })
        ));
    }

    #[test]
    fn a_newer_listener_replaces_the_older_and_stays_when_the_older_leaves() {
        let mut table = table(4);
        let Ok(Route::Listen {
            pushes: mut old, ..
        }) = table.route(&upgrade("/cable/listen/p"), || [0; 16])
        else {
            panic!()
        };
        let Ok(Route::Listen { pushes: new, .. }) =
            table.route(&upgrade("/cable/listen/p"), || [0; 16])
        else {
            panic!()
        };
        old.close();
        table.listener_left("p");
        let header = payload_header();
        let mut contact = upgrade("/cable/contact/p");
        contact.client_payload = Some(&header);
        assert!(table.route(&contact, || [1; 16]).is_ok());
        drop(new);
        table.listener_left("p");
        assert_eq!(
            refusal(table.route(&contact, || [2; 16])),
            (404, "the phone is not listening on this relay")
        );
    }

    #[test]
    fn listeners_are_capped() {
        let mut table = table(1);
        let _first = table.route(&upgrade("/cable/listen/a"), || [0; 16]);
        assert_eq!(
            refusal(table.route(&upgrade("/cable/listen/b"), || [0; 16])),
            (503, "too many listeners")
        );
        // The same phone reconnecting is not a new listener.
        assert!(table.route(&upgrade("/cable/listen/a"), || [0; 16]).is_ok());
    }
}
