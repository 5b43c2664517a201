//! Cryptographic building blocks: COSE keys, PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6,
//! §6.5.7), credential-ID wrapping and ES256 signing.
//!
//! Signing uses `ring` (about 10× faster than `p256` here) and caches parsed key pairs per
//! credential, because parsing costs a base-point multiplication. `ring` draws its ECDSA nonces
//! from the OS (`ring::rand::SystemRandom`; its `SecureRandom` trait is sealed, so the injected
//! RNG cannot be used there). Everything else uses the injected RNG.

use std::collections::VecDeque;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use hmac::{Hmac, Mac};
use p256::elliptic_curve::sec1::{EncodedPoint, FromEncodedPoint, ToEncodedPoint};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::cbor::{Value, int_map, map_get_int};
use crate::error::{CryptoError, StatusCode};
use crate::platform::{CredProtect, Rng, SecretKey};

type HmacSha256 = Hmac<Sha256>;

/// SHA-256.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// HMAC-SHA-256.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // INVARIANT-free: HMAC accepts keys of any length, so the error branch is dead; we still
    // avoid unwrap by falling back to an all-zero tag that can never verify a real input.
    match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            for p in parts {
                mac.update(p);
            }
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0u8; 32],
    }
}

/// COSE algorithm identifier ES256.
pub const COSE_ES256: i64 = -7;
/// COSE algorithm identifier ECDH-ES+HKDF-256 (key agreement keys).
pub const COSE_ECDH_ES_HKDF_256: i64 = -25;

/// Encodes an uncompressed SEC1 P-256 point as a COSE_Key with the given `alg`.
pub fn cose_p256(public_sec1: &[u8], alg: i64) -> Result<Value, CryptoError> {
    let x = public_sec1.get(1..33).ok_or(CryptoError::Key)?;
    let y = public_sec1.get(33..65).ok_or(CryptoError::Key)?;
    Ok(int_map([
        (1, Some(Value::Integer(2.into()))),
        (3, Some(Value::Integer(alg.into()))),
        (-1, Some(Value::Integer(1.into()))),
        (-2, Some(Value::Bytes(x.to_vec()))),
        (-3, Some(Value::Bytes(y.to_vec()))),
    ]))
}

/// Parses a platform key-agreement COSE_Key (kty 2, crv 1, x, y). Missing members are
/// `CTAP2_ERR_MISSING_PARAMETER`; a point off the curve is `CTAP1_ERR_INVALID_PARAMETER`.
pub fn parse_cose_p256(value: &Value) -> Result<p256::PublicKey, StatusCode> {
    let Value::Map(entries) = value else {
        return Err(StatusCode::CborUnexpectedType);
    };
    let coord = |k: i64| -> Result<[u8; 32], StatusCode> {
        match map_get_int(entries, k) {
            None => Err(StatusCode::MissingParameter),
            Some(Value::Bytes(b)) => {
                <[u8; 32]>::try_from(b.as_slice()).map_err(|_| StatusCode::InvalidParameter)
            }
            Some(_) => Err(StatusCode::CborUnexpectedType),
        }
    };
    match map_get_int(entries, 1) {
        Some(Value::Integer(i)) if i128::from(*i) == 2 => {}
        None => return Err(StatusCode::MissingParameter),
        Some(_) => return Err(StatusCode::InvalidParameter),
    }
    let x = coord(-2)?;
    let y = coord(-3)?;
    let point =
        EncodedPoint::<p256::NistP256>::from_affine_coordinates(&x.into(), &y.into(), false);
    Option::from(p256::PublicKey::from_encoded_point(&point)).ok_or(StatusCode::InvalidParameter)
}

/// Uncompressed SEC1 encoding of a public key.
pub fn sec1(public: &p256::PublicKey) -> Vec<u8> {
    public.to_encoded_point(false).as_bytes().to_vec()
}

/// A fresh P-256 private key from the injected RNG.
pub fn generate_p256(rng: &mut impl Rng) -> (SecretKey, Vec<u8>) {
    let sk = p256::SecretKey::random(rng);
    let public = sec1(&sk.public_key());
    let bytes: [u8; 32] = sk.to_bytes().into();
    (SecretKey::new(bytes), public)
}

/// Public key of a private scalar (slow: one base-point multiplication).
pub fn public_of(private: &SecretKey) -> Result<Vec<u8>, CryptoError> {
    let sk = p256::SecretKey::from_slice(private.expose_secret()).map_err(|_| CryptoError::Key)?;
    Ok(sec1(&sk.public_key()))
}

