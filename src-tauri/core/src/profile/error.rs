//! What can go wrong with a profile or its vault. The sentences here name the failure; what
//! to do about it (which command, which button) is each face's to say.

use std::path::{Path, PathBuf};

use super::keychain::KeychainError;
use super::vault::RecordProblem;
use crate::policy::PolicyError;

/// What went wrong with a profile or vault operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No profile by that name.
    #[error("no profile named '{0}'")]
    NotFound(String),
    /// Name already used (names are compared case-insensitively).
    #[error("a profile named '{0}' already exists")]
    AlreadyExists(String),
    /// Unusable profile name.
    #[error("invalid profile name: {0}")]
    InvalidName(&'static str),
    /// The profile is locked.
    #[error("profile '{profile}' is locked")]
    Locked {
        /// Display name.
        profile: String,
    },
    /// Wrong PIN or passphrase.
    #[error("wrong PIN or passphrase for profile '{profile}' ({attempts_left} attempts left)")]
    WrongSecret {
        /// Display name.
        profile: String,
        /// Attempts left before the profile blocks.
        attempts_left: u32,
    },
    /// Too many wrong PINs recently: the next attempt must wait.
    #[error("too many wrong PINs for profile '{profile}': try again in {seconds} s")]
    PinWait {
        /// Display name.
        profile: String,
        /// Seconds until the next attempt is allowed.
        seconds: u64,
    },
    /// Too many wrong PINs in a row: the profile is blocked.
    #[error("profile '{profile}' is blocked after too many wrong PINs")]
    PinBlocked {
        /// Display name.
        profile: String,
        /// The profile's ID, which an administrator's unblock file is named after.
        id: String,
    },
    /// PIN or passphrase shorter than policy allows.
    #[error("PIN or passphrase too short: policy requires at least {min} characters")]
    SecretTooShort {
        /// Policy minimum.
        min: usize,
    },
    /// A keychain-only profile has no PIN, so it cannot be locked on its own.
    #[error("profile '{profile}' is protected by the OS keychain alone (no PIN)")]
    NotLockable {
        /// Display name.
        profile: String,
    },
    /// The keychain is unreachable; `fallback_allowed` says whether policy permits the
    /// passphrase-only fallback.
    #[error("cannot reach the OS keychain")]
    KeychainUnavailable {
        /// Whether policy allows passphrase-only profiles.
        fallback_allowed: bool,
        /// The keychain's error.
        #[source]
        source: KeychainError,
    },
    /// Other keychain failure.
    #[error("OS keychain operation failed")]
    Keychain(#[source] KeychainError),
    /// The vault key is missing from the keychain (removed outside Passbridge, or another
    /// keyring/login).
    #[error("the vault key of profile '{profile}' is missing from the OS keychain")]
    KeyMissing {
        /// Display name.
        profile: String,
    },
    /// Policy forbids passphrase-only profiles.
    #[error("passphrase-only profiles are disabled by policy (allow_passphrase_only = false)")]
    PassphraseOnlyNotAllowed,
    /// The disk holding the data directory is full: nothing was saved.
    #[error("the disk is full: nothing could be saved in {}", path.display())]
    DiskFull {
        /// Where the write failed.
        path: PathBuf,
    },
    /// File system failure.
    #[error("I/O error on {}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A profile's metadata file does not parse.
    #[error("profile metadata {} is damaged", path.display())]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The vault's files are not the ones Passbridge last saved: an older copy was restored,
    /// or files were deleted or added outside Passbridge.
    #[error(
        "the files of profile '{profile}' are not the ones Passbridge last saved: {differences}"
    )]
    RolledBack {
        /// Display name.
        profile: String,
        /// What differs.
        differences: super::Differences,
    },
    /// A record is damaged.
    #[error("{0}")]
    Record(RecordProblem),
    /// Serialization failed.
    #[error("cannot encode a vault record")]
    Encode(#[source] serde_json::Error),
    /// A decrypted item (linked phone, phone identity) does not parse.
    #[error("{0} is damaged")]
    Damaged(String),
    /// Encryption failed (never expected with valid keys).
    #[error("vault encryption failed")]
    Crypto,
    /// Key derivation failed.
    #[error("Argon2id key derivation failed")]
    Kdf(#[source] argon2::Error),
    /// Policy could not be loaded or is invalid.
    #[error("policy problem")]
    Policy(#[source] PolicyError),
    /// An internal lock was poisoned by a panic elsewhere.
    #[error("vault state unusable after an internal failure")]
    Poisoned,
    /// No data directory could be determined.
    #[error("no data directory: none of PASSBRIDGE_DATA_DIR, XDG_DATA_HOME or HOME is set")]
    NoDataDir,
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        use std::io::ErrorKind;
        if matches!(
            source.kind(),
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded
        ) {
            return Self::DiskFull {
                path: path.to_path_buf(),
            };
        }
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
