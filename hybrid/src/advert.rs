//! BLE advert: the encrypted EID (`docs/hybrid.md` §4).
//!
//! `advert = AES-256(EIDkey[0..32], eid16) || HMAC-SHA256(EIDkey[32..64], ct16)[0..4]`.
//! The phone builds it with [`EidKey::encrypt`]; the client trial-decrypts every service-data
//! payload with [`EidKey::decrypt`].

use aes::Aes256;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use hmac::{Hmac, Mac};
use rand_core::CryptoRngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::AdvertProblem;
use crate::keys::{EidKey, RoutingId};
use crate::tunnel_url::DomainId;

/// FIDO-assigned 16-bit service UUID (current Chrome for Android).
pub const SERVICE_UUID_FIDO: u16 = 0xFFF9;
/// Google-assigned 16-bit service UUID (older Chrome for Android, iOS 16).
pub const SERVICE_UUID_GOOGLE: u16 = 0xFDE2;
/// Both UUIDs a client must accept, in Chromium's checking order.
pub const SERVICE_UUIDS: [u16; 2] = [SERVICE_UUID_GOOGLE, SERVICE_UUID_FIDO];
/// Exact advert length (16-byte block + 4-byte tag).
pub const ADVERT_LEN: usize = 20;

/// The full 128-bit UUID string of a 16-bit Bluetooth SIG UUID, as host stacks report it.
pub fn uuid128(short: u16) -> String {
    format!("0000{short:04x}-0000-1000-8000-00805f9b34fb")
}

/// Whether a (16-bit) service UUID carries caBLE adverts.
pub fn is_cable_service(short: u16) -> bool {
    SERVICE_UUIDS.contains(&short)
}

/// How service data longer than 20 bytes is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LengthPolicy {
    /// Chromium: exactly 20 bytes, anything else is ignored. The default.
    #[default]
    Exact,
    /// libwebauthn: decrypt the first 20 bytes and hand back the rest as the CTAP 2.3
    /// advertisement suffix (not covered by the tag).
    AllowSuffix,
}

/// The decrypted 16-byte EID: `0x00 || nonce(10) || routing ID(3) || LE16(domain)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eid {
    /// Per-session random nonce chosen by the phone.
    pub nonce: [u8; 10],
    /// Routing ID from the tunnel server.
    pub routing_id: RoutingId,
    /// Tunnel-server domain.
    pub domain: DomainId,
}

impl Eid {
    /// A fresh EID with a random nonce (phone side).
    pub fn generate(rng: &mut impl CryptoRngCore, routing_id: RoutingId, domain: DomainId) -> Self {
        let mut nonce = [0u8; 10];
        rng.fill_bytes(&mut nonce);
        Self {
            nonce,
            routing_id,
            domain,
        }
    }

    /// The 16-byte plaintext (also the PSK salt).
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        let domain = self.domain.0.to_le_bytes();
        let src = self
            .nonce
            .iter()
            .chain(self.routing_id.0.iter())
            .chain(domain.iter());
        for (d, s) in out.iter_mut().skip(1).zip(src) {
            *d = *s;
        }
        out
    }

    /// Splits a plaintext, applying the reserved-byte and domain rules (`docs/hybrid.md` §4).
    /// `known_domains` is how many assigned domains this client knows (normally 2).
    ///
    /// # Errors
    /// [`AdvertProblem::ReservedByte`], [`AdvertProblem::UnknownDomain`].
    pub fn from_bytes(bytes: &[u8; 16], known_domains: u16) -> Result<Self, AdvertProblem> {
        let [r, n @ .., a, b, c, d0, d1] = *bytes;
        if r != 0 {
            return Err(AdvertProblem::ReservedByte);
        }
        let domain = u16::from_le_bytes([d0, d1]);
        if domain < 256 && domain >= known_domains {
            return Err(AdvertProblem::UnknownDomain(domain));
        }
        Ok(Self {
            nonce: n,
            routing_id: RoutingId([a, b, c]),
            domain: DomainId(domain),
        })
    }
}

/// A successfully decrypted advert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptedAdvert {
    /// The parsed EID.
    pub eid: Eid,
    /// The raw 16-byte plaintext, the PSK salt.
    pub plaintext: [u8; 16],
    /// Bytes after the first 20 (only with [`LengthPolicy::AllowSuffix`]).
    pub suffix: Vec<u8>,
}

fn tag(key: &EidKey, ct: &[u8; 16]) -> [u8; 4] {
    let mut out = [0u8; 4];
    // HMAC accepts keys of any length, so this cannot fail.
    if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key.hmac_key()) {
        mac.update(ct);
        let full = mac.finalize().into_bytes();
        for (d, s) in out.iter_mut().zip(full.iter()) {
            *d = *s;
        }
    }
    out
}

impl EidKey {
    /// Encrypts a plaintext EID into the 20-byte advert (phone side).
    pub fn encrypt_block(&self, plaintext: &[u8; 16]) -> [u8; ADVERT_LEN] {
        let cipher = Aes256::new(&self.aes_key().into());
        let mut block = (*plaintext).into();
        cipher.encrypt_block(&mut block);
        let ct: [u8; 16] = block.into();
        let t = tag(self, &ct);
        let mut out = [0u8; ADVERT_LEN];
        for (d, s) in out.iter_mut().zip(ct.iter().chain(t.iter())) {
            *d = *s;
        }
        out
    }

    /// Encrypts an [`Eid`] into the 20-byte advert.
    pub fn encrypt(&self, eid: &Eid) -> [u8; ADVERT_LEN] {
        self.encrypt_block(&eid.to_bytes())
    }

    /// Trial-decrypts service data with Chromium's rules (exactly 20 bytes, constant-time tag
    /// check, reserved byte, known domain; `known_domains` is normally 2).
    ///
    /// # Errors
    /// Any [`AdvertProblem`]; callers scanning adverts should simply ignore failures.
    pub fn decrypt(
        &self,
        advert: &[u8],
        known_domains: u16,
    ) -> Result<DecryptedAdvert, AdvertProblem> {
        self.decrypt_with(advert, known_domains, LengthPolicy::Exact)
    }

    /// As [`EidKey::decrypt`], with an explicit [`LengthPolicy`].
    ///
    /// # Errors
    /// Any [`AdvertProblem`].
    pub fn decrypt_with(
        &self,
        advert: &[u8],
        known_domains: u16,
        policy: LengthPolicy,
    ) -> Result<DecryptedAdvert, AdvertProblem> {
        let ok_len = match policy {
            LengthPolicy::Exact => advert.len() == ADVERT_LEN,
            LengthPolicy::AllowSuffix => advert.len() >= ADVERT_LEN,
        };
        if !ok_len {
            return Err(AdvertProblem::WrongLength(advert.len()));
        }
        let (head, suffix) = advert.split_at(ADVERT_LEN);
        let (ct, their_tag) = head.split_at(16);
        let ct: [u8; 16] = ct
            .try_into()
            .map_err(|_| AdvertProblem::WrongLength(advert.len()))?;
        let ours = tag(self, &ct);
        if !bool::from(ours.ct_eq(their_tag)) {
            return Err(AdvertProblem::TagMismatch);
        }
        let cipher = Aes256::new(&self.aes_key().into());
        let mut block = ct.into();
        cipher.decrypt_block(&mut block);
        let plaintext: [u8; 16] = block.into();
        let eid = Eid::from_bytes(&plaintext, known_domains)?;
        Ok(DecryptedAdvert {
            eid,
            plaintext,
            suffix: suffix.to_vec(),
        })
    }
}
