//! Wrong-PIN counting for PIN and passphrase profiles, kept where restoring or deleting the
//! profile's files cannot reset it.
//!
//! The same idea as CTAP's own PIN retry counter (CTAP 2.1 §6.5.2.2: `pinRetries`, decremented
//! *before* the check so that pulling the power mid-check does not give a free guess): every
//! attempt is counted first and forgiven only when the PIN turns out right. The first
//! [`FREE_FAILURES`] wrong PINs in a row cost nothing; each later one makes the next attempt
//! wait, 30 s doubling up to an hour; at the policy's `max_pin_failures` the profile blocks.
//! A block is lifted only by an administrator (a root-owned file, see [`UNBLOCK_DIR`]) or by
//! deleting the profile.
//!
//! Where the count lives: in the keychain (`attempts:<profile id>`) for `keychain+PIN`
//! profiles, next to the wrapped key it guards; in `attempts.json` in the profile's directory
//! for `passphrase-only` profiles, which have no keychain (restoring that file resets it:
//! the README says so).
//!
//! What it does not stop: a program in the same OS account can copy the wrapped key and
//! guess offline at Argon2's cost per guess, without this counter. It stops guessing through
//! Passbridge itself: the request dialog, the window, the command line.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Wrong PINs in a row that cost no waiting.
pub const FREE_FAILURES: u32 = 3;
/// The wait after the first failure beyond the free ones.
const FIRST_DELAY_SECS: u64 = 30;
/// The longest wait between attempts.
const MAX_DELAY_SECS: u64 = 3600;
/// Where an administrator lifts a block: a file named after the profile ID, owned by root and
/// writable by nobody else, changed after the block began (`sudo touch
/// /etc/passbridge/unblock/<profile id>`).
pub const UNBLOCK_DIR: &str = "/etc/passbridge/unblock";

/// The persisted count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Attempts {
    /// Wrong (or unfinished) attempts since the last right PIN.
    pub(crate) failures: u32,
    /// Unix time of the latest of them.
    pub(crate) last_failure: u64,
}

/// Why an attempt is not allowed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Too many wrong PINs: only an administrator or deleting the profile helps.
    Blocked,
    /// Try again after this many seconds.
    Wait(u64),
}

impl Attempts {
    /// Parses a stored count. `None` for anything that is not one: the caller treats a damaged
    /// count as a block rather than as a fresh start.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        // Two integers: serialising them cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The wait that `failures` wrong PINs in a row impose before the next attempt.
    pub(crate) fn delay_after(failures: u32) -> u64 {
        match failures.checked_sub(FREE_FAILURES + 1) {
            None => 0,
            // 30 s · 2^7 is past the hour already; capping the exponent keeps the shift exact.
            Some(doublings) => (FIRST_DELAY_SECS << doublings.min(7)).min(MAX_DELAY_SECS),
        }
    }

    /// Whether an attempt may be made at `now` under a limit of `max` failures.
    pub(crate) fn check(&self, now: u64, max: u32) -> Result<(), Refusal> {
        if self.failures >= max {
            return Err(Refusal::Blocked);
        }
        let ready = self
            .last_failure
            .saturating_add(Self::delay_after(self.failures));
        // A clock set back must not stretch the wait beyond the schedule.
        let wait = ready
            .saturating_sub(now)
            .min(Self::delay_after(self.failures));
        if wait > 0 {
            return Err(Refusal::Wait(wait));
        }
        Ok(())
    }

    /// The count with one more failure at `now`.
    pub(crate) fn failed(self, now: u64) -> Self {
        Self {
            failures: self.failures.saturating_add(1),
            last_failure: now,
        }
    }

    /// Attempts left before the block.
    pub(crate) fn left(&self, max: u32) -> u32 {
        max.saturating_sub(self.failures)
    }
}

/// Whether an administrator lifted the block of profile `id` after `blocked_since`: the file
/// `<dir>/<id>` exists, belongs to root, nobody else may write it, and it changed after the
/// block began (so one unblock lifts one block).
pub(crate) fn unblocked_by_admin(dir: &Path, id: &str, blocked_since: u64) -> bool {
    let path: PathBuf = dir.join(id);
    let Ok(meta) = std::fs::symlink_metadata(&path) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let dir_ok =
            std::fs::metadata(dir).is_ok_and(|dir| dir.uid() == 0 && dir.mode() & 0o022 == 0);
        if meta.uid() != 0 || meta.mode() & 0o022 != 0 || !dir_ok {
            tracing::warn!(path = %path.display(), "ignoring an unblock file not owned by root alone");
            return false;
        }
    }
    let changed = meta
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_secs());
    changed >= blocked_since
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_free_failures_then_doubling_waits_capped_at_an_hour() {
        let waits: Vec<u64> = (0..16).map(Attempts::delay_after).collect();
        assert_eq!(
            waits,
            [
                0, 0, 0, 0, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600, 3600
            ]
        );
        assert_eq!(Attempts::delay_after(u32::MAX), 3600);
    }

    #[test]
    fn check_refuses_until_the_wait_is_over_and_blocks_at_the_limit() {
        let mut count = Attempts::default();
        for second in 0..4 {
            assert_eq!(count.check(1000 + second, 10), Ok(()));
            count = count.failed(1000 + second);
        }
        // Four failures, the last at 1003: the fifth attempt waits 30 s.
        assert_eq!(count.check(1003, 10), Err(Refusal::Wait(30)));
        assert_eq!(count.check(1032, 10), Err(Refusal::Wait(1)));
        assert_eq!(count.check(1033, 10), Ok(()));
        // A clock set far back does not make the wait longer than the schedule's.
        assert_eq!(count.check(0, 10), Err(Refusal::Wait(30)));
        assert_eq!(count.left(10), 6);
        let blocked = Attempts {
            failures: 10,
            last_failure: 0,
        };
        assert_eq!(blocked.check(u64::MAX, 10), Err(Refusal::Blocked));
        assert_eq!(blocked.left(10), 0);
    }

    #[test]
    fn stored_counts_round_trip_and_junk_is_not_a_count() {
        let count = Attempts {
            failures: 7,
            last_failure: 1_700_000_000,
        };
        assert_eq!(Attempts::decode(&count.encode()), Some(count));
        for junk in [
            &b""[..],
            b"{}",
            b"[1]",
            b"{\"failures\":-1,\"last_failure\":0}",
        ] {
            assert_eq!(Attempts::decode(junk), None, "{junk:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_unblock_file_counts_only_if_root_owns_it_and_it_is_newer_than_the_block() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(!unblocked_by_admin(dir.path(), "abc", 0));
        let file = dir.path().join("abc");
        std::fs::write(&file, b"").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let root = made_by_root();
        assert_eq!(unblocked_by_admin(dir.path(), "abc", 0), root);
        // Older than the block: it lifted an earlier one.
        assert!(!unblocked_by_admin(dir.path(), "abc", u64::MAX));
        // Writable by others: anyone could have made it.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(!unblocked_by_admin(dir.path(), "abc", 0));
    }

    /// Whether files this test makes belong to root (CI runs as root; a developer may not).
    #[cfg(unix)]
    fn made_by_root() -> bool {
        use std::os::unix::fs::MetadataExt;
        tempfile::tempfile()
            .and_then(|file| file.metadata())
            .is_ok_and(|meta| meta.uid() == 0)
    }
}
