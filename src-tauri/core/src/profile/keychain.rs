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

    /// Whether the keychain answers but is locked (reading an entry would need the person to
    /// unlock it first); `None` when the backend cannot tell.
    fn is_locked(&self) -> Option<bool> {
        None
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

/// The D-Bus error the bus itself sends when the service a call went to left the bus before
/// answering (D-Bus specification, "Message Bus Messages").
const DBUS_NO_REPLY: &str = "org.freedesktop.DBus.Error.NoReply";
/// The Secret Service's answer to a session it does not know (Secret Service API, "Errors"):
/// what a restarted daemon says about the session opened with the one before it.
const SECRET_NO_SESSION: &str = "org.freedesktop.Secret.Error.NoSession";

/// Whether `error` (or anything it wraps) says the keychain daemon this process talked to is
/// gone. keyring passes the Secret Service client's error on only as a boxed error, so its
/// D-Bus error name, a stable protocol identifier, is what can be recognised.
fn went_away(error: &keyring::Error) -> bool {
    if !matches!(error, keyring::Error::PlatformFailure(_)) {
        return false;
    }
    let mut current: Option<&dyn std::error::Error> = Some(error);
    while let Some(layer) = current {
        let text = layer.to_string();
        if text.contains(DBUS_NO_REPLY) || text.contains(SECRET_NO_SESSION) {
            return true;
        }
        current = layer.source();
    }
    false
}

/// Opens a fresh connection and session to the Secret Service for every later entry. keyring
/// sets its store up once per process and keeps that session; after gnome-keyring restarts
/// (it can crash, and D-Bus starts it again on the next call) the old session is unknown to
/// the new daemon, and a long-running Passbridge would fail every keychain call until it
/// restarted.
#[cfg(target_os = "linux")]
fn reconnect() {
    match zbus_secret_service_keyring_store::Store::new() {
        Ok(store) => keyring_core::set_default_store(store),
        Err(error) => tracing::warn!("could not reconnect to the Secret Service: {error}"),
    }
}

#[cfg(not(target_os = "linux"))]
fn reconnect() {}

impl OsKeychain {
    /// Runs a keychain call, and once more on a new connection if the keychain's daemon went
    /// away (mid-call, or since the last call). Every call here is idempotent (read, write the
    /// same value, delete), so asking twice is safe; a second failure is reported as it is.
    fn call<T>(
        &self,
        account: &str,
        call: impl Fn(&keyring::Entry) -> keyring::Result<T>,
    ) -> keyring::Result<T> {
        match call(&keyring::Entry::new(&self.service, account)?) {
            Err(error) if went_away(&error) => {
                tracing::warn!("the keychain service went away; connecting again");
                reconnect();
                call(&keyring::Entry::new(&self.service, account)?)
            }
            other => other,
        }
    }
}

impl KeyStore for OsKeychain {
    fn get(&self, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeychainError> {
        match self.call(account, keyring::Entry::get_secret) {
            Ok(secret) => Ok(Some(Zeroizing::new(secret))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(error) => Err(classify(error, account)),
        }
    }

    fn set(&self, account: &str, secret: &[u8]) -> Result<(), KeychainError> {
        self.call(account, |entry| entry.set_secret(secret))
            .map_err(|error| classify(error, account))
    }

    fn delete(&self, account: &str) -> Result<bool, KeychainError> {
        match self.call(account, keyring::Entry::delete_credential) {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(error) => Err(classify(error, account)),
        }
    }

    fn backend_name(&self) -> &'static str {
        Self::backend()
    }

    /// The Secret Service's default collection's `Locked` property (Secret Service API,
    /// org.freedesktop.Secret.Collection): entries are filed there. Looking up a missing entry
    /// works while it is locked, so the probe alone would call a locked keychain ready.
    #[cfg(target_os = "linux")]
    fn is_locked(&self) -> Option<bool> {
        let bus = zbus::blocking::Connection::session().ok()?;
        let collection = zbus::blocking::Proxy::new(
            &bus,
            "org.freedesktop.secrets",
            "/org/freedesktop/secrets/aliases/default",
            "org.freedesktop.Secret.Collection",
        )
        .ok()?;
        collection.get_property::<bool>("Locked").ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that wraps another, as the Secret Service client's errors wrap zbus's.
    #[derive(Debug, thiserror::Error)]
    #[error("zbus error")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Inner(&'static str);

    fn platform(message: &'static str) -> keyring::Error {
        keyring::Error::PlatformFailure(Box::new(Outer(Inner(message))))
    }

    #[test]
    fn a_daemon_that_went_away_is_recognised_and_nothing_else_is() {
        assert!(went_away(&platform(
            "org.freedesktop.DBus.Error.NoReply: Message recipient disconnected"
        )));
        assert!(went_away(&platform(
            "org.freedesktop.Secret.Error.NoSession: The session does not exist"
        )));
        assert!(!went_away(&platform(
            "org.freedesktop.DBus.Error.ServiceUnknown: no such name"
        )));
        assert!(!went_away(&keyring::Error::NoEntry));
    }
}
