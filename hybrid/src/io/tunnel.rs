//! The WebSocket tunnel client: opens a [`TunnelRequest`] with subprotocol `fido.cable` and
//! reports the relay's routing ID. Honours `ALL_PROXY` / `HTTPS_PROXY` (for `wss://`) /
//! `HTTP_PROXY` (for `ws://`) and `NO_PROXY`, as curl does, through an HTTP CONNECT proxy.
//! `wss://` runs TLS (rustls, see [`super::tls`]) inside the proxy's tunnel when there is one.
//!
//! Everything a tunnel depends on is a value the caller passes: a [`TunnelConfig`] (the proxy
//! variables, read once, and the TLS client configuration). The drivers open tunnels through
//! the [`Connector`] seam, so they run over [`WsConnector`] in the apps and over an in-memory
//! relay in tests (`hybrid::testing`, feature `testing`).

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::parse_hex;
use super::tls::{CA_FILE_VAR, ClientTls};
use crate::keys::RoutingId;
use crate::proxy::{HEAD_LIMIT, HttpProxy, ProxyError, ProxyProblem, Target};
use crate::tunnel_url::{ROUTING_ID_HEADER, TunnelRequest, WEBSOCKET_PROTOCOL};

/// Disable Nagle's algorithm: the protocol is small request/response messages, and Nagle plus
/// delayed ACKs added ~40 ms to every round trip on loopback.
pub(crate) const NO_DELAY: bool = true;

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
    /// The relay's host could not be reached at all (name lookup, connection refused, no route).
    #[error("cannot connect: {0}")]
    Unreachable(#[source] std::io::Error),
    /// The WebSocket failed after the connection was made.
    #[error("tunnel: {0}")]
    WebSocket(#[source] Box<tungstenite::Error>),
    /// TLS could not be set up or the relay's certificate was refused.
    #[error("TLS with the relay failed: {0}")]
    Tls(String),
    /// The relay's answer lacked a valid `X-caBLE-Routing-ID`.
    #[error("relay sent no valid routing ID")]
    NoRoutingId,
    /// The HTTP proxy could not be used (unreachable, refused CONNECT, unsupported kind).
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// The relay did not accept a linked phone's proof that it owns its contact ID.
    #[error("the relay did not accept this phone's contact proof: {0}")]
    ContactRefused(String),
    /// A plain `ws://` URL to a host other than this machine: tunnel traffic would cross the
    /// network unencrypted and unauthenticated.
    #[error(
        "refusing plain ws:// to {host}: outside this machine a relay must use wss:// (TLS). \
         For a relay with a certificate from a private CA, use wss:// and point {CA_FILE_VAR} \
         at the CA's PEM file"
    )]
    Insecure {
        /// The host the URL names.
        host: String,
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
    /// Connects: `ws://` in the clear (loopback and tests), `wss://` over TLS, through the
    /// proxy `config` names for the URL.
    ///
    /// # Errors
    /// [`TunnelError`].
    pub async fn connect(
        request: &TunnelRequest,
        config: &TunnelConfig,
    ) -> Result<Self, TunnelError> {
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
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let target = target_of(http.uri())?;
        let stream = match HttpProxy::for_target(&target, |name| config.proxy_var(name))? {
            None => {
                let stream = TcpStream::connect((target.host.as_str(), target.port))
                    .await
                    .map_err(TunnelError::Unreachable)?;
                let _ = stream.set_nodelay(NO_DELAY);
                stream
            }
            Some(proxy) => connect_via(&proxy, &target).await?,
        };
        let connector = if target.secure {
            let tls = config
                .tls
                .config()
                .map_err(|e| TunnelError::Tls(e.to_string()))?;
            tokio_tungstenite::Connector::Rustls(tls)
        } else {
            tokio_tungstenite::Connector::Plain
        };
        let (ws, response) = tokio_tungstenite::client_async_tls_with_config(
            http,
            stream,
            Some(ws_config),
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

/// What opening a tunnel depends on, as a value: the proxy variables (`ALL_PROXY`,
/// `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, either case) and the TLS client configuration.
#[derive(Debug, Clone, Default)]
pub struct TunnelConfig {
    /// Proxy variables by name, as read.
    proxy_vars: HashMap<String, String>,
    /// An HTTP proxy that replaces the variables' proxies (`NO_PROXY` still applies).
    proxy_override: Option<String>,
    /// TLS for `wss://`.
    tls: ClientTls,
}

impl TunnelConfig {
    /// No proxy, the platform's TLS roots only.
    pub fn new(tls: ClientTls) -> Self {
        Self {
            tls,
            ..Self::default()
        }
    }

    /// The process environment's proxy variables and `PASSBRIDGE_CA_FILE`, read now.
    pub fn from_env() -> Self {
        let proxy_vars = std::env::vars()
            .filter(|(name, _)| name.to_ascii_uppercase().ends_with("_PROXY"))
            .collect();
        let extra_ca = std::env::var_os(CA_FILE_VAR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Self {
            proxy_vars,
            proxy_override: None,
            tls: ClientTls::new(extra_ca),
        }
    }

    /// Sets one proxy variable (as the environment would).
    #[must_use]
    pub fn with_proxy_var(mut self, name: &str, value: &str) -> Self {
        self.proxy_vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Sends every tunnel through `proxy` (an `http://host:port` CONNECT proxy) instead of the
    /// one the variables name; `None` goes back to the variables. `NO_PROXY` still applies.
    #[must_use]
    pub fn with_proxy_override(mut self, proxy: Option<String>) -> Self {
        self.proxy_override = proxy.filter(|p| !p.trim().is_empty());
        self
    }

    /// The TLS client configuration.
    pub fn tls(&self) -> &ClientTls {
        &self.tls
    }

    /// A proxy variable as the proxy decision sees it, with the override in place of the
    /// proxy variables.
    pub(crate) fn proxy_var(&self, name: &str) -> Option<String> {
        let is_proxy =
            name.to_ascii_uppercase().ends_with("_PROXY") && !name.eq_ignore_ascii_case("NO_PROXY");
        match &self.proxy_override {
            Some(proxy) if is_proxy => Some(proxy.clone()),
            _ => self.proxy_vars.get(name).cloned(),
        }
    }
}

/// An open tunnel, as the drivers use it.
pub trait TunnelConn: Send {
    /// Sends one binary message.
    fn send(&mut self, data: Vec<u8>) -> impl Future<Output = Result<(), TunnelError>> + Send;
    /// The next binary message; `None` once the tunnel closed. Must be cancel-safe: the drivers
    /// drop the future whenever another event comes first.
    fn recv(&mut self) -> impl Future<Output = Result<Option<Vec<u8>>, TunnelError>> + Send;
    /// Why the other end closed, once [`TunnelConn::recv`] returned `None` after a close frame.
    fn close_reason(&self) -> Option<&CloseReason>;
    /// The routing ID the relay sent when the tunnel opened, if any.
    fn routing_id(&self) -> Option<RoutingId>;
    /// Closes the tunnel (best effort).
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}

/// Opens tunnels: [`WsConnector`] over the network, an in-memory relay in tests.
pub trait Connector {
    /// The tunnels it opens.
    type Conn: TunnelConn + 'static;
    /// Opens the tunnel `request` names. The future owns what it needs, so the drivers can keep
    /// it while they wait for other events.
    fn connect(
        &self,
        request: TunnelRequest,
    ) -> impl Future<Output = Result<Self::Conn, TunnelError>> + Send + 'static;
}

/// Opens WebSocket tunnels ([`Tunnel`]) with a [`TunnelConfig`].
#[derive(Debug, Clone, Default)]
pub struct WsConnector {
    config: TunnelConfig,
}

impl WsConnector {
    /// A connector that opens tunnels with `config`.
    pub fn new(config: TunnelConfig) -> Self {
        Self { config }
    }

    /// The configuration it opens tunnels with.
    pub fn config(&self) -> &TunnelConfig {
        &self.config
    }
}

impl Connector for WsConnector {
    type Conn = Tunnel;

    fn connect(
        &self,
        request: TunnelRequest,
    ) -> impl Future<Output = Result<Tunnel, TunnelError>> + Send + 'static {
        let config = self.config.clone();
        async move { Tunnel::connect(&request, &config).await }
    }
}

impl TunnelConn for Tunnel {
    async fn send(&mut self, data: Vec<u8>) -> Result<(), TunnelError> {
        Self::send(self, data).await
    }

    async fn recv(&mut self) -> Result<Option<Vec<u8>>, TunnelError> {
        Self::recv(self).await
    }

    fn close_reason(&self) -> Option<&CloseReason> {
        Self::close_reason(self)
    }

    fn routing_id(&self) -> Option<RoutingId> {
        self.routing_id
    }

    async fn close(&mut self) {
        Self::close(self).await;
    }
}

/// Where `uri` points, for the proxy decision and the TCP connection.
pub(crate) fn target_of(uri: &tungstenite::http::Uri) -> Result<Target, TunnelError> {
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
    if !secure && !is_loopback_host(&host) {
        return Err(TunnelError::Insecure { host });
    }
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    Ok(Target { secure, host, port })
}

/// Whether `host` (a URL's host, IPv6 without brackets) is this machine: `localhost`, or an
/// address in 127.0.0.0/8 or `::1`. Only there may a tunnel run over plain `ws://`.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks a relay base URL the way opening a tunnel to it would: `wss://`, or `ws://` to
/// this machine only. For settings and command-line options, so a bad URL is named when it
/// is given rather than at the first ceremony.
///
/// # Errors
/// [`TunnelError::Request`] for a URL that is not one, [`TunnelError::Insecure`].
pub fn check_relay_url(url: &str) -> Result<(), TunnelError> {
    let uri: tungstenite::http::Uri = url
        .parse()
        .map_err(|_| TunnelError::Request(format!("{url} is not a URL")))?;
    target_of(&uri).map(|_| ())
}

/// Opens a TCP connection through `proxy` to `target` (CONNECT, expecting a 2xx).
async fn connect_via(proxy: &HttpProxy, target: &Target) -> Result<TcpStream, TunnelError> {
    let mut stream = TcpStream::connect((proxy.host.as_str(), proxy.port))
        .await
        .map_err(|e| proxy.error(ProxyProblem::Unreachable(e.to_string())))?;
    let _ = stream.set_nodelay(NO_DELAY);
    proxy_handshake(&mut stream, proxy, target).await?;
    Ok(stream)
}

/// Asks `proxy`, on the connection `stream` has open to it, for a tunnel to `target`.
pub(crate) async fn proxy_handshake(
    stream: &mut TcpStream,
    proxy: &HttpProxy,
    target: &Target,
) -> Result<(), ProxyError> {
    let fail = |problem: ProxyProblem| proxy.error(problem);
    stream
        .write_all(HttpProxy::connect_request(target).as_bytes())
        .await
        .map_err(|e| fail(ProxyProblem::ConnectionLost(e.to_string())))?;
    // Read the answer's head byte by byte so nothing after it (the tunnel's first bytes)
    // is consumed; it is small and read once per tunnel.
    let mut head = Vec::with_capacity(128);
    while !head.ends_with(b"\r\n\r\n") && head.len() <= HEAD_LIMIT {
        let byte = stream
            .read_u8()
            .await
            .map_err(|e| fail(ProxyProblem::ConnectionLost(e.to_string())))?;
        head.push(byte);
    }
    proxy.check_answer(target, &head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_override_replaces_proxies_but_not_no_proxy() {
        let config = TunnelConfig::default()
            .with_proxy_var("HTTPS_PROXY", "http://env:3128")
            .with_proxy_var("no_proxy", "internal.example");
        assert_eq!(
            config.proxy_var("HTTPS_PROXY").as_deref(),
            Some("http://env:3128")
        );
        assert_eq!(config.proxy_var("HTTP_PROXY"), None);
        let config = config.with_proxy_override(Some("http://app:8080".to_owned()));
        for name in ["HTTPS_PROXY", "http_proxy", "ALL_PROXY"] {
            assert_eq!(
                config.proxy_var(name).as_deref(),
                Some("http://app:8080"),
                "{name}"
            );
        }
        assert_eq!(
            config.proxy_var("no_proxy").as_deref(),
            Some("internal.example")
        );
        assert_eq!(config.proxy_var("NO_PROXY"), None);
        let config = config.with_proxy_override(Some("  ".to_owned()));
        assert_eq!(
            config.proxy_var("HTTPS_PROXY").as_deref(),
            Some("http://env:3128")
        );
    }
}
