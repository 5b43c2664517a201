//! Post-handshake transport encryption (`docs/hybrid.md` §6.6): 32-byte padding + AES-256-GCM
//! with a per-direction sequence number.
//!
//! * current construction: nonce `0^8 || BE32(seq)`, no associated data;
//! * legacy construction (old Chromium): nonce `LE32(seq) || 0^8`, AD = `0x02`.
//!
//! A client ([`Construction::Negotiate`]) tries the current construction on the first
//! received message, falls back to legacy, and then sticks to whichever worked in both
//! directions. Counters advance only on success.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use zeroize::Zeroize;

use crate::error::FrameProblem;

/// Highest sequence number Chromium accepts (2^24 - 1).
pub const MAX_SEQUENCE: u32 = (1 << 24) - 1;
/// Padding granularity.
pub const PADDING_GRANULARITY: usize = 32;
/// Largest plaintext accepted for encryption or decryption (Chromium's 1 MiB WebSocket cap).
pub const MAX_MESSAGE_LEN: usize = 1 << 20;

/// Which nonce/AD construction a [`Crypter`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Construction {
    /// Current Chromium: BE32 sequence in the last 4 nonce bytes, no AD.
    Current,
    /// Old Chromium: LE32 sequence in the first 4 nonce bytes, AD `0x02`.
    Legacy,
    /// Not decided yet: send current, accept either on the first received message.
    Negotiate,
}

/// Pads to a multiple of 32: `m || 0^z || z`.
pub fn pad(message: &[u8]) -> Vec<u8> {
    let total = (message.len() + 1).div_ceil(PADDING_GRANULARITY) * PADDING_GRANULARITY;
    let z = total - message.len() - 1;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(message);
    out.resize(total - 1, 0);
    // z < 32 by construction.
    out.push(u8::try_from(z).unwrap_or(0));
    out
}

/// Removes [`pad`]'s padding.
///
/// # Errors
/// [`FrameProblem::Padding`] if the input is empty or the length byte points outside it.
pub fn unpad(padded: &[u8]) -> Result<&[u8], FrameProblem> {
    let (&z, rest) = padded.split_last().ok_or(FrameProblem::Padding)?;
    let keep = rest
        .len()
        .checked_sub(usize::from(z))
        .ok_or(FrameProblem::Padding)?;
    rest.get(..keep).ok_or(FrameProblem::Padding)
}

fn nonce(construction: Construction, seq: u32) -> [u8; 12] {
    let mut n = [0u8; 12];
    let (head, tail) = n.split_at_mut(8);
    match construction {
        Construction::Legacy => {
            for (d, s) in head.iter_mut().zip(seq.to_le_bytes()) {
                *d = s;
            }
        }
        Construction::Current | Construction::Negotiate => {
            for (d, s) in tail.iter_mut().zip(seq.to_be_bytes()) {
                *d = s;
            }
        }
    }
    n
}

fn aad(construction: Construction) -> &'static [u8] {
    match construction {
        Construction::Legacy => &[0x02],
        Construction::Current | Construction::Negotiate => &[],
    }
}

/// Transport encryption state for one session (both directions).
pub struct Crypter {
    read: Aes256Gcm,
    write: Aes256Gcm,
    read_seq: u32,
    write_seq: u32,
    construction: Construction,
}

impl core::fmt::Debug for Crypter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Crypter")
            .field("read_seq", &self.read_seq)
            .field("write_seq", &self.write_seq)
            .field("construction", &self.construction)
            .finish_non_exhaustive()
    }
}

impl Crypter {
    /// From raw traffic keys (the handshake's split, or keys from a trace).
    pub fn new(
        mut read_key: [u8; 32],
        mut write_key: [u8; 32],
        construction: Construction,
    ) -> Self {
        let read = Aes256Gcm::new(&read_key.into());
        let write = Aes256Gcm::new(&write_key.into());
        read_key.zeroize();
        write_key.zeroize();
        Self {
            read,
            write,
            read_seq: 0,
            write_seq: 0,
            construction,
        }
    }

    /// Forces a construction. [`Construction::Legacy`] is only for emulating old phones.
    pub fn with_construction(mut self, construction: Construction) -> Self {
        self.construction = construction;
        self
    }

    /// The construction in use (or [`Construction::Negotiate`] before the first message).
    pub fn construction(&self) -> Construction {
        self.construction
    }

    /// Pads and encrypts one message.
    ///
    /// # Errors
    /// [`FrameProblem::SequenceLimit`] after 2^24 messages, [`FrameProblem::TooLarge`].
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, FrameProblem> {
        if plaintext.len() > MAX_MESSAGE_LEN {
            return Err(FrameProblem::TooLarge);
        }
        if self.write_seq > MAX_SEQUENCE {
            return Err(FrameProblem::SequenceLimit);
        }
        let mut padded = pad(plaintext);
        let c = self.construction;
        let ct = self
            .write
            .encrypt(
                Nonce::from_slice(&nonce(c, self.write_seq)),
                Payload {
                    msg: &padded,
                    aad: aad(c),
                },
            )
            .map_err(|_| FrameProblem::TooLarge);
        padded.zeroize();
        let ct = ct?;
        self.write_seq += 1;
        Ok(ct)
    }

    /// Decrypts and unpads one message.
    ///
    /// # Errors
    /// [`FrameProblem::Decrypt`], [`FrameProblem::Padding`], [`FrameProblem::SequenceLimit`],
    /// [`FrameProblem::TooLarge`]. The counter does not advance on failure.
    pub fn decrypt(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, FrameProblem> {
        if ciphertext.len() > MAX_MESSAGE_LEN + 64 {
            return Err(FrameProblem::TooLarge);
        }
        if self.read_seq > MAX_SEQUENCE {
            return Err(FrameProblem::SequenceLimit);
        }
        let open = |c: Construction| {
            self.read
                .decrypt(
                    Nonce::from_slice(&nonce(c, self.read_seq)),
                    Payload {
                        msg: ciphertext,
                        aad: aad(c),
                    },
                )
                .ok()
        };
        let (padded, used) = match self.construction {
            Construction::Negotiate => match open(Construction::Current) {
                Some(p) => (p, Construction::Current),
                None => (
                    open(Construction::Legacy).ok_or(FrameProblem::Decrypt)?,
                    Construction::Legacy,
                ),
            },
            c => (open(c).ok_or(FrameProblem::Decrypt)?, c),
        };
        let mut padded = padded;
        let result = unpad(&padded).map(<[u8]>::to_vec);
        padded.zeroize();
        let plain = result?;
        self.construction = used;
        self.read_seq += 1;
        Ok(plain)
    }

    /// Test hook: jump both counters (e.g. to exercise the sequence limit).
    #[doc(hidden)]
    pub fn set_sequence_numbers_for_testing(&mut self, read_seq: u32, write_seq: u32) {
        self.read_seq = read_seq;
        self.write_seq = write_seq;
    }
}