/// ECDH: the x-coordinate of `private * peer`.
pub fn ecdh(private: &p256::SecretKey, peer: &p256::PublicKey) -> Zeroizing<[u8; 32]> {
    let shared = p256::ecdh::diffie_hellman(private.to_nonzero_scalar(), peer.as_affine());
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(shared.raw_secret_bytes());
    out
}

/// PIN/UV auth protocol (CTAP 2.1 §6.5.6 and §6.5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinProtocol {
    /// PIN/UV auth protocol one.
    V1,
    /// PIN/UV auth protocol two.
    V2,
}

impl PinProtocol {
    /// From the wire number; unsupported → `CTAP1_ERR_INVALID_PARAMETER`.
    pub fn from_number(n: u64) -> Result<Self, StatusCode> {
        match n {
            1 => Ok(Self::V1),
            2 => Ok(Self::V2),
            _ => Err(StatusCode::InvalidParameter),
        }
    }

    /// The wire number.
    pub fn number(self) -> u8 {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
        }
    }

    /// KDF over the ECDH x-coordinate.
    pub fn kdf(self, z: &[u8; 32]) -> SharedSecret {
        match self {
            Self::V1 => {
                let k = Zeroizing::new(sha256(z));
                SharedSecret {
                    protocol: self,
                    hmac_key: k.clone(),
                    aes_key: k,
                }
            }
            Self::V2 => {
                let hk = hkdf::Hkdf::<Sha256>::new(Some(&[0u8; 32]), z);
                let mut hmac_key = Zeroizing::new([0u8; 32]);
                let mut aes_key = Zeroizing::new([0u8; 32]);
                // INVARIANT: 32 bytes is far below HKDF-SHA-256's 8160-byte limit.
                let _ = hk.expand(b"CTAP2 HMAC key", hmac_key.as_mut_slice());
                let _ = hk.expand(b"CTAP2 AES key", aes_key.as_mut_slice());
                SharedSecret {
                    protocol: self,
                    hmac_key,
                    aes_key,
                }
            }
        }
    }

    /// authenticate(key, message): protocol 1 truncates to 16 bytes.
    pub fn authenticate(self, key: &[u8], message: &[&[u8]]) -> Vec<u8> {
        let tag = hmac_sha256(key, message);
        match self {
            Self::V1 => tag.get(..16).map(<[u8]>::to_vec).unwrap_or_default(),
            Self::V2 => tag.to_vec(),
        }
    }

    /// verify(key, message, signature) in constant time.
    pub fn verify(self, key: &[u8], message: &[&[u8]], signature: &[u8]) -> bool {
        let expected = self.authenticate(key, message);
        expected.len() == signature.len() && bool::from(expected.ct_eq(signature))
    }
}

/// Keys derived from one ECDH exchange.
pub struct SharedSecret {
    protocol: PinProtocol,
    hmac_key: Zeroizing<[u8; 32]>,
    aes_key: Zeroizing<[u8; 32]>,
}

impl SharedSecret {
    /// The protocol these keys belong to.
    pub fn protocol(&self) -> PinProtocol {
        self.protocol
    }

    /// encrypt: AES-256-CBC; protocol 1 with a zero IV, protocol 2 with a random IV prefix.
    pub fn encrypt(&self, rng: &mut impl Rng, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if !plaintext.len().is_multiple_of(16) {
            return Err(CryptoError::Decrypt);
        }
        let mut iv = [0u8; 16];
        if self.protocol == PinProtocol::V2 {
            rng.fill_bytes(&mut iv);
        }
        let enc = cbc::Encryptor::<aes::Aes256>::new(self.aes_key.as_ref().into(), &iv.into());
        let ct = enc.encrypt_padded_vec_mut::<NoPadding>(plaintext);
        Ok(match self.protocol {
            PinProtocol::V1 => ct,
            PinProtocol::V2 => [iv.as_slice(), &ct].concat(),
        })
    }

    /// decrypt; a length that is not a whole number of blocks (plus IV) fails.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (iv, body) = match self.protocol {
            PinProtocol::V1 => ([0u8; 16], ciphertext),
            PinProtocol::V2 => {
                let iv = ciphertext.get(..16).ok_or(CryptoError::Decrypt)?;
                let body = ciphertext.get(16..).ok_or(CryptoError::Decrypt)?;
                (
                    <[u8; 16]>::try_from(iv).map_err(|_| CryptoError::Decrypt)?,
                    body,
                )
            }
        };
        if body.is_empty() || !body.len().is_multiple_of(16) {
            return Err(CryptoError::Decrypt);
        }
        let dec = cbc::Decryptor::<aes::Aes256>::new(self.aes_key.as_ref().into(), &iv.into());
        dec.decrypt_padded_vec_mut::<NoPadding>(body)
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Decrypt)
    }

    /// verify(sharedSecret, message, signature).
    pub fn verify(&self, message: &[&[u8]], signature: &[u8]) -> bool {
        self.protocol
            .verify(self.hmac_key.as_ref(), message, signature)
    }

    /// authenticate(sharedSecret, message) (used by tests and client-side helpers).
    pub fn authenticate(&self, message: &[&[u8]]) -> Vec<u8> {
        self.protocol.authenticate(self.hmac_key.as_ref(), message)
    }
}

