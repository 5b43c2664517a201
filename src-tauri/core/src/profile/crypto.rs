//! The vault's cryptography: a random 256-bit vault key per profile, subkeys derived from it
//! with HKDF-SHA-256 (one for record encryption, one for record file names), AES-256-GCM with
//! random 96-bit nonces, and Argon2id for PIN/passphrase wrapping keys.
//!
//! Random nonces are fine here: a profile writes far fewer than 2^32 records per key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::CryptoRngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// AES-GCM nonce length.
pub(crate) const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
pub(crate) const TAG_LEN: usize = 16;
/// Salt length for Argon2id.
pub(crate) const SALT_LEN: usize = 16;

/// Authentication failed: wrong key, or the data was altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("authentication failed")]
pub(crate) struct OpenError;

/// A 256-bit key, zeroised on drop; `Debug` shows nothing.
#[derive(Clone)]
pub(crate) struct Key(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    pub(crate) fn random(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(array)))
    }

    pub(crate) fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }

    /// A subkey for one purpose; distinct `info` strings give independent keys.
    ///
    /// # Errors
    /// Never in practice: 32 bytes is far below HKDF-SHA-256's 8160-byte limit.
    pub(crate) fn derive(&self, info: &[u8]) -> Result<Self, OpenError> {
        let hkdf = Hkdf::<Sha256>::new(Some(b"passbridge vault v1"), self.0.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        hkdf.expand(info, out.as_mut()).map_err(|_| OpenError)?;
        Ok(Self(out))
    }

    /// HMAC-SHA-256 of `data` under this key (record file names).
    pub(crate) fn mac(&self, data: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length, so this never takes the error branch.
        match <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref()) {
            Ok(mut mac) => {
                mac.update(data);
                mac.finalize().into_bytes().into()
            }
            Err(_) => [0u8; 32],
        }
    }
}

/// Encrypts `plaintext` bound to `aad` under a nonce from `rng`; output is
/// `nonce || ciphertext || tag`.
pub(crate) fn seal(
    key: &Key,
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, OpenError> {
    let cipher = Aes256Gcm::new_from_slice(key.expose_secret()).map_err(|_| OpenError)?;
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| OpenError)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Deterministic authenticated encryption (SIV construction): the nonce is
/// HMAC(`mac_key`, plaintext) truncated, so equal plaintexts give equal outputs and nothing else
/// leaks. Used for record file names, which must be found again from the credential ID.
pub(crate) fn seal_deterministic(
    key: &Key,
    mac_key: &Key,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, OpenError> {
    let cipher = Aes256Gcm::new_from_slice(key.expose_secret()).map_err(|_| OpenError)?;
    let mac = mac_key.mac(plaintext);
    let nonce = mac.get(..NONCE_LEN).ok_or(OpenError)?;
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| OpenError)?;
    Ok([nonce, ciphertext.as_slice()].concat())
}

/// Opens [`seal_deterministic`] output and checks its synthetic nonce.
pub(crate) fn open_deterministic(
    key: &Key,
    mac_key: &Key,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let plaintext = open(key, aad, sealed)?;
    let mac = mac_key.mac(&plaintext);
    if mac.get(..NONCE_LEN) != sealed.get(..NONCE_LEN) {
        return Err(OpenError);
    }
    Ok(plaintext)
}

/// Decrypts `nonce || ciphertext || tag` produced by [`seal`] with the same `aad`.
pub(crate) fn open(key: &Key, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN).ok_or(OpenError)?;
    if ciphertext.len() < TAG_LEN {
        return Err(OpenError);
    }
    let cipher = Aes256Gcm::new_from_slice(key.expose_secret()).map_err(|_| OpenError)?;
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| OpenError)
}

/// Argon2id(secret, salt) → key-encryption key.
pub(crate) fn derive_kek(
    secret: &[u8],
    salt: &[u8],
    params: argon2::Params,
) -> Result<Key, argon2::Error> {
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon.hash_password_into(secret, salt, out.as_mut())?;
    Ok(Key(out))
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;

    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let key = Key::random(&mut rng);
        let sealed = seal(&key, b"profile-a", b"hello", &mut rng).unwrap();
        assert_eq!(
            open(&key, b"profile-a", &sealed).unwrap().as_slice(),
            b"hello"
        );
        assert_eq!(open(&key, b"profile-b", &sealed), Err(OpenError));
        assert_eq!(
            open(&Key::random(&mut rng), b"profile-a", &sealed),
            Err(OpenError)
        );
        assert_eq!(
            open(&key, b"profile-a", &sealed[..sealed.len() - 1]),
            Err(OpenError)
        );
        // Each seal draws a fresh nonce from the injected generator.
        assert_ne!(
            seal(&key, b"profile-a", b"hello", &mut rng).unwrap(),
            sealed
        );
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        let key = Key::random(&mut ChaCha20Rng::seed_from_u64(2));
        let derive = |info: &[u8]| key.derive(info).unwrap().expose_secret().to_owned();
        assert_ne!(derive(b"a"), derive(b"b"));
        assert_eq!(derive(b"a"), derive(b"a"));
    }
}
