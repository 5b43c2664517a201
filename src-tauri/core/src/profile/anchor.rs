//! Rollback detection: the vault's memory of its own past, kept outside its files.
//!
//! Every record file of a profile (passkeys, items, the authenticator state with the CTAP PIN
//! and its retry counter) is listed in a *manifest*: file path → SHA-256 of its bytes. A
//! compact copy of the manifest (8 bytes of the path's hash → 16 bytes of the content's) is
//! kept in the keychain as `anchor:<profile id>`: a hundred passkeys take under 5 KB.
//! Opening the vault compares the files with it and refuses a vault whose files are not the
//! ones last saved: an older state file copied back (which would restore eight PIN retries),
//! a deleted state file (which would remove the CTAP PIN), a deleted passkey's record copied
//! back, an older copy of a passkey (with a lower signature counter).
//!
//! Records that cannot be read or fail their authentication are moved aside to `quarantine/`
//! by the vault and named in a warning; the comparison leaves them out, so one damaged record
//! does not keep the rest of the profile shut. (A damaged state file is not quarantined: its
//! loss would look like a first start.)
//!
//! Each write is two-phase so a crash at any point still opens: first the anchor records the
//! manifest before *and* after the write (`pending`), then the file changes, then the anchor
//! keeps only the new manifest.
//!
//! What it does not stop: a program that can also write the keychain can delete or replace
//! the anchor. A missing anchor is taken as "first use" (profiles made before anchors
//! existed), so such a program can roll the files back. Passphrase-only profiles have no
//! keychain and so no anchor.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keychain::{KeyStore, KeychainError};

/// File path (relative to the profile directory) → SHA-256 of its bytes.
pub(crate) type Manifest = BTreeMap<String, [u8; 32]>;

/// The path of the authenticator state, which the comparison names on its own.
const STATE_PATH: &str = "state.pbr";

/// A manifest as the keychain keeps it: hex(SHA-256(path)[..8]) → hex(content hash[..16]).
type Compact = BTreeMap<String, String>;

fn path_id(path: &str) -> String {
    hex::encode(Sha256::digest(path.as_bytes()).get(..8).unwrap_or_default())
}

fn compact(manifest: &Manifest) -> Compact {
    manifest
        .iter()
        .map(|(path, hash)| {
            (
                path_id(path),
                hex::encode(hash.get(..16).unwrap_or_default()),
            )
        })
        .collect()
}

/// What the keychain holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Stored {
    /// The manifest last saved.
    pub(crate) committed: Compact,
    /// The manifest a write in progress is moving to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pending: Option<Compact>,
}

impl Stored {
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let stored: Self = serde_json::from_slice(bytes).ok()?;
        let well_formed = |manifest: &Compact| {
            manifest.iter().all(|(path, hash)| {
                path.len() == 16
                    && hash.len() == 32
                    && hex::decode(path).is_ok()
                    && hex::decode(hash).is_ok()
            })
        };
        (well_formed(&stored.committed) && stored.pending.as_ref().is_none_or(well_formed))
            .then_some(stored)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        // Maps of short strings: serialising them cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// How the files differ from the last saved ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Differences {
    /// The authenticator state (PIN, retries) is another version than the last saved.
    pub state_changed: bool,
    /// The authenticator state is missing.
    pub state_missing: bool,
    /// Records present that were not there (restored after deletion, or added).
    pub added: usize,
    /// Records in another version than the last saved (an older copy restored).
    pub changed: usize,
    /// Records missing.
    pub missing: usize,
}

impl fmt::Display for Differences {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.state_missing {
            parts.push("the authenticator state (PIN and retries) is missing".to_owned());
        }
        if self.state_changed {
            parts.push(
                "the authenticator state (PIN and retries) is another version than the last \
                 saved one"
                    .to_owned(),
            );
        }
        for (count, what) in [
            (self.added, "present that were deleted or never saved"),
            (self.changed, "in an older or other version"),
            (self.missing, "missing"),
        ] {
            if count > 0 {
                parts.push(format!("{count} record(s) {what}"));
            }
        }
        if parts.is_empty() {
            parts.push("the keychain's record of the files is damaged".to_owned());
        }
        f.write_str(&parts.join("; "))
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
    RolledBack(Differences),
}

/// The differences between `actual` and `stored`, leaving out the quarantined paths.
fn differences(actual: &Compact, stored: &Compact, quarantined: &BTreeSet<String>) -> Differences {
    let state = path_id(STATE_PATH);
    let mut found = Differences::default();
    for (path, hash) in stored {
        if quarantined.contains(path) {
            continue;
        }
        match actual.get(path) {
            None if *path == state => found.state_missing = true,
            None => found.missing += 1,
            Some(other) if other != hash && *path == state => found.state_changed = true,
            Some(other) if other != hash => found.changed += 1,
            Some(_) => {}
        }
    }
    found.added = actual
        .keys()
        .filter(|path| !stored.contains_key(*path))
        .count();
    found
}

