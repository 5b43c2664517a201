//! The `FIDO:/` QR code (`docs/hybrid.md` §2): digit encoding and the CBOR payload.
//!
//! The desktop (client) generates a [`ClientQr`] per ceremony; the phone parses the URL with
//! [`QrPayload::from_url`].

use ctap::cbor::{self, Value};
use rand_core::CryptoRngCore;

use crate::error::QrProblem;
use crate::keys::{PrivateKey, PublicKey, QrSecret};

/// URL prefix; compared case-insensitively on parse.
pub const URL_PREFIX: &str = "FIDO:/";

/// Number of assigned tunnel domains this implementation knows (`cable.ua5v.com`,
/// `cable.auth.com`); emitted as QR key 2.
pub const KNOWN_ASSIGNED_DOMAINS: u16 = 2;

/// Digits per chunk length (index = bytes in the chunk, 0..=7).
const DIGITS_FOR_LEN: [usize; 8] = [0, 3, 5, 8, 10, 13, 15, 17];

/// Encodes bytes with caBLE's base-10 scheme: 7-byte little-endian chunks → 17 digits, a
/// shorter tail → 15/13/10/8/5/3 digits.
pub fn bytes_to_digits(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(7) * 17);
    for chunk in bytes.chunks(7) {
        let mut buf = [0u8; 8];
        for (d, s) in buf.iter_mut().zip(chunk) {
            *d = *s;
        }
        let v = u64::from_le_bytes(buf);
        let width = DIGITS_FOR_LEN.get(chunk.len()).copied().unwrap_or(17);
        out.push_str(&format!("{v:0width$}"));
    }
    out
}

/// Decodes the base-10 scheme.
///
/// # Errors
/// [`QrProblem::NonDigit`], [`QrProblem::BadTailLength`], [`QrProblem::ValueOverflow`].
pub fn digits_to_bytes(digits: &str) -> Result<Vec<u8>, QrProblem> {
    let d = digits.as_bytes();
    if !d.iter().all(u8::is_ascii_digit) {
        return Err(QrProblem::NonDigit);
    }
    let mut out = Vec::with_capacity(d.len() / 17 * 7 + 7);
    for group in d.chunks(17) {
        let n = DIGITS_FOR_LEN
            .iter()
            .position(|&w| w == group.len() && w != 0)
            .ok_or(QrProblem::BadTailLength)?;
        let mut v: u64 = 0;
        for c in group {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .ok_or(QrProblem::ValueOverflow)?;
        }
        if n < 8 && v >> (8 * n) != 0 {
            return Err(QrProblem::ValueOverflow);
        }
        let le = v.to_le_bytes();
        out.extend_from_slice(le.get(..n).ok_or(QrProblem::ValueOverflow)?);
    }
    Ok(out)
}

/// QR key 5: what the client is about to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestHint {
    /// `"ga"`: getAssertion (also the fallback for unknown values).
    GetAssertion,
    /// `"mc"`: makeCredential.
    MakeCredential,
    /// `"dcp"`: digital-credential presentation.
    DigitalCredentialPresentation,
    /// `"dci"`: digital-credential issuance.
    DigitalCredentialIssuance,
}

impl RequestHint {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GetAssertion => "ga",
            Self::MakeCredential => "mc",
            Self::DigitalCredentialPresentation => "dcp",
            Self::DigitalCredentialIssuance => "dci",
        }
    }

    /// Parses a wire string; unknown values mean getAssertion (`docs/hybrid.md` §2).
    pub fn from_wire(s: &str) -> Self {
        match s {
            "mc" => Self::MakeCredential,
            "dcp" => Self::DigitalCredentialPresentation,
            "dci" => Self::DigitalCredentialIssuance,
            _ => Self::GetAssertion,
        }
    }

    /// The hint that matches a CTAP command byte (makeCredential → mc, everything else → ga).
    pub fn for_ctap_command(command: u8) -> Self {
        if command == ctap::types::command::MAKE_CREDENTIAL {
            Self::MakeCredential
        } else {
            Self::GetAssertion
        }
    }
}

