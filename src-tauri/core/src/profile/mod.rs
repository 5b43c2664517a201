//! Profiles and their keychain-backed vaults.
//!
//! People who share a workstation (often one OS account) each get a *profile*: their own
//! passkeys, authenticator state and history, encrypted under their own vault key.
//!
//! # Keys
//!
//! Every profile has a random 256-bit vault key. Where it lives depends on the protection:
//!
//! | protection        | keychain entry `vault:<id>`                 | on disk                     |
//! |-------------------|---------------------------------------------|-----------------------------|
//! | `keychain`        | the vault key                               | nothing                     |
//! | `keychain+PIN`    | vault key sealed under Argon2id(PIN, salt)  | salt + Argon2 parameters    |
//! | `passphrase-only` | none (no keychain available, policy allows) | key sealed under Argon2id   |
//!
//! Keychain entries are filed under service `passbridge` (Secret Service, macOS Keychain,
//! Windows Credential Manager via `keyring` 4). Records are AES-256-GCM under subkeys of the
//! vault key, bound to the profile ID and credential ID (see [`record`]). A missing keychain is
//! an error ([`Error::KeychainUnavailable`]) unless the user explicitly creates a
//! passphrase-only profile *and* policy sets `allow_passphrase_only`.
//!
//! Deleting a profile destroys its keychain entries first (crypto-shredding: the records,
//! including any backup copies, become undecryptable), then its files.
//!
//! # What "unlocked" means across processes
//!
//! Each CLI call is a new process, so the lock state lives in the OS keychain:
//!
//! - A `keychain` profile has no PIN: it is unlocked whenever the keychain is (the OS login
//!   protects it). It cannot be locked separately.
//! - `profile unlock` on a `keychain+PIN` profile checks the PIN and stores a *session entry*
//!   `session:<id>` in the keychain: the vault key plus a deadline (now + the policy's
//!   auto-lock idle time). Every later open refreshes the deadline; an open after the deadline
//!   deletes the entry and reports the profile locked. `profile lock` deletes it at once. The
//!   session key is thus never in a plain file; it is as protected as a `keychain` profile's
//!   key for as long as the profile stays unlocked.
//! - A `passphrase-only` profile has no keychain to hold a session, so it is locked between
//!   processes: every command needs the passphrase.
//! - Commands take the PIN/passphrase from `PASSBRIDGE_PIN` (scripts) or one line of stdin
//!   (`--pin-stdin`); never from a command-line argument, which other users can see in `ps`.
//!
//! Inside one process (the authenticator, the desktop app) an open [`Vault`] locks itself after
//! the same idle time and on [`Vault::lock`].
//!
//! A locked profile reveals only its display name (and its protection kind): credentials, user
//! names and RP IDs are inside encrypted records whose file names are keyed hashes.
//!
//! # Files
//!
//! ```text
//! <data dir>/profiles/<profile id>/profile.json     name, protection, KDF salt (no secrets)
//! <data dir>/profiles/<profile id>/state.pbr        authenticator state (PIN hash, wrapping key)
//! <data dir>/profiles/<profile id>/records/*.pbr    one encrypted record per credential
//! <data dir>/profiles/<profile id>/items/*.pbr      other secrets (linked phones, history)
//! ```
//!
//! Record file names are the credential ID under deterministic authenticated encryption, so a
//! locked profile's directory listing reveals no IDs, yet the owner can name a record whose
//! contents were destroyed. Linked phones and other per-profile data use
//! [`Vault::put_item`] / [`Vault::items`], with the same encryption and the same locking.
//!
//! One process should write a given profile at a time (no cross-process file locking yet); a
//! second process sees changes when it next opens the profile.
//!
//! The data dir is `--data-dir`, else `PASSBRIDGE_DATA_DIR`, else `$XDG_DATA_HOME/passbridge`,
//! else `~/.local/share/passbridge`.

pub mod cli;
mod crypto;
pub mod keychain;
pub mod record;
mod vault;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::policy::{Policy, PolicyError};
use crypto::Key;
use keychain::{KeyStore, KeychainError};

