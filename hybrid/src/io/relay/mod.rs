//! A self-hostable caBLE tunnel relay: `GET /cable/new/{tunnel id}` (phone) and
//! `GET /cable/connect/{routing id}/{tunnel id}` (client) join a pair; binary messages are
//! forwarded unchanged and in order. `GET /metrics` answers in Prometheus text format.
//! The linked-phone routes and the routing rules are in `route`.
//!
//! Limits ([`RelayConfig`]): open connections, unrouted connections per source address, the
//! time from accept to routed, concurrent tunnels and listeners, message size, messages per
//! peer, bytes queued before the second peer joins (per tunnel and in all), idle time and
//! lifetime. A second client on the same tunnel, a second phone for the same tunnel ID, a
//! wrong routing ID, a missing `fido.cable` subprotocol, an oversized message and a linked
//! phone that cannot prove its contact ID are all refused, each counted by reason.
//!
//! Whatever a connection holds (its place in the connection budget, a tunnel slot, a
//! listener, queued bytes) is a guard owned by the connection's task, so it is given back on
//! every way out: a peer leaving, a limit, the lifetime cutting the task off, a panic.
//!
//! With a certificate ([`RelayConfig::tls`]) every connection, `/metrics` included, is TLS.
//!
//! Layout: `config` (identity and limits), [`metrics`] (counters and their page), `conn`
//! (the accepted stream), `route` (the routing decision, without sockets), `pump` (what
//! happens to a routed socket); this module accepts connections and wires them together.

mod config;
mod conn;
pub mod metrics;
mod pump;
pub(crate) mod route;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

pub use config::{RelayConfig, RelayError, system_wall_clock};
use conn::{Conn, Inner};
pub use metrics::{Metrics, Refused};
use route::{FirstPeer, Route, Table, Upgrade};

use super::to_hex;
use crate::contact_proof::{ContactId, ContactOp, ContactProof, LISTENING, NONCE_LEN};
use crate::tunnel_url::{
    CLIENT_PAYLOAD_HEADER, ROUTING_ID_HEADER, SIGNAL_CONNECTION_HEADER, WEBSOCKET_PROTOCOL,
};

/// Per-connection read chunk (see `handle_connection`).
const READ_BUFFER: usize = 4 * 1024;

/// Request header (Passbridge relay only) with which a linked phone unlinks its contact ID.
pub const REVOKE_HEADER: &str = "X-Passbridge-Revoke";

/// The pause after the first failed `accept()`; it doubles up to [`ACCEPT_BACKOFF_MAX`].
/// Out of descriptors, accepting again at once only spins: connections ending free them.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

type Ws = WebSocketStream<Conn>;

/// What reaches the first peer of a tunnel when the second one joins: its socket and its
/// place in the connection budget.
type Joined = (Ws, ConnGuard);

/// What every connection of one relay shares.
struct Shared {
    config: RelayConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    metrics: Arc<Metrics>,
    table: Mutex<Table<Joined>>,
    /// Connections not routed yet, by source (IPv4 address, or IPv6 /64).
    unrouted: Mutex<HashMap<IpAddr, usize>>,
    /// Connections taken over `max_connections` to see whether they are a `/metrics` scrape
    /// (an admin must still see a full relay's counters), at most [`MAX_PROBES`] at once.
    probes: std::sync::atomic::AtomicUsize,
}

/// Connections over the cap that may be looked at for a `/metrics` request at once.
const MAX_PROBES: usize = 8;

/// The lock, even if a panicking task poisoned it: every guard must still be able to give back
/// what it holds, and the tables stay consistent between statements.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn refuse(&self, reason: Refused) {
        self.metrics.refuse(reason);
    }

    fn revoked_gauge(&self, table: &Table<Joined>) {
        let n = u64::try_from(table.revoked_len()).unwrap_or(u64::MAX);
        self.metrics.revoked_contacts.store(n, Ordering::Relaxed);
    }
}

/// Where the per-source cap groups a peer: one IPv4 address, or one IPv6 /64 (what a single
/// host or customer line usually gets).
fn source_key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// A connection's place in the relay's connection budget, and while it is not routed, in its
/// source's share of it; or, over the budget, one of the few probes that may only scrape
/// `/metrics`.
struct ConnGuard {
    shared: Arc<Shared>,
    unrouted_from: Option<IpAddr>,
    probe: bool,
}

