//! A self-hostable caBLE tunnel relay (spec §5): `GET /cable/new/{tunnel id}` (phone) and
//! `GET /cable/connect/{routing id}/{tunnel id}` (client) join a pair; binary messages are
//! forwarded unchanged and in order. `GET /metrics` answers in Prometheus text format.
//!
//! Limits: concurrent tunnels, message size, messages per peer, idle time and lifetime.
//! A second client on the same tunnel, a second phone for the same tunnel ID, a wrong routing
//! ID, a missing `fido.cable` subprotocol and an oversized message are all refused.
//!
//! With a certificate ([`RelayConfig::tls`]) every connection, `/metrics` included, is TLS.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{parse_hex, to_hex};
use crate::keys::{RoutingId, TunnelId};
use crate::tunnel_url::{
    CLIENT_PAYLOAD_HEADER, ClientPayload, ContactPush, ROUTING_ID_HEADER, SIGNAL_CONNECTION_HEADER,
    WEBSOCKET_PROTOCOL,
};

/// Per-connection read chunk (see `handle_connection`).
const READ_BUFFER: usize = 4 * 1024;

/// Request header (Passbridge relay only) with which a linked phone unlinks its contact ID.
pub const REVOKE_HEADER: &str = "X-Passbridge-Revoke";

/// Relay limits and identity.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The routing ID that names this relay instance (sent in `X-caBLE-Routing-ID`).
    pub routing_id: [u8; 3],
    /// Maximum tunnels open or waiting at once.
    pub max_tunnels: usize,
    /// Maximum size of one message, in bytes.
    pub max_message_size: usize,
    /// Maximum messages each peer may send over a tunnel's life.
    pub max_messages_per_peer: u64,
    /// How long a tunnel may live in total (including the wait for the client).
    pub tunnel_lifetime: Duration,
    /// How long a joined tunnel may go without traffic.
    pub idle_timeout: Duration,
    /// Serve TLS with this configuration (see [`super::tls::server_config`]); `None`: plain
    /// WebSocket, for loopback and behind a TLS-terminating load balancer.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            routing_id: [0x00, 0x00, 0x01],
            max_tunnels: 1024,
            max_message_size: 64 * 1024,
            max_messages_per_peer: 256,
            tunnel_lifetime: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(60),
            tls: None,
        }
    }
}

/// Relay errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The listening socket could not be opened.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// Requested address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Accepting failed.
    #[error("accept failed: {0}")]
    Accept(#[source] std::io::Error),
}

/// Counters shown at `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Tunnels currently open or waiting for their client.
    pub tunnels_open: AtomicU64,
    /// Tunnels that had both peers joined.
    pub tunnels_joined_total: AtomicU64,
    /// Payload bytes forwarded.
    pub bytes_forwarded_total: AtomicU64,
    /// Messages forwarded.
    pub messages_forwarded_total: AtomicU64,
    /// Requests refused (any reason).
    pub refusals_total: AtomicU64,
    /// TLS handshakes that failed (untrusted certificate at the client, plain HTTP, timeout).
    pub tls_failures_total: AtomicU64,
}