pub use record::Damage;
pub use vault::{Item, PasskeyInfo, RecordProblem, Vault};

const PROFILES_DIR: &str = "profiles";
const META_FILE: &str = "profile.json";
const META_FORMAT: u32 = 1;
const MAX_NAME_CHARS: usize = 64;

/// Wall-clock seconds, behind a seam so tests can move time (auto-lock).
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn unix_time(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "the app's one wall-clock source for profile timestamps and auto-lock"
    )]
    fn unix_time(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0)
    }
}

/// A PIN or passphrase. Wiped on drop; `Debug` hides it.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a PIN or passphrase.
    pub fn new(secret: String) -> Self {
        Self(Zeroizing::new(secret))
    }

    fn expose_secret(&self) -> &str {
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

impl std::fmt::Display for DeletionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Deleted profile '{}'. ", self.name)?;
        match self.protection {
            Protection::Keychain | Protection::KeychainPin => write!(
                f,
                "Its vault key was destroyed in the OS keychain ({} entr{} removed): the {} \
                 encrypted passkey record(s), and any copies of them, can no longer be \
                 decrypted (crypto-shredded).",
                self.keychain_entries_destroyed,
                if self.keychain_entries_destroyed == 1 {
                    "y"
                } else {
                    "ies"
                },
                self.records_removed
            ),
            Protection::PassphraseOnly => write!(
                f,
                "Its passphrase-wrapped vault key was overwritten and removed, and {} encrypted \
                 passkey record(s) were removed (crypto-shredded). Journaling or copy-on-write \
                 file systems and SSDs may keep old blocks, but those hold only the key sealed \
                 under the passphrase.",
                self.records_removed
            ),
        }
    }
}

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
    #[error("profile '{profile}' is locked; unlock it with its PIN or passphrase")]
    Locked {
        /// Display name.
        profile: String,
    },
    /// Wrong PIN or passphrase.
    #[error("wrong PIN or passphrase for profile '{profile}'")]
    WrongSecret {
        /// Display name.
        profile: String,
    },
    /// PIN or passphrase shorter than policy allows.
    #[error("PIN or passphrase too short: policy requires at least {min} characters")]
    SecretTooShort {
        /// Policy minimum.
        min: usize,
    },
    /// A keychain-only profile has no PIN, so it cannot be locked on its own.
    #[error(
        "profile '{profile}' is protected by the OS keychain alone (no PIN), so it is unlocked \
         whenever your OS keyring is; create it with a PIN to lock it separately"
    )]
    NotLockable {
        /// Display name.
        profile: String,
    },
    /// The keychain is unreachable; `fallback_allowed` says whether policy permits the
    /// passphrase-only fallback.
    #[error(
        "cannot reach the OS keychain. Passbridge keeps vault keys in the OS keychain and \
         will not store them in plain files. {}",
        if *fallback_allowed {
            "Start and unlock the keychain, or create a passphrase-only profile \
             (`passbridge profile create NAME --passphrase-only`), whose vault key is \
             protected only by its passphrase."
        } else {
            "Start and unlock the keychain; the passphrase-only fallback is disabled by policy \
             (allow_passphrase_only = false)."
        }
    )]
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
    #[error(
        "passphrase-only profiles are disabled by policy; ask your administrator to set \
         allow_passphrase_only = true, or use the OS keychain"
    )]
    PassphraseOnlyNotAllowed,
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
    #[error("no data directory: set --data-dir, PASSBRIDGE_DATA_DIR, XDG_DATA_HOME or HOME")]
    NoDataDir,
}

impl Error {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The default data directory: `PASSBRIDGE_DATA_DIR`, `$XDG_DATA_HOME/passbridge`, or
/// `~/.local/share/passbridge`.
///
/// # Errors
/// [`Error::NoDataDir`] when none of those variables is set.
pub fn default_data_dir() -> Result<PathBuf, Error> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = var("PASSBRIDGE_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_DATA_HOME") {
        return Ok(PathBuf::from(dir).join("passbridge"));
    }
    var("HOME")
        .or_else(|| var("USERPROFILE"))
        .map(|home| PathBuf::from(home).join(".local/share/passbridge"))
        .ok_or(Error::NoDataDir)
}

