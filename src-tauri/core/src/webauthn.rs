//! The relying-party half a desktop client needs to use a phone by itself: build the
//! `clientDataJSON` and CTAP requests for a registration or sign-in, and check the phone's
//! answer the way a relying party would (RP ID hash, flags, attested key, signature).
//!
//! The CLI (`passbridge hybrid …`) and the demo run ceremonies without a browser or a server,
//! so they verify the phone's signatures themselves: a passing run proves the phone signed
//! this challenge for this RP with the key it registered.

use base64::Engine as _;
use ctap::cbor::{self, Value, int_map, map_get_int, map_get_text};
use ctap::crypto::COSE_ES256 as ES256;
use ctap::types::command::{GET_ASSERTION, MAKE_CREDENTIAL};
pub use ctap::types::flags;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod attestation;
pub use attestation::{AttestationCertificate, AttestationProblem, CheckedChain, check_chain};

/// Why a phone's answer was not accepted.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The phone answered with a CTAP error status.
    #[error("the phone refused: {0}")]
    Status(ctap::StatusCode),
    /// The reply was empty.
    #[error("the phone sent an empty reply")]
    Empty,
    /// The reply's CBOR or structure is not what CTAP specifies.
    #[error("the phone's reply is malformed: {0}")]
    Malformed(&'static str),
    /// The authenticator data names another relying party.
    #[error("the phone signed for a different site (RP ID hash mismatch)")]
    WrongRp,
    /// The user-present flag is missing.
    #[error("the phone did not confirm user presence")]
    NotPresent,
    /// The user-verified flag is missing though the request asked for verification.
    #[error("the phone did not verify the person (no UV flag) though the request asked it to")]
    NotVerified,
    /// The signature does not verify.
    #[error("the phone's signature does not verify")]
    BadSignature,
    /// The attestation statement's certificate does not hold.
    #[error("the phone's attestation is not valid: {0}")]
    Attestation(AttestationProblem),
    /// Only ES256 (P-256) credentials are checked.
    #[error("unsupported credential algorithm {0}")]
    UnsupportedAlgorithm(i64),
}

/// A verified registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// RP ID it was made for.
    pub rp_id: String,
    /// Credential ID.
    #[serde(with = "hex_bytes")]
    pub credential_id: Vec<u8>,
    /// Uncompressed SEC1 P-256 public key (65 bytes).
    #[serde(with = "hex_bytes")]
    pub public_key: Vec<u8>,
    /// Authenticator data as signed.
    #[serde(with = "hex_bytes")]
    pub authenticator_data: Vec<u8>,
    /// Attestation format ("none", "packed").
    pub attestation_format: String,
    /// Whether an attestation signature was present and verified (packed: self-attestation,
    /// or under an attestation certificate that meets the FIDO requirements).
    pub attestation_signature_verified: bool,
    /// What the attestation established (older saved passkeys have the default).
    #[serde(default)]
    pub attestation: AttestationFacts,
    /// Flags byte.
    pub flags: u8,
    /// Signature counter.
    pub sign_count: u32,
}

/// What kind of attestation a registration carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "kebab-case")]
pub enum AttestationKind {
    /// Format "none": nothing attested (what phones send unless asked).
    #[default]
    None,
    /// Packed, signed with the new credential's own key.
    SelfAttestation,
    /// Packed, signed by an attestation certificate (`x5c`).
    Certificate,
    /// A format this client does not check.
    Unchecked,
}

/// A registration's attestation, as checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttestationFacts {
    /// Its kind.
    pub kind: AttestationKind,
    /// The authenticator model's AAGUID, from the authenticator data.
    #[serde(with = "hex_bytes")]
    pub aaguid: Vec<u8>,
    /// The attestation certificates, leaf first (kind `Certificate`).
    pub chain: Vec<AttestationCertificate>,
    /// Whether the leaf carried the FIDO AAGUID extension (it then matched `aaguid`).
    pub aaguid_in_certificate: bool,
}