impl ConnGuard {
    /// Admits a connection from `peer`, or says which cap it hit.
    fn admit(shared: &Arc<Shared>, peer: IpAddr) -> Result<Self, Refused> {
        let open = shared
            .metrics
            .connections_open
            .fetch_add(1, Ordering::Relaxed);
        let max = u64::try_from(shared.config.max_connections).unwrap_or(u64::MAX);
        // From here on the guard undoes the count, whichever way this ends.
        let mut guard = Self {
            shared: Arc::clone(shared),
            unrouted_from: None,
            probe: false,
        };
        if open >= max {
            drop(guard);
            return Self::probe(shared).ok_or(Refused::ConnectionsFull);
        }
        let source = source_key(peer);
        let mut unrouted = lock(&shared.unrouted);
        let count = unrouted.entry(source).or_insert(0);
        if *count >= shared.config.max_unrouted_per_source {
            return Err(Refused::PerSourceFull);
        }
        *count += 1;
        guard.unrouted_from = Some(source);
        drop(unrouted);
        Ok(guard)
    }

    /// Over the cap: a probe that may only ask for `/metrics`, if one is free.
    fn probe(shared: &Arc<Shared>) -> Option<Self> {
        shared
            .probes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < MAX_PROBES).then_some(n + 1)
            })
            .ok()?;
        Some(Self {
            shared: Arc::clone(shared),
            unrouted_from: None,
            probe: true,
        })
    }

    /// The connection is routed: it no longer counts against its source.
    fn routed(&mut self) {
        if let Some(source) = self.unrouted_from.take() {
            let mut unrouted = lock(&self.shared.unrouted);
            if let Some(count) = unrouted.get_mut(&source) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    unrouted.remove(&source);
                }
            }
        }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if self.probe {
            self.shared.probes.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        self.routed();
        self.shared
            .metrics
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// A tunnel's slot in the table, freed when its first peer's task ends.
struct TunnelGuard {
    shared: Arc<Shared>,
    id: [u8; 16],
}

impl TunnelGuard {
    fn new(shared: &Arc<Shared>, id: [u8; 16]) -> Self {
        shared.metrics.tunnels_open.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: Arc::clone(shared),
            id,
        }
    }
}

impl Drop for TunnelGuard {
    fn drop(&mut self) {
        lock(&self.shared.table).release(&self.id);
        self.shared
            .metrics
            .tunnels_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// A listening linked phone's entry in the table, removed when its task ends (unless a newer
/// listener for the same contact replaced it).
struct ListenerGuard {
    shared: Arc<Shared>,
    contact: ContactId,
    pushes: tokio::sync::mpsc::Receiver<Vec<u8>>,
}

impl Drop for ListenerGuard {
    fn drop(&mut self) {
        // Closing our receiver marks our sender closed; a newer listener's sender stays open.
        self.pushes.close();
        lock(&self.shared.table).listener_left(&self.contact);
        self.shared
            .metrics
            .listeners_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// Bytes a waiting tunnel holds for its second peer, counted per tunnel and in all.
struct Queued {
    shared: Arc<Shared>,
    bytes: usize,
}

impl Queued {
    fn new(shared: &Arc<Shared>) -> Self {
        Self {
            shared: Arc::clone(shared),
            bytes: 0,
        }
    }

    /// Takes `len` more bytes, or says which cap that would break.
    fn add(&mut self, len: usize) -> Result<(), Refused> {
        if self.bytes.saturating_add(len) > self.shared.config.max_queued_bytes {
            return Err(Refused::QueueFull);
        }
        let len64 = u64::try_from(len).unwrap_or(u64::MAX);
        let max = u64::try_from(self.shared.config.max_buffered_bytes).unwrap_or(u64::MAX);
        let total = &self.shared.metrics.buffered_bytes;
        let before = total.fetch_add(len64, Ordering::Relaxed);
        if before.saturating_add(len64) > max {
            total.fetch_sub(len64, Ordering::Relaxed);
            return Err(Refused::BufferFull);
        }
        self.bytes += len;
        Ok(())
    }

    /// The queued bytes were delivered.
    fn clear(&mut self) {
        let bytes = u64::try_from(std::mem::take(&mut self.bytes)).unwrap_or(u64::MAX);
        self.shared
            .metrics
            .buffered_bytes
            .fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Fresh random bytes: tunnel IDs for contacted phones, nonces for linked phones' proofs.
#[allow(
    clippy::disallowed_types,
    reason = "the relay's only randomness: tunnel IDs it hands out and proof nonces"
)]
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    bytes
}

/// What the relay reports while it runs, for the operator's log.
#[derive(Debug)]
#[non_exhaustive]
pub enum RelayEvent {
    /// `accept()` failed (out of descriptors, memory, …); the relay pauses, then goes on.
    AcceptFailed {
        /// The error.
        error: std::io::Error,
        /// How long it pauses before accepting again.
        retry_in: Duration,
    },
}

/// The process's open-file limit, after [`raise_fd_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit before (`None`: unlimited).
    pub before: Option<u64>,
    /// The soft limit now.
    pub now: Option<u64>,
}

/// Raises the soft open-file limit to the hard one: every connection is a descriptor, and the
/// usual soft default (1024) is far below what a relay holds.
///
/// # Errors
/// The system's, when the limit cannot be read or set.
#[cfg(unix)]
pub fn raise_fd_limit() -> std::io::Result<FdLimit> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return Ok(FdLimit {
            before: limit.current,
            now: limit.current,
        });
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )?;
    Ok(FdLimit {
        before: limit.current,
        now: getrlimit(Resource::Nofile).current,
    })
}