/// What a non-discoverable credential ID carries (encrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedCredential {
    /// Private scalar.
    pub private_key: SecretKey,
    /// credProtect policy.
    pub cred_protect: CredProtect,
    /// Whether hmac-secret was requested at creation.
    pub hmac_secret: bool,
}

const WRAP_VERSION: u8 = 1;
/// Length of a wrapped credential ID: version, nonce, 34-byte plaintext, tag.
pub const WRAPPED_ID_LEN: usize = 1 + 12 + 34 + 16;

/// Wraps a credential into its ID with AES-256-GCM, AAD = version ‖ rpIdHash.
pub fn wrap_credential(
    wrapping_key: &SecretKey,
    rp_id_hash: &[u8; 32],
    credential: &WrappedCredential,
    rng: &mut impl Rng,
) -> Result<Vec<u8>, CryptoError> {
    let cipher = Aes256Gcm::new(wrapping_key.expose_secret().into());
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut nonce);
    let mut plaintext = Zeroizing::new(Vec::with_capacity(34));
    plaintext.extend_from_slice(credential.private_key.expose_secret());
    plaintext.push(u8::from(credential.hmac_secret));
    plaintext.push(credential.cred_protect.level());
    let aad = [&[WRAP_VERSION][..], rp_id_hash].concat();
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| CryptoError::Key)?;
    Ok([&[WRAP_VERSION][..], &nonce, &ct].concat())
}

/// Unwraps a credential ID made by [`wrap_credential`] for this RP; `None` if it is not ours
/// or belongs to another RP.
pub fn unwrap_credential(
    wrapping_key: &SecretKey,
    rp_id_hash: &[u8; 32],
    credential_id: &[u8],
) -> Option<WrappedCredential> {
    if credential_id.len() != WRAPPED_ID_LEN || credential_id.first() != Some(&WRAP_VERSION) {
        return None;
    }
    let nonce = credential_id.get(1..13)?;
    let ct = credential_id.get(13..)?;
    let cipher = Aes256Gcm::new(wrapping_key.expose_secret().into());
    let aad = [&[WRAP_VERSION][..], rp_id_hash].concat();
    let pt = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .ok()?,
    );
    let private_key = SecretKey::from_slice(pt.get(..32)?)?;
    let hmac_secret = *pt.get(32)? == 1;
    let cred_protect = CredProtect::from_level(u64::from(*pt.get(33)?))?;
    Some(WrappedCredential {
        private_key,
        cred_protect,
        hmac_secret,
    })
}

/// hmac-secret CredRandom for a non-discoverable credential, derived from its private key so
/// nothing is stored: HKDF(ikm = private key, info = label).
pub fn derived_cred_random(private: &SecretKey, with_uv: bool) -> SecretKey {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(b"passbridge hmac-secret"), private.expose_secret());
    let mut out = [0u8; 32];
    let info: &[u8] = if with_uv {
        b"CredRandomWithUV"
    } else {
        b"CredRandomWithoutUV"
    };
    // INVARIANT: 32 bytes is far below HKDF-SHA-256's output limit.
    let _ = hk.expand(info, &mut out);
    let key = SecretKey::new(out);
    zeroize::Zeroize::zeroize(&mut out);
    key
}

/// Small LRU of parsed `ring` key pairs, keyed by credential ID.
pub struct KeyCache {
    entries: VecDeque<(Vec<u8>, Arc<EcdsaKeyPair>)>,
    capacity: usize,
    rng: ring::rand::SystemRandom,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("len", &self.entries.len())
            .finish()
    }
}