/// A verified sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assertion {
    /// Credential ID used.
    #[serde(with = "hex_bytes")]
    pub credential_id: Vec<u8>,
    /// Authenticator data as signed.
    #[serde(with = "hex_bytes")]
    pub authenticator_data: Vec<u8>,
    /// DER ECDSA signature over `authenticator_data || SHA-256(clientDataJSON)`.
    #[serde(with = "hex_bytes")]
    pub signature: Vec<u8>,
    /// User handle, when the phone returned one.
    #[serde(with = "hex_bytes")]
    pub user_handle: Vec<u8>,
    /// Flags byte.
    pub flags: u8,
    /// Signature counter.
    pub sign_count: u32,
    /// The counter the registration had stored before this assertion.
    pub previous_sign_count: u32,
}

impl Assertion {
    /// Whether the signature counter did not move forward: WebAuthn §7.2 step 21 (either
    /// counter nonzero and the new one not greater) — a sign that the passkey may have been
    /// copied, or that an old reply was replayed.
    pub fn counter_went_back(&self) -> bool {
        (self.sign_count != 0 || self.previous_sign_count != 0)
            && self.sign_count <= self.previous_sign_count
    }
}

/// Checks the UV flag of a reply to a request that asked for user verification (the
/// `uv` option or a pinUvAuthParam; CTAP 2.1 §6.1.2 and §6.2.2 set UV only when the
/// authenticator verified the person).
///
/// # Errors
/// [`VerifyError::NotVerified`].
pub fn require_user_verified(flags_byte: u8) -> Result<(), VerifyError> {
    if flags_byte & flags::UV == 0 {
        return Err(VerifyError::NotVerified);
    }
    Ok(())
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

/// `clientDataJSON` as a browser builds it for `origin` (`https://{rp id}`), and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientData {
    /// The JSON text.
    pub json: String,
    /// SHA-256 of the JSON, the `clientDataHash` the authenticator signs.
    pub hash: [u8; 32],
}

impl ClientData {
    /// `kind` is `webauthn.create` or `webauthn.get`.
    pub fn new(kind: &str, challenge: &[u8], origin: &str) -> Self {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(challenge);
        // serde_json escapes the origin; key order matches browsers' (type, challenge, origin).
        let json = format!(
            "{{\"type\":{},\"challenge\":{},\"origin\":{},\"crossOrigin\":false}}",
            json_string(kind),
            json_string(&challenge),
            json_string(origin)
        );
        let hash = Sha256::digest(json.as_bytes()).into();
        Self { json, hash }
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// authenticatorMakeCredential (`0x01 || CBOR`) for a discoverable ES256 passkey.
///
/// # Errors
/// Only if CBOR encoding fails (it does not for these shapes).
pub fn make_credential_request(
    client_data_hash: &[u8; 32],
    rp_id: &str,
    user_id: &[u8],
    user_name: &str,
) -> Result<Vec<u8>, cbor::CborError> {
    let request = int_map([
        (1, Some(Value::Bytes(client_data_hash.to_vec()))),
        (
            2,
            Some(Value::Map(vec![
                (text("id"), text(rp_id)),
                (text("name"), text(rp_id)),
            ])),
        ),
        (
            3,
            Some(Value::Map(vec![
                (text("id"), Value::Bytes(user_id.to_vec())),
                (text("name"), text(user_name)),
                (text("displayName"), text(user_name)),
            ])),
        ),
        (
            4,
            Some(Value::Array(vec![Value::Map(vec![
                (text("alg"), Value::Integer(ES256.into())),
                (text("type"), text("public-key")),
            ])])),
        ),
        (
            7,
            Some(Value::Map(vec![
                (text("rk"), Value::Bool(true)),
                (text("uv"), Value::Bool(true)),
            ])),
        ),
    ]);
    Ok([vec![MAKE_CREDENTIAL], cbor::encode(&request)?].concat())
}

/// authenticatorGetAssertion (`0x02 || CBOR`). An empty `allow` list asks for a discoverable
/// credential. Transports are left out of the descriptors: phones refuse some (see
/// `docs/hybrid.md`, pitfalls).
///
/// # Errors
/// Only if CBOR encoding fails.
pub fn get_assertion_request(
    client_data_hash: &[u8; 32],
    rp_id: &str,
    allow: &[Vec<u8>],
) -> Result<Vec<u8>, cbor::CborError> {
    let allow_list = (!allow.is_empty()).then(|| {
        Value::Array(
            allow
                .iter()
                .map(|id| {
                    Value::Map(vec![
                        (text("id"), Value::Bytes(id.clone())),
                        (text("type"), text("public-key")),
                    ])
                })
                .collect(),
        )
    });
    let request = int_map([
        (1, Some(text(rp_id))),
        (2, Some(Value::Bytes(client_data_hash.to_vec()))),
        (3, allow_list),
        (5, Some(Value::Map(vec![(text("uv"), Value::Bool(true))]))),
    ]);
    Ok([vec![GET_ASSERTION], cbor::encode(&request)?].concat())
}

/// Splits `status || CBOR` and decodes the CBOR map.
fn reply_map(reply: &[u8]) -> Result<Vec<(Value, Value)>, VerifyError> {
    let (&status, body) = reply.split_first().ok_or(VerifyError::Empty)?;
    if status != 0 {
        return Err(VerifyError::Status(ctap::StatusCode::from(status)));
    }
    match cbor::decode(body) {
        Ok(Value::Map(entries)) => Ok(entries),
        _ => Err(VerifyError::Malformed("the reply is not a CBOR map")),
    }
}

fn bytes<'a>(
    entries: &'a [(Value, Value)],
    key: i64,
    what: &'static str,
) -> Result<&'a [u8], VerifyError> {
    match map_get_int(entries, key) {
        Some(Value::Bytes(b)) => Ok(b),
        _ => Err(VerifyError::Malformed(what)),
    }
}

