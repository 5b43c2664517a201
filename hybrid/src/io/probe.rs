//! A network probe of one tunnel service, step by step, for `doctor`: the name lookup, the TCP
//! connection, the proxy's CONNECT (when the configuration names one for the URL), TLS (with
//! the certificate chain the server showed, trusted or not) and the WebSocket upgrade with the
//! `fido.cable` subprotocol. Each step is timed and bounded; the first that fails is named with
//! a typed reason, so the faces can say what to do.
//!
//! The probe opens the path a phone opens (`/cable/new/<tunnel ID>`, caBLE v2's tunnel service
//! protocol) with a random ID and closes at once: the service sees a phone that gave up. It
//! goes through the same proxy rules and trust roots as a real tunnel ([`TunnelConfig`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::{ProtocolError, SubProtocolError};
use tokio_tungstenite::tungstenite::http::{HeaderMap, HeaderValue};
use tokio_tungstenite::tungstenite::{self};

use super::parse_hex;
use super::tls::{crypto_provider, trusted_roots};
use super::tunnel::{NO_DELAY, TunnelConfig, proxy_handshake, target_of};
use crate::keys::RoutingId;
use crate::proxy::{HttpProxy, ProxyProblem, Target};
use crate::tunnel_url::{ROUTING_ID_HEADER, WEBSOCKET_PROTOCOL};

/// One step of reaching a tunnel service, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Looking the host (or the proxy) up.
    Dns,
    /// The TCP connection.
    Tcp,
    /// The proxy's CONNECT to the service.
    Proxy,
    /// The TLS handshake and the certificate check.
    Tls,
    /// The WebSocket upgrade with `fido.cable`.
    Upgrade,
}

/// Why TLS failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The chain leads to no root this machine trusts.
    UnknownIssuer,
    /// The certificate has expired (or this machine's clock is ahead).
    Expired,
    /// The certificate is not valid yet (or this machine's clock is behind).
    NotYetValid,
    /// The certificate is for another name.
    WrongName,
    /// TLS could not be set up here (no trusted roots, an unusable CA file).
    Setup(String),
    /// Anything else, as rustls says it.
    Other(String),
}

/// Why the upgrade failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpgradeFailure {
    /// The server answered with this HTTP status instead of switching protocols.
    Status(u16),
    /// The server upgraded but not to `fido.cable`: not a caBLE tunnel service.
    NoSubprotocol,
    /// The connection broke or the answer was not HTTP, in words.
    Other(String),
}

/// The first step that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeFailure {
    /// The URL cannot be used (not `wss://`, plain `ws://` off this machine, no host).
    Url(String),
    /// The name does not resolve.
    Dns(String),
    /// No TCP connection (refused, unreachable).
    Tcp(String),
    /// The proxy cannot be used or refused the CONNECT.
    Proxy(ProxyProblem),
    /// TLS failed.
    Tls(TlsFailure),
    /// The WebSocket upgrade failed.
    Upgrade(UpgradeFailure),
    /// A step took longer than the limit.
    TimedOut(Step),
}

impl ProbeFailure {
    /// The step that failed.
    pub fn step(&self) -> Step {
        match self {
            Self::Url(_) | Self::Dns(_) => Step::Dns,
            Self::Tcp(_) => Step::Tcp,
            Self::Proxy(_) => Step::Proxy,
            Self::Tls(_) => Step::Tls,
            Self::Upgrade(_) => Step::Upgrade,
            Self::TimedOut(step) => *step,
        }
    }
}

/// What the server's certificate says, read without trusting it (so a refused chain is named
/// too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// The name the leaf certificate is for (its first DNS name, else its common name).
    pub subject: String,
    /// The leaf's issuer, as a distinguished name.
    pub issuer: String,
    /// The issuer's organisation (or common name): what a person recognises.
    pub issuer_name: String,
    /// When the leaf expires.
    pub not_after: SystemTime,
    /// How many certificates the server sent.
    pub chain_len: usize,
    /// Whether the chain ends at a CA outside the public web's list (Mozilla's, as
    /// `webpki-roots` carries it): a company CA, a self-hosted relay's own CA, or a
    /// TLS-inspecting proxy that replaces certificates.
    pub private_ca: bool,
}

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The host probed.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The proxy used, as configured, if any.
    pub proxy: Option<String>,
    /// The addresses the name resolved to (the proxy's, when there is one).
    pub addresses: Vec<IpAddr>,
    /// How long each step that finished took.
    pub timings: Vec<(Step, Duration)>,
    /// The server's certificate, when TLS got that far.
    pub certificate: Option<CertificateFacts>,
    /// The server's `Date` header, for the clock check.
    pub server_date: Option<SystemTime>,
    /// The routing ID a tunnel service gives a phone.
    pub routing_id: Option<RoutingId>,
    /// The failure, if any step failed.
    pub failure: Option<ProbeFailure>,
}