/// Writes `name` in `dir` atomically and readable only by this user, creating `dir` (also
/// private) if needed: for the app's own small files next to the profiles.
///
/// # Errors
/// The file system's error.
pub fn write_private_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    record::create_private_dir(dir)?;
    record::write_atomic(dir, name, bytes)
}

/// Argon2id parameters recorded with a wrapped key, so a later policy change does not lock
/// anyone out.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KdfMeta {
    salt: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl KdfMeta {
    fn derive(&self, secret: &Secret) -> Result<Key, Error> {
        let salt = hex::decode(&self.salt).map_err(|_| Error::Crypto)?;
        let params =
            argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
                .map_err(Error::Kdf)?;
        crypto::derive_kek(secret.expose_secret().as_bytes(), &salt, params).map_err(Error::Kdf)
    }
}

/// `profile.json`: everything about a profile that is not secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProfileMeta {
    format: u32,
    id: String,
    name: String,
    created_at: u64,
    protection: Protection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kdf: Option<KdfMeta>,
    /// Passphrase-only: hex(seal(Argon2id(passphrase), vault key)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wrapped_key: Option<String>,
}

impl ProfileMeta {
    fn wrap_aad(&self) -> Vec<u8> {
        [b"passbridge vault key v1/".as_slice(), self.id.as_bytes()].concat()
    }
}

fn vault_account(id: &str) -> String {
    format!("vault:{id}")
}

fn session_account(id: &str) -> String {
    format!("session:{id}")
}

/// Creates, lists, renames, deletes, locks and opens profiles.
pub struct ProfileManager {
    root: PathBuf,
    policy: Policy,
    keychain: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ProfileManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileManager")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl ProfileManager {
    /// A manager over `data_dir` with an explicit policy and keychain.
    pub fn new(data_dir: &Path, policy: Policy, keychain: Arc<dyn KeyStore>) -> Self {
        Self {
            root: data_dir.to_path_buf(),
            policy,
            keychain,
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock (tests of auto-lock).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The usual manager: `data_dir` or [`default_data_dir`], policy from
    /// [`Policy::load`], the OS keychain.
    ///
    /// # Errors
    /// No data dir, or an invalid policy.
    pub fn system(data_dir: Option<&Path>) -> Result<Self, Error> {
        let root = match data_dir {
            Some(dir) => dir.to_path_buf(),
            None => default_data_dir()?,
        };
        let policy = Policy::load().map_err(Error::Policy)?;
        Ok(Self::new(
            &root,
            policy,
            Arc::new(keychain::OsKeychain::new()),
        ))
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn profiles_dir(&self) -> PathBuf {
        self.root.join(PROFILES_DIR)
    }

    fn profile_dir(&self, id: &str) -> PathBuf {
        self.profiles_dir().join(id)
    }

    fn keychain_error(&self, error: KeychainError) -> Error {
        match error {
            KeychainError::Unavailable { .. } => Error::KeychainUnavailable {
                fallback_allowed: self.policy.allow_passphrase_only,
                source: error,
            },
            other => Error::Keychain(other),
        }
    }

    fn all_meta(&self) -> Result<Vec<ProfileMeta>, Error> {
        let dir = self.profiles_dir();
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(Error::io(&dir, source)),
        };
        let mut all = Vec::new();
        for item in listing {
            let item = item.map_err(|source| Error::io(&dir, source))?;
            let path = item.path().join(META_FILE);
            // Directories being created or deleted have no metadata file (yet / any more).
            if item.file_name().to_string_lossy().starts_with('.') || !path.exists() {
                continue;
            }
            let bytes = fs::read(&path).map_err(|source| Error::io(&path, source))?;
            let meta: ProfileMeta =
                serde_json::from_slice(&bytes).map_err(|source| Error::Metadata {
                    path: path.clone(),
                    source,
                })?;
            all.push(meta);
        }
        all.sort_by(|a, b| (a.created_at, &a.name).cmp(&(b.created_at, &b.name)));
        Ok(all)
    }

    fn find(&self, name: &str) -> Result<ProfileMeta, Error> {
        self.all_meta()?
            .into_iter()
            .find(|meta| meta.name == name)
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }

    fn write_meta(&self, meta: &ProfileMeta) -> Result<(), Error> {
        let dir = self.profile_dir(&meta.id);
        let bytes = serde_json::to_vec_pretty(meta).map_err(Error::Encode)?;
        record::write_atomic(&dir, META_FILE, &bytes).map_err(|source| Error::io(&dir, source))
    }

    fn check_name(&self, name: &str, except_id: Option<&str>) -> Result<(), Error> {
        if name.trim() != name || name.is_empty() {
            return Err(Error::InvalidName(
                "must be non-empty without surrounding spaces",
            ));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::InvalidName("longer than 64 characters"));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::InvalidName("contains control characters"));
        }
        let taken = self.all_meta()?.into_iter().any(|meta| {
            meta.name.to_lowercase() == name.to_lowercase() && Some(meta.id.as_str()) != except_id
        });
        if taken {
            return Err(Error::AlreadyExists(name.to_owned()));
        }
        Ok(())
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), Error> {
        if secret.expose_secret().chars().count() < self.policy.min_pin_length {
            return Err(Error::SecretTooShort {
                min: self.policy.min_pin_length,
            });
        }
        Ok(())
    }