/// Parsed fixed part of authenticator data.
struct AuthData<'a> {
    rp_id_hash: &'a [u8],
    flags: u8,
    sign_count: u32,
    rest: &'a [u8],
}

fn parse_auth_data(data: &[u8]) -> Result<AuthData<'_>, VerifyError> {
    let short = VerifyError::Malformed("authenticator data is too short");
    let rp_id_hash = data.get(..32).ok_or(short.clone())?;
    let flags = *data.get(32).ok_or(short.clone())?;
    let counter = data.get(33..37).ok_or(short.clone())?;
    let sign_count = u32::from_be_bytes(counter.try_into().map_err(|_| short.clone())?);
    let rest = data.get(37..).ok_or(short)?;
    Ok(AuthData {
        rp_id_hash,
        flags,
        sign_count,
        rest,
    })
}

fn check_rp_and_presence(auth: &AuthData<'_>, rp_id: &str) -> Result<(), VerifyError> {
    let expected: [u8; 32] = Sha256::digest(rp_id.as_bytes()).into();
    if auth.rp_id_hash != expected {
        return Err(VerifyError::WrongRp);
    }
    if auth.flags & flags::UP == 0 {
        return Err(VerifyError::NotPresent);
    }
    Ok(())
}

fn verify_es256(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, public_key)
        .verify(message, signature)
        .map_err(|_| VerifyError::BadSignature)
}