impl Probe {
    fn new(host: String, port: u16) -> Self {
        Self {
            host,
            port,
            proxy: None,
            addresses: Vec::new(),
            timings: Vec::new(),
            certificate: None,
            server_date: None,
            routing_id: None,
            failure: None,
        }
    }
}

/// How to probe.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The longest each step may take.
    pub step_limit: Duration,
    /// Connect here instead of where the name resolves (as curl's `--resolve` does): the name
    /// is still what TLS checks and the `Host` header says. Tests and admins checking one
    /// server of several.
    pub connect_to: Option<SocketAddr>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            step_limit: Duration::from_secs(10),
            connect_to: None,
        }
    }
}

/// Probes `url` (a `wss://` or loopback `ws://` URL) step by step; `progress` is told each step
/// as it starts. Never fails: the first failed step is in [`Probe::failure`].
pub async fn probe(
    url: &str,
    config: &TunnelConfig,
    options: &ProbeOptions,
    mut progress: impl FnMut(Step) + Send,
) -> Probe {
    let parsed = url
        .into_client_request()
        .map_err(|e| ProbeFailure::Url(e.to_string()))
        .and_then(|request| {
            target_of(request.uri())
                .map(|target| (request, target))
                .map_err(|e| ProbeFailure::Url(e.to_string()))
        });
    let (mut request, target) = match parsed {
        Ok(parsed) => parsed,
        Err(failure) => {
            let mut probe = Probe::new(String::new(), 0);
            probe.failure = Some(failure);
            return probe;
        }
    };
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(WEBSOCKET_PROTOCOL),
    );
    let mut probe = Probe::new(target.host.clone(), target.port);
    if let Err(failure) = run(&mut probe, request, &target, config, options, &mut progress).await {
        probe.failure = Some(failure);
    }
    probe
}

/// Runs `step`, timed and bounded.
async fn timed<T>(
    probe: &mut Probe,
    step: Step,
    limit: Duration,
    progress: &mut (impl FnMut(Step) + Send),
    work: impl Future<Output = Result<T, ProbeFailure>>,
) -> Result<T, ProbeFailure> {
    progress(step);
    let started = Instant::now();
    let value = tokio::time::timeout(limit, work)
        .await
        .map_err(|_| ProbeFailure::TimedOut(step))??;
    probe.timings.push((step, started.elapsed()));
    Ok(value)
}

async fn run(
    probe: &mut Probe,
    request: tungstenite::handshake::client::Request,
    target: &Target,
    config: &TunnelConfig,
    options: &ProbeOptions,
    progress: &mut (impl FnMut(Step) + Send),
) -> Result<(), ProbeFailure> {
    let limit = options.step_limit;
    let proxy = HttpProxy::for_target(target, |name| config.proxy_var(name))
        .map_err(|e| ProbeFailure::Proxy(e.problem))?;
    probe.proxy = proxy.as_ref().map(|p| p.text.clone());
    // With a proxy, this machine looks up and connects to the proxy only; the proxy resolves
    // the service's name.
    let (host, port) = match &proxy {
        Some(proxy) => (proxy.host.clone(), proxy.port),
        None => (target.host.clone(), target.port),
    };
    let addresses: Vec<SocketAddr> = match options.connect_to.filter(|_| proxy.is_none()) {
        Some(address) => vec![address],
        None => {
            timed(probe, Step::Dns, limit, progress, async {
                tokio::net::lookup_host((host.as_str(), port))
                    .await
                    .map(Iterator::collect)
                    .map_err(|e| ProbeFailure::Dns(e.to_string()))
            })
            .await?
        }
    };
    probe.addresses = addresses.iter().map(SocketAddr::ip).collect();
    let mut stream = timed(probe, Step::Tcp, limit, progress, async {
        let mut last = ProbeFailure::Dns(format!("{host} has no address"));
        for address in &addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(NO_DELAY);
                    return Ok(stream);
                }
                Err(error) => last = ProbeFailure::Tcp(error.to_string()),
            }
        }
        Err(last)
    })
    .await?;
    if let Some(proxy) = &proxy {
        timed(probe, Step::Proxy, limit, progress, async {
            proxy_handshake(&mut stream, proxy, target)
                .await
                .map_err(|e| ProbeFailure::Proxy(e.problem))
        })
        .await?;
    }
    if !target.secure {
        return upgrade(probe, request, stream, limit, progress).await;
    }
    let recorder = Arc::new(Recorder::new(config)?);
    let verifier: Arc<dyn ServerCertVerifier> = recorder.clone();
    let tls_config = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeFailure::Tls(TlsFailure::Setup(e.to_string())))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name =
        ServerName::try_from(target.host.clone()).map_err(|e| ProbeFailure::Url(e.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config));
    let handshake = timed(probe, Step::Tls, limit, progress, async {
        connector
            .connect(name, stream)
            .await
            .map_err(|e| ProbeFailure::Tls(TlsFailure::Other(e.to_string())))
    })
    .await;
    let seen = recorder.take();
    probe.certificate = seen.chain.as_deref().and_then(certificate_facts);
    let stream = match (handshake, seen.error) {
        (Ok(stream), _) => stream,
        (Err(_), Some(error)) => return Err(ProbeFailure::Tls(tls_failure(&error))),
        (Err(failure), None) => return Err(failure),
    };
    upgrade(probe, request, stream, limit, progress).await
}

