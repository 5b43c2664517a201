//! On-disk record format and crash-safe file replacement.
//!
//! One file per record, so a damaged record costs exactly that record:
//!
//! ```text
//! "PBV1" | kind u8 | id_len u16 BE | seal(id) | body_len u32 BE | seal(body)
//! seal(x) = nonce(12) || AES-256-GCM(x) || tag(16)
//! AAD(id)   = "PBV1" | kind | profile id | "/id"
//! AAD(body) = "PBV1" | kind | profile id | "/body/" | id
//! ```
//!
//! The record's identity (credential ID) is sealed separately from its body so that a damaged
//! body can still be reported by credential ID. Binding the profile ID into both AADs means a
//! record copied from another profile never authenticates, even under an equal key, and
//! binding the ID into the body's AAD stops bodies being swapped between records.
//!
//! Files are replaced with write-to-temp, `fsync`, `rename`, `fsync(dir)`: after a crash the
//! final name holds either the old or the new complete record, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use zeroize::Zeroizing;

use super::crypto::{self, Key};

const MAGIC: &[u8; 4] = b"PBV1";

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Credential = 1,
    State = 2,
    Item = 3,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Self::Credential => 1,
            Self::State => 2,
            Self::Item => 3,
        }
    }
}

/// Why a record could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Damage {
    /// Shorter than its own length fields say, or missing its header.
    #[error("truncated or malformed")]
    Truncated,
    /// The identity section failed authentication (tampered, or from another profile).
    #[error("identity section failed authentication (tampered, or copied from another profile)")]
    IdentityTampered,
    /// The body failed authentication (tampered or truncated).
    #[error("contents failed authentication (tampered or truncated)")]
    BodyTampered,
    /// Authentic, but stored under another record's file name (records swapped or renamed).
    #[error("stored under the wrong file name (records swapped or renamed)")]
    Misplaced,
    /// Authentic, but its contents do not decode.
    #[error("contents do not decode")]
    Undecodable,
    /// Bytes after the last section.
    #[error("unexpected trailing data")]
    TrailingData,
    /// The file could not be read at all (permissions, a failing disk).
    #[error("cannot be read")]
    Unreadable,
}

/// A record that failed to decode, with as much identity as could be recovered.
#[derive(Debug)]
pub(crate) struct DecodeFailure {
    pub(crate) id: Option<Vec<u8>>,
    pub(crate) damage: Damage,
}

fn aad(kind: Kind, profile_id: &str, section: &[u8], id: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(8 + profile_id.len() + section.len() + id.len());
    aad.extend_from_slice(MAGIC);
    aad.push(kind.byte());
    aad.extend_from_slice(profile_id.as_bytes());
    aad.extend_from_slice(section);
    aad.extend_from_slice(id);
    aad
}

