//! snow `CryptoResolver` for caBLE: our P-256 DH (no panics on bad scalars) and a "random"
//! source that hands snow an ephemeral scalar we drew from the caller's RNG, so randomness
//! stays injected. SHA-256 and AES-256-GCM are wrapped here too: snow 0.10.0's default
//! resolver does not build with only the P-256 feature set.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit};
use sha2::{Digest, Sha256};
use snow::params::{CipherChoice, DHChoice, HashChoice};
use snow::resolvers::CryptoResolver;
use snow::types::{Cipher, Dh, Hash, Random};
use zeroize::Zeroize;

use crate::keys::{PrivateKey, PublicKey, UNCOMPRESSED_LEN};

pub(crate) struct CableResolver {
    ephemeral: [u8; 32],
}

impl CableResolver {
    pub(crate) fn new(ephemeral: &PrivateKey) -> Self {
        Self {
            ephemeral: *ephemeral.expose_secret(),
        }
    }
}

impl Drop for CableResolver {
    fn drop(&mut self) {
        self.ephemeral.zeroize();
    }
}

impl CryptoResolver for CableResolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        Some(Box::new(EphemeralSource {
            scalar: self.ephemeral,
        }))
    }

    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        match choice {
            DHChoice::P256 => Some(Box::new(P256Dh::default())),
            _ => None,
        }
    }

    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        match choice {
            HashChoice::SHA256 => Some(Box::new(Sha256Hash::default())),
            _ => None,
        }
    }

    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        match choice {
            CipherChoice::AESGCM => Some(Box::new(AesGcmCipher::default())),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Sha256Hash {
    hasher: Sha256,
}

impl Hash for Sha256Hash {
    fn name(&self) -> &'static str {
        "SHA256"
    }

    fn block_len(&self) -> usize {
        64
    }

    fn hash_len(&self) -> usize {
        32
    }

    fn reset(&mut self) {
        self.hasher = Sha256::new();
    }

    fn input(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    fn result(&mut self, out: &mut [u8]) {
        let digest = self.hasher.finalize_reset();
        for (d, s) in out.iter_mut().zip(digest.iter()) {
            *d = *s;
        }
    }
}

/// Noise `AESGCM`: nonce = `0^4 || BE64(n)`.
#[derive(Default)]
struct AesGcmCipher {
    aead: Option<Aes256Gcm>,
}

const TAG_LEN: usize = 16;

fn noise_nonce(n: u64) -> [u8; 12] {
    let mut out = [0u8; 12];
    for (d, s) in out.iter_mut().skip(4).zip(n.to_be_bytes()) {
        *d = s;
    }
    out
}

impl Cipher for AesGcmCipher {
    fn name(&self) -> &'static str {
        "AESGCM"
    }

    fn set(&mut self, key: &[u8; 32]) {
        self.aead = Some(Aes256Gcm::new(key.into()));
    }

    fn encrypt(&self, nonce: u64, authtext: &[u8], plaintext: &[u8], out: &mut [u8]) -> usize {
        let Some(aead) = self.aead.as_ref() else {
            return 0;
        };
        let len = plaintext.len();
        let Some((body, rest)) = out.split_at_mut_checked(len) else {
            return 0;
        };
        let Some(tag_out) = rest.get_mut(..TAG_LEN) else {
            return 0;
        };
        body.copy_from_slice(plaintext);
        match aead.encrypt_in_place_detached(&noise_nonce(nonce).into(), authtext, body) {
            Ok(tag) => {
                tag_out.copy_from_slice(&tag);
                len + TAG_LEN
            }
            Err(_) => 0,
        }
    }

    fn decrypt(
        &self,
        nonce: u64,
        authtext: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, snow::Error> {
        let aead = self.aead.as_ref().ok_or(snow::Error::Decrypt)?;
        let len = ciphertext
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(snow::Error::Decrypt)?;
        let (ct, tag) = ciphertext.split_at(len);
        let body = out.get_mut(..len).ok_or(snow::Error::Decrypt)?;
        body.copy_from_slice(ct);
        aead.decrypt_in_place_detached(&noise_nonce(nonce).into(), authtext, body, tag.into())
            .map(|()| len)
            .map_err(|_| snow::Error::Decrypt)
    }
}

/// Yields the pre-drawn ephemeral scalar (snow draws exactly one 32-byte value per handshake
/// side, for `e`).
struct EphemeralSource {
    scalar: [u8; 32],
}

impl Drop for EphemeralSource {
    fn drop(&mut self) {
        self.scalar.zeroize();
    }
}

impl Random for EphemeralSource {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        for (d, s) in dest.iter_mut().zip(self.scalar.iter().cycle()) {
            *d = *s;
        }
        Ok(())
    }
}

struct P256Dh {
    key: Option<PrivateKey>,
    public: [u8; UNCOMPRESSED_LEN],
    private: [u8; 32],
}

impl Drop for P256Dh {
    fn drop(&mut self) {
        self.private.zeroize();
    }
}

impl Default for P256Dh {
    fn default() -> Self {
        Self {
            key: None,
            public: [0u8; UNCOMPRESSED_LEN],
            private: [0u8; 32],
        }
    }
}

impl P256Dh {
    fn install(&mut self, bytes: &[u8]) {
        let mut scalar = [0u8; 32];
        for (d, s) in scalar.iter_mut().zip(bytes) {
            *d = *s;
        }
        self.private = scalar;
        // An invalid scalar leaves no key: `dh` then fails instead of snow panicking.
        self.key = PrivateKey::from_bytes(&scalar).ok();
        self.public = self
            .key
            .as_ref()
            .map_or([0u8; UNCOMPRESSED_LEN], |k| *k.public_key().uncompressed());
        scalar.zeroize();
    }
}

impl Dh for P256Dh {
    fn name(&self) -> &'static str {
        "P256"
    }

    fn pub_len(&self) -> usize {
        UNCOMPRESSED_LEN
    }

    fn priv_len(&self) -> usize {
        32
    }

    fn dh_len(&self) -> usize {
        32
    }

    fn set(&mut self, privkey: &[u8]) {
        self.install(privkey);
    }

    fn generate(&mut self, rng: &mut dyn Random) -> Result<(), snow::Error> {
        let mut bytes = [0u8; 32];
        rng.try_fill_bytes(&mut bytes)?;
        self.install(&bytes);
        bytes.zeroize();
        if self.key.is_some() {
            Ok(())
        } else {
            Err(snow::Error::Dh)
        }
    }

    fn pubkey(&self) -> &[u8] {
        &self.public
    }

    fn privkey(&self) -> &[u8] {
        &self.private
    }

    fn dh(&self, pubkey: &[u8], out: &mut [u8]) -> Result<(), snow::Error> {
        let key = self.key.as_ref().ok_or(snow::Error::Dh)?;
        let peer = PublicKey::from_uncompressed(pubkey).map_err(|_| snow::Error::Dh)?;
        let shared = key.ecdh_x(&peer);
        for (d, s) in out.iter_mut().zip(shared.iter()) {
            *d = *s;
        }
        Ok(())
    }
}
