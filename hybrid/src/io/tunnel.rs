//! The WebSocket tunnel client: opens a [`TunnelRequest`] with subprotocol `fido.cable` and
//! reports the relay's routing ID.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::parse_hex;
use crate::keys::RoutingId;
use crate::tunnel_url::{ROUTING_ID_HEADER, TunnelRequest, WEBSOCKET_PROTOCOL};

/// Disable Nagle's algorithm: the protocol is small request/response messages, and Nagle plus
/// delayed ACKs added ~40 ms to every round trip on loopback.
const NO_DELAY: bool = true;

/// Largest message accepted from the tunnel.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Tunnel client errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TunnelError {
    /// The URL or a header could not be used.
    #[error("bad tunnel request: {0}")]
    Request(String),
    /// The relay answered the upgrade with an HTTP status.
    #[error("relay refused the tunnel (HTTP {0})")]
    Refused(u16),
    /// Connecting or the WebSocket itself failed.
    #[error("tunnel: {0}")]
    WebSocket(#[source] Box<tungstenite::Error>),
    /// The relay's answer lacked a valid `X-caBLE-Routing-ID`.
    #[error("relay sent no valid routing ID")]
    NoRoutingId,
}

impl From<tungstenite::Error> for TunnelError {
    fn from(e: tungstenite::Error) -> Self {
        match e {
            tungstenite::Error::Http(response) => Self::Refused(response.status().as_u16()),
            other => Self::WebSocket(Box::new(other)),
        }
    }
}

/// An open tunnel.
#[derive(Debug)]
pub struct Tunnel {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The routing ID header, if the relay sent one.
    pub routing_id: Option<RoutingId>,
    closed: Option<CloseReason>,
}

/// The close frame the other end (usually the relay) sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// WebSocket close code (1000 normal, 1001 away, 1008 policy, 1009 too big …).
    pub code: u16,
    /// Its text.
    pub reason: String,
}

impl CloseReason {
    /// Whether the relay (not the peer) ended the tunnel: a limit or an idle timeout.
    pub fn is_relay_limit(&self) -> bool {
        matches!(self.code, 1001 | 1008 | 1009)
    }
}

impl Tunnel {
    /// Connects (plain `ws://` for now).
    ///
    /// # Errors
    /// [`TunnelError`].
    pub async fn connect(request: &TunnelRequest) -> Result<Self, TunnelError> {
        let mut http = request
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| TunnelError::Request(e.to_string()))?;
        let headers = http.headers_mut();
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(WEBSOCKET_PROTOCOL),
        );
        for (name, value) in &request.headers {
            let name: tungstenite::http::HeaderName = name
                .parse()
                .map_err(|_| TunnelError::Request(format!("header name {name}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| TunnelError::Request("header value".to_owned()))?;
            headers.insert(name, value);
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let (ws, response) =
            tokio_tungstenite::connect_async_with_config(http, Some(config), NO_DELAY).await?;
        let routing_id = response
            .headers()
            .get(ROUTING_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_hex)
            .and_then(|v| <[u8; 3]>::try_from(v).ok())
            .map(RoutingId);
        Ok(Self {
            ws,
            routing_id,
            closed: None,
        })
    }

    /// Sends one binary message.
    ///
    /// # Errors
    /// [`TunnelError::WebSocket`].
    pub async fn send(&mut self, data: Vec<u8>) -> Result<(), TunnelError> {
        self.ws.send(Message::Binary(data.into())).await?;
        Ok(())
    }

    /// The next binary message; `None` when the tunnel closed.
    ///
    /// # Errors
    /// [`TunnelError::WebSocket`].
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, TunnelError> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Binary(data))) => return Ok(Some(data.to_vec())),
                Some(Ok(Message::Close(frame))) => {
                    self.closed = frame.map(|f| CloseReason {
                        code: u16::from(f.code),
                        reason: f.reason.to_string(),
                    });
                    return Ok(None);
                }
                None => return Ok(None),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// Why the other end closed, once [`Tunnel::recv`] returned `None` after a close frame.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.closed.as_ref()
    }

    /// Closes the tunnel (best effort).
    pub async fn close(&mut self) {
        let _ = self.ws.close(None).await;
    }
}