/// QR key 6, whose meaning changed (`docs/hybrid.md` §2, pitfall 5).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QrKey6 {
    /// CTAP 2.3: supported data channels (0 = WebSocket tunnel, 1 = BLE L2CAP). Non-integer
    /// elements are dropped.
    Channels(Vec<u64>),
    /// Pre-2.3 (Google Play services): "supports non-discoverable makeCredential".
    NonDiscoverableMakeCredential(bool),
}

/// The decoded QR payload (CBOR map keys 0–6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrPayload {
    /// Key 0: the client's identity public key (compressed on the wire).
    pub identity_key: PublicKey,
    /// Key 1: the 16-byte QR secret.
    pub secret: QrSecret,
    /// Key 2: number of assigned tunnel domains the client knows (absent = 0).
    pub known_domains: u64,
    /// Key 3: client's Unix time in seconds (informational).
    pub timestamp: Option<u64>,
    /// Key 4: client supports linking ("state-assisted"). `None` = key absent.
    pub supports_linking: Option<bool>,
    /// Key 5: request-type hint (absent ⇒ getAssertion).
    pub hint: RequestHint,
    /// Key 6 in either meaning; `None` when absent or of an unknown type (ignored).
    pub key6: Option<QrKey6>,
}

fn int(v: u64) -> Value {
    Value::Integer(v.into())
}

impl QrPayload {
    /// Canonical CBOR in Chromium's shape: `{0, 1, 2, 3?, 4?, 5, 6?}`.
    pub fn to_cbor(&self) -> Vec<u8> {
        let key6 = self.key6.as_ref().map(|k| match k {
            QrKey6::Channels(c) => Value::Array(c.iter().map(|&x| int(x)).collect()),
            QrKey6::NonDiscoverableMakeCredential(b) => Value::Bool(*b),
        });
        let map = cbor::int_map([
            (
                0,
                Some(Value::Bytes(self.identity_key.compressed().to_vec())),
            ),
            (1, Some(Value::Bytes(self.secret.expose_secret().to_vec()))),
            (2, Some(int(self.known_domains))),
            (3, self.timestamp.map(int)),
            (4, self.supports_linking.map(Value::Bool)),
            (5, Some(Value::Text(self.hint.as_str().into()))),
            (6, key6),
        ]);
        // Only integers, byte/text strings, bools and arrays: always encodable.
        cbor::encode(&map).unwrap_or_default()
    }

    /// `FIDO:/` + digits.
    pub fn to_url(&self) -> String {
        format!("{URL_PREFIX}{}", bytes_to_digits(&self.to_cbor()))
    }

    /// Parses a scanned QR string.
    ///
    /// # Errors
    /// [`QrProblem::NotFidoUrl`] and everything [`digits_to_bytes`] and
    /// [`QrPayload::from_cbor`] return.
    pub fn from_url(url: &str) -> Result<Self, QrProblem> {
        let prefix = url.get(..URL_PREFIX.len()).ok_or(QrProblem::NotFidoUrl)?;
        if !prefix.eq_ignore_ascii_case(URL_PREFIX) {
            return Err(QrProblem::NotFidoUrl);
        }
        let rest = url.get(URL_PREFIX.len()..).ok_or(QrProblem::NotFidoUrl)?;
        Self::from_cbor(&digits_to_bytes(rest)?)
    }