/// Raises the soft open-file limit to the hard one (nothing to do on this platform).
///
/// # Errors
/// None here.
#[cfg(not(unix))]
pub fn raise_fd_limit() -> std::io::Result<FdLimit> {
    Ok(FdLimit {
        before: None,
        now: None,
    })
}

/// A bound relay. [`Relay::run`] serves until the future is dropped.
pub struct Relay {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl core::fmt::Debug for Relay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Relay").finish_non_exhaustive()
    }
}

impl Relay {
    /// Binds the listening socket.
    ///
    /// # Errors
    /// [`RelayError::Bind`].
    pub async fn bind(addr: SocketAddr, config: RelayConfig) -> Result<Self, RelayError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RelayError::Bind { addr, source })?;
        Ok(Self {
            listener,
            shared: Arc::new(Shared {
                tls: config.tls.clone().map(tokio_rustls::TlsAcceptor::from),
                table: Mutex::new(Table::new(
                    config.routing_id,
                    config.max_tunnels,
                    config.max_revoked,
                    config.revoked_ttl,
                )),
                config,
                metrics: Arc::new(Metrics::default()),
                unrouted: Mutex::new(HashMap::new()),
                probes: std::sync::atomic::AtomicUsize::new(0),
            }),
        })
    }

    /// The bound address (useful with port 0).
    ///
    /// # Errors
    /// The socket's error.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The live counters.
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.shared.metrics)
    }

    /// Serves until dropped; see [`Relay::run_reporting`].
    pub async fn run(self) {
        self.run_reporting(|_| {}).await;
    }

    /// Serves until dropped, telling `report` about failed accepts. A failed `accept()` is
    /// counted and followed by a pause (10 ms, doubling up to 1 s while it keeps failing),
    /// never the end of the relay.
    pub async fn run_reporting(self, mut report: impl FnMut(RelayEvent) + Send) {
        let mut backoff = ACCEPT_BACKOFF_MIN;
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(accepted) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    accepted
                }
                Err(error) => {
                    self.shared
                        .metrics
                        .accept_errors_total
                        .fetch_add(1, Ordering::Relaxed);
                    report(RelayEvent::AcceptFailed {
                        error,
                        retry_in: backoff,
                    });
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    continue;
                }
            };
            let guard = match ConnGuard::admit(&self.shared, peer.ip()) {
                Ok(guard) => guard,
                // Over a cap the socket is closed at once: it costs a descriptor for no longer
                // than this.
                Err(reason) => {
                    self.shared.refuse(reason);
                    continue;
                }
            };
            // Small messages in lock-step: Nagle's algorithm would hold each one back.
            let _ = stream.set_nodelay(true);
            let shared = Arc::clone(&self.shared);
            tokio::spawn(async move {
                let limit = shared.config.tunnel_lifetime;
                // Every connection, joined or not, ends at the tunnel lifetime; what it holds
                // is in guards, so cutting it off here gives everything back.
                let _ = tokio::time::timeout(limit, handle_connection(shared, stream, guard)).await;
            });
        }
    }
}

