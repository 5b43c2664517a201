//! Where vault keys live: the OS keychain through the `keyring` crate (4.x, `v1` feature:
//! Keychain on macOS, Credential Manager on Windows, the Secret Service over zbus on Linux).
//!
//! keyring 3.x silently used an in-memory mock store when no platform feature was enabled; 4.x
//! with `v1` has no mock, and [`OsKeychain::probe`] turns a missing store into a plain
//! [`KeychainError::Unavailable`] instead of a surprise later.

use std::collections::HashMap;
use std::sync::Mutex;

use zeroize::Zeroizing;

/// The keychain service name under which every Passbridge entry is filed.
pub const SERVICE: &str = "passbridge";

/// A keychain failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeychainError {
    /// No usable keychain in this session (no Secret Service running, no session bus, locked
    /// collection, headless login ...).
    #[error(
        "the OS keychain is unavailable ({backend}: {detail}); on Linux a Secret Service such \
         as gnome-keyring must be running and unlocked in this login session"
    )]
    Unavailable {
        /// Which keychain was tried.
        backend: &'static str,
        /// Why the keychain could not be set up, when known (e.g. no session bus).
        detail: String,
        /// What the keychain library said.
        #[source]
        source: keyring::Error,
    },
    /// The keychain answered but the operation failed.
    #[error("the OS keychain refused the operation on entry {account}")]
    Failed {
        /// The entry.
        account: String,
        /// What the keychain library said.
        #[source]
        source: keyring::Error,
    },
    /// The in-memory test keychain's lock was poisoned.
    #[error("test keychain unusable")]
    Poisoned,
}

/// A store of small secrets keyed by account name (`vault:<profile id>` ...).
pub trait KeyStore: Send + Sync {
    /// The secret, or `None` if the entry does not exist.
    ///
    /// # Errors
    /// Keychain unavailable or failing.
    fn get(&self, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeychainError>;

    /// Creates or replaces the entry.
    ///
    /// # Errors
    /// Keychain unavailable or failing.
    fn set(&self, account: &str, secret: &[u8]) -> Result<(), KeychainError>;

    /// Deletes the entry; returns whether it existed.
    ///
    /// # Errors
    /// Keychain unavailable or failing.
    fn delete(&self, account: &str) -> Result<bool, KeychainError>;

    /// Checks that the keychain can be used at all.
    ///
    /// # Errors
    /// [`KeychainError::Unavailable`] with the reason.
    fn probe(&self) -> Result<(), KeychainError> {
        self.get("probe").map(|_| ())
    }

    /// Human name for messages ("Secret Service", "test memory keychain").
    fn backend_name(&self) -> &'static str;
}

/// The platform keychain.
#[derive(Debug, Clone)]
pub struct OsKeychain {
    service: String,
}

impl Default for OsKeychain {
    fn default() -> Self {
        Self::new()
    }
}

impl OsKeychain {
    /// Entries filed under [`SERVICE`].
    pub fn new() -> Self {
        Self {
            service: SERVICE.to_owned(),
        }
    }

    /// Entries filed under another service name (tests that must not touch real entries).
    pub fn with_service(service: &str) -> Self {
        Self {
            service: service.to_owned(),
        }
    }

    fn backend() -> &'static str {
        if cfg!(target_os = "macos") {
            "macOS Keychain"
        } else if cfg!(windows) {
            "Windows Credential Manager"
        } else {
            "Secret Service"
        }
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry, KeychainError> {
        keyring::Entry::new(&self.service, account).map_err(|error| classify(error, account))
    }
}

/// Sorts keyring errors into "there is no keychain here" and "this operation failed".
fn classify(error: keyring::Error, account: &str) -> KeychainError {
    match error {
        keyring::Error::NoDefaultStore
        | keyring::Error::NoStorageAccess(_)
        | keyring::Error::PlatformFailure(_) => {
            // keyring reports a failed store set-up only as "no default store"; the set-up
            // error itself (no session bus, no Secret Service ...) is what the user needs.
            let detail = match keyring::Entry::store_status() {
                Err(setup) => setup.to_string(),
                Ok(()) => error.to_string(),
            };
            KeychainError::Unavailable {
                backend: OsKeychain::backend(),
                detail,
                source: error,
            }
        }
        other => KeychainError::Failed {
            account: account.to_owned(),
            source: other,
        },
    }
}

impl KeyStore for OsKeychain {
    fn get(&self, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeychainError> {
        match self.entry(account)?.get_secret() {
            Ok(secret) => Ok(Some(Zeroizing::new(secret))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(error) => Err(classify(error, account)),
        }
    }

    fn set(&self, account: &str, secret: &[u8]) -> Result<(), KeychainError> {
        self.entry(account)?
            .set_secret(secret)
            .map_err(|error| classify(error, account))
    }

    fn delete(&self, account: &str) -> Result<bool, KeychainError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(error) => Err(classify(error, account)),
        }
    }

    fn backend_name(&self) -> &'static str {
        Self::backend()
    }
}

/// An in-process keychain for unit tests. Not a security boundary: secrets live in this
/// process's memory only and vanish with it.
#[derive(Default)]
pub struct MemoryKeychain {
    entries: Mutex<HashMap<String, Zeroizing<Vec<u8>>>>,
}

impl MemoryKeychain {
    /// An empty keychain.
    pub fn new() -> Self {
        Self::default()
    }

    /// The accounts it holds, sorted (tests check what a co-user could read).
    pub fn accounts(&self) -> Vec<String> {
        let mut accounts: Vec<String> = self
            .entries
            .lock()
            .map(|entries| entries.keys().cloned().collect())
            .unwrap_or_default();
        accounts.sort();
        accounts
    }
}

impl KeyStore for MemoryKeychain {
    fn get(&self, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeychainError> {
        let entries = self.entries.lock().map_err(|_| KeychainError::Poisoned)?;
        Ok(entries.get(account).cloned())
    }

    fn set(&self, account: &str, secret: &[u8]) -> Result<(), KeychainError> {
        let mut entries = self.entries.lock().map_err(|_| KeychainError::Poisoned)?;
        entries.insert(account.to_owned(), Zeroizing::new(secret.to_vec()));
        Ok(())
    }

    fn delete(&self, account: &str) -> Result<bool, KeychainError> {
        let mut entries = self.entries.lock().map_err(|_| KeychainError::Poisoned)?;
        Ok(entries.remove(account).is_some())
    }

    fn backend_name(&self) -> &'static str {
        "test memory keychain"
    }
}
