//! Post-handshake messages (`docs/hybrid.md` §7, §8): the phone's first message (getInfo,
//! features, optional linking), typed messages (shutdown, ctap, update, json) and linking
//! info with its signature.

use ctap::cbor::{self, Value};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{FrameProblem, LinkingProblem};
use crate::keys::{LinkSecret, PrivateKey, PublicKey};

/// Protocol revision of the phone's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revision {
    /// "v2.0": 512-padded post-handshake map, no type bytes on later messages.
    Zero,
    /// "v2.1" (current): plain map, typed messages.
    One,
}

/// Message type byte (revision ≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageType {
    /// 0: client → phone, end of session.
    Shutdown,
    /// 1: CTAP request or response.
    Ctap,
    /// 2: phone → client, linking update.
    Update,
    /// 3: JSON (digital credentials).
    Json,
}

impl MessageType {
    /// The wire byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Shutdown => 0,
            Self::Ctap => 1,
            Self::Update => 2,
            Self::Json => 3,
        }
    }
}

/// A typed transport message (after decryption and unpadding).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// Type 0 (body ignored).
    Shutdown,
    /// Type 1: `cmd || CBOR` (request) or `status || CBOR` (response).
    Ctap(Vec<u8>),
    /// Type 2: `{0: padding, 1: linking?}`.
    Update(Option<Box<LinkingInfo>>),
    /// Type 3: JSON bytes.
    Json(Vec<u8>),
}

impl Message {
    /// Parses a plaintext.
    ///
    /// # Errors
    /// [`FrameProblem::Empty`], [`FrameProblem::UnknownType`], [`FrameProblem::Cbor`] (bad
    /// update body), and linking problems mapped to [`FrameProblem::Cbor`].
    pub fn parse(plaintext: &[u8]) -> Result<Self, FrameProblem> {
        let (&t, body) = plaintext.split_first().ok_or(FrameProblem::Empty)?;
        match t {
            0 => Ok(Self::Shutdown),
            1 => Ok(Self::Ctap(body.to_vec())),
            2 => Ok(Self::Update(parse_update(body)?)),
            3 => Ok(Self::Json(body.to_vec())),
            other => Err(FrameProblem::UnknownType(other)),
        }
    }

    /// Encodes to a plaintext (`type || body`); updates are padded like the current Chrome
    /// phone does, to a 512-byte padded plaintext.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Shutdown => vec![MessageType::Shutdown.byte()],
            Self::Ctap(b) => prefixed(MessageType::Ctap, b),
            Self::Json(b) => prefixed(MessageType::Json, b),
            Self::Update(linking) => encode_update(linking.as_deref()),
        }
    }
}

fn prefixed(t: MessageType, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 1);
    v.push(t.byte());
    v.extend_from_slice(body);
    v
}

fn parse_update(body: &[u8]) -> Result<Option<Box<LinkingInfo>>, FrameProblem> {
    let value = cbor::decode(body).map_err(|_| FrameProblem::Cbor)?;
    let Value::Map(entries) = value else {
        return Err(FrameProblem::Cbor);
    };
    match cbor::map_get_int(&entries, 1) {
        None => Ok(None),
        Some(v) => LinkingInfo::from_value(v)
            .map(|l| Some(Box::new(l)))
            .map_err(|_| FrameProblem::Cbor),
    }
}

fn encode_update(linking: Option<&LinkingInfo>) -> Vec<u8> {
    // Chrome sizes key 0 so that type byte + CBOR is 511 bytes: padded to exactly 512.
    const TARGET: usize = 511;
    let build = |pad_len: usize| {
        let map = cbor::int_map([
            (0, Some(Value::Bytes(vec![0u8; pad_len]))),
            (1, linking.map(LinkingInfo::to_value)),
        ]);
        prefixed(MessageType::Update, &cbor::encode(&map).unwrap_or_default())
    };
    let base = build(0).len();
    let mut pad_len = TARGET.saturating_sub(base);
    // The bstr header grows by 1 at 24 and by 2 at 256 bytes; step down until it fits.
    for _ in 0..4 {
        let len = build(pad_len).len();
        if len <= TARGET {
            break;
        }
        pad_len = pad_len.saturating_sub(len - TARGET);
    }
    build(pad_len)
}

/// The phone's first transport message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostHandshake {
    /// Key 1: authenticatorGetInfo response CBOR (no status byte).
    pub get_info: Option<Vec<u8>>,
    /// Key 2: linking info (older phones; newer send an update message).
    pub linking: Option<LinkingInfo>,
    /// Key 3: features (`"ctap"`, `"dc"`); `None` when absent (⇒ CTAP only).
    pub features: Option<Vec<String>>,
    /// Which encoding the phone used.
    pub revision: Revision,
}