/// One profile's anchor in the keychain.
pub(crate) struct Anchor {
    store: Arc<dyn KeyStore>,
    account: String,
}

impl Anchor {
    pub(crate) fn new(store: Arc<dyn KeyStore>, account: String) -> Self {
        Self { store, account }
    }

    /// Compares the files' `manifest` with the anchor, leaving out `quarantined` paths (moved
    /// aside as unreadable or damaged).
    pub(crate) fn check(
        &self,
        manifest: &Manifest,
        quarantined: &BTreeSet<String>,
    ) -> Result<Verdict, KeychainError> {
        let Some(bytes) = self.store.get(&self.account)? else {
            return Ok(Verdict::NoAnchor);
        };
        let Some(stored) = Stored::decode(&bytes) else {
            return Ok(Verdict::RolledBack(Differences::default()));
        };
        let actual = compact(manifest);
        let quarantined: BTreeSet<String> = quarantined.iter().map(|p| path_id(p)).collect();
        let committed = differences(&actual, &stored.committed, &quarantined);
        if committed == Differences::default() {
            return Ok(if stored.pending.is_none() {
                Verdict::Current
            } else {
                Verdict::Pending
            });
        }
        if let Some(pending) = &stored.pending
            && differences(&actual, pending, &quarantined) == Differences::default()
        {
            return Ok(Verdict::Pending);
        }
        Ok(Verdict::RolledBack(committed))
    }

    /// Records `manifest` as what the files are now.
    pub(crate) fn settle(&self, manifest: &Manifest) -> Result<(), KeychainError> {
        let stored = Stored {
            committed: compact(manifest),
            pending: None,
        };
        self.store.set(&self.account, &stored.encode())
    }

    /// Phase one of a write: both the manifest before and the one after are acceptable.
    pub(crate) fn begin(&self, before: &Manifest, after: &Manifest) -> Result<(), KeychainError> {
        let stored = Stored {
            committed: compact(before),
            pending: Some(compact(after)),
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

    fn manifest(entries: &[(&str, &[u8])]) -> Manifest {
        entries
            .iter()
            .map(|(path, bytes)| ((*path).to_owned(), hash(bytes)))
            .collect()
    }

    #[test]
    fn an_anchor_accepts_what_was_saved_and_both_sides_of_a_write_in_progress() {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryKeychain::new());
        let anchor = Anchor::new(store, "anchor:x".into());
        let none = BTreeSet::new();
        let old = manifest(&[("state.pbr", b"v1")]);
        let new = manifest(&[("state.pbr", b"v2")]);
        let newer = manifest(&[("state.pbr", b"v2"), ("records/a.pbr", b"a")]);
        assert_eq!(anchor.check(&old, &none).unwrap(), Verdict::NoAnchor);
        anchor.settle(&old).unwrap();
        assert_eq!(anchor.check(&old, &none).unwrap(), Verdict::Current);
        anchor.begin(&old, &new).unwrap();
        assert_eq!(anchor.check(&old, &none).unwrap(), Verdict::Pending);
        assert_eq!(anchor.check(&new, &none).unwrap(), Verdict::Pending);
        assert!(matches!(
            anchor.check(&newer, &none).unwrap(),
            Verdict::RolledBack(_)
        ));
        anchor.settle(&newer).unwrap();
        assert_eq!(anchor.check(&newer, &none).unwrap(), Verdict::Current);
        // What each kind of tampering is reported as.
        let report = |files: &Manifest| match anchor.check(files, &none).unwrap() {
            Verdict::RolledBack(found) => found,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            report(&manifest(&[("state.pbr", b"v1"), ("records/a.pbr", b"a")])),
            Differences {
                state_changed: true,
                ..Differences::default()
            }
        );
        assert_eq!(
            report(&manifest(&[("records/a.pbr", b"a")])),
            Differences {
                state_missing: true,
                ..Differences::default()
            }
        );
        let three = manifest(&[
            ("state.pbr", b"v2"),
            ("records/a.pbr", b"old a"),
            ("records/b.pbr", b"b"),
        ]);
        assert_eq!(
            report(&three),
            Differences {
                added: 1,
                changed: 1,
                ..Differences::default()
            }
        );
        // A record moved to quarantine is left out of the comparison.
        let quarantined = BTreeSet::from(["records/a.pbr".to_owned()]);
        assert_eq!(
            anchor
                .check(&manifest(&[("state.pbr", b"v2")]), &quarantined)
                .unwrap(),
            Verdict::Current
        );
    }

    #[test]
    fn stored_anchors_round_trip_and_junk_is_damage() {
        let stored = Stored {
            committed: compact(&manifest(&[("state.pbr", b"v1")])),
            pending: Some(Compact::new()),
        };
        assert_eq!(Stored::decode(&stored.encode()), Some(stored));
        for junk in [
            &b""[..],
            b"{}",
            b"{\"committed\":{\"zz\":\"00\"}}",
            b"{\"committed\":[]}",
        ] {
            assert_eq!(Stored::decode(junk), None, "{junk:?}");
        }
    }
}