async fn handle_connection(shared: Arc<Shared>, stream: TcpStream, mut guard: ConnGuard) {
    // One deadline from accept to routed, whatever the client spends it on.
    let deadline = Instant::now() + shared.config.handshake_timeout;
    let inner = match &shared.tls {
        None => Inner::Plain(stream),
        Some(acceptor) => match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Inner::Tls(Box::new(tls)),
            // A failed TLS handshake (a client that does not trust the certificate, a scanner
            // speaking plain HTTP) is counted and dropped.
            Ok(Err(_)) => {
                shared
                    .metrics
                    .tls_failures_total
                    .fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(_) => {
                shared
                    .metrics
                    .tls_failures_total
                    .fetch_add(1, Ordering::Relaxed);
                shared.refuse(Refused::HandshakeTimeout);
                return;
            }
        },
    };
    let mut stream = Conn::new(inner);
    match tokio::time::timeout_at(deadline, stream.starts_with(b"GET /metrics")).await {
        Ok(Ok(true)) => {
            // A scrape is not a tunnel connection: it neither counts in cable_connections_open
            // (which a scraper would otherwise always see at 1) nor against its source.
            drop(guard);
            let serve = metrics::serve_metrics(&shared.metrics, stream);
            let _ = tokio::time::timeout(shared.config.handshake_timeout, serve).await;
            return;
        }
        // A probe over the connection cap was let in for /metrics only.
        Ok(Ok(false)) if guard.probe => {
            shared.refuse(Refused::ConnectionsFull);
            return;
        }
        Ok(Ok(false)) => {}
        Ok(Err(_)) => return,
        Err(_) => {
            shared.refuse(Refused::HandshakeTimeout);
            return;
        }
    }
    let max = shared.config.max_message_size;
    // Tunnels carry a few small messages, and most of a relay's tunnels sit idle waiting for
    // their client: tungstenite's default 128 KiB read buffer per connection dominated the
    // relay's memory (133 KiB per idle tunnel, docs/benchmarks.md); reads are chunked, so a
    // small buffer still takes messages up to the size limit.
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0);
    let mut decided: Option<Decided> = None;
    // tungstenite's handshake callback fixes the (large) error type; boxing is not an option.
    #[allow(
        clippy::result_large_err,
        reason = "signature dictated by tungstenite's Callback"
    )]
    let callback =
        |request: &Request, response: Response| decide(&shared, request, response, &mut decided);
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config));
    let ws = match tokio::time::timeout_at(deadline, handshake).await {
        Ok(Ok(ws)) => ws,
        // Refused (counted in `decide`) or broken; a slot taken in `decide` is in `decided`
        // and goes with it.
        Ok(Err(_)) => return,
        Err(_) => {
            shared.refuse(Refused::HandshakeTimeout);
            return;
        }
    };
    let Some(Decided { route, tunnel }) = decided else {
        return;
    };
    match (route, tunnel) {
        (Route::Wait { joined, first, .. }, Some(tunnel)) => {
            guard.routed();
            let signal = first == FirstPeer::Client { signal: true };
            pump::run_phone_side(&shared, tunnel, joined, signal, ws).await;
        }
        (Route::Join(join), _) => {
            guard.routed();
            if let Err((mut ws, _guard)) = join.send((ws, guard)) {
                // The phone left between the client's request and now.
                let _ = ws.close(None).await;
            }
        }
        (Route::Prove { contact, op }, _) => {
            prove(&shared, guard, deadline, contact, op, ws).await;
        }
        (Route::Wait { .. }, None) => {}
    }
}