impl PostHandshake {
    /// Whether the phone offers CTAP (features absent, or listing `"ctap"`).
    pub fn supports_ctap(&self) -> bool {
        self.features
            .as_ref()
            .is_none_or(|f| f.iter().any(|s| s == "ctap"))
    }

    /// Parses the plaintext, trying revision 1 first and then the revision-0 512-padded map.
    ///
    /// # Errors
    /// [`FrameProblem::Empty`], [`FrameProblem::Cbor`], [`FrameProblem::CtapFeatureMismatch`].
    pub fn parse(plaintext: &[u8]) -> Result<Self, FrameProblem> {
        if plaintext.is_empty() {
            return Err(FrameProblem::Empty);
        }
        let (value, revision) = match cbor::decode(plaintext) {
            Ok(v) => (v, Revision::One),
            Err(_) => (decode_padded_map(plaintext)?, Revision::Zero),
        };
        let Value::Map(entries) = value else {
            return Err(FrameProblem::Cbor);
        };
        let get_info = match cbor::map_get_int(&entries, 1) {
            None => None,
            Some(Value::Bytes(b)) => Some(b.clone()),
            Some(_) => return Err(FrameProblem::Cbor),
        };
        let linking = match cbor::map_get_int(&entries, 2) {
            None => None,
            Some(v) => Some(LinkingInfo::from_value(v).map_err(|_| FrameProblem::Cbor)?),
        };
        let features = match cbor::map_get_int(&entries, 3) {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|v| match v {
                        Value::Text(t) => Ok(t.clone()),
                        _ => Err(FrameProblem::Cbor),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err(FrameProblem::Cbor),
        };
        let out = Self {
            get_info,
            linking,
            features,
            revision,
        };
        if out.supports_ctap() != out.get_info.is_some() {
            return Err(FrameProblem::CtapFeatureMismatch);
        }
        Ok(out)
    }

    /// Encodes (revision 1 map, or the 512-padded revision 0 map).
    pub fn encode(&self) -> Vec<u8> {
        let features = self
            .features
            .as_ref()
            .map(|f| Value::Array(f.iter().map(|s| Value::Text(s.clone())).collect()));
        let map = cbor::int_map([
            (1, self.get_info.clone().map(Value::Bytes)),
            (2, self.linking.as_ref().map(LinkingInfo::to_value)),
            (3, features),
        ]);
        let bytes = cbor::encode(&map).unwrap_or_default();
        match self.revision {
            Revision::One => bytes,
            Revision::Zero => encode_padded_map(bytes),
        }
    }
}

/// Revision-0 padding granularity.
const V0_GRANULARITY: usize = 512;

/// `CBOR || 0^n || LE16(n)`, total a multiple of 512 (Chromium `EncodePaddedCBORMap`).
pub fn encode_padded_map(mut cbor_bytes: Vec<u8>) -> Vec<u8> {
    let extra = V0_GRANULARITY - (cbor_bytes.len() + 2) % V0_GRANULARITY;
    cbor_bytes.resize(cbor_bytes.len() + extra, 0);
    let n = u16::try_from(extra).unwrap_or(0);
    cbor_bytes.extend_from_slice(&n.to_le_bytes());
    cbor_bytes
}

/// Inverse of [`encode_padded_map`].
///
/// # Errors
/// [`FrameProblem::Cbor`].
pub fn decode_padded_map(bytes: &[u8]) -> Result<Value, FrameProblem> {
    let (body, count) = bytes
        .split_at_checked(bytes.len().saturating_sub(2))
        .ok_or(FrameProblem::Cbor)?;
    let count: [u8; 2] = count.try_into().map_err(|_| FrameProblem::Cbor)?;
    let n = usize::from(u16::from_le_bytes(count));
    let cbor_len = body.len().checked_sub(n).ok_or(FrameProblem::Cbor)?;
    let cbor_part = body.get(..cbor_len).ok_or(FrameProblem::Cbor)?;
    let v = cbor::decode(cbor_part).map_err(|_| FrameProblem::Cbor)?;
    if matches!(v, Value::Map(_)) {
        Ok(v)
    } else {
        Err(FrameProblem::Cbor)
    }
}

/// Linking info (`docs/hybrid.md` §8): what a client stores to contact the phone later.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkingInfo {
    /// Key 1: contact ID (opaque; FCM token on Android).
    pub contact_id: Vec<u8>,
    /// Key 2: link (pairing) ID, 8 bytes from Chrome.
    pub link_id: Vec<u8>,
    /// Key 3: link secret.
    pub link_secret: LinkSecret,
    /// Key 4: the phone's static public key (uncompressed on the wire).
    pub authenticator_public_key: PublicKey,
    /// Key 5: display name.
    pub name: String,
    /// Key 6: `HMAC-SHA256(ECDH_x(phone static, client identity), handshake hash)`.
    pub signature: [u8; 32],
    /// Key 999: Google's "new implementation" tag.
    pub google_tag: Option<bool>,
}

