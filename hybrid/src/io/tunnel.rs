//! The WebSocket tunnel client: opens a [`TunnelRequest`] with subprotocol `fido.cable` and
//! reports the relay's routing ID. Honours `ALL_PROXY` / `HTTPS_PROXY` (for `wss://`) /
//! `HTTP_PROXY` (for `ws://`) and `NO_PROXY`, as curl does, through an HTTP CONNECT proxy.
//! `wss://` runs TLS (rustls, see [`super::tls`]) inside the proxy's tunnel when there is one.

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use super::parse_hex;
use crate::keys::RoutingId;
use crate::proxy::{HEAD_LIMIT, HttpProxy, ProxyError, Target};
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
    /// TLS could not be set up or the relay's certificate was refused.
    #[error("TLS with the relay failed: {0}")]
    Tls(String),
    /// The relay's answer lacked a valid `X-caBLE-Routing-ID`.
    #[error("relay sent no valid routing ID")]
    NoRoutingId,
    /// The HTTP proxy could not be used (unreachable, refused CONNECT, unsupported kind).
    #[error("proxy {proxy}: {problem}")]
    Proxy {
        /// The proxy, as configured.
        proxy: String,
        /// What went wrong, in words.
        problem: String,
    },
}

impl From<tungstenite::Error> for TunnelError {
    fn from(e: tungstenite::Error) -> Self {
        match e {
            tungstenite::Error::Http(response) => Self::Refused(response.status().as_u16()),
            tungstenite::Error::Tls(cause) => Self::Tls(cause.to_string()),
            tungstenite::Error::Io(cause)
                if cause
                    .get_ref()
                    .is_some_and(|inner| inner.is::<rustls::Error>()) =>
            {
                // tokio-rustls reports certificate and handshake failures as I/O errors.
                Self::Tls(cause.to_string())
            }
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
    /// Connects: `ws://` in the clear (loopback and tests), `wss://` over TLS.
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
        let target = target_of(http.uri())?;
        let stream = match HttpProxy::for_target(&target, proxy_setting)? {
            None => {
                let stream = TcpStream::connect((target.host.as_str(), target.port))
                    .await
                    .map_err(|e| TunnelError::WebSocket(Box::new(e.into())))?;
                let _ = stream.set_nodelay(NO_DELAY);
                stream
            }
            Some(proxy) => connect_via(&proxy, &target).await?,
        };
        let connector = if target.secure {
            let tls = super::tls::client_config().map_err(|e| TunnelError::Tls(e.to_string()))?;
            Connector::Rustls(tls)
        } else {
            Connector::Plain
        };
        let (ws, response) = tokio_tungstenite::client_async_tls_with_config(
            http,
            stream,
            Some(config),
            Some(connector),
        )
        .await?;
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

/// The app's proxy setting, which wins over the environment's; `NO_PROXY` still applies.
static PROXY_OVERRIDE: std::sync::RwLock<Option<String>> = std::sync::RwLock::new(None);

/// Sends every later tunnel through `proxy` (an `http://host:port` CONNECT proxy) instead of
/// the one `HTTPS_PROXY`/`HTTP_PROXY` name; `None` goes back to the environment. The desktop
/// app calls this when its proxy setting changes; the CLI never does.
pub fn set_proxy_override(proxy: Option<String>) {
    if let Ok(mut slot) = PROXY_OVERRIDE.write() {
        *slot = proxy;
    }
}

/// The environment as the proxy decision sees it, with the override in place of the proxy
/// variables.
fn proxy_setting(name: &str) -> Option<String> {
    let overridden = PROXY_OVERRIDE.read().ok().and_then(|slot| slot.clone());
    match overridden {
        Some(proxy)
            if name.to_ascii_uppercase().ends_with("_PROXY")
                && !name.eq_ignore_ascii_case("NO_PROXY") =>
        {
            Some(proxy)
        }
        _ => std::env::var(name).ok(),
    }
}

/// Where `uri` points, for the proxy decision and the TCP connection.
fn target_of(uri: &tungstenite::http::Uri) -> Result<Target, TunnelError> {
    let secure = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        other => {
            return Err(TunnelError::Request(format!(
                "tunnel URLs are ws:// or wss://, not {}",
                other.unwrap_or("(none)")
            )));
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| TunnelError::Request("tunnel URL has no host".to_owned()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    Ok(Target { secure, host, port })
}

impl From<ProxyError> for TunnelError {
    fn from(e: ProxyError) -> Self {
        Self::Proxy {
            proxy: e.proxy,
            problem: e.problem,
        }
    }
}

/// Opens a TCP connection through `proxy` to `target` (CONNECT, expecting a 2xx).
async fn connect_via(proxy: &HttpProxy, target: &Target) -> Result<TcpStream, TunnelError> {
    let fail = |problem: String| TunnelError::Proxy {
        proxy: proxy.text.clone(),
        problem,
    };
    let mut stream = TcpStream::connect((proxy.host.as_str(), proxy.port))
        .await
        .map_err(|e| fail(format!("cannot connect: {e}")))?;
    let _ = stream.set_nodelay(NO_DELAY);
    stream
        .write_all(HttpProxy::connect_request(target).as_bytes())
        .await
        .map_err(|e| fail(format!("connection lost: {e}")))?;
    // Read the answer's head byte by byte so nothing after it (the tunnel's first bytes)
    // is consumed; it is small and read once per tunnel.
    let mut head = Vec::with_capacity(128);
    while !head.ends_with(b"\r\n\r\n") && head.len() <= HEAD_LIMIT {
        let byte = stream
            .read_u8()
            .await
            .map_err(|e| fail(format!("connection lost during CONNECT: {e}")))?;
        head.push(byte);
    }
    proxy.check_answer(target, &head)?;
    Ok(stream)
}