/// Seals one record.
pub(crate) fn encode(
    key: &Key,
    profile_id: &str,
    kind: Kind,
    id: &[u8],
    body: &[u8],
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<Vec<u8>, crypto::OpenError> {
    let id_sealed = crypto::seal(key, &aad(kind, profile_id, b"/id", &[]), id, rng)?;
    let body_sealed = crypto::seal(key, &aad(kind, profile_id, b"/body/", id), body, rng)?;
    let id_len = u16::try_from(id_sealed.len()).map_err(|_| crypto::OpenError)?;
    let body_len = u32::try_from(body_sealed.len()).map_err(|_| crypto::OpenError)?;
    let mut out = Vec::with_capacity(11 + id_sealed.len() + body_sealed.len());
    out.extend_from_slice(MAGIC);
    out.push(kind.byte());
    out.extend_from_slice(&id_len.to_be_bytes());
    out.extend_from_slice(&id_sealed);
    out.extend_from_slice(&body_len.to_be_bytes());
    out.extend_from_slice(&body_sealed);
    Ok(out)
}

/// Opens one record: its ID and plaintext body.
pub(crate) fn decode(
    key: &Key,
    profile_id: &str,
    kind: Kind,
    bytes: &[u8],
) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), DecodeFailure> {
    let truncated = |id: Option<Vec<u8>>| DecodeFailure {
        id,
        damage: Damage::Truncated,
    };
    let (magic, rest) = bytes.split_at_checked(4).ok_or_else(|| truncated(None))?;
    let (kind_byte, rest) = rest.split_first().ok_or_else(|| truncated(None))?;
    if magic != MAGIC || *kind_byte != kind.byte() {
        return Err(truncated(None));
    }
    let (id_len, rest) = take::<2>(rest).ok_or_else(|| truncated(None))?;
    let id_len = usize::from(u16::from_be_bytes(id_len));
    let (id_sealed, rest) = rest
        .split_at_checked(id_len)
        .ok_or_else(|| truncated(None))?;
    let id = crypto::open(key, &aad(kind, profile_id, b"/id", &[]), id_sealed)
        .map_err(|_| DecodeFailure {
            id: None,
            damage: Damage::IdentityTampered,
        })?
        .to_vec();

    let Some((body_len, rest)) = take::<4>(rest) else {
        return Err(truncated(Some(id)));
    };
    let Ok(body_len) = usize::try_from(u32::from_be_bytes(body_len)) else {
        return Err(truncated(Some(id)));
    };
    let Some((body_sealed, rest)) = rest.split_at_checked(body_len) else {
        return Err(truncated(Some(id)));
    };
    if !rest.is_empty() {
        return Err(DecodeFailure {
            id: Some(id),
            damage: Damage::TrailingData,
        });
    }
    match crypto::open(key, &aad(kind, profile_id, b"/body/", &id), body_sealed) {
        Ok(body) => Ok((id, body)),
        Err(_) => Err(DecodeFailure {
            id: Some(id),
            damage: Damage::BodyTampered,
        }),
    }
}

/// Splits a fixed-size prefix off `bytes`.
fn take<const N: usize>(bytes: &[u8]) -> Option<([u8; N], &[u8])> {
    let (head, rest) = bytes.split_at_checked(N)?;
    Some((head.try_into().ok()?, rest))
}

/// Atomically replaces `dir/name` with `bytes`.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    // The temporary name only has to differ from every other writer's: this process's ID and
    // a per-process counter do that without drawing randomness.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let suffix = format!(
        "{}-{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    );
    let tmp = dir.join(format!(".{name}.{suffix}.tmp"));
    let result = (|| {
        let mut file = private_file_options().open(&tmp)?;
        file.write_all(bytes)?;
        // The data must be durable before the rename makes it visible under the final name.
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, dir.join(name))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // Best effort: a leftover temp file is ignored on load anyway.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes `dir/name` durably; returns whether it existed.
pub(crate) fn remove_durable(dir: &Path, name: &str) -> io::Result<bool> {
    match fs::remove_file(dir.join(name)) {
        Ok(()) => {
            sync_dir(dir)?;
            Ok(true)
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// Makes renames and removals in `dir` durable. Directories cannot be opened for syncing on
/// Windows, where NTFS journals the rename itself.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn private_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Owner-only: another OS account on the machine must not even read ciphertext.
        options.mode(0o600);
    }
    options
}

/// Creates `dir` (and parents) readable by the owner only.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage_classes() {
        use rand_chacha::rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let key = Key::random(&mut rng);
        let record = encode(
            &key,
            "p1",
            Kind::Credential,
            b"cred-1",
            b"secret body",
            &mut rng,
        )
        .unwrap();
        let (id, body) = decode(&key, "p1", Kind::Credential, &record).unwrap();
        assert_eq!(
            (id.as_slice(), body.as_slice()),
            (&b"cred-1"[..], &b"secret body"[..])
        );

        let mut flipped = record.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let failure = decode(&key, "p1", Kind::Credential, &flipped).unwrap_err();
        assert_eq!(failure.damage, Damage::BodyTampered);
        assert_eq!(failure.id.as_deref(), Some(&b"cred-1"[..]));

        let failure =
            decode(&key, "p1", Kind::Credential, &record[..record.len() - 5]).unwrap_err();
        assert_eq!(failure.damage, Damage::Truncated);
        assert_eq!(failure.id.as_deref(), Some(&b"cred-1"[..]));

        let failure = decode(&key, "p2", Kind::Credential, &record).unwrap_err();
        assert_eq!(failure.damage, Damage::IdentityTampered);
        assert!(decode(&key, "p1", Kind::State, &record).is_err());
    }
}
