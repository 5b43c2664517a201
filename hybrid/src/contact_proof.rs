//! Proof that a linked phone owns its contact ID, for the Passbridge relay's
//! `/cable/listen/{contact id}` route (listen for contacts, or unlink).
//!
//! In the caBLE v2 protocol a linked phone is woken through a cloud push service that
//! authenticates it; a self-hosted relay stands in for that service, so it has to authenticate
//! the phone itself. Otherwise whoever learns a contact ID (it travels in every linking
//! message) could listen in the phone's place or unlink it. The scheme:
//!
//! - The contact ID commits to an Ed25519 key: `SHA-256("passbridge contact id v1" ‖ public
//!   key)[..16]`. The phone derives the key from its long-term static key (HKDF-SHA-256, info
//!   `passbridge contact key v1`), so it needs nothing new stored, and a desktop that links
//!   learns only the ID, never the key.
//! - After the WebSocket upgrade the relay sends a fresh 32-byte nonce. The phone answers with
//!   96 bytes: its public key and an Ed25519 signature over
//!   `"passbridge contact proof v1" ‖ 0x00 ‖ operation ‖ contact ID ‖ nonce` (operation 1:
//!   listen, 2: revoke). The relay checks that the key hashes to the ID in the path and the
//!   signature, then answers a listen with one byte, [`LISTENING`], and closes a revoke.
//!
//! The signed message names the operation, the ID and the nonce, so a proof cannot be replayed
//! on another connection, for another phone, or turned from a listen into a revoke.
//!
//! In paths a contact ID is exactly 22 characters of unpadded base64url (RFC 4648 §5), in its
//! one canonical spelling; see [`ContactId::from_path`].

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Bytes in a contact ID.
pub const CONTACT_ID_LEN: usize = 16;
/// Characters of a contact ID in a path (unpadded base64url of 16 bytes).
pub const CONTACT_ID_PATH_LEN: usize = 22;
/// Bytes in the relay's challenge.
pub const NONCE_LEN: usize = 32;
/// Bytes in a proof: an Ed25519 public key and a signature.
pub const PROOF_LEN: usize = 32 + 64;
/// The relay's answer to a proven listen: the phone is now listening.
pub const LISTENING: u8 = 0x01;

const ID_DOMAIN: &[u8] = b"passbridge contact id v1";
const KEY_INFO: &[u8] = b"passbridge contact key v1";
const PROOF_DOMAIN: &[u8] = b"passbridge contact proof v1";

/// What a proof authorises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactOp {
    /// Listen for contacts.
    Listen,
    /// Unlink: later contacts are answered 410 Gone.
    Revoke,
}

impl ContactOp {
    const fn byte(self) -> u8 {
        match self {
            Self::Listen => 1,
            Self::Revoke => 2,
        }
    }
}

/// Why a contact ID or a proof was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The path segment is not 22 characters of canonical unpadded base64url.
    #[error("a contact ID is 22 characters of base64url")]
    BadContactId,
    /// The proof is not 96 bytes.
    #[error("a contact proof is {PROOF_LEN} bytes")]
    BadLength,
    /// The public key does not hash to the contact ID.
    #[error("the key does not belong to this contact ID")]
    WrongKey,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
}

/// A linked phone's contact ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContactId(pub [u8; CONTACT_ID_LEN]);

impl ContactId {
    /// The ID that commits to `public_key`.
    pub fn of_public_key(public_key: &[u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(ID_DOMAIN)
            .chain_update(public_key)
            .finalize();
        let mut id = [0u8; CONTACT_ID_LEN];
        id.copy_from_slice(digest.get(..CONTACT_ID_LEN).unwrap_or(&[0; CONTACT_ID_LEN]));
        Self(id)
    }

    /// Parses a path segment: exactly 22 characters of unpadded base64url whose unused low
    /// bits are zero, so every ID has one spelling (and one entry in the relay's tables).
    ///
    /// # Errors
    /// [`ProofError::BadContactId`].
    pub fn from_path(text: &str) -> Result<Self, ProofError> {
        if text.len() != CONTACT_ID_PATH_LEN {
            return Err(ProofError::BadContactId);
        }
        let id: [u8; CONTACT_ID_LEN] = crate::util::from_b64url(text)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(ProofError::BadContactId)?;
        // Re-encoding catches non-zero padding bits (22 characters carry 132 bits for 128).
        if crate::util::b64url(&id) != text {
            return Err(ProofError::BadContactId);
        }
        Ok(Self(id))
    }

    /// The ID as it appears in a path.
    pub fn to_path(&self) -> String {
        crate::util::b64url(&self.0)
    }
}

/// The Ed25519 key a phone proves its contact ID with.
pub struct ContactKey {
    seed: Zeroizing<[u8; 32]>,
    public_key: [u8; 32],
}

impl core::fmt::Debug for ContactKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ContactKey")
            .field("contact_id", &self.contact_id())
            .finish_non_exhaustive()
    }
}

