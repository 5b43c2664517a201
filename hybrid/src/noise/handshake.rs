//! The two-message caBLE handshakes as typestates (`docs/hybrid.md` §6).
//!
//! ```text
//! client (initiator)                                phone (responder)
//! InitiatorStart --write_message--> [81 B] --> ResponderStart.read_message
//!                                                   -> ResponderReceived
//! InitiatorSent  <--[81 B]<-- write_message ------- ResponderReceived
//!   .read_message -> Established                      -> Established
//! ```
//!
//! Every step consumes the state: a failed step cannot be retried with the same keys.

use rand_core::CryptoRngCore;
use snow::{Builder, HandshakeState};

use super::crypter::{Construction, Crypter};
use super::resolver::CableResolver;
use crate::error::HandshakeProblem;
use crate::keys::{PrivateKey, Psk, PublicKey, UNCOMPRESSED_LEN};

/// Exact size of both handshake messages: 65-byte point + 16-byte tag.
pub const HANDSHAKE_MESSAGE_LEN: usize = UNCOMPRESSED_LEN + 16;

/// QR-initiated pattern.
pub const KN_PSK0: &str = "Noise_KNpsk0_P256_AESGCM_SHA256";
/// State-assisted (linked phone) pattern.
pub const NK_PSK0: &str = "Noise_NKpsk0_P256_AESGCM_SHA256";

/// A finished handshake: the transport crypter and the handshake hash `h`.
pub struct Established {
    /// Transport encryption for the rest of the session.
    pub crypter: Crypter,
    /// Final Noise `h`; the linking signature covers it.
    pub handshake_hash: [u8; 32],
}

impl core::fmt::Debug for Established {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Established").finish_non_exhaustive()
    }
}

fn map_snow(e: &snow::Error) -> HandshakeProblem {
    match e {
        snow::Error::Decrypt => HandshakeProblem::Decrypt,
        snow::Error::Dh => HandshakeProblem::BadPublicKey,
        _ => HandshakeProblem::Internal,
    }
}

struct Params<'a> {
    pattern: &'static str,
    prologue: u8,
    local: Option<&'a PrivateKey>,
    remote: Option<&'a PublicKey>,
}

fn build(
    params: &Params<'_>,
    psk: &Psk,
    ephemeral: &PrivateKey,
    initiator: bool,
) -> Result<HandshakeState, HandshakeProblem> {
    let noise_params = params
        .pattern
        .parse()
        .map_err(|_| HandshakeProblem::Internal)?;
    let resolver = Box::new(CableResolver::new(ephemeral));
    let local = params.local.map(PrivateKey::expose_secret);
    let prologue = [params.prologue];
    let mut b = Builder::with_resolver(noise_params, resolver)
        .prologue(&prologue)
        .and_then(|b| b.psk(0, psk.expose_secret()))
        .map_err(|e| map_snow(&e))?;
    if let Some(local) = local.as_ref() {
        b = b
            .local_private_key(local.as_slice())
            .map_err(|e| map_snow(&e))?;
    }
    if let Some(remote) = params.remote {
        b = b
            .remote_public_key(remote.uncompressed())
            .map_err(|e| map_snow(&e))?;
    }
    let hs = if initiator {
        b.build_initiator()
    } else {
        b.build_responder()
    };
    hs.map_err(|e| map_snow(&e))
}

fn finish(mut hs: HandshakeState, initiator: bool) -> Result<Established, HandshakeProblem> {
    let mut handshake_hash = [0u8; 32];
    let h = hs.get_handshake_hash();
    if h.len() != 32 {
        return Err(HandshakeProblem::Internal);
    }
    handshake_hash.copy_from_slice(h);
    let (k1, k2) = hs.dangerously_get_raw_split();
    let (write, read) = if initiator { (k1, k2) } else { (k2, k1) };
    let construction = if initiator {
        Construction::Negotiate
    } else {
        Construction::Current
    };
    Ok(Established {
        crypter: Crypter::new(read, write, construction),
        handshake_hash,
    })
}

fn write_empty(hs: &mut HandshakeState) -> Result<[u8; HANDSHAKE_MESSAGE_LEN], HandshakeProblem> {
    let mut out = [0u8; HANDSHAKE_MESSAGE_LEN];
    let n = hs.write_message(&[], &mut out).map_err(|e| map_snow(&e))?;
    if n != HANDSHAKE_MESSAGE_LEN {
        return Err(HandshakeProblem::Internal);
    }
    Ok(out)
}