/// A close frame with `code` and `reason`.
fn close_frame(code: CloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// A linked phone's listen or revoke: the relay's nonce, the phone's proof, then the
/// operation (`crate::contact_proof` has the scheme).
async fn prove(
    shared: &Arc<Shared>,
    mut guard: ConnGuard,
    deadline: Instant,
    contact: ContactId,
    op: ContactOp,
    mut ws: Ws,
) {
    let nonce: [u8; NONCE_LEN] = random();
    let answer = tokio::time::timeout_at(deadline, async {
        ws.send(Message::Binary(nonce.to_vec().into())).await.ok()?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Binary(bytes))) => return Some(bytes),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                _ => return None,
            }
        }
    })
    .await;
    let proven = match answer {
        Ok(Some(bytes)) => ContactProof::parse(&bytes)
            .and_then(|proof| proof.verify(&contact, op, &nonce))
            .is_ok(),
        Ok(None) => false,
        Err(_) => {
            shared.refuse(Refused::HandshakeTimeout);
            let _ = ws
                .send(close_frame(CloseCode::Policy, "no contact proof in time"))
                .await;
            return;
        }
    };
    if !proven {
        shared.refuse(Refused::ContactProof);
        let _ = ws
            .send(close_frame(CloseCode::Policy, "contact proof refused"))
            .await;
        return;
    }
    guard.routed();
    match op {
        ContactOp::Revoke => {
            {
                let mut table = lock(&shared.table);
                table.revoke(contact, Instant::now().into_std());
                shared.revoked_gauge(&table);
            }
            let _ = ws.send(close_frame(CloseCode::Normal, "unlinked")).await;
        }
        ContactOp::Listen => {
            let listened = {
                let mut table = lock(&shared.table);
                let listened = table.listen(contact);
                shared.revoked_gauge(&table);
                listened
            };
            let pushes = match listened {
                Ok(pushes) => pushes,
                Err(refusal) => {
                    shared.refuse(refusal.kind);
                    let _ = ws.send(close_frame(CloseCode::Again, refusal.reason)).await;
                    return;
                }
            };
            shared
                .metrics
                .listeners_open
                .fetch_add(1, Ordering::Relaxed);
            let listener = ListenerGuard {
                shared: Arc::clone(shared),
                contact,
                pushes,
            };
            if ws
                .send(Message::Binary(vec![LISTENING].into()))
                .await
                .is_ok()
            {
                pump::run_listener(listener, ws).await;
            }
        }
    }
}

/// The route `decide` chose, and the tunnel slot it took (freed if the handshake fails).
struct Decided {
    route: Route<Joined>,
    tunnel: Option<TunnelGuard>,
}

/// A counted refusal.
fn refused(shared: &Shared, refusal: route::Refusal) -> ErrorResponse {
    shared.refuse(refusal.kind);
    let mut response = ErrorResponse::new(Some(refusal.reason.to_owned()));
    *response.status_mut() =
        StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    insert_date(shared, response.headers_mut());
    response
}

/// The `Date` header (RFC 9110 §6.6.1), which lets a client check its clock against ours.
fn insert_date(shared: &Shared, headers: &mut tokio_tungstenite::tungstenite::http::HeaderMap) {
    let date = httpdate::fmt_http_date((shared.config.wall_clock)());
    if let Ok(value) = HeaderValue::from_str(&date) {
        headers.insert("date", value);
    }
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

fn is_true(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The handshake callback: the routing decision ([`Table::route`]) applied to the request,
/// and the response headers it implies.
#[allow(
    clippy::result_large_err,
    reason = "signature dictated by tungstenite's Callback"
)]
fn decide(
    shared: &Arc<Shared>,
    request: &Request,
    mut response: Response,
    decided: &mut Option<Decided>,
) -> Result<Response, ErrorResponse> {
    let upgrade = Upgrade {
        path: request.uri().path(),
        cable_protocol: request
            .headers()
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == WEBSOCKET_PROTOCOL),
        client_payload: header(request, CLIENT_PAYLOAD_HEADER),
        signal: is_true(header(request, SIGNAL_CONNECTION_HEADER)),
        revoke: is_true(header(request, REVOKE_HEADER)),
    };
    // Built before routing, so a failure here cannot leave a slot behind.
    let routing_id = HeaderValue::from_str(&to_hex(&shared.config.routing_id)).map_err(|_| {
        refused(
            shared,
            route::Refusal {
                status: 500,
                reason: "relay error",
                kind: Refused::RelayError,
            },
        )
    })?;
    let route = lock(&shared.table)
        .route(&upgrade, random::<16>, Instant::now().into_std())
        .map_err(|r| refused(shared, r))?;
    let headers = response.headers_mut();
    let mut tunnel = None;
    if let Route::Wait { id, first, .. } = &route {
        tunnel = Some(TunnelGuard::new(shared, *id));
        match first {
            // The phone learns which relay instance holds its tunnel.
            FirstPeer::Phone => {
                headers.insert(ROUTING_ID_HEADER, routing_id);
            }
            FirstPeer::Client { signal: true } => {
                headers.insert(SIGNAL_CONNECTION_HEADER, HeaderValue::from_static("true"));
            }
            FirstPeer::Client { signal: false } => {}
        }
    }
    headers.insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(WEBSOCKET_PROTOCOL),
    );
    insert_date(shared, headers);
    *decided = Some(Decided { route, tunnel });
    Ok(response)
}
