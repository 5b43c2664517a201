//! Tunnel-server domains and URLs (`docs/hybrid.md` §5). Pure string building; the WebSocket
//! adapter connects.
//!
//! Every URL can be redirected to a self-hosted or test relay with [`TunnelBase::Custom`]:
//! the base replaces `wss://{host}` for *every* domain ID, the path stays the same.

use ctap::cbor::{self, Value};
use sha2::{Digest, Sha256};

use crate::error::TunnelProblem;
use crate::keys::{RoutingId, TunnelId};
use crate::qr::RequestHint;
use crate::util::{b64url, hex_upper};

/// WebSocket subprotocol every tunnel connection must request.
pub const WEBSOCKET_PROTOCOL: &str = "fido.cable";
/// Response header carrying the routing ID to the phone.
pub const ROUTING_ID_HEADER: &str = "X-caBLE-Routing-ID";
/// Request header carrying the client payload (state-assisted).
pub const CLIENT_PAYLOAD_HEADER: &str = "X-caBLE-Client-Payload";
/// Optional request header asking for the connect signal (state-assisted).
pub const SIGNAL_CONNECTION_HEADER: &str = "X-caBLE-Signal-Connection";

/// Assigned domains, index = domain ID.
pub const ASSIGNED_DOMAINS: [&str; 2] = ["cable.ua5v.com", "cable.auth.com"];

/// A tunnel-server domain ID from the EID (LE16 on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DomainId(pub u16);

impl DomainId {
    /// Google's tunnel server (`cable.ua5v.com`), what Chrome phones use.
    pub const GOOGLE: Self = Self(0);
    /// Apple's tunnel server (`cable.auth.com`).
    pub const APPLE: Self = Self(1);

    /// The host name: assigned list for IDs < 256, the hashed name otherwise.
    ///
    /// # Errors
    /// [`TunnelProblem::UnknownDomain`] for unassigned IDs 2..=255.
    pub fn host(self) -> Result<String, TunnelProblem> {
        decode_domain(self.0)
    }
}

/// Decodes a domain ID into a host name (Chromium `DecodeDomain`).
///
/// # Errors
/// [`TunnelProblem::UnknownDomain`] for unassigned IDs 2..=255.
pub fn decode_domain(id: u16) -> Result<String, TunnelProblem> {
    if id < 256 {
        return ASSIGNED_DOMAINS
            .get(usize::from(id))
            .map(|s| (*s).to_owned())
            .ok_or(TunnelProblem::UnknownDomain(id));
    }
    let mut h = Sha256::new();
    h.update(b"caBLEv2 tunnel server domain");
    h.update(id.to_le_bytes());
    h.update([0u8]);
    let digest = h.finalize();
    let mut first = [0u8; 8];
    for (d, s) in first.iter_mut().zip(digest.iter()) {
        *d = *s;
    }
    let mut v = u64::from_le_bytes(first);
    const TLDS: [&str; 4] = ["com", "org", "net", "info"];
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let tld = TLDS
        .get(usize::try_from(v & 3).unwrap_or(0))
        .copied()
        .unwrap_or("com");
    v >>= 2;
    let mut label = String::new();
    while v != 0 {
        let c = ALPHABET
            .get(usize::try_from(v & 31).unwrap_or(0))
            .copied()
            .unwrap_or(b'a');
        label.push(char::from(c));
        v >>= 5;
    }
    Ok(format!("cable.{label}.{tld}"))
}

/// Where tunnel URLs point.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TunnelBase {
    /// `wss://{decoded domain}`: the real tunnel services.
    #[default]
    Default,
    /// A fixed base such as `ws://127.0.0.1:8080` (no trailing slash needed) used for every
    /// domain ID: a self-hosted or test relay.
    Custom(String),
}

impl TunnelBase {
    /// The scheme + authority for a domain.
    ///
    /// # Errors
    /// [`TunnelProblem::UnknownDomain`] (only with [`TunnelBase::Default`]).
    pub fn origin(&self, domain: DomainId) -> Result<String, TunnelProblem> {
        match self {
            Self::Default => Ok(format!("wss://{}", domain.host()?)),
            Self::Custom(base) => Ok(base.trim_end_matches('/').to_owned()),
        }
    }

    /// Phone, QR flow: `…/cable/new/{HEX(tunnel id)}`.
    ///
    /// # Errors
    /// [`TunnelProblem::UnknownDomain`].
    pub fn new_tunnel_url(
        &self,
        domain: DomainId,
        tunnel_id: &TunnelId,
    ) -> Result<String, TunnelProblem> {
        Ok(format!(
            "{}/cable/new/{}",
            self.origin(domain)?,
            hex_upper(&tunnel_id.0)
        ))
    }

    /// Client (QR flow) and phone (after a push): `…/cable/connect/{HEX routing}/{HEX tunnel}`.
    ///
    /// # Errors
    /// [`TunnelProblem::UnknownDomain`].
    pub fn connect_url(
        &self,
        domain: DomainId,
        routing_id: &RoutingId,
        tunnel_id: &TunnelId,
    ) -> Result<String, TunnelProblem> {
        Ok(format!(
            "{}/cable/connect/{}/{}",
            self.origin(domain)?,
            hex_upper(&routing_id.0),
            hex_upper(&tunnel_id.0)
        ))
    }