    /// Parses the CBOR map with Chromium's rules: keys 0 and 1 required and typed; 2 must be
    /// an unsigned integer, 4 a bool, 5 a text string when present; 3 is not checked; unknown
    /// keys are ignored; key 6 is read in either meaning and otherwise ignored.
    ///
    /// # Errors
    /// [`QrProblem::Cbor`], [`QrProblem::MissingKey`], [`QrProblem::WrongType`],
    /// [`QrProblem::BadIdentityKey`], [`QrProblem::SecretLength`].
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, QrProblem> {
        let value = cbor::decode(bytes).map_err(|_| QrProblem::Cbor)?;
        let Value::Map(entries) = value else {
            return Err(QrProblem::Cbor);
        };
        let get = |k: i64| cbor::map_get_int(&entries, k);

        let identity_key = match get(0) {
            None => return Err(QrProblem::MissingKey(0)),
            Some(Value::Bytes(b)) => PublicKey::from_compressed(b)?,
            Some(_) => return Err(QrProblem::WrongType(0)),
        };
        let secret = match get(1) {
            None => return Err(QrProblem::MissingKey(1)),
            Some(Value::Bytes(b)) => {
                let arr: [u8; 16] = b
                    .as_slice()
                    .try_into()
                    .map_err(|_| QrProblem::SecretLength)?;
                QrSecret::from_bytes(arr)
            }
            Some(_) => return Err(QrProblem::WrongType(1)),
        };
        let known_domains = match get(2) {
            None => 0,
            Some(Value::Integer(i)) => u64::try_from(*i).map_err(|_| QrProblem::WrongType(2))?,
            Some(_) => return Err(QrProblem::WrongType(2)),
        };
        let timestamp = match get(3) {
            Some(Value::Integer(i)) => u64::try_from(*i).ok(),
            _ => None,
        };
        let supports_linking = match get(4) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(QrProblem::WrongType(4)),
        };
        let hint = match get(5) {
            None => RequestHint::GetAssertion,
            Some(Value::Text(t)) => RequestHint::from_wire(t),
            Some(_) => return Err(QrProblem::WrongType(5)),
        };
        let key6 = match get(6) {
            Some(Value::Array(items)) => Some(QrKey6::Channels(
                items
                    .iter()
                    .filter_map(|v| match v {
                        Value::Integer(i) => u64::try_from(*i).ok(),
                        _ => None,
                    })
                    .collect(),
            )),
            Some(Value::Bool(b)) => Some(QrKey6::NonDiscoverableMakeCredential(*b)),
            _ => None,
        };
        Ok(Self {
            identity_key,
            secret,
            known_domains,
            timestamp,
            supports_linking,
            hint,
            key6,
        })
    }
}

/// What the desktop keeps for one QR ceremony: the identity private key and the payload
/// (which holds the QR secret).
#[derive(Debug, Clone)]
pub struct ClientQr {
    identity: PrivateKey,
    payload: QrPayload,
}

impl ClientQr {
    /// A fresh identity key and secret for one ceremony, encoded as Chromium does:
    /// `{0: key, 1: secret, 2: 2, 3: unix_time, 4: true, 5: hint}`.
    pub fn generate(rng: &mut impl CryptoRngCore, hint: RequestHint, unix_time: u64) -> Self {
        let identity = PrivateKey::generate(rng);
        let secret = QrSecret::generate(rng);
        Self::from_parts(identity, secret, hint, unix_time)
    }

    /// From fixed parts (tests, or keys restored from storage).
    pub fn from_parts(
        identity: PrivateKey,
        secret: QrSecret,
        hint: RequestHint,
        unix_time: u64,
    ) -> Self {
        let payload = QrPayload {
            identity_key: identity.public_key().clone(),
            secret,
            known_domains: u64::from(KNOWN_ASSIGNED_DOMAINS),
            timestamp: Some(unix_time),
            supports_linking: Some(true),
            hint,
            key6: None,
        };
        Self { identity, payload }
    }

    /// Adds or replaces QR key 6 (only do this when the BLE data channel is wanted: old peers
    /// reject an array there).
    pub fn with_key6(mut self, key6: Option<QrKey6>) -> Self {
        self.payload.key6 = key6;
        self
    }

    /// Sets QR key 4 (`None` omits it; see `docs/hybrid.md` pitfall 9 before doing so).
    pub fn with_linking(mut self, supports_linking: Option<bool>) -> Self {
        self.payload.supports_linking = supports_linking;
        self
    }

    /// The payload to show.
    pub fn payload(&self) -> &QrPayload {
        &self.payload
    }

    /// The identity private key (needed for the handshake and linking verification).
    pub fn identity(&self) -> &PrivateKey {
        &self.identity
    }

    /// The `FIDO:/…` text to render as a QR code.
    pub fn url(&self) -> String {
        self.payload.to_url()
    }
}