impl KeyCache {
    /// A cache holding up to `capacity` key pairs.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            capacity,
            rng: ring::rand::SystemRandom::new(),
        }
    }

    /// Forgets everything (reset).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Drops one entry (credential deleted).
    pub fn remove(&mut self, credential_id: &[u8]) {
        self.entries.retain(|(id, _)| id != credential_id);
    }

    /// ES256 signature (ASN.1 DER) over `parts` concatenated.
    pub fn sign(
        &mut self,
        credential_id: &[u8],
        private: &SecretKey,
        public: Option<&[u8]>,
        parts: &[&[u8]],
    ) -> Result<Vec<u8>, CryptoError> {
        let pair = self.key_pair(credential_id, private, public)?;
        let message = parts.concat();
        pair.sign(&self.rng, &message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| CryptoError::Sign)
    }

    fn key_pair(
        &mut self,
        credential_id: &[u8],
        private: &SecretKey,
        public: Option<&[u8]>,
    ) -> Result<Arc<EcdsaKeyPair>, CryptoError> {
        if let Some(pos) = self.entries.iter().position(|(id, _)| id == credential_id)
            && let Some(entry) = self.entries.remove(pos)
        {
            let pair = entry.1.clone();
            self.entries.push_front(entry);
            return Ok(pair);
        }
        let public = match public {
            Some(p) => p.to_vec(),
            None => public_of(private)?,
        };
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            private.expose_secret(),
            &public,
            &self.rng,
        )
        .map_err(|_| CryptoError::Key)?;
        let pair = Arc::new(pair);
        self.entries
            .push_front((credential_id.to_vec(), pair.clone()));
        self.entries.truncate(self.capacity);
        Ok(pair)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn wrap_round_trip_and_rp_binding() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let key = SecretKey::new([7; 32]);
        let cred = WrappedCredential {
            private_key: SecretKey::new([9; 32]),
            cred_protect: CredProtect::UvRequired,
            hmac_secret: true,
        };
        let id = wrap_credential(&key, &[1; 32], &cred, &mut rng).unwrap();
        assert_eq!(id.len(), WRAPPED_ID_LEN);
        assert_eq!(unwrap_credential(&key, &[1; 32], &id), Some(cred));
        assert_eq!(unwrap_credential(&key, &[2; 32], &id), None);
        assert_eq!(
            unwrap_credential(&SecretKey::new([8; 32]), &[1; 32], &id),
            None
        );
    }

    #[test]
    fn pin_protocol_two_round_trip_and_v1_zero_iv() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let z = [5u8; 32];
        for p in [PinProtocol::V1, PinProtocol::V2] {
            let s = p.kdf(&z);
            let ct = s.encrypt(&mut rng, &[3u8; 32]).unwrap();
            assert_eq!(ct.len(), if p == PinProtocol::V1 { 32 } else { 48 });
            assert_eq!(s.decrypt(&ct).unwrap().as_slice(), &[3u8; 32]);
            let tag = s.authenticate(&[b"abc"]);
            assert!(s.verify(&[b"abc"], &tag));
            assert!(!s.verify(&[b"abd"], &tag));
        }
        // Protocol 1 key is SHA-256(Z).
        let s = PinProtocol::V1.kdf(&z);
        let ct = s.encrypt(&mut rng, &[0u8; 16]).unwrap();
        let mut expect = [0u8; 16];
        let enc = cbc::Encryptor::<aes::Aes256>::new((&sha256(&z)).into(), &[0u8; 16].into());
        enc.encrypt_padded_mut::<NoPadding>(&mut expect, 16)
            .unwrap();
        assert_eq!(ct, expect);
    }

    #[test]
    fn ring_signature_verifies_with_p256() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (sk, pk) = generate_p256(&mut rng);
        let mut cache = KeyCache::new(2);
        let sig = cache
            .sign(b"id", &sk, Some(&pk), &[b"hello ", b"world"])
            .unwrap();
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&pk).unwrap();
        let sig = p256::ecdsa::Signature::from_der(&sig).unwrap();
        vk.verify(b"hello world", &sig).unwrap();
        // Cached path, no public key given.
        let sig2 = cache.sign(b"id", &sk, None, &[b"x"]).unwrap();
        vk.verify(b"x", &p256::ecdsa::Signature::from_der(&sig2).unwrap())
            .unwrap();
    }

    #[test]
    fn cose_key_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let (_, pk) = generate_p256(&mut rng);
        let cose = cose_p256(&pk, COSE_ECDH_ES_HKDF_256).unwrap();
        let parsed = parse_cose_p256(&cose).unwrap();
        assert_eq!(sec1(&parsed), pk);
        let bad = int_map([
            (1, Some(Value::Integer(2.into()))),
            (-2, Some(Value::Bytes(vec![1; 32]))),
        ]);
        assert_eq!(parse_cose_p256(&bad), Err(StatusCode::MissingParameter));
    }
}