async fn upgrade<S>(
    probe: &mut Probe,
    request: tungstenite::handshake::client::Request,
    stream: S,
    limit: Duration,
    progress: &mut (impl FnMut(Step) + Send),
) -> Result<(), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut headers = None;
    let result = timed(probe, Step::Upgrade, limit, progress, async {
        match tokio_tungstenite::client_async(request, stream).await {
            Ok((mut ws, response)) => {
                headers = Some(response.headers().clone());
                // Best effort: the service would drop an abandoned phone tunnel anyway.
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                Ok(())
            }
            Err(tungstenite::Error::Http(response)) => {
                headers = Some(response.headers().clone());
                Err(ProbeFailure::Upgrade(UpgradeFailure::Status(
                    response.status().as_u16(),
                )))
            }
            Err(tungstenite::Error::Protocol(ProtocolError::SecWebSocketSubProtocolError(
                SubProtocolError::NoSubProtocol | SubProtocolError::InvalidSubProtocol,
            ))) => Err(ProbeFailure::Upgrade(UpgradeFailure::NoSubprotocol)),
            Err(other) => Err(ProbeFailure::Upgrade(UpgradeFailure::Other(
                other.to_string(),
            ))),
        }
    })
    .await;
    if let Some(headers) = &headers {
        read_headers(probe, headers);
    }
    result
}

fn read_headers(probe: &mut Probe, headers: &HeaderMap) {
    probe.server_date = headers
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    probe.routing_id = headers
        .get(ROUTING_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_hex)
        .and_then(|v| <[u8; 3]>::try_from(v).ok())
        .map(RoutingId);
}

fn tls_failure(error: &rustls::Error) -> TlsFailure {
    match error {
        rustls::Error::InvalidCertificate(problem) => match problem {
            CertificateError::UnknownIssuer => TlsFailure::UnknownIssuer,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsFailure::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsFailure::NotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailure::WrongName
            }
            other => TlsFailure::Other(format!("{other:?}")),
        },
        other => TlsFailure::Other(other.to_string()),
    }
}

/// What the verifier was shown, and its verdict.
#[derive(Debug, Default)]
struct Seen {
    chain: Option<Vec<CertificateDer<'static>>>,
    error: Option<rustls::Error>,
}

/// The usual web PKI verifier (the same roots a tunnel trusts) that also keeps the chain it
/// was shown and the error it gave, so a refused certificate can be described.
#[derive(Debug)]
struct Recorder {
    inner: Arc<WebPkiServerVerifier>,
    seen: Mutex<Seen>,
}

