//! The relay's identity and limits, and its set-up errors.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Relay limits and identity.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The routing ID that names this relay instance (sent in `X-caBLE-Routing-ID`).
    pub routing_id: [u8; 3],
    /// Maximum tunnels open or waiting at once (and, separately, linked phones listening).
    pub max_tunnels: usize,
    /// Maximum connections open at once, routed or not; over it a new connection is closed
    /// as soon as it is accepted.
    pub max_connections: usize,
    /// Maximum connections from one source address (IPv6: one /64) that are not routed yet
    /// (TLS, request, proof still under way).
    pub max_unrouted_per_source: usize,
    /// How long a connection may take from accept to routed: TLS, the upgrade request and,
    /// for a linked phone, its proof.
    pub handshake_timeout: Duration,
    /// Maximum bytes a tunnel's first peer may queue before the second peer joins.
    pub max_queued_bytes: usize,
    /// Maximum bytes queued across all waiting tunnels.
    pub max_buffered_bytes: usize,
    /// Maximum unlinked contact IDs remembered (the oldest is forgotten first).
    pub max_revoked: usize,
    /// How long an unlinked contact ID is remembered (contacts get 410 Gone meanwhile, 404
    /// after).
    pub revoked_ttl: Duration,
    /// Maximum size of one message, in bytes.
    pub max_message_size: usize,
    /// Maximum messages each peer may send over a tunnel's life.
    pub max_messages_per_peer: u64,
    /// How long a tunnel may live in total (including the wait for the client).
    pub tunnel_lifetime: Duration,
    /// How long a joined tunnel may go without traffic.
    pub idle_timeout: Duration,
    /// Serve TLS with this configuration (see [`super::super::tls::server_config`]); `None`: plain
    /// WebSocket, for loopback and behind a TLS-terminating load balancer.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The wall clock the `Date` header of each answer reads ([`system_wall_clock`]; tests
    /// set their own). Clients compare it with their own clock: a phone's or a desktop's
    /// clock far off breaks TLS and `doctor` says so.
    pub wall_clock: fn() -> SystemTime,
}

/// The system's wall clock: the relay's one use of it is the `Date` header.
#[allow(
    clippy::disallowed_methods,
    reason = "the relay's wall-clock seam, read only for the Date header"
)]
pub fn system_wall_clock() -> SystemTime {
    SystemTime::now()
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            routing_id: [0x00, 0x00, 0x01],
            max_tunnels: 1024,
            max_connections: 4096,
            max_unrouted_per_source: 32,
            handshake_timeout: Duration::from_secs(5),
            max_queued_bytes: 16 * 1024,
            max_buffered_bytes: 16 * 1024 * 1024,
            max_revoked: 100_000,
            revoked_ttl: Duration::from_secs(30 * 24 * 3600),
            max_message_size: 64 * 1024,
            max_messages_per_peer: 256,
            tunnel_lifetime: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(60),
            tls: None,
            wall_clock: system_wall_clock,
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