fn read_empty(hs: &mut HandshakeState, msg: &[u8]) -> Result<(), HandshakeProblem> {
    if msg.len() != HANDSHAKE_MESSAGE_LEN {
        return Err(HandshakeProblem::WrongLength(msg.len()));
    }
    // Validate the point ourselves so a bad key is reported as such, not as a decrypt error.
    PublicKey::from_uncompressed(msg.get(..UNCOMPRESSED_LEN).unwrap_or_default())?;
    let mut payload = [0u8; HANDSHAKE_MESSAGE_LEN];
    let n = hs
        .read_message(msg, &mut payload)
        .map_err(|e| map_snow(&e))?;
    if n != 0 {
        return Err(HandshakeProblem::NonEmptyPayload);
    }
    Ok(())
}

/// Client, before message 1.
pub struct InitiatorStart {
    hs: HandshakeState,
}

/// Client, after sending message 1.
pub struct InitiatorSent {
    hs: HandshakeState,
}

impl core::fmt::Debug for InitiatorStart {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("InitiatorStart")
    }
}
impl core::fmt::Debug for InitiatorSent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("InitiatorSent")
    }
}

impl InitiatorStart {
    /// QR flow (`KNpsk0`, prologue `0x01`): the client's identity key is the static key the
    /// phone already knows from the QR code.
    ///
    /// # Errors
    /// [`HandshakeProblem::Internal`] if the Noise library refuses the parameters.
    pub fn qr(
        psk: &Psk,
        identity: &PrivateKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, HandshakeProblem> {
        Self::qr_with_ephemeral(psk, identity, &PrivateKey::generate(rng))
    }

    /// As [`InitiatorStart::qr`] with a fixed ephemeral key: known-answer tests only.
    ///
    /// # Errors
    /// As [`InitiatorStart::qr`].
    pub fn qr_for_testing(
        psk: &Psk,
        identity: &PrivateKey,
        ephemeral: &PrivateKey,
    ) -> Result<Self, HandshakeProblem> {
        Self::qr_with_ephemeral(psk, identity, ephemeral)
    }

    pub(crate) fn qr_with_ephemeral(
        psk: &Psk,
        identity: &PrivateKey,
        e: &PrivateKey,
    ) -> Result<Self, HandshakeProblem> {
        let p = Params {
            pattern: KN_PSK0,
            prologue: 1,
            local: Some(identity),
            remote: None,
        };
        Ok(Self {
            hs: build(&p, psk, e, true)?,
        })
    }

    /// State-assisted flow (`NKpsk0`, prologue `0x00`): the phone's static key comes from
    /// the stored linking info (key 4).
    ///
    /// # Errors
    /// [`HandshakeProblem::Internal`].
    pub fn linked(
        psk: &Psk,
        phone_static: &PublicKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, HandshakeProblem> {
        Self::linked_with_ephemeral(psk, phone_static, &PrivateKey::generate(rng))
    }

    /// As [`InitiatorStart::linked`] with a fixed ephemeral key: tests only.
    ///
    /// # Errors
    /// As [`InitiatorStart::linked`].
    pub fn linked_for_testing(
        psk: &Psk,
        phone_static: &PublicKey,
        ephemeral: &PrivateKey,
    ) -> Result<Self, HandshakeProblem> {
        Self::linked_with_ephemeral(psk, phone_static, ephemeral)
    }

    pub(crate) fn linked_with_ephemeral(
        psk: &Psk,
        phone: &PublicKey,
        e: &PrivateKey,
    ) -> Result<Self, HandshakeProblem> {
        let p = Params {
            pattern: NK_PSK0,
            prologue: 0,
            local: None,
            remote: Some(phone),
        };
        Ok(Self {
            hs: build(&p, psk, e, true)?,
        })
    }

    /// Writes message 1 (`-> psk, e` [`, es`]), 81 bytes.
    ///
    /// # Errors
    /// [`HandshakeProblem`] if the Noise library fails (not expected).
    pub fn write_message(
        mut self,
    ) -> Result<(InitiatorSent, [u8; HANDSHAKE_MESSAGE_LEN]), HandshakeProblem> {
        let msg = write_empty(&mut self.hs)?;
        Ok((InitiatorSent { hs: self.hs }, msg))
    }
}

impl InitiatorSent {
    /// Reads message 2 (`<- e, ee, se` / `<- e, ee`), which must be exactly 81 bytes with an
    /// empty payload.
    ///
    /// # Errors
    /// [`HandshakeProblem::WrongLength`], [`HandshakeProblem::BadPublicKey`],
    /// [`HandshakeProblem::Decrypt`] (e.g. wrong PSK).
    pub fn read_message(mut self, msg: &[u8]) -> Result<Established, HandshakeProblem> {
        read_empty(&mut self.hs, msg)?;
        finish(self.hs, true)
    }
}

/// Phone, before message 1.
pub struct ResponderStart {
    hs: HandshakeState,
}

/// Phone, after reading message 1.
pub struct ResponderReceived {
    hs: HandshakeState,
}

impl core::fmt::Debug for ResponderStart {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ResponderStart")
    }
}
impl core::fmt::Debug for ResponderReceived {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ResponderReceived")
    }
}