    /// Client, state-assisted flow: `…/cable/contact/{b64url(contact id)}`.
    ///
    /// # Errors
    /// [`TunnelProblem::UnknownDomain`].
    pub fn contact_url(
        &self,
        domain: DomainId,
        contact_id: &[u8],
    ) -> Result<String, TunnelProblem> {
        Ok(format!(
            "{}/cable/contact/{}",
            self.origin(domain)?,
            b64url(contact_id)
        ))
    }
}

/// The state-assisted client payload: `CBOR{1: link id, 2: client nonce, 3: hint}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPayload {
    /// Link (pairing) ID from linking info key 2.
    pub link_id: Vec<u8>,
    /// Fresh 16-byte client nonce (also the EID-key salt).
    pub client_nonce: [u8; 16],
    /// Request hint.
    pub hint: RequestHint,
}

impl ClientPayload {
    /// Canonical CBOR bytes.
    pub fn to_cbor(&self) -> Vec<u8> {
        let map = cbor::int_map([
            (1, Some(Value::Bytes(self.link_id.clone()))),
            (2, Some(Value::Bytes(self.client_nonce.to_vec()))),
            (3, Some(Value::Text(self.hint.as_str().into()))),
        ]);
        cbor::encode(&map).unwrap_or_default()
    }

    /// The `X-caBLE-Client-Payload` header value: uppercase hex of the CBOR.
    pub fn header_value(&self) -> String {
        hex_upper(&self.to_cbor())
    }

    /// Parses the CBOR (keys 1 bytes, 2 sixteen bytes, 3 text; unknown keys ignored).
    ///
    /// # Errors
    /// [`TunnelProblem::BadClientPayload`] for anything else.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, TunnelProblem> {
        let bad = TunnelProblem::BadClientPayload;
        let Ok(Value::Map(entries)) = cbor::decode(bytes) else {
            return Err(bad);
        };
        let link_id = match cbor::map_get_int(&entries, 1) {
            Some(Value::Bytes(id)) if !id.is_empty() => id.clone(),
            _ => return Err(bad),
        };
        let client_nonce = match cbor::map_get_int(&entries, 2) {
            Some(Value::Bytes(nonce)) => <[u8; 16]>::try_from(nonce.as_slice()).map_err(|_| bad)?,
            _ => return Err(bad),
        };
        let hint = match cbor::map_get_int(&entries, 3) {
            Some(Value::Text(hint)) => RequestHint::from_wire(hint),
            None => RequestHint::GetAssertion,
            Some(_) => return Err(bad),
        };
        Ok(Self {
            link_id,
            client_nonce,
            hint,
        })
    }

    /// Parses the header value (hex, any case).
    ///
    /// # Errors
    /// [`TunnelProblem::BadClientPayload`].
    pub fn from_header_value(value: &str) -> Result<Self, TunnelProblem> {
        let bytes = crate::util::hex_decode(value.trim()).ok_or(TunnelProblem::BadClientPayload)?;
        Self::from_cbor(&bytes)
    }
}

/// What a tunnel service tells a linked phone when a client contacts it (Google's service
/// sends this through Firebase Cloud Messaging; Passbridge's relay sends it over the phone's
/// `/cable/listen/…` WebSocket): where to connect, and the client's payload.
/// Wire form: `CBOR{1: routing ID (3 bytes), 2: tunnel ID (16 bytes), 3: client payload CBOR}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactPush {
    /// Routing ID of the relay instance holding the client.
    pub routing_id: RoutingId,
    /// The tunnel the relay opened for this contact.
    pub tunnel_id: TunnelId,
    /// The client's `X-caBLE-Client-Payload`.
    pub payload: ClientPayload,
}

impl ContactPush {
    /// Canonical CBOR bytes.
    pub fn to_cbor(&self) -> Vec<u8> {
        let map = cbor::int_map([
            (1, Some(Value::Bytes(self.routing_id.0.to_vec()))),
            (2, Some(Value::Bytes(self.tunnel_id.0.to_vec()))),
            (3, Some(Value::Bytes(self.payload.to_cbor()))),
        ]);
        cbor::encode(&map).unwrap_or_default()
    }

    /// Parses a push message.
    ///
    /// # Errors
    /// [`TunnelProblem::BadClientPayload`] for any malformed field.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, TunnelProblem> {
        let bad = TunnelProblem::BadClientPayload;
        let Ok(Value::Map(entries)) = cbor::decode(bytes) else {
            return Err(bad);
        };
        let field = |key| match cbor::map_get_int(&entries, key) {
            Some(Value::Bytes(b)) => Ok(b.as_slice()),
            _ => Err(bad),
        };
        let routing_id = RoutingId(<[u8; 3]>::try_from(field(1)?).map_err(|_| bad)?);
        let tunnel_id = TunnelId(<[u8; 16]>::try_from(field(2)?).map_err(|_| bad)?);
        let payload = ClientPayload::from_cbor(field(3)?)?;
        Ok(Self {
            routing_id,
            tunnel_id,
            payload,
        })
    }
}

/// Everything a WebSocket adapter needs to open one tunnel connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelRequest {
    /// `wss://…` (or the custom base) URL.
    pub url: String,
    /// Extra request headers, besides `Sec-WebSocket-Protocol: fido.cable` which is always
    /// required (see [`WEBSOCKET_PROTOCOL`]).
    pub headers: Vec<(String, String)>,
}

impl TunnelRequest {
    /// A request with no extra headers.
    pub fn plain(url: String) -> Self {
        Self {
            url,
            headers: Vec::new(),
        }
    }
}