impl Recorder {
    fn new(config: &TunnelConfig) -> Result<Self, ProbeFailure> {
        let setup = |e: String| ProbeFailure::Tls(TlsFailure::Setup(e));
        let roots = trusted_roots(config.tls().extra_ca()).map_err(|e| setup(e.to_string()))?;
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), crypto_provider())
            .build()
            .map_err(|e| setup(e.to_string()))?;
        Ok(Self {
            inner,
            seen: Mutex::default(),
        })
    }

    fn take(&self) -> Seen {
        self.seen
            .lock()
            .map(|mut seen| std::mem::take(&mut *seen))
            .unwrap_or_default()
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if let Ok(mut seen) = self.seen.lock() {
            let mut chain = vec![end_entity.clone().into_owned()];
            chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
            seen.chain = Some(chain);
            seen.error = verdict.as_ref().err().cloned();
        }
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The facts of a chain as the server sent it (leaf first); `None` when the leaf does not
/// parse.
fn certificate_facts(chain: &[CertificateDer<'static>]) -> Option<CertificateFacts> {
    use x509_parser::prelude::{AttributeTypeAndValue, FromDer as _, GeneralName, X509Certificate};
    fn first<'a, 'b: 'a>(
        mut values: impl Iterator<Item = &'a AttributeTypeAndValue<'b>>,
    ) -> Option<String> {
        values.find_map(|v| v.as_str().ok().map(str::to_owned))
    }
    let (_, leaf) = X509Certificate::from_der(chain.first()?.as_ref()).ok()?;
    let dns_name = leaf
        .subject_alternative_name()
        .ok()
        .flatten()
        .and_then(|san| {
            san.value.general_names.iter().find_map(|name| match name {
                GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                _ => None,
            })
        });
    let subject = dns_name
        .or_else(|| first(leaf.subject().iter_common_name()))
        .unwrap_or_default();
    let issuer_name = first(leaf.issuer().iter_organization())
        .or_else(|| first(leaf.issuer().iter_common_name()))
        .unwrap_or_default();
    let not_after = u64::try_from(leaf.validity().not_after.timestamp())
        .map_or(SystemTime::UNIX_EPOCH, |secs| {
            SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
        });
    // The last certificate sent is the one closest to the root: public when it is a listed
    // root itself or is issued by one.
    let last = chain
        .last()
        .and_then(|der| X509Certificate::from_der(der.as_ref()).ok())
        .map(|(_, cert)| cert);
    let private_ca = !last.is_some_and(|cert| {
        is_public_root_name(cert.issuer().as_raw()) || is_public_root_name(cert.subject().as_raw())
    });
    Some(CertificateFacts {
        subject,
        issuer: leaf.issuer().to_string(),
        issuer_name,
        not_after,
        chain_len: chain.len(),
        private_ca,
    })
}

/// Whether `name` (a DER-encoded X.509 Name) is the subject of a root on the public web's list.
fn is_public_root_name(name: &[u8]) -> bool {
    // Trust anchors keep the Name's contents, without its SEQUENCE header.
    let contents = der_contents(name).unwrap_or(name);
    webpki_roots::TLS_SERVER_ROOTS
        .iter()
        .any(|anchor| anchor.subject.as_ref() == contents)
}

/// The contents of one DER element (its tag and length stripped).
fn der_contents(element: &[u8]) -> Option<&[u8]> {
    let (&first, rest) = element.get(1..)?.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        let (bytes, rest) = (rest.get(..count)?, rest.get(count..)?);
        let length = bytes.iter().try_fold(0usize, |n, &b| {
            n.checked_mul(256)?.checked_add(usize::from(b))
        })?;
        (length, rest)
    };
    (rest.len() == length).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_contents_strip_short_and_long_headers() {
        assert_eq!(der_contents(&[0x30, 0x02, 1, 2]), Some(&[1u8, 2][..]));
        let mut long = vec![0x30, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        assert_eq!(der_contents(&long).map(<[u8]>::len), Some(0x80));
        assert_eq!(der_contents(&[0x30, 0x03, 1, 2]), None);
        assert_eq!(der_contents(&[0x30]), None);
        assert_eq!(der_contents(&[0x30, 0x82, 0x01]), None);
    }

    #[test]
    fn a_public_root_is_known_by_its_name() {
        let anchor = webpki_roots::TLS_SERVER_ROOTS.first().unwrap();
        let contents = anchor.subject.as_ref();
        let mut name = vec![0x30];
        if contents.len() < 0x80 {
            name.push(u8::try_from(contents.len()).unwrap());
        } else {
            name.push(0x81);
            name.push(u8::try_from(contents.len()).unwrap());
        }
        name.extend_from_slice(contents);
        assert!(is_public_root_name(&name));
        assert!(!is_public_root_name(&[0x30, 0x00]));
    }
}