impl ResponderStart {
    /// QR flow: the client's identity key comes from the QR code.
    ///
    /// # Errors
    /// [`HandshakeProblem::Internal`].
    pub fn qr(
        psk: &Psk,
        client_identity: &PublicKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, HandshakeProblem> {
        Self::qr_with_ephemeral(psk, client_identity, &PrivateKey::generate(rng))
    }

    /// As [`ResponderStart::qr`] with a fixed ephemeral key: tests only.
    ///
    /// # Errors
    /// As [`ResponderStart::qr`].
    pub fn qr_for_testing(
        psk: &Psk,
        client_identity: &PublicKey,
        ephemeral: &PrivateKey,
    ) -> Result<Self, HandshakeProblem> {
        Self::qr_with_ephemeral(psk, client_identity, ephemeral)
    }

    pub(crate) fn qr_with_ephemeral(
        psk: &Psk,
        client: &PublicKey,
        e: &PrivateKey,
    ) -> Result<Self, HandshakeProblem> {
        let p = Params {
            pattern: KN_PSK0,
            prologue: 1,
            local: None,
            remote: Some(client),
        };
        Ok(Self {
            hs: build(&p, psk, e, false)?,
        })
    }

    /// State-assisted flow: the phone's static (linking) key.
    ///
    /// # Errors
    /// [`HandshakeProblem::Internal`].
    pub fn linked(
        psk: &Psk,
        static_key: &PrivateKey,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, HandshakeProblem> {
        Self::linked_with_ephemeral(psk, static_key, &PrivateKey::generate(rng))
    }

    /// As [`ResponderStart::linked`] with a fixed ephemeral key: tests only.
    ///
    /// # Errors
    /// As [`ResponderStart::linked`].
    pub fn linked_for_testing(
        psk: &Psk,
        static_key: &PrivateKey,
        ephemeral: &PrivateKey,
    ) -> Result<Self, HandshakeProblem> {
        Self::linked_with_ephemeral(psk, static_key, ephemeral)
    }

    pub(crate) fn linked_with_ephemeral(
        psk: &Psk,
        s: &PrivateKey,
        e: &PrivateKey,
    ) -> Result<Self, HandshakeProblem> {
        let p = Params {
            pattern: NK_PSK0,
            prologue: 0,
            local: Some(s),
            remote: None,
        };
        Ok(Self {
            hs: build(&p, psk, e, false)?,
        })
    }

    /// Reads message 1: exactly 81 bytes, empty payload.
    ///
    /// # Errors
    /// [`HandshakeProblem::WrongLength`], [`HandshakeProblem::BadPublicKey`],
    /// [`HandshakeProblem::Decrypt`] (wrong PSK).
    pub fn read_message(mut self, msg: &[u8]) -> Result<ResponderReceived, HandshakeProblem> {
        read_empty(&mut self.hs, msg)?;
        Ok(ResponderReceived { hs: self.hs })
    }
}

impl ResponderReceived {
    /// Writes message 2 and finishes.
    ///
    /// # Errors
    /// [`HandshakeProblem`] if the Noise library fails (not expected).
    pub fn write_message(
        mut self,
    ) -> Result<(Established, [u8; HANDSHAKE_MESSAGE_LEN]), HandshakeProblem> {
        let msg = write_empty(&mut self.hs)?;
        Ok((finish(self.hs, false)?, msg))
    }
}