impl Metrics {
    fn render(&self) -> String {
        let mut out = String::new();
        for (name, kind, help, v) in [
            (
                "cable_tunnels_open",
                "gauge",
                "Tunnels open or waiting.",
                &self.tunnels_open,
            ),
            (
                "cable_tunnels_joined_total",
                "counter",
                "Tunnels joined.",
                &self.tunnels_joined_total,
            ),
            (
                "cable_bytes_forwarded_total",
                "counter",
                "Bytes forwarded.",
                &self.bytes_forwarded_total,
            ),
            (
                "cable_messages_forwarded_total",
                "counter",
                "Messages forwarded.",
                &self.messages_forwarded_total,
            ),
            (
                "cable_refusals_total",
                "counter",
                "Requests refused.",
                &self.refusals_total,
            ),
            (
                "cable_tls_failures_total",
                "counter",
                "TLS handshakes that failed.",
                &self.tls_failures_total,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
                v.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

type Ws = WebSocketStream<Conn>;

/// One accepted connection: plain TCP or server-side TLS, with the bytes read to tell
/// `/metrics` from a tunnel handed back before the rest of the stream.
struct Conn {
    head: Vec<u8>,
    head_read: usize,
    inner: Inner,
}

enum Inner {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Conn {
    /// Reads until the stream's first bytes either start with `prefix` or cannot any more.
    async fn starts_with(&mut self, prefix: &[u8]) -> std::io::Result<bool> {
        let mut byte = [0u8; 1];
        while self.head.len() < prefix.len() && prefix.starts_with(&self.head) {
            // Byte by byte: only a dozen bytes, once per connection, and nothing past the
            // request line is taken from the WebSocket handshake.
            let n = match &mut self.inner {
                Inner::Plain(s) => s.read(&mut byte).await?,
                Inner::Tls(s) => s.read(&mut byte).await?,
            };
            if n == 0 {
                break;
            }
            self.head.extend_from_slice(&byte);
        }
        Ok(self.head.starts_with(prefix))
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if let Some(rest) = this.head.get(this.head_read..)
            && !rest.is_empty()
        {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(rest.get(..n).unwrap_or_default());
            this.head_read += n;
            if this.head_read == this.head.len() {
                this.head = Vec::new();
                this.head_read = 0;
            }
            return Poll::Ready(Ok(()));
        }
        match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match &mut self.inner {
            Inner::Plain(s) => Pin::new(s).poll_write(cx, data),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.inner {
            Inner::Plain(s) => Pin::new(s).poll_flush(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.inner {
            Inner::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

struct Slot {
    /// Taken by the first client; `None` afterwards.
    join: Option<oneshot::Sender<Ws>>,
}

struct Shared {
    config: RelayConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    metrics: Arc<Metrics>,
    tunnels: Mutex<Tunnels>,
    /// Linked phones listening for contacts, by contact ID (as it appears in the path).
    listeners: Mutex<HashMap<String, mpsc::Sender<Vec<u8>>>>,
    /// Contact IDs whose phone unlinked: contacting them answers 410 Gone.
    revoked: Mutex<HashSet<String>>,
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

enum Route {
    /// A phone opened a tunnel (QR flow), or a client contacted a linked phone (`signal`:
    /// send the client `[0x00]` when the phone joins); the joining socket arrives on the
    /// receiver.
    New([u8; 16], oneshot::Receiver<Ws>, bool),
    /// A linked phone listening for contacts.
    Listen(String, mpsc::Receiver<Vec<u8>>),
    /// A linked phone unlinked itself; the socket is closed at once.
    Revoked,
    /// A client joined; its socket goes to the phone's side through this sender, taken from
    /// the slot at once so a second client is refused even before the first one's 101.
    Connect(oneshot::Sender<Ws>),
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
                config,
                metrics: Arc::new(Metrics::default()),
                tunnels: Mutex::new(HashMap::new()),
                listeners: Mutex::new(HashMap::new()),
                revoked: Mutex::new(HashSet::new()),
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

    /// Accepts connections until an accept error or until dropped.
    ///
    /// # Errors
    /// [`RelayError::Accept`].
    pub async fn run(self) -> Result<(), RelayError> {
        loop {
            let (stream, _peer) = self.listener.accept().await.map_err(RelayError::Accept)?;
            // Small messages in lock-step: Nagle's algorithm would hold each one back.
            let _ = stream.set_nodelay(true);
            let shared = Arc::clone(&self.shared);
            tokio::spawn(async move {
                let limit = shared.config.tunnel_lifetime;
                // Every connection, joined or not, ends at the tunnel lifetime.
                let _ = tokio::time::timeout(limit, handle_connection(shared, stream)).await;
            });
        }
    }
}

async fn handle_connection(shared: Arc<Shared>, stream: TcpStream) {
    let inner = match &shared.tls {
        None => Inner::Plain(stream),
        Some(acceptor) => {
            match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                Ok(Ok(tls)) => Inner::Tls(Box::new(tls)),
                // A failed TLS handshake (a client that does not trust the certificate, a
                // scanner speaking plain HTTP) is counted and dropped.
                _ => {
                    shared
                        .metrics
                        .tls_failures_total
                        .fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    };
    let mut stream = Conn {
        head: Vec::new(),
        head_read: 0,
        inner,
    };
    let is_metrics =
        tokio::time::timeout(Duration::from_secs(10), stream.starts_with(b"GET /metrics")).await;
    match is_metrics {
        Ok(Ok(true)) => {
            serve_metrics(&shared, stream).await;
            return;
        }
        Ok(Ok(false)) => {}
        _ => return,
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
    let mut route: Option<Route> = None;
    // tungstenite's handshake callback fixes the (large) error type; boxing is not an option.
    #[allow(
        clippy::result_large_err,
        reason = "signature dictated by tungstenite's Callback"
    )]
    let callback =
        |request: &Request, response: Response| decide(&shared, request, response, &mut route);
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config));
    let ws = match tokio::time::timeout(Duration::from_secs(10), handshake).await {
        Ok(Ok(ws)) => ws,
        _ => {
            // A refused (or broken) handshake that got through `decide` must free its slot.
            if let Some(Route::New(id, _, _)) = route {
                release(&shared, &id);
            }
            return;
        }
    };
    match route {
        Some(Route::New(id, join, signal)) => run_phone_side(&shared, id, join, signal, ws).await,
        Some(Route::Listen(contact, pushes)) => run_listener(&shared, contact, pushes, ws).await,
        Some(Route::Revoked) => {
            let mut ws = ws;
            let _ = ws.close(None).await;
        }
        Some(Route::Connect(join)) => {
            if let Err(mut ws) = join.send(ws) {
                // The phone left between the client's request and now.
                let _ = ws.close(None).await;
            }
        }
        None => {}
    }
}

fn refuse(shared: &Shared, status: StatusCode, why: &str) -> ErrorResponse {
    shared
        .metrics
        .refusals_total
        .fetch_add(1, Ordering::Relaxed);
    let mut response = ErrorResponse::new(Some(why.to_owned()));
    *response.status_mut() = status;
    response
}

/// The handshake callback: routing, subprotocol and limit checks.
#[allow(
    clippy::result_large_err,
    reason = "signature dictated by tungstenite's Callback"
)]
fn decide(
    shared: &Shared,
    request: &Request,
    mut response: Response,
    route: &mut Option<Route>,
) -> Result<Response, ErrorResponse> {
    let has_protocol = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == WEBSOCKET_PROTOCOL);
    if !has_protocol {
        return Err(refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "subprotocol fido.cable required",
        ));
    }
    let path = request.uri().path();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let tunnel_id = |s: &str| -> Option<[u8; 16]> { parse_hex(s)?.try_into().ok() };
    let mut tunnels = match shared.tunnels.lock() {
        Ok(t) => t,
        Err(_) => {
            return Err(refuse(
                shared,
                StatusCode::INTERNAL_SERVER_ERROR,
                "relay error",
            ));
        }
    };
    match parts.as_slice() {
        ["cable", "new", tid] => {
            let Some(id) = tunnel_id(tid) else {
                return Err(refuse(shared, StatusCode::BAD_REQUEST, "bad tunnel id"));
            };
            if tunnels.contains_key(&id) {
                return Err(refuse(shared, StatusCode::CONFLICT, "tunnel exists"));
            }
            let Ok(value) = HeaderValue::from_str(&to_hex(&shared.config.routing_id)) else {
                return Err(refuse(
                    shared,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "relay error",
                ));
            };
            let joined = open_slot(shared, &mut tunnels, id)?;
            response.headers_mut().insert(ROUTING_ID_HEADER, value);
            *route = Some(Route::New(id, joined, false));
        }
        ["cable", "connect", rid, tid] => {
            let ours = parse_hex(rid).is_some_and(|r| r.as_slice() == shared.config.routing_id);
            let Some(id) = tunnel_id(tid).filter(|_| ours) else {
                return Err(refuse(shared, StatusCode::NOT_FOUND, "unknown tunnel"));
            };
            match tunnels.get(&id) {
                Some(Slot { join: Some(_) }) => {
                    let Some(join) = tunnels.get_mut(&id).and_then(|slot| slot.join.take()) else {
                        return Err(refuse(
                            shared,
                            StatusCode::CONFLICT,
                            "tunnel already joined",
                        ));
                    };
                    *route = Some(Route::Connect(join));
                }
                Some(Slot { join: None }) => {
                    return Err(refuse(
                        shared,
                        StatusCode::CONFLICT,
                        "tunnel already joined",
                    ));
                }
                None => return Err(refuse(shared, StatusCode::NOT_FOUND, "unknown tunnel")),
            }
        }
        ["cable", "contact", contact] => {
            contact_phone(shared, request, &mut response, route, contact, &mut tunnels)?;
        }
        ["cable", "listen", contact] => {
            drop(tunnels);
            listen(shared, request, route, contact)?;
        }
        _ => return Err(refuse(shared, StatusCode::NOT_FOUND, "not found")),
    }
    response.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(WEBSOCKET_PROTOCOL),
    );
    Ok(response)
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `/cable/contact/{contact}` (client of a linked phone): opens a tunnel, pushes its
/// coordinates and the client's payload to the phone's listener, and keeps the client
/// waiting for the phone like a QR-flow phone waits for its client.
#[allow(
    clippy::result_large_err,
    reason = "signature dictated by tungstenite's Callback"
)]
fn contact_phone(
    shared: &Shared,
    request: &Request,
    response: &mut Response,
    route: &mut Option<Route>,
    contact: &str,
    tunnels: &mut Tunnels,
) -> Result<(), ErrorResponse> {
    if shared.revoked.lock().is_ok_and(|r| r.contains(contact)) {
        return Err(refuse(
            shared,
            StatusCode::GONE,
            "this phone unlinked itself",
        ));
    }
    let Some(payload) = header(request, CLIENT_PAYLOAD_HEADER)
        .and_then(|v| ClientPayload::from_header_value(v).ok())
    else {
        return Err(refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "missing or bad client payload",
        ));
    };
    let Some(listener) = shared
        .listeners
        .lock()
        .ok()
        .and_then(|l| l.get(contact).cloned())
    else {
        return Err(refuse(
            shared,
            StatusCode::NOT_FOUND,
            "the phone is not listening on this relay",
        ));
    };
    check_room(shared, tunnels)?;
    let mut id = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
    let push = ContactPush {
        routing_id: RoutingId(shared.config.routing_id),
        tunnel_id: TunnelId(id),
        payload,
    };
    if listener.try_send(push.to_cbor()).is_err() {
        return Err(refuse(
            shared,
            StatusCode::SERVICE_UNAVAILABLE,
            "the phone is not reachable",
        ));
    }
    let joined = open_slot(shared, tunnels, id)?;
    let signal =
        header(request, SIGNAL_CONNECTION_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if signal {
        response
            .headers_mut()
            .insert(SIGNAL_CONNECTION_HEADER, HeaderValue::from_static("true"));
    }
    *route = Some(Route::New(id, joined, signal));
    Ok(())
}

/// Passbridge's stand-in for the cloud push channel: a linked phone holds
/// `/cable/listen/{contact}` open to hear about contacts. With `X-Passbridge-Revoke: true` it
/// unlinks instead: later contacts get 410 Gone, which tells clients to delete the link.
#[allow(
    clippy::result_large_err,
    reason = "signature dictated by tungstenite's Callback"
)]
fn listen(
    shared: &Shared,
    request: &Request,
    route: &mut Option<Route>,
    contact: &str,
) -> Result<(), ErrorResponse> {
    let contact = contact.to_owned();
    let (Ok(mut listeners), Ok(mut revoked)) = (shared.listeners.lock(), shared.revoked.lock())
    else {
        return Err(refuse(
            shared,
            StatusCode::INTERNAL_SERVER_ERROR,
            "relay error",
        ));
    };
    if header(request, REVOKE_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        listeners.remove(&contact);
        revoked.insert(contact);
        *route = Some(Route::Revoked);
    } else {
        if listeners.len() >= shared.config.max_tunnels && !listeners.contains_key(&contact) {
            return Err(refuse(
                shared,
                StatusCode::SERVICE_UNAVAILABLE,
                "too many listeners",
            ));
        }
        let (tx, rx) = mpsc::channel(8);
        // A newer listener for the same contact replaces the old one (the phone reconnected).
        listeners.insert(contact.clone(), tx);
        revoked.remove(&contact);
        *route = Some(Route::Listen(contact, rx));
    }
    Ok(())
}

/// Forwards contact pushes to a listening phone until it leaves.
async fn run_listener(
    shared: &Shared,
    contact: String,
    mut pushes: mpsc::Receiver<Vec<u8>>,
    mut ws: Ws,
) {
    loop {
        tokio::select! {
            push = pushes.recv() => match push {
                Some(push) => {
                    if ws.send(Message::Binary(push.into())).await.is_err() {
                        break;
                    }
                }
                // Replaced by a newer listener, or revoked.
                None => break,
            },
            message = ws.next() => match message {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                _ => break,
            },
        }
    }
    // Closing our receiver marks our sender closed; a newer listener's sender stays open.
    pushes.close();
    if let Ok(mut listeners) = shared.listeners.lock()
        && listeners.get(&contact).is_some_and(mpsc::Sender::is_closed)
    {
        listeners.remove(&contact);
    }
    let _ = ws.close(None).await;
}

type Tunnels = HashMap<[u8; 16], Slot>;

/// Refuses a new tunnel when the relay holds its maximum.
#[allow(
    clippy::result_large_err,
    reason = "called from tungstenite's Callback, whose error type this is"
)]
fn check_room(shared: &Shared, tunnels: &Tunnels) -> Result<(), ErrorResponse> {
    if tunnels.len() >= shared.config.max_tunnels {
        return Err(refuse(
            shared,
            StatusCode::SERVICE_UNAVAILABLE,
            "too many tunnels",
        ));
    }
    Ok(())
}

/// Opens tunnel `id` for a first peer (a QR phone, or a linked phone's client). The join
/// channel exists from that moment, so a second peer arriving right after the first one's 101
/// always finds it.
#[allow(
    clippy::result_large_err,
    reason = "called from tungstenite's Callback, whose error type this is"
)]
fn open_slot(
    shared: &Shared,
    tunnels: &mut Tunnels,
    id: [u8; 16],
) -> Result<oneshot::Receiver<Ws>, ErrorResponse> {
    check_room(shared, tunnels)?;
    let (join, joined) = oneshot::channel();
    tunnels.insert(id, Slot { join: Some(join) });
    shared.metrics.tunnels_open.fetch_add(1, Ordering::Relaxed);
    Ok(joined)
}

