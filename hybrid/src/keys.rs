//! Key material and the HKDF-based derivations (`docs/hybrid.md` §3).
//!
//! `Derive(secret, salt, purpose, L) = HKDF-SHA256(ikm = secret, salt, info = LE32(purpose), L)`.
//! All functions here are pure; randomness comes from the caller's RNG.

use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand_core::CryptoRngCore;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{HandshakeProblem, QrProblem};

/// Length of an uncompressed X9.62 P-256 point.
pub const UNCOMPRESSED_LEN: usize = 65;
/// Length of a compressed X9.62 P-256 point.
pub const COMPRESSED_LEN: usize = 33;

/// HKDF `info` purposes (LE32 on the wire). Protocol constants (Chromium `v2_handshake.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyPurpose {
    /// 1: 64-byte EID key (AES-256 key || HMAC key).
    EidKey,
    /// 2: 16-byte tunnel ID.
    TunnelId,
    /// 3: 32-byte Noise PSK.
    Psk,
    /// 4: paired ("link") secret, phone side.
    PairedSecret,
    /// 5: phone identity-key seed.
    IdentityKeySeed,
    /// 6: per-contact-ID secret, phone side.
    PerContactIdSecret,
}

impl KeyPurpose {
    /// The numeric purpose.
    pub fn value(self) -> u32 {
        match self {
            Self::EidKey => 1,
            Self::TunnelId => 2,
            Self::Psk => 3,
            Self::PairedSecret => 4,
            Self::IdentityKeySeed => 5,
            Self::PerContactIdSecret => 6,
        }
    }
}

/// `Derive(secret, salt, purpose)` filling `out` (any length up to 255*32).
///
/// An empty `salt` means the RFC 5869 default (32 zero bytes).
pub fn derive(secret: &[u8], salt: &[u8], purpose: KeyPurpose, out: &mut [u8]) {
    let salt = if salt.is_empty() { None } else { Some(salt) };
    let hk = Hkdf::<Sha256>::new(salt, secret);
    let info = purpose.value().to_le_bytes();
    // Output lengths used in this crate are at most 64 bytes, far below HKDF's limit; a longer
    // request from a caller yields zeros rather than a panic.
    if hk.expand(&info, out).is_err() {
        out.fill(0);
    }
}

macro_rules! secret_bytes {
    ($(#[$m:meta])* $name:ident, $len:expr) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Wraps raw bytes.
            pub fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }
            /// The raw secret bytes.
            pub fn expose_secret(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

secret_bytes!(
    /// The 16-byte secret carried in the QR code (key 1).
    QrSecret,
    16
);
secret_bytes!(
    /// The 64-byte advert key: AES-256 key (0..32) || HMAC-SHA256 key (32..64).
    EidKey,
    64
);
secret_bytes!(
    /// The 32-byte Noise pre-shared key.
    Psk,
    32
);
secret_bytes!(
    /// The 32-byte link secret from linking info key 3 (state-assisted flow).
    LinkSecret,
    32
);

impl QrSecret {
    /// Draws a fresh secret.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        Self(b)
    }

    /// Purpose 1: the EID key for adverts of a QR session.
    pub fn eid_key(&self) -> EidKey {
        let mut out = [0u8; 64];
        derive(&self.0, &[], KeyPurpose::EidKey, &mut out);
        EidKey(out)
    }

    /// Purpose 2: the tunnel ID.
    pub fn tunnel_id(&self) -> TunnelId {
        let mut out = [0u8; 16];
        derive(&self.0, &[], KeyPurpose::TunnelId, &mut out);
        TunnelId(out)
    }

    /// Purpose 3: the PSK, salted with the whole 16-byte decrypted EID plaintext.
    pub fn psk(&self, eid_plaintext: &[u8; 16]) -> Psk {
        let mut out = [0u8; 32];
        derive(&self.0, eid_plaintext, KeyPurpose::Psk, &mut out);
        Psk(out)
    }
}

impl LinkSecret {
    /// State-assisted EID key: `Derive(link secret, client nonce, 1, 64)`.
    pub fn eid_key(&self, client_nonce: &[u8; 16]) -> EidKey {
        let mut out = [0u8; 64];
        derive(&self.0, client_nonce, KeyPurpose::EidKey, &mut out);
        EidKey(out)
    }

    /// State-assisted PSK: `Derive(link secret, EID plaintext, 3, 32)`.
    pub fn psk(&self, eid_plaintext: &[u8; 16]) -> Psk {
        let mut out = [0u8; 32];
        derive(&self.0, eid_plaintext, KeyPurpose::Psk, &mut out);
        Psk(out)
    }
}

impl EidKey {
    /// AES-256 key half.
    pub(crate) fn aes_key(&self) -> [u8; 32] {
        let mut k = [0u8; 32];
        let (a, _) = self.0.split_at(32);
        k.copy_from_slice(a);
        k
    }

    /// HMAC key half.
    pub(crate) fn hmac_key(&self) -> &[u8] {
        let (_, b) = self.0.split_at(32);
        b
    }
}

/// The 16-byte tunnel ID (`HEX` in `/cable/new/…` and `/cable/connect/…/…`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TunnelId(pub [u8; 16]);

impl core::fmt::Debug for TunnelId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TunnelId({})", crate::util::hex_upper(&self.0))
    }
}

/// The 3-byte routing ID assigned by the tunnel server.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoutingId(pub [u8; 3]);

impl core::fmt::Debug for RoutingId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RoutingId({})", crate::util::hex_upper(&self.0))
    }
}

impl RoutingId {
    /// Parses the `X-caBLE-Routing-ID` header value (6 hex digits, any case).
    pub fn from_hex(s: &str) -> Option<Self> {
        let v = crate::util::hex_decode(s.trim())?;
        let arr: [u8; 3] = v.try_into().ok()?;
        Some(Self(arr))
    }
}