/// Checks a makeCredential reply: status, RP ID hash, UP, attested ES256 key, and (for
/// packed self-attestation) the attestation signature.
///
/// # Errors
/// [`VerifyError`].
pub fn verify_registration(
    reply: &[u8],
    rp_id: &str,
    client_data_hash: &[u8; 32],
) -> Result<Registration, VerifyError> {
    let entries = reply_map(reply)?;
    let format = match map_get_int(&entries, 1) {
        Some(Value::Text(t)) => t.clone(),
        _ => return Err(VerifyError::Malformed("no attestation format (key 1)")),
    };
    let auth_bytes = bytes(&entries, 2, "no authenticator data (key 2)")?;
    let auth = parse_auth_data(auth_bytes)?;
    check_rp_and_presence(&auth, rp_id)?;
    if auth.flags & flags::AT == 0 {
        return Err(VerifyError::Malformed("no attested credential data"));
    }
    // aaguid (16) || credIdLen (2) || credId || COSE key (|| extensions)
    let short = VerifyError::Malformed("attested credential data is too short");
    let len_bytes = auth.rest.get(16..18).ok_or(short.clone())?;
    let id_len = usize::from(u16::from_be_bytes([
        len_bytes.first().copied().unwrap_or(0),
        len_bytes.get(1).copied().unwrap_or(0),
    ]));
    let id_end = 18usize.checked_add(id_len).ok_or(short.clone())?;
    let credential_id = auth.rest.get(18..id_end).ok_or(short.clone())?.to_vec();
    let cose_bytes = auth.rest.get(id_end..).ok_or(short)?;
    let (cose, _extensions) = cbor::decode_prefix(cose_bytes)
        .map_err(|_| VerifyError::Malformed("credential public key is not CBOR"))?;
    let Value::Map(cose_map) = &cose else {
        return Err(VerifyError::Malformed(
            "credential public key is not a COSE map",
        ));
    };
    match map_get_int(cose_map, 3) {
        Some(Value::Integer(alg)) if i128::from(*alg) == i128::from(ES256) => {}
        Some(Value::Integer(alg)) => {
            return Err(VerifyError::UnsupportedAlgorithm(
                i64::try_from(i128::from(*alg)).unwrap_or(i64::MIN),
            ));
        }
        _ => return Err(VerifyError::Malformed("COSE key has no algorithm")),
    }
    let point = ctap::crypto::parse_cose_p256(&cose)
        .map_err(|_| VerifyError::Malformed("COSE key is not a valid P-256 point"))?;
    let public_key = ctap::crypto::sec1(&point);

    let statement = match map_get_int(&entries, 3) {
        Some(Value::Map(m)) => m.as_slice(),
        _ => return Err(VerifyError::Malformed("no attestation statement (key 3)")),
    };
    let aaguid = auth.rest.get(..16).unwrap_or_default().to_vec();
    let signed = [auth_bytes, client_data_hash.as_slice()].concat();
    let mut attestation = AttestationFacts {
        aaguid,
        ..AttestationFacts::default()
    };
    match format.as_str() {
        "packed" => {
            let Some(Value::Bytes(sig)) = map_get_text(statement, "sig") else {
                return Err(VerifyError::Malformed("packed statement without sig"));
            };
            let alg = match map_get_text(statement, "alg") {
                Some(Value::Integer(alg)) => i64::try_from(i128::from(*alg)).map_err(|_| {
                    VerifyError::Malformed("packed statement's alg is out of range")
                })?,
                _ => return Err(VerifyError::Malformed("packed statement without alg")),
            };
            match map_get_text(statement, "x5c") {
                Some(Value::Array(chain)) => {
                    let der = chain
                        .iter()
                        .map(|entry| match entry {
                            Value::Bytes(der) => Ok(der.as_slice()),
                            _ => Err(VerifyError::Malformed("an x5c entry is not a byte string")),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let checked = check_chain(&der, alg, sig, &signed, &attestation.aaguid)
                        .map_err(VerifyError::Attestation)?;
                    attestation.kind = AttestationKind::Certificate;
                    attestation.chain = checked.certificates;
                    attestation.aaguid_in_certificate = checked.aaguid_in_certificate;
                }
                Some(_) => {
                    return Err(VerifyError::Malformed(
                        "packed statement's x5c is not an array",
                    ));
                }
                None => {
                    // Self attestation: the statement's alg is the credential's (§8.2 step 3).
                    if alg != ES256 {
                        return Err(VerifyError::Malformed(
                            "self attestation with another algorithm than the credential's",
                        ));
                    }
                    verify_es256(&public_key, &signed, sig)?;
                    attestation.kind = AttestationKind::SelfAttestation;
                }
            }
        }
        "none" => {}
        _ => attestation.kind = AttestationKind::Unchecked,
    }
    let attestation_signature_verified = matches!(
        attestation.kind,
        AttestationKind::SelfAttestation | AttestationKind::Certificate
    );
    Ok(Registration {
        rp_id: rp_id.to_owned(),
        credential_id,
        public_key,
        authenticator_data: auth_bytes.to_vec(),
        attestation_format: format,
        attestation_signature_verified,
        attestation,
        flags: auth.flags,
        sign_count: auth.sign_count,
    })
}

/// Checks a getAssertion reply against the registered `public_key` (uncompressed SEC1):
/// status, RP ID hash, UP, and the signature over `authData || clientDataHash`.
///
/// # Errors
/// [`VerifyError`].
pub fn verify_assertion(
    reply: &[u8],
    rp_id: &str,
    client_data_hash: &[u8; 32],
    credentials: &[Registration],
) -> Result<Assertion, VerifyError> {
    let entries = reply_map(reply)?;
    let credential_id = match map_get_int(&entries, 1) {
        Some(Value::Map(m)) => match map_get_text(m, "id") {
            Some(Value::Bytes(id)) => id.clone(),
            _ => return Err(VerifyError::Malformed("credential descriptor without id")),
        },
        _ => return Err(VerifyError::Malformed("no credential (key 1)")),
    };
    let auth_bytes = bytes(&entries, 2, "no authenticator data (key 2)")?;
    let signature = bytes(&entries, 3, "no signature (key 3)")?.to_vec();
    let user_handle = match map_get_int(&entries, 4) {
        Some(Value::Map(m)) => match map_get_text(m, "id") {
            Some(Value::Bytes(id)) => id.clone(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let auth = parse_auth_data(auth_bytes)?;
    check_rp_and_presence(&auth, rp_id)?;
    let registered = credentials
        .iter()
        .find(|c| c.credential_id == credential_id && c.rp_id == rp_id)
        .ok_or(VerifyError::Malformed(
            "the phone used a credential this client does not know",
        ))?;
    let signed = [auth_bytes, client_data_hash.as_slice()].concat();
    verify_es256(&registered.public_key, &signed, &signature)?;
    Ok(Assertion {
        credential_id,
        authenticator_data: auth_bytes.to_vec(),
        signature,
        user_handle,
        flags: auth.flags,
        sign_count: auth.sign_count,
        previous_sign_count: registered.sign_count,
    })
}

/// A readable summary of a flags byte ("UP UV BE").
pub fn describe_flags(value: u8) -> String {
    let names = [
        (flags::UP, "UP"),
        (flags::UV, "UV"),
        (flags::BE, "BE"),
        (flags::BS, "BS"),
        (flags::AT, "AT"),
        (flags::ED, "ED"),
    ];
    names
        .iter()
        .filter(|(bit, _)| value & bit != 0)
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use ctap::testing::{ManualClock, ScriptedPrompt, seeded_rng};
    use ctap::{Attestation, Authenticator, Config, MemoryStore};
    use rand_chacha::ChaCha20Rng;

    type Engine = Authenticator<MemoryStore, ManualClock, ChaCha20Rng>;

    use super::*;

    fn authenticator(attestation: Attestation) -> Engine {
        let config = Config {
            attestation,
            built_in_uv: true,
            ..Config::default()
        };
        Authenticator::new(
            MemoryStore::new(),
            ManualClock::new(),
            seeded_rng(7),
            config,
        )
        .unwrap()
    }

    fn register(auth: &mut Engine) -> (ClientData, Vec<u8>) {
        let cd = ClientData::new("webauthn.create", b"challenge-1", "https://example.com");
        let req = make_credential_request(&cd.hash, "example.com", b"user-1", "alice").unwrap();
        let reply = auth.handle_with_prompt(&req, &mut ScriptedPrompt::always_verify());
        (cd, reply)
    }

    #[test]
    fn client_data_matches_browser_shape() {
        let cd = ClientData::new("webauthn.get", &[0xfb, 0xff], "https://example.com");
        assert_eq!(
            cd.json,
            r#"{"type":"webauthn.get","challenge":"-_8","origin":"https://example.com","crossOrigin":false}"#
        );
        assert_eq!(
            cd.hash,
            <[u8; 32]>::from(Sha256::digest(cd.json.as_bytes()))
        );
    }

    /// A phone that signs without verifying the person (here: asked without `uv`) sends a
    /// reply that verifies but lacks UV; a ceremony that asked for UV refuses it.
    #[test]
    fn a_reply_without_uv_is_refused_where_uv_was_asked() {
        let mut auth = authenticator(Attestation::None);
        let (_, reply) = register(&mut auth);
        let cd = ClientData::new("webauthn.create", b"challenge-1", "https://example.com");
        let reg = verify_registration(&reply, "example.com", &cd.hash).unwrap();
        assert_eq!(require_user_verified(reg.flags), Ok(()));
        let get = ClientData::new("webauthn.get", b"challenge-2", "https://example.com");
        let request = get_assertion_request(&get.hash, "example.com", &[]).unwrap();
        // The same request with `uv: false`: presence only.
        let mut body = cbor::decode(&request[1..]).unwrap();
        if let Value::Map(entries) = &mut body {
            for (key, value) in entries.iter_mut() {
                if *key == Value::Integer(5.into()) {
                    *value = Value::Map(vec![(text("uv"), Value::Bool(false))]);
                }
            }
        }
        let presence_only = [vec![request[0]], cbor::encode(&body).unwrap()].concat();
        let answer = auth.handle_with_prompt(&presence_only, &mut ScriptedPrompt::always_approve());
        let assertion = verify_assertion(
            &answer,
            "example.com",
            &get.hash,
            std::slice::from_ref(&reg),
        )
        .unwrap();
        assert_eq!(
            require_user_verified(assertion.flags),
            Err(VerifyError::NotVerified)
        );
    }

    #[test]
    fn registration_and_assertion_verify_against_the_engine() {
        let mut auth = authenticator(Attestation::PackedSelf);
        let (cd, reply) = register(&mut auth);
        let reg = verify_registration(&reply, "example.com", &cd.hash).unwrap();
        assert_eq!(reg.attestation_format, "packed");
        assert!(reg.attestation_signature_verified);
        assert_eq!(reg.public_key.len(), 65);
        assert_ne!(reg.flags & flags::UV, 0);

        let cd = ClientData::new("webauthn.get", b"challenge-2", "https://example.com");
        let req = get_assertion_request(&cd.hash, "example.com", &[]).unwrap();
        let reply = auth.handle_with_prompt(&req, &mut ScriptedPrompt::always_verify());
        let assertion =
            verify_assertion(&reply, "example.com", &cd.hash, std::slice::from_ref(&reg)).unwrap();
        assert_eq!(assertion.credential_id, reg.credential_id);
        assert_eq!(assertion.user_handle, b"user-1");

        // The same reply does not verify for another challenge or another site.
        let other = ClientData::new("webauthn.get", b"challenge-3", "https://example.com");
        assert_eq!(
            verify_assertion(
                &reply,
                "example.com",
                &other.hash,
                std::slice::from_ref(&reg)
            ),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_assertion(&reply, "example.org", &cd.hash, &[reg]),
            Err(VerifyError::WrongRp)
        );
    }

    #[test]
    fn tampered_registration_is_refused() {
        let mut auth = authenticator(Attestation::PackedSelf);
        let (cd, reply) = register(&mut auth);
        let wrong = ClientData::new("webauthn.create", b"another", "https://example.com");
        assert_eq!(
            verify_registration(&reply, "example.com", &wrong.hash),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_registration(&reply, "evil.example", &cd.hash),
            Err(VerifyError::WrongRp)
        );
        assert_eq!(
            verify_registration(&[0x27], "example.com", &cd.hash),
            Err(VerifyError::Status(ctap::StatusCode::OperationDenied))
        );
        assert_eq!(
            verify_registration(&[], "example.com", &cd.hash),
            Err(VerifyError::Empty)
        );
        for cut in [1, 10, reply.len() / 2, reply.len() - 1] {
            assert!(verify_registration(&reply[..cut], "example.com", &cd.hash).is_err());
        }
    }

    #[test]
    fn none_attestation_is_accepted_without_a_signature() {
        let mut auth = authenticator(Attestation::None);
        let (cd, reply) = register(&mut auth);
        let reg = verify_registration(&reply, "example.com", &cd.hash).unwrap();
        assert_eq!(reg.attestation_format, "none");
        assert!(!reg.attestation_signature_verified);
    }

    #[test]
    fn flags_are_described() {
        assert_eq!(describe_flags(0x45), "UP UV AT");
        assert_eq!(describe_flags(0), "");
    }
}