fn release(shared: &Shared, id: &[u8; 16]) {
    if let Ok(mut t) = shared.tunnels.lock()
        && t.remove(id).is_some()
    {
        shared.metrics.tunnels_open.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn run_phone_side(
    shared: &Shared,
    id: [u8; 16],
    rx: oneshot::Receiver<Ws>,
    signal: bool,
    mut phone: Ws,
) {
    // Wait for the client. A phone has nothing to say before the client's first handshake
    // message, but whatever it sends meanwhile is kept (within the per-peer message limit)
    // and delivered first, so the relay never reorders or drops a frame.
    let mut early: Vec<Message> = Vec::new();
    let limit = usize::try_from(shared.config.max_messages_per_peer).unwrap_or(usize::MAX);
    let client = tokio::select! {
        c = rx => c.ok(),
        () = async {
            while let Some(Ok(m)) = phone.next().await {
                match m {
                    Message::Binary(_) if early.len() < limit => early.push(m),
                    Message::Ping(_) | Message::Pong(_) => {}
                    _ => break,
                }
            }
        } => None,
    };
    // The slot stays (joined) so a second client is refused until the tunnel ends.
    if let Some(mut client) = client {
        shared
            .metrics
            .tunnels_joined_total
            .fetch_add(1, Ordering::Relaxed);
        if signal
            && phone
                .send(Message::Binary(vec![0x00].into()))
                .await
                .is_err()
        {
            release(shared, &id);
            return;
        }
        let queued = u64::try_from(early.len()).unwrap_or(u64::MAX);
        for message in early {
            if client.send(message).await.is_err() {
                release(shared, &id);
                return;
            }
        }
        pump(shared, phone, client, queued).await;
    } else {
        let _ = phone.close(None).await;
    }
    release(shared, &id);
}

/// Forwards between phone `a` and client `b`; `already_from_a` messages of the phone's were
/// delivered before the pump started and count against its limit.
async fn pump(shared: &Shared, a: Ws, b: Ws, already_from_a: u64) {
    let (mut a_tx, mut a_rx) = a.split();
    let (mut b_tx, mut b_rx) = b.split();
    let (mut from_a, mut from_b) = (already_from_a, 0u64);
    let mut ending = Ending::PeerLeft;
    let limit = shared.config.max_messages_per_peer;
    loop {
        let next = tokio::time::timeout(shared.config.idle_timeout, async {
            tokio::select! {
                m = a_rx.next() => (true, m),
                m = b_rx.next() => (false, m),
            }
        })
        .await;
        let Ok((from_phone, message)) = next else {
            ending = Ending::Idle;
            break;
        };
        let message = match message {
            Some(Ok(Message::Binary(data))) => data,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            // An oversized message is refused (counted) and ends the tunnel for both peers.
            Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(_))) => {
                shared
                    .metrics
                    .refusals_total
                    .fetch_add(1, Ordering::Relaxed);
                ending = Ending::Oversized;
                break;
            }
            // Close, text and other errors end the tunnel.
            Some(Ok(_) | Err(_)) | None => break,
        };
        let count = if from_phone { &mut from_a } else { &mut from_b };
        *count = count.saturating_add(1);
        if *count > limit {
            shared
                .metrics
                .refusals_total
                .fetch_add(1, Ordering::Relaxed);
            ending = Ending::TooManyMessages;
            break;
        }
        let len = u64::try_from(message.len()).unwrap_or(u64::MAX);
        let sent = if from_phone {
            b_tx.send(Message::Binary(message)).await
        } else {
            a_tx.send(Message::Binary(message)).await
        };
        if sent.is_err() {
            break;
        }
        shared
            .metrics
            .bytes_forwarded_total
            .fetch_add(len, Ordering::Relaxed);
        shared
            .metrics
            .messages_forwarded_total
            .fetch_add(1, Ordering::Relaxed);
    }
    // Both peers learn why the tunnel ended, so a client can tell "the phone hung up" from
    // "the relay refused".
    let bye = || Message::Close(Some(ending.frame(shared.config.max_message_size)));
    let _ = a_tx.send(bye()).await;
    let _ = b_tx.send(bye()).await;
}

/// Why the relay ended a joined tunnel; sent to both peers as the WebSocket close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// One peer closed or broke its connection.
    PeerLeft,
    /// A message exceeded the size limit.
    Oversized,
    /// A peer exceeded its message-count limit.
    TooManyMessages,
    /// No traffic for the idle timeout.
    Idle,
}

impl Ending {
    fn frame(self, max_size: usize) -> CloseFrame {
        let (code, reason) = match self {
            Self::PeerLeft => (
                CloseCode::Normal,
                "the other side closed the tunnel".to_owned(),
            ),
            Self::Oversized => (
                CloseCode::Size,
                format!("a message over the relay's {max_size}-byte limit was refused"),
            ),
            Self::TooManyMessages => (
                CloseCode::Policy,
                "the relay's per-tunnel message limit was reached".to_owned(),
            ),
            Self::Idle => (CloseCode::Away, "the tunnel was idle too long".to_owned()),
        };
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }
}

async fn serve_metrics(shared: &Shared, mut stream: Conn) {
    // Drain the request head (small, bounded) before answering.
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await;
    let body = shared.metrics.render();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}