    fn new_kdf(&self) -> Result<KdfMeta, Error> {
        let params = self.policy.argon2_params().map_err(Error::Policy)?;
        Ok(KdfMeta {
            salt: hex::encode(crypto::random_salt()),
            memory_kib: params.m_cost(),
            iterations: params.t_cost(),
            parallelism: params.p_cost(),
        })
    }

    /// Creates a profile with a fresh vault key.
    ///
    /// # Errors
    /// Invalid or duplicate name, short PIN, keychain unavailable (keychain protections),
    /// passphrase-only forbidden by policy, I/O.
    pub fn create(&self, name: &str, protection: NewProtection) -> Result<ProfileSummary, Error> {
        self.check_name(name, None)?;
        let id = hex::encode(crypto::random_bytes::<16>());
        let vault_key = Key::random();
        let mut meta = ProfileMeta {
            format: META_FORMAT,
            id: id.clone(),
            name: name.to_owned(),
            created_at: self.clock.unix_time(),
            protection: Protection::Keychain,
            kdf: None,
            wrapped_key: None,
        };
        // The key goes to its protector first: a crash then leaves at worst an orphaned
        // keychain entry, never a profile whose key was lost.
        match &protection {
            NewProtection::Keychain => {
                self.keychain.probe().map_err(|e| self.keychain_error(e))?;
                self.keychain
                    .set(&vault_account(&id), vault_key.expose_secret())
                    .map_err(|e| self.keychain_error(e))?;
            }
            NewProtection::KeychainPin(pin) => {
                self.check_secret(pin)?;
                self.keychain.probe().map_err(|e| self.keychain_error(e))?;
                let kdf = self.new_kdf()?;
                let kek = kdf.derive(pin)?;
                meta.protection = Protection::KeychainPin;
                meta.kdf = Some(kdf);
                let sealed = crypto::seal(&kek, &meta.wrap_aad(), vault_key.expose_secret())
                    .map_err(|_| Error::Crypto)?;
                self.keychain
                    .set(&vault_account(&id), &sealed)
                    .map_err(|e| self.keychain_error(e))?;
            }
            NewProtection::PassphraseOnly(passphrase) => {
                if !self.policy.allow_passphrase_only {
                    return Err(Error::PassphraseOnlyNotAllowed);
                }
                self.check_secret(passphrase)?;
                let kdf = self.new_kdf()?;
                let kek = kdf.derive(passphrase)?;
                meta.protection = Protection::PassphraseOnly;
                meta.kdf = Some(kdf);
                let sealed = crypto::seal(&kek, &meta.wrap_aad(), vault_key.expose_secret())
                    .map_err(|_| Error::Crypto)?;
                meta.wrapped_key = Some(hex::encode(sealed));
            }
        }
        let dir = self.profile_dir(&id);
        record::create_private_dir(&dir.join(vault::RECORDS_DIR))
            .map_err(|source| Error::io(&dir, source))?;
        self.write_meta(&meta)?;
        tracing::info!(profile = name, protection = %meta.protection, "profile created");
        Ok(ProfileSummary {
            name: name.to_owned(),
            state: match meta.protection {
                Protection::Keychain => LockState::Unlocked,
                _ => LockState::Locked,
            },
            protection: meta.protection,
            passkey_count: matches!(meta.protection, Protection::Keychain).then_some(0),
        })
    }