impl core::fmt::Debug for LinkingInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LinkingInfo")
            .field("name", &self.name)
            .field("authenticator_public_key", &self.authenticator_public_key)
            .finish_non_exhaustive()
    }
}

fn linking_mac(shared: &[u8; 32], handshake_hash: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(shared) {
        mac.update(handshake_hash);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

impl LinkingInfo {
    /// The signature a phone computes: HMAC keyed by `ECDH_x(phone static, client identity)`
    /// over the handshake hash.
    pub fn sign(
        phone_static: &PrivateKey,
        client_identity: &PublicKey,
        handshake_hash: &[u8; 32],
    ) -> [u8; 32] {
        linking_mac(&phone_static.ecdh_x(client_identity), handshake_hash)
    }

    /// Verifies key 6 with the client's QR identity key (constant-time comparison).
    ///
    /// # Errors
    /// [`LinkingProblem::BadSignature`].
    pub fn verify(
        &self,
        identity: &PrivateKey,
        handshake_hash: &[u8; 32],
    ) -> Result<(), LinkingProblem> {
        let expected = linking_mac(
            &identity.ecdh_x(&self.authenticator_public_key),
            handshake_hash,
        );
        if bool::from(expected.ct_eq(&self.signature)) {
            Ok(())
        } else {
            Err(LinkingProblem::BadSignature)
        }
    }

    /// Parses the linking map.
    ///
    /// # Errors
    /// [`LinkingProblem`].
    pub fn from_value(value: &Value) -> Result<Self, LinkingProblem> {
        let Value::Map(entries) = value else {
            return Err(LinkingProblem::NotAMap);
        };
        let bytes = |k: u16| match cbor::map_get_int(entries, i64::from(k)) {
            Some(Value::Bytes(b)) => Ok(b.as_slice()),
            _ => Err(LinkingProblem::Field(k)),
        };
        let contact_id = bytes(1)?.to_vec();
        let link_id = bytes(2)?.to_vec();
        if link_id.is_empty() {
            return Err(LinkingProblem::Field(2));
        }
        let secret: [u8; 32] = bytes(3)?.try_into().map_err(|_| LinkingProblem::Field(3))?;
        let authenticator_public_key =
            PublicKey::from_uncompressed(bytes(4)?).map_err(|_| LinkingProblem::BadPublicKey)?;
        let name = match cbor::map_get_int(entries, 5) {
            Some(Value::Text(t)) => t.clone(),
            _ => return Err(LinkingProblem::Field(5)),
        };
        let signature: [u8; 32] = bytes(6)?.try_into().map_err(|_| LinkingProblem::Field(6))?;
        let google_tag = match cbor::map_get_int(entries, 999) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        };
        Ok(Self {
            contact_id,
            link_id,
            link_secret: LinkSecret::from_bytes(secret),
            authenticator_public_key,
            name,
            signature,
            google_tag,
        })
    }

    /// Parses CBOR bytes of the linking map.
    ///
    /// # Errors
    /// [`LinkingProblem`].
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, LinkingProblem> {
        Self::from_value(&cbor::decode(bytes).map_err(|_| LinkingProblem::NotAMap)?)
    }

    /// The CBOR value.
    pub fn to_value(&self) -> Value {
        cbor::int_map([
            (1, Some(Value::Bytes(self.contact_id.clone()))),
            (2, Some(Value::Bytes(self.link_id.clone()))),
            (
                3,
                Some(Value::Bytes(self.link_secret.expose_secret().to_vec())),
            ),
            (
                4,
                Some(Value::Bytes(
                    self.authenticator_public_key.uncompressed().to_vec(),
                )),
            ),
            (5, Some(Value::Text(self.name.clone()))),
            (6, Some(Value::Bytes(self.signature.to_vec()))),
            (999, self.google_tag.map(Value::Bool)),
        ])
    }
}