impl ContactKey {
    /// The contact key a phone derives from its long-term static private key.
    pub fn derive(static_key: &[u8]) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA-256's 8160-byte output limit: expand cannot fail.
        let _ = hkdf::Hkdf::<Sha256>::new(None, static_key).expand(KEY_INFO, seed.as_mut());
        let public_key = Self::pair(&seed).map_or([0u8; 32], |pair| {
            let mut key = [0u8; 32];
            key.copy_from_slice(pair.public_key().as_ref());
            key
        });
        Self { seed, public_key }
    }

    fn pair(seed: &[u8; 32]) -> Option<Ed25519KeyPair> {
        Ed25519KeyPair::from_seed_unchecked(seed).ok()
    }

    /// The contact ID this key proves.
    pub fn contact_id(&self) -> ContactId {
        ContactId::of_public_key(&self.public_key)
    }

    /// The answer to the relay's `nonce` for `op`.
    pub fn prove(&self, op: ContactOp, nonce: &[u8; NONCE_LEN]) -> [u8; PROOF_LEN] {
        let mut proof = [0u8; PROOF_LEN];
        let (key, signature) = proof.split_at_mut(32);
        key.copy_from_slice(&self.public_key);
        if let Some(pair) = Self::pair(&self.seed) {
            let message = signed_message(op, &self.contact_id(), nonce);
            signature.copy_from_slice(pair.sign(&message).as_ref());
        }
        proof
    }
}

/// A phone's answer to the relay's challenge, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactProof {
    public_key: [u8; 32],
    signature: [u8; 64],
}

impl ContactProof {
    /// Splits a 96-byte answer into key and signature.
    ///
    /// # Errors
    /// [`ProofError::BadLength`].
    pub fn parse(bytes: &[u8]) -> Result<Self, ProofError> {
        let bytes: &[u8; PROOF_LEN] = bytes.try_into().map_err(|_| ProofError::BadLength)?;
        let (key, signature) = bytes.split_at(32);
        Ok(Self {
            public_key: key.try_into().map_err(|_| ProofError::BadLength)?,
            signature: signature.try_into().map_err(|_| ProofError::BadLength)?,
        })
    }

    /// Checks that this proof authorises `op` on `contact` for the challenge `nonce`.
    ///
    /// # Errors
    /// [`ProofError::WrongKey`], [`ProofError::BadSignature`].
    pub fn verify(
        &self,
        contact: &ContactId,
        op: ContactOp,
        nonce: &[u8; NONCE_LEN],
    ) -> Result<(), ProofError> {
        if ContactId::of_public_key(&self.public_key) != *contact {
            return Err(ProofError::WrongKey);
        }
        UnparsedPublicKey::new(&ED25519, &self.public_key)
            .verify(&signed_message(op, contact, nonce), &self.signature)
            .map_err(|_| ProofError::BadSignature)
    }
}

fn signed_message(op: ContactOp, contact: &ContactId, nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
    let mut message = Vec::with_capacity(PROOF_DOMAIN.len() + 2 + CONTACT_ID_LEN + NONCE_LEN);
    message.extend_from_slice(PROOF_DOMAIN);
    message.push(0x00);
    message.push(op.byte());
    message.extend_from_slice(&contact.0);
    message.extend_from_slice(nonce);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_verifies_only_for_its_id_operation_and_nonce() {
        let key = ContactKey::derive(&[7; 32]);
        let id = key.contact_id();
        let nonce = [9; NONCE_LEN];
        let proof = ContactProof::parse(&key.prove(ContactOp::Listen, &nonce)).unwrap();
        assert_eq!(proof.verify(&id, ContactOp::Listen, &nonce), Ok(()));
        assert_eq!(
            proof.verify(&id, ContactOp::Revoke, &nonce),
            Err(ProofError::BadSignature)
        );
        assert_eq!(
            proof.verify(&id, ContactOp::Listen, &[8; NONCE_LEN]),
            Err(ProofError::BadSignature)
        );
        let other = ContactKey::derive(&[8; 32]);
        assert_eq!(
            proof.verify(&other.contact_id(), ContactOp::Listen, &nonce),
            Err(ProofError::WrongKey)
        );
        // Another key's valid proof does not prove this ID.
        let forged = ContactProof::parse(&other.prove(ContactOp::Listen, &nonce)).unwrap();
        assert_eq!(
            forged.verify(&id, ContactOp::Listen, &nonce),
            Err(ProofError::WrongKey)
        );
        assert_eq!(ContactProof::parse(&[0; 95]), Err(ProofError::BadLength));
        assert_eq!(ContactProof::parse(&[0; 97]), Err(ProofError::BadLength));
    }

    #[test]
    fn the_key_is_a_function_of_the_static_key() {
        assert_eq!(
            ContactKey::derive(&[1; 32]).contact_id(),
            ContactKey::derive(&[1; 32]).contact_id()
        );
        assert_ne!(
            ContactKey::derive(&[1; 32]).contact_id(),
            ContactKey::derive(&[2; 32]).contact_id()
        );
    }

    #[test]
    fn contact_ids_have_one_spelling() {
        let id = ContactId([0xfb; 16]);
        let path = id.to_path();
        assert_eq!(path.len(), CONTACT_ID_PATH_LEN);
        assert_eq!(ContactId::from_path(&path), Ok(id));
        for bad in [
            "",
            "phone-1",
            &path[..21],
            &format!("{path}A"),
            &format!("{}=", &path[..21]),
            // Same bytes, non-zero unused bits in the last character.
            &format!("{}_", &path[..21]),
            &format!("{}+", &path[..21]),
            &"é".repeat(11),
        ] {
            assert_eq!(
                ContactId::from_path(bad),
                Err(ProofError::BadContactId),
                "{bad}"
            );
        }
    }
}