    /// Every profile, oldest first. Locked profiles show only name, state and protection.
    ///
    /// # Errors
    /// I/O or damaged metadata. An unreachable keychain is reported per profile, not as an
    /// error.
    pub fn list(&self) -> Result<Vec<ProfileSummary>, Error> {
        let mut out = Vec::new();
        for meta in self.all_meta()? {
            let state = match meta.protection {
                Protection::Keychain => match self.keychain.get(&vault_account(&meta.id)) {
                    Ok(Some(_)) => LockState::Unlocked,
                    Ok(None) => LockState::Locked,
                    Err(_) => LockState::KeychainUnavailable,
                },
                Protection::KeychainPin => match self.session_key(&meta, false) {
                    Ok(Some(_)) => LockState::Unlocked,
                    Ok(None) => LockState::Locked,
                    Err(_) => LockState::KeychainUnavailable,
                },
                Protection::PassphraseOnly => LockState::Locked,
            };
            let passkey_count = match state {
                LockState::Unlocked => Some(self.count_records(&meta.id)),
                _ => None,
            };
            out.push(ProfileSummary {
                name: meta.name,
                state,
                protection: meta.protection,
                passkey_count,
            });
        }
        Ok(out)
    }

    fn count_records(&self, id: &str) -> usize {
        fs::read_dir(self.profile_dir(id).join(vault::RECORDS_DIR))
            .map(|listing| {
                listing
                    .flatten()
                    .filter(|item| {
                        let name = item.file_name().to_string_lossy().into_owned();
                        !name.starts_with('.') && name.ends_with(vault::RECORD_EXT)
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    /// How a profile is protected (visible even while it is locked).
    ///
    /// # Errors
    /// Unknown profile, I/O.
    pub fn protection(&self, name: &str) -> Result<Protection, Error> {
        Ok(self.find(name)?.protection)
    }

    /// Renames a profile. Records are bound to the profile's internal ID, not its name, so
    /// nothing is re-encrypted.
    ///
    /// # Errors
    /// Unknown profile, invalid or duplicate new name, I/O.
    pub fn rename(&self, name: &str, new_name: &str) -> Result<(), Error> {
        let mut meta = self.find(name)?;
        self.check_name(new_name, Some(&meta.id))?;
        meta.name = new_name.to_owned();
        self.write_meta(&meta)?;
        tracing::info!(from = name, to = new_name, "profile renamed");
        Ok(())
    }

    /// Deletes a profile: destroys its keys first (crypto-shredding), then its files.
    ///
    /// # Errors
    /// Unknown profile; keychain unavailable for a keychain-protected profile (nothing is
    /// deleted then, so the key is never orphaned); I/O.
    pub fn delete(&self, name: &str) -> Result<DeletionReport, Error> {
        let meta = self.find(name)?;
        let dir = self.profile_dir(&meta.id);
        let records_removed = self.count_records(&meta.id);
        let mut report = DeletionReport {
            name: meta.name.clone(),
            protection: meta.protection,
            keychain_entries_destroyed: 0,
            wrapped_key_overwritten: false,
            records_removed,
        };
        match meta.protection {
            Protection::Keychain | Protection::KeychainPin => {
                for account in [vault_account(&meta.id), session_account(&meta.id)] {
                    if self
                        .keychain
                        .delete(&account)
                        .map_err(|e| self.keychain_error(e))?
                    {
                        report.keychain_entries_destroyed += 1;
                    }
                }
            }
            Protection::PassphraseOnly => {
                // Overwrite in place before unlinking so the wrapped key does not linger in
                // the freed blocks of ordinary file systems.
                let path = dir.join(META_FILE);
                let length = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                let zeros = vec![0u8; usize::try_from(length).unwrap_or(0)];
                let overwrite = fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|mut f| {
                        use std::io::Write;
                        f.write_all(&zeros)?;
                        f.sync_all()
                    });
                overwrite.map_err(|source| Error::io(&path, source))?;
                report.wrapped_key_overwritten = true;
            }
        }
        // Hide the profile at once, then remove its files.
        let tomb = self.profiles_dir().join(format!(".deleted-{}", meta.id));
        fs::rename(&dir, &tomb).map_err(|source| Error::io(&dir, source))?;
        fs::remove_dir_all(&tomb).map_err(|source| Error::io(&tomb, source))?;
        record::sync_dir(&self.profiles_dir())
            .map_err(|source| Error::io(&self.profiles_dir(), source))?;
        tracing::info!(profile = name, "profile deleted and its keys destroyed");
        Ok(report)
    }

    /// Opens a profile's vault. With `secret` the PIN/passphrase unwraps the key; without it a
    /// keychain profile opens directly and a PIN profile opens only through a live unlock
    /// session (see the module docs).
    ///
    /// # Errors
    /// [`Error::Locked`] when a secret is needed, [`Error::WrongSecret`], keychain errors, I/O.
    pub fn open(&self, name: &str, secret: Option<&Secret>) -> Result<Vault, Error> {
        let meta = self.find(name)?;
        let key = self.vault_key(&meta, secret)?;
        self.open_with_key(&meta, &key)
    }

    /// Checks the PIN and, for keychain+PIN profiles, starts an unlock session that lasts until
    /// the policy's idle time passes without use (or [`ProfileManager::lock`]). Returns the
    /// open vault and the session's deadline (`None`: no session possible, passphrase-only;
    /// `Some(u64::MAX)`: no auto-lock).
    ///
    /// # Errors
    /// As [`ProfileManager::open`]; [`Error::NotLockable`] is never returned here.
    pub fn unlock(&self, name: &str, secret: &Secret) -> Result<(Vault, Option<u64>), Error> {
        let meta = self.find(name)?;
        let key = self.vault_key(&meta, Some(secret))?;
        let deadline = match meta.protection {
            Protection::KeychainPin => Some(self.store_session(&meta, &key)?),
            Protection::Keychain | Protection::PassphraseOnly => None,
        };
        tracing::info!(profile = name, "profile unlocked");
        Ok((self.open_with_key(&meta, &key)?, deadline))
    }

    /// Ends a profile's unlock session. Returns whether a session was active.
    ///
    /// # Errors
    /// [`Error::NotLockable`] for keychain-only profiles, keychain errors.
    pub fn lock(&self, name: &str) -> Result<bool, Error> {
        let meta = self.find(name)?;
        match meta.protection {
            Protection::Keychain => Err(Error::NotLockable { profile: meta.name }),
            Protection::KeychainPin => {
                let ended = self
                    .keychain
                    .delete(&session_account(&meta.id))
                    .map_err(|e| self.keychain_error(e))?;
                tracing::info!(profile = name, "profile locked");
                Ok(ended)
            }
            Protection::PassphraseOnly => Ok(false),
        }
    }

    fn open_with_key(&self, meta: &ProfileMeta, key: &Key) -> Result<Vault, Error> {
        let idle = match meta.protection {
            Protection::Keychain => None,
            Protection::KeychainPin | Protection::PassphraseOnly => self.policy.auto_lock_idle(),
        };
        Vault::open(
            &meta.id,
            &meta.name,
            &self.profile_dir(&meta.id),
            key,
            idle,
            Arc::clone(&self.clock),
        )
    }

    fn vault_key(&self, meta: &ProfileMeta, secret: Option<&Secret>) -> Result<Key, Error> {
        let locked = || Error::Locked {
            profile: meta.name.clone(),
        };
        match meta.protection {
            Protection::Keychain => {
                let stored = self
                    .keychain
                    .get(&vault_account(&meta.id))
                    .map_err(|e| self.keychain_error(e))?
                    .ok_or_else(|| Error::KeyMissing {
                        profile: meta.name.clone(),
                    })?;
                Key::from_slice(&stored).ok_or(Error::KeyMissing {
                    profile: meta.name.clone(),
                })
            }
            Protection::KeychainPin => match secret {
                Some(pin) => {
                    let sealed = self
                        .keychain
                        .get(&vault_account(&meta.id))
                        .map_err(|e| self.keychain_error(e))?
                        .ok_or_else(|| Error::KeyMissing {
                            profile: meta.name.clone(),
                        })?;
                    self.unwrap_key(meta, pin, &sealed)
                }
                None => self.session_key(meta, true)?.ok_or_else(locked),
            },
            Protection::PassphraseOnly => {
                let passphrase = secret.ok_or_else(locked)?;
                let sealed = meta
                    .wrapped_key
                    .as_deref()
                    .and_then(|text| hex::decode(text).ok())
                    .ok_or(Error::Crypto)?;
                self.unwrap_key(meta, passphrase, &sealed)
            }
        }
    }

    fn unwrap_key(&self, meta: &ProfileMeta, secret: &Secret, sealed: &[u8]) -> Result<Key, Error> {
        let kdf = meta.kdf.as_ref().ok_or(Error::Crypto)?;
        let kek = kdf.derive(secret)?;
        let key = crypto::open(&kek, &meta.wrap_aad(), sealed).map_err(|_| {
            tracing::warn!(profile = %meta.name, "wrong PIN or passphrase");
            Error::WrongSecret {
                profile: meta.name.clone(),
            }
        })?;
        Key::from_slice(&key).ok_or(Error::Crypto)
    }

    /// Stores the session entry; returns its deadline.
    fn store_session(&self, meta: &ProfileMeta, key: &Key) -> Result<u64, Error> {
        let deadline = match self.policy.auto_lock_idle() {
            Some(idle) => self.clock.unix_time().saturating_add(idle),
            None => u64::MAX,
        };
        let mut entry = Zeroizing::new(Vec::with_capacity(40));
        entry.extend_from_slice(key.expose_secret());
        entry.extend_from_slice(&deadline.to_be_bytes());
        self.keychain
            .set(&session_account(&meta.id), &entry)
            .map_err(|e| self.keychain_error(e))?;
        Ok(deadline)
    }

    /// The session's vault key if a live session exists; expired sessions are deleted.
    /// `refresh` extends a live session (the profile is being used).
    fn session_key(&self, meta: &ProfileMeta, refresh: bool) -> Result<Option<Key>, Error> {
        let account = session_account(&meta.id);
        let Some(entry) = self
            .keychain
            .get(&account)
            .map_err(|e| self.keychain_error(e))?
        else {
            return Ok(None);
        };
        let parsed = entry.split_at_checked(32).and_then(|(key, deadline)| {
            Some((
                Key::from_slice(key)?,
                u64::from_be_bytes(deadline.try_into().ok()?),
            ))
        });
        let live = parsed.filter(|(_, deadline)| self.clock.unix_time() <= *deadline);
        match live {
            Some((key, _)) => {
                if refresh {
                    self.store_session(meta, &key)?;
                }
                Ok(Some(key))
            }
            None => {
                self.keychain
                    .delete(&account)
                    .map_err(|e| self.keychain_error(e))?;
                tracing::info!(profile = %meta.name, "unlock session expired; profile locked");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests;
