//! A self-hostable caBLE tunnel relay: `GET /cable/new/{tunnel id}` (phone) and
//! `GET /cable/connect/{routing id}/{tunnel id}` (client) join a pair; binary messages are
//! forwarded unchanged and in order. `GET /metrics` answers in Prometheus text format.
//! The linked-phone routes and the routing rules are in `route`.
//!
//! Limits: concurrent tunnels, message size, messages per peer, idle time and lifetime.
//! A second client on the same tunnel, a second phone for the same tunnel ID, a wrong routing
//! ID, a missing `fido.cable` subprotocol and an oversized message are all refused.
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

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub use config::{RelayConfig, RelayError};
use conn::{Conn, Inner};
pub use metrics::Metrics;
use route::{FirstPeer, Route, Table, Upgrade};

use super::to_hex;
use crate::tunnel_url::{
    CLIENT_PAYLOAD_HEADER, ROUTING_ID_HEADER, SIGNAL_CONNECTION_HEADER, WEBSOCKET_PROTOCOL,
};

/// Per-connection read chunk (see `handle_connection`).
const READ_BUFFER: usize = 4 * 1024;

/// Request header (Passbridge relay only) with which a linked phone unlinks its contact ID.
pub const REVOKE_HEADER: &str = "X-Passbridge-Revoke";

type Ws = WebSocketStream<Conn>;

/// What every connection of one relay shares.
struct Shared {
    config: RelayConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    metrics: Arc<Metrics>,
    table: Mutex<Table<Ws>>,
}

impl Shared {
    /// Frees tunnel `id` (its peers are gone).
    fn release(&self, id: &[u8; 16]) {
        if let Ok(mut table) = self.table.lock()
            && table.release(id)
        {
            self.metrics.tunnels_open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A fresh tunnel ID for a contact: the relay's one use of randomness.
#[allow(
    clippy::disallowed_types,
    reason = "the relay's only randomness: tunnel IDs it hands to contacted phones"
)]
fn fresh_tunnel_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
    id
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
                table: Mutex::new(Table::new(config.routing_id, config.max_tunnels)),
                config,
                metrics: Arc::new(Metrics::default()),
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
    let mut stream = Conn::new(inner);
    let is_metrics =
        tokio::time::timeout(Duration::from_secs(10), stream.starts_with(b"GET /metrics")).await;
    match is_metrics {
        Ok(Ok(true)) => {
            metrics::serve_metrics(&shared.metrics, stream).await;
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
    let mut route: Option<Route<Ws>> = None;
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
            if let Some(Route::Wait { id, .. }) = route {
                shared.release(&id);
            }
            return;
        }
    };
    match route {
        Some(Route::Wait { id, joined, first }) => {
            let signal = first == FirstPeer::Client { signal: true };
            pump::run_phone_side(&shared, id, joined, signal, ws).await;
        }
        Some(Route::Listen { contact, pushes }) => {
            pump::run_listener(&shared, contact, pushes, ws).await;
        }
        Some(Route::Revoked) => {
            let mut ws = ws;
            let _ = ws.close(None).await;
        }
        Some(Route::Join(join)) => {
            if let Err(mut ws) = join.send(ws) {
                // The phone left between the client's request and now.
                let _ = ws.close(None).await;
            }
        }
        None => {}
    }
}

/// A counted refusal with `status` and `reason`.
fn refused(shared: &Shared, status: u16, reason: &str) -> ErrorResponse {
    shared
        .metrics
        .refusals_total
        .fetch_add(1, Ordering::Relaxed);
    let mut response = ErrorResponse::new(Some(reason.to_owned()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
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
    shared: &Shared,
    request: &Request,
    mut response: Response,
    route: &mut Option<Route<Ws>>,
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
    let routing_id = HeaderValue::from_str(&to_hex(&shared.config.routing_id))
        .map_err(|_| refused(shared, 500, "relay error"))?;
    let decided = match shared.table.lock() {
        Ok(mut table) => table.route(&upgrade, fresh_tunnel_id),
        Err(_) => Err(route::Refusal {
            status: 500,
            reason: "relay error",
        }),
    };
    let decided = decided.map_err(|r| refused(shared, r.status, r.reason))?;
    let headers = response.headers_mut();
    if let Route::Wait { first, .. } = &decided {
        shared.metrics.tunnels_open.fetch_add(1, Ordering::Relaxed);
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
    *route = Some(decided);
    Ok(response)
}