/// A validated P-256 public key (stored uncompressed, as Noise uses it).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    point: p256::PublicKey,
    uncompressed: [u8; UNCOMPRESSED_LEN],
}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "PublicKey({})",
            crate::util::hex_lower(&self.compressed())
        )
    }
}

impl PublicKey {
    fn from_point(point: p256::PublicKey) -> Self {
        let enc = point.to_encoded_point(false);
        let mut uncompressed = [0u8; UNCOMPRESSED_LEN];
        if enc.as_bytes().len() == UNCOMPRESSED_LEN {
            uncompressed.copy_from_slice(enc.as_bytes());
        }
        Self {
            point,
            uncompressed,
        }
    }

    /// Parses a SEC1 point (compressed 33 bytes or uncompressed 65 bytes); rejects the
    /// identity and off-curve points.
    pub fn from_sec1(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != COMPRESSED_LEN && bytes.len() != UNCOMPRESSED_LEN {
            return None;
        }
        p256::PublicKey::from_sec1_bytes(bytes)
            .ok()
            .map(Self::from_point)
    }

    /// Parses a 33-byte compressed point (QR key 0).
    ///
    /// # Errors
    /// [`QrProblem::BadIdentityKey`] for anything that is not a compressed on-curve point.
    pub fn from_compressed(bytes: &[u8]) -> Result<Self, QrProblem> {
        if bytes.len() != COMPRESSED_LEN {
            return Err(QrProblem::BadIdentityKey);
        }
        Self::from_sec1(bytes).ok_or(QrProblem::BadIdentityKey)
    }

    /// Parses a 65-byte uncompressed point (Noise messages, linking key 4).
    ///
    /// # Errors
    /// [`HandshakeProblem::BadPublicKey`] for anything else.
    pub fn from_uncompressed(bytes: &[u8]) -> Result<Self, HandshakeProblem> {
        if bytes.len() != UNCOMPRESSED_LEN {
            return Err(HandshakeProblem::BadPublicKey);
        }
        Self::from_sec1(bytes).ok_or(HandshakeProblem::BadPublicKey)
    }

    /// 65-byte `04 || X || Y`.
    pub fn uncompressed(&self) -> &[u8; UNCOMPRESSED_LEN] {
        &self.uncompressed
    }

    /// 33-byte compressed form (QR key 0).
    pub fn compressed(&self) -> [u8; COMPRESSED_LEN] {
        let enc = self.point.to_encoded_point(true);
        let mut out = [0u8; COMPRESSED_LEN];
        if enc.as_bytes().len() == COMPRESSED_LEN {
            out.copy_from_slice(enc.as_bytes());
        }
        out
    }
}

/// A P-256 private key: the client's per-QR identity key, or a phone's static (linking) key.
///
/// The scalar arithmetic (public key, ECDH) runs on aws-lc-rs, whose P-256 is assembly-backed:
/// on this project's reference machine it is roughly 9x faster than the pure-Rust `p256`
/// crate, which keeps only point parsing and encoding here (see `docs/benchmarks.md`).
/// Clones share aws-lc's immutable key handle (freed, and wiped by aws-lc, with the last one).
#[derive(Clone)]
pub struct PrivateKey {
    scalar: zeroize::Zeroizing<[u8; 32]>,
    key: std::sync::Arc<aws_lc_rs::agreement::PrivateKey>,
    public: PublicKey,
}

impl core::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PrivateKey(public: {:?})", self.public)
    }
}

impl PrivateKey {
    /// A fresh random key, drawn from the caller's RNG (rejection sampling: a 32-byte draw
    /// that is zero or not below the group order, probability about 2^-32, is drawn again).
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        loop {
            let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
            rng.fill_bytes(bytes.as_mut_slice());
            if let Ok(key) = Self::from_bytes(&bytes) {
                return key;
            }
        }
    }

    /// From a 32-byte big-endian scalar.
    ///
    /// # Errors
    /// [`HandshakeProblem::BadPrivateKey`] if the scalar is zero or not below the group order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, HandshakeProblem> {
        use aws_lc_rs::agreement;
        let key = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, bytes)
            .map_err(|_| HandshakeProblem::BadPrivateKey)?;
        let public = key
            .compute_public_key()
            .map_err(|_| HandshakeProblem::BadPrivateKey)?;
        // aws-lc computed this point itself, so it is on the curve; parsing it once more keeps
        // one representation (and its checks) for every public key in the crate.
        let public = PublicKey::from_uncompressed(public.as_ref())
            .map_err(|_| HandshakeProblem::BadPrivateKey)?;
        Ok(Self {
            scalar: zeroize::Zeroizing::new(*bytes),
            key: std::sync::Arc::new(key),
            public,
        })
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The 32-byte scalar (for persistence and for the Noise library).
    pub fn expose_secret(&self) -> zeroize::Zeroizing<[u8; 32]> {
        self.scalar.clone()
    }

    /// ECDH: the 32-byte x-coordinate of `self * peer`.
    pub fn ecdh_x(&self, peer: &PublicKey) -> zeroize::Zeroizing<[u8; 32]> {
        use aws_lc_rs::agreement;
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, peer.uncompressed());
        // `peer` was validated on parsing (on the curve, not the identity), so aws-lc cannot
        // refuse it; should it anyway, the all-zero output fails the handshake's AEAD check
        // instead of panicking.
        let _ = agreement::agree(&self.key, peer, (), |shared| {
            if let Some(dst) = out.get_mut(..shared.len()) {
                dst.copy_from_slice(shared);
            }
            Ok(())
        });
        out
    }
}
