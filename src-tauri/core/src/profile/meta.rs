//! `profile.json` (what is not secret about a profile) and the keychain entries' names.

use serde::{Deserialize, Serialize};

use super::crypto::{self, Key};
use super::{Error, Protection, Secret};

/// The version of `profile.json`'s layout.
pub(crate) const META_FORMAT: u32 = 1;

/// Argon2id parameters recorded with a wrapped key, so a later policy change does not lock
/// anyone out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KdfMeta {
    pub(crate) salt: String,
    pub(crate) memory_kib: u32,
    pub(crate) iterations: u32,
    pub(crate) parallelism: u32,
}

impl KdfMeta {
    /// Whether these parameters cost less per guess than `policy` asks for new wrappings.
    pub(crate) fn weaker_than(&self, params: &argon2::Params) -> bool {
        self.memory_kib < params.m_cost() || self.iterations < params.t_cost()
    }

    pub(crate) fn derive(&self, secret: &Secret) -> Result<Key, Error> {
        let salt = hex::decode(&self.salt).map_err(|_| Error::Crypto)?;
        let params =
            argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
                .map_err(Error::Kdf)?;
        crypto::derive_kek(secret.expose_secret().as_bytes(), &salt, params).map_err(Error::Kdf)
    }
}

/// `profile.json`: everything about a profile that is not secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ProfileMeta {
    pub(crate) format: u32,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created_at: u64,
    pub(crate) protection: Protection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kdf: Option<KdfMeta>,
    /// Stronger parameters being moved to: the keychain's wrapped key may already be sealed
    /// under them when an upgrade was interrupted (see `ProfileManager::upgrade_kdf`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kdf_pending: Option<KdfMeta>,
    /// Passphrase-only: hex(seal(Argon2id(passphrase), vault key)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) wrapped_key: Option<String>,
}

impl ProfileMeta {
    pub(crate) fn wrap_aad(&self) -> Vec<u8> {
        [b"passbridge vault key v1/".as_slice(), self.id.as_bytes()].concat()
    }
}

pub(crate) fn vault_account(id: &str) -> String {
    format!("vault:{id}")
}

pub(crate) fn anchor_account(id: &str) -> String {
    format!("anchor:{id}")
}

pub(crate) fn attempts_account(id: &str) -> String {
    format!("attempts:{id}")
}

pub(crate) fn session_account(id: &str) -> String {
    format!("session:{id}")
}
