//! The values the profile API hands out and takes: secrets, protections, lock states,
//! summaries.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A PIN or passphrase. Wiped on drop; `Debug` hides it.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a PIN or passphrase.
    pub fn new(secret: String) -> Self {
        Self(Zeroizing::new(secret))
    }

    pub(crate) fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// How a profile's vault key is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "kebab-case")]
pub enum Protection {
    /// Vault key in the OS keychain.
    Keychain,
    /// Vault key in the OS keychain, sealed under a PIN-derived key.
    KeychainPin,
    /// Vault key sealed under a passphrase-derived key, on disk (no keychain).
    PassphraseOnly,
}

impl std::fmt::Display for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Keychain => "keychain",
            Self::KeychainPin => "keychain+PIN",
            Self::PassphraseOnly => "passphrase-only",
        })
    }
}

/// Protection requested for a new profile.
#[derive(Debug)]
pub enum NewProtection {
    /// Keychain only.
    Keychain,
    /// Keychain plus a PIN.
    KeychainPin(Secret),
    /// Passphrase only; needs `allow_passphrase_only` in policy.
    PassphraseOnly(Secret),
}

/// Whether a profile can be used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "kebab-case")]
pub enum LockState {
    /// Usable without a PIN.
    Unlocked,
    /// Needs its PIN or passphrase.
    Locked,
    /// Its key is in the keychain, which cannot be reached.
    KeychainUnavailable,
}

impl std::fmt::Display for LockState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unlocked => "unlocked",
            Self::Locked => "locked",
            Self::KeychainUnavailable => "keychain-unavailable",
        })
    }
}

/// What anyone may see about a profile. Passkey count only when unlocked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileSummary {
    /// Display name.
    pub name: String,
    /// Lock state.
    pub state: LockState,
    /// Protection kind.
    pub protection: Protection,
    /// Number of passkeys, only when unlocked.
    pub passkey_count: Option<usize>,
}

/// What deleting a profile destroyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionReport {
    /// Display name of the deleted profile.
    pub name: String,
    /// Protection it had.
    pub protection: Protection,
    /// Keychain entries destroyed (vault key, session).
    pub keychain_entries_destroyed: usize,
    /// Whether a passphrase-wrapped key on disk was overwritten before removal.
    pub wrapped_key_overwritten: bool,
    /// Encrypted credential records removed.
    pub records_removed: usize,
}
