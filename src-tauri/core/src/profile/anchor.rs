//! Rollback detection: the vault's memory of its own past, kept outside its files.
//!
//! Every record file of a profile (passkeys, items, the authenticator state with the CTAP PIN
//! and its retry counter) is listed in a *manifest*: file path → SHA-256 of its bytes. A keyed
//! digest of the manifest (HMAC-SHA-256 under a subkey of the vault key) is kept in the
//! keychain as `anchor:<profile id>`. Opening the vault recomputes the digest from the files
//! and refuses a vault whose files are not the ones last saved: an older state file copied
//! back (which would restore eight PIN retries), a deleted state file (which would remove the
//! CTAP PIN), a deleted passkey's record copied back.
//!
//! Each write is two-phase so a crash at any point still opens: first the anchor records the
//! digest before *and* after the write (`pending`), then the file changes, then the anchor
//! keeps only the new digest. A vault whose files match either digest of an anchor with a
//! pending write opens, and the anchor settles on what the files show.
//!
//! What it does not stop: a program that can also write the keychain can delete or replace
//! the anchor. A missing anchor is taken as "first use" (profiles made before anchors
//! existed), so such a program can roll the files back. Passphrase-only profiles have no
//! keychain and so no anchor.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::crypto::Key;
use super::keychain::{KeyStore, KeychainError};

/// File path (relative to the profile directory) → SHA-256 of its bytes.
pub(crate) type Manifest = BTreeMap<String, [u8; 32]>;

/// What the keychain holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Stored {
    /// Hex digest of the manifest last saved.
    pub(crate) committed: String,
    /// Hex digest of the manifest a write in progress is moving to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pending: Option<String>,
}

impl Stored {
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let stored: Self = serde_json::from_slice(bytes).ok()?;
        let is_digest = |text: &str| text.len() == 64 && hex::decode(text).is_ok();
        (is_digest(&stored.committed) && stored.pending.as_deref().is_none_or(is_digest))
            .then_some(stored)
    }

    fn encode(&self) -> Vec<u8> {
        // Two short strings: serialising them cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// How the files compare with the anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// They are what was last saved.
    Current,
    /// They are what an interrupted write was saving (or had not yet changed).
    Pending,
    /// No anchor yet: a profile from before anchors, or the first open.
    NoAnchor,
    /// They are not: restored, deleted or added files.
    RolledBack,
    /// The anchor entry itself does not parse.
    AnchorDamaged,
}

/// One profile's anchor in the keychain.
pub(crate) struct Anchor {
    store: Arc<dyn KeyStore>,
    account: String,
    key: Key,
}

impl Anchor {
    pub(crate) fn new(store: Arc<dyn KeyStore>, account: String, key: Key) -> Self {
        Self {
            store,
            account,
            key,
        }
    }

    /// The keyed digest of `manifest`, hex.
    pub(crate) fn digest(&self, manifest: &Manifest) -> String {
        let mut listing = Vec::new();
        for (path, hash) in manifest {
            listing.extend_from_slice(path.as_bytes());
            listing.push(0);
            listing.extend_from_slice(hash);
        }
        hex::encode(self.key.mac(&listing))
    }

    /// Compares the files' `manifest` with the anchor.
    pub(crate) fn check(&self, manifest: &Manifest) -> Result<Verdict, KeychainError> {
        let Some(bytes) = self.store.get(&self.account)? else {
            return Ok(Verdict::NoAnchor);
        };
        let Some(stored) = Stored::decode(&bytes) else {
            return Ok(Verdict::AnchorDamaged);
        };
        let actual = self.digest(manifest);
        Ok(if stored.pending.is_none() && stored.committed == actual {
            Verdict::Current
        } else if stored.committed == actual || stored.pending.as_deref() == Some(actual.as_str()) {
            Verdict::Pending
        } else {
            Verdict::RolledBack
        })
    }

    /// Records `manifest` as what the files are now.
    pub(crate) fn settle(&self, manifest: &Manifest) -> Result<(), KeychainError> {
        let stored = Stored {
            committed: self.digest(manifest),
            pending: None,
        };
        self.store.set(&self.account, &stored.encode())
    }

    /// Phase one of a write: both the manifest before and the one after are acceptable.
    pub(crate) fn begin(&self, before: &Manifest, after: &Manifest) -> Result<(), KeychainError> {
        let stored = Stored {
            committed: self.digest(before),
            pending: Some(self.digest(after)),
        };
        self.store.set(&self.account, &stored.encode())
    }
}

/// SHA-256 of a file's bytes, for the manifest.
pub(crate) fn hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::keychain::MemoryKeychain;
    use crate::testing::seeded_rng;

    fn manifest(entries: &[(&str, &[u8])]) -> Manifest {
        entries
            .iter()
            .map(|(path, bytes)| ((*path).to_owned(), hash(bytes)))
            .collect()
    }

    #[test]
    fn an_anchor_accepts_what_was_saved_and_both_sides_of_a_write_in_progress() {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryKeychain::new());
        let key = Key::random(&mut seeded_rng(3));
        let anchor = Anchor::new(Arc::clone(&store), "anchor:x".into(), key);
        let old = manifest(&[("state.pbr", b"v1")]);
        let new = manifest(&[("state.pbr", b"v2")]);
        let newer = manifest(&[("state.pbr", b"v2"), ("records/a.pbr", b"a")]);
        assert_eq!(anchor.check(&old).unwrap(), Verdict::NoAnchor);
        anchor.settle(&old).unwrap();
        assert_eq!(anchor.check(&old).unwrap(), Verdict::Current);
        assert_eq!(anchor.check(&new).unwrap(), Verdict::RolledBack);
        anchor.begin(&old, &new).unwrap();
        assert_eq!(anchor.check(&old).unwrap(), Verdict::Pending);
        assert_eq!(anchor.check(&new).unwrap(), Verdict::Pending);
        assert_eq!(anchor.check(&newer).unwrap(), Verdict::RolledBack);
        anchor.settle(&new).unwrap();
        assert_eq!(anchor.check(&new).unwrap(), Verdict::Current);
        assert_eq!(anchor.check(&old).unwrap(), Verdict::RolledBack);
        // Another vault key gives other digests: the anchor says nothing about the files to
        // whoever reads the keychain without the key.
        let other = Anchor::new(store, "anchor:x".into(), Key::random(&mut seeded_rng(4)));
        assert_eq!(other.check(&new).unwrap(), Verdict::RolledBack);
    }

    #[test]
    fn stored_anchors_round_trip_and_junk_is_damage() {
        let stored = Stored {
            committed: "ab".repeat(32),
            pending: Some("cd".repeat(32)),
        };
        assert_eq!(Stored::decode(&stored.encode()), Some(stored));
        for junk in [
            &b""[..],
            b"{}",
            b"{\"committed\":\"zz\"}",
            b"{\"committed\":\"00\",\"pending\":null}",
        ] {
            assert_eq!(Stored::decode(junk), None, "{junk:?}");
        }
    }
}
