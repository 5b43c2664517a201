//! The relay's identity and limits, and its set-up errors.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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
    /// Serve TLS with this configuration (see [`super::super::tls::server_config`]); `None`: plain
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
