//! The profile manager: creates, lists, renames, deletes, locks, unlocks and opens profiles.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::attempts::{self, Attempts, Refusal};
use super::crypto::{self, Key};
use super::keychain::{self, KeyStore, KeychainError};
use super::meta::{
    KdfMeta, META_FORMAT, ProfileMeta, anchor_account, attempts_account, session_account,
    vault_account,
};
use super::paths::{META_FILE, PROFILES_DIR, default_data_dir};
use super::{
    DeletionReport, Error, LockState, NewProtection, ProfileSummary, Protection, Secret, Vault,
    record, vault,
};
use crate::policy::Policy;
use crate::system::{Env, SharedRng};

/// A passphrase-only profile's failure count (it has no keychain to keep it in).
const ATTEMPTS_FILE: &str = "attempts.json";

/// Longest profile name, in characters.
const MAX_NAME_CHARS: usize = 64;

/// Creates, lists, renames, deletes, locks and opens profiles.
pub struct ProfileManager {
    root: PathBuf,
    pub(super) policy: Policy,
    pub(super) keychain: Arc<dyn KeyStore>,
    pub(super) env: Env,
    unblock_dir: PathBuf,
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
            env: Env::system(),
            unblock_dir: PathBuf::from(attempts::UNBLOCK_DIR),
        }
    }

    /// Looks for administrators' unblock files in `dir` instead of
    /// [`attempts::UNBLOCK_DIR`] (tests).
    #[must_use]
    pub fn with_unblock_dir(mut self, dir: &Path) -> Self {
        self.unblock_dir = dir.to_path_buf();
        self
    }

    /// Replaces the clock and the RNG (tests of auto-lock, reproducible keys).
    #[must_use]
    pub fn with_env(mut self, env: Env) -> Self {
        self.env = env;
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

    pub(super) fn keychain_error(&self, error: KeychainError) -> Error {
        match error {
            KeychainError::Unavailable { .. } => Error::KeychainUnavailable {
                fallback_allowed: self.policy.allow_passphrase_only,
                source: error,
            },
            other => Error::Keychain(other),
        }
    }

    pub(super) fn all_meta(&self) -> Result<Vec<ProfileMeta>, Error> {
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

    pub(super) fn find(&self, name: &str) -> Result<ProfileMeta, Error> {
        self.all_meta()?
            .into_iter()
            .find(|meta| meta.name == name)
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }

    pub(super) fn write_meta(&self, meta: &ProfileMeta) -> Result<(), Error> {
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

    pub(super) fn new_kdf(&self) -> Result<KdfMeta, Error> {
        let params = self.policy.argon2_params().map_err(Error::Policy)?;
        Ok(KdfMeta {
            salt: hex::encode(self.env.rng.clone().bytes::<{ crypto::SALT_LEN }>()),
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
        let mut rng = self.env.rng.clone();
        let id = hex::encode(rng.bytes::<16>());
        let vault_key = Key::random(&mut rng);
        let mut meta = ProfileMeta {
            format: META_FORMAT,
            id: id.clone(),
            name: name.to_owned(),
            created_at: self.env.unix_time(),
            protection: Protection::Keychain,
            kdf: None,
            kdf_pending: None,
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
                let sealed = self.wrap_key(
                    &mut meta,
                    Protection::KeychainPin,
                    pin,
                    &vault_key,
                    &mut rng,
                )?;
                self.keychain
                    .set(&vault_account(&id), &sealed)
                    .map_err(|e| self.keychain_error(e))?;
            }
            NewProtection::PassphraseOnly(passphrase) => {
                if !self.policy.allow_passphrase_only {
                    return Err(Error::PassphraseOnlyNotAllowed);
                }
                self.check_secret(passphrase)?;
                let sealed = self.wrap_key(
                    &mut meta,
                    Protection::PassphraseOnly,
                    passphrase,
                    &vault_key,
                    &mut rng,
                )?;
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
                // Unlocked only inside the process that holds its key (see `session`).
                Protection::KeychainPin => match self.keychain.get(&vault_account(&meta.id)) {
                    Ok(_) => LockState::Locked,
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
                for account in [
                    vault_account(&meta.id),
                    session_account(&meta.id),
                    attempts_account(&meta.id),
                    anchor_account(&meta.id),
                ] {
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

    /// Opens a profile's vault. With `secret` the PIN/passphrase unwraps the key; without it
    /// only a keychain profile opens.
    ///
    /// # Errors
    /// [`Error::Locked`] when a secret is needed, [`Error::WrongSecret`], keychain errors, I/O.
    pub fn open(&self, name: &str, secret: Option<&Secret>) -> Result<Vault, Error> {
        let meta = self.find(name)?;
        let key = self.vault_key(&meta, secret)?;
        if let Some(secret) = secret {
            self.upgrade_kdf_or_warn(&meta, secret, &key);
        }
        self.open_with_key(&meta, &key)
    }

    /// Checks the PIN or passphrase and opens the vault. The vault is the only holder of the
    /// key: it locks itself after the policy's idle time without use, and on [`Vault::lock`].
    /// Nothing is left in the keychain or on disk that would open the profile without the PIN.
    ///
    /// # Errors
    /// As [`ProfileManager::open`]; [`Error::NotLockable`] is never returned here.
    pub fn unlock(&self, name: &str, secret: &Secret) -> Result<Vault, Error> {
        let meta = self.find(name)?;
        let key = self.vault_key(&meta, Some(secret))?;
        self.upgrade_kdf_or_warn(&meta, secret, &key);
        if meta.protection == Protection::KeychainPin {
            self.end_session(&meta)?;
        }
        tracing::info!(profile = name, "profile unlocked");
        self.open_with_key(&meta, &key)
    }

    /// Locks a profile outside any process that has it open: removes what older versions left
    /// in the keychain (their unlock session). Returns whether there was such a session. A
    /// process that holds an open [`Vault`] locks it with [`Vault::lock`].
    ///
    /// # Errors
    /// [`Error::NotLockable`] for keychain-only profiles, keychain errors.
    pub fn lock(&self, name: &str) -> Result<bool, Error> {
        let meta = self.find(name)?;
        match meta.protection {
            Protection::Keychain => Err(Error::NotLockable { profile: meta.name }),
            Protection::KeychainPin => {
                let ended = self.end_session(&meta)?;
                tracing::info!(profile = name, "profile locked");
                Ok(ended)
            }
            Protection::PassphraseOnly => Ok(false),
        }
    }

    fn open_with_key(&self, meta: &ProfileMeta, key: &Key) -> Result<Vault, Error> {
        self.open_files(meta, key, vault::Files::MustMatch)
    }

    fn open_files(
        &self,
        meta: &ProfileMeta,
        key: &Key,
        files: vault::Files,
    ) -> Result<Vault, Error> {
        let idle = match meta.protection {
            Protection::Keychain => None,
            Protection::KeychainPin | Protection::PassphraseOnly => self.policy.auto_lock_idle(),
        };
        // The rollback anchor lives in the keychain, which a passphrase-only profile lacks.
        let anchor = (meta.protection != Protection::PassphraseOnly).then(|| vault::AnchorPlace {
            store: Arc::clone(&self.keychain),
            account: anchor_account(&meta.id),
        });
        Vault::open(
            &meta.id,
            &meta.name,
            &self.profile_dir(&meta.id),
            key,
            idle,
            self.env.clone(),
            vault::Rollback { anchor, files },
        )
    }

    /// Opens a profile whose files were refused as not the last saved ones
    /// ([`Error::RolledBack`]) and takes them as they are now: the owner restored them on
    /// purpose (from a backup after losing the disk, say). Needs the PIN of a PIN profile.
    ///
    /// # Errors
    /// As [`ProfileManager::open`].
    pub fn accept_files(&self, name: &str, secret: Option<&Secret>) -> Result<Vault, Error> {
        let meta = self.find(name)?;
        let key = self.vault_key(&meta, secret)?;
        tracing::warn!(target: "passbridge::audit", profile = name,
            "the owner accepts the profile's files as they are");
        self.open_files(&meta, &key, vault::Files::Accept)
    }

    pub(super) fn vault_key(
        &self,
        meta: &ProfileMeta,
        secret: Option<&Secret>,
    ) -> Result<Key, Error> {
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
                    self.counted(meta, |manager| manager.unwrap_key(meta, pin, &sealed))
                }
                None => Err(locked()),
            },
            Protection::PassphraseOnly => {
                let passphrase = secret.ok_or_else(locked)?;
                let sealed = meta
                    .wrapped_key
                    .as_deref()
                    .and_then(|text| hex::decode(text).ok())
                    .ok_or(Error::Crypto)?;
                self.counted(meta, |manager| {
                    manager.unwrap_key(meta, passphrase, &sealed)
                })
            }
        }
    }

    /// Seals the vault key under a key derived from `secret` with fresh Argon2 parameters, and
    /// records the protection and those parameters in `meta` (the inverse of `unwrap_key`).
    fn wrap_key(
        &self,
        meta: &mut ProfileMeta,
        protection: Protection,
        secret: &Secret,
        key: &Key,
        rng: &mut SharedRng,
    ) -> Result<Vec<u8>, Error> {
        let kdf = self.new_kdf()?;
        let kek = kdf.derive(secret)?;
        meta.protection = protection;
        meta.kdf = Some(kdf);
        crypto::seal(&kek, &meta.wrap_aad(), key.expose_secret(), rng).map_err(|_| Error::Crypto)
    }

    /// The key under `meta.kdf`, or under `meta.kdf_pending` when an upgrade was interrupted
    /// after the keychain took the new wrapping. `None`: the secret is wrong.
    fn unwrap_key(
        &self,
        meta: &ProfileMeta,
        secret: &Secret,
        sealed: &[u8],
    ) -> Result<Option<Key>, Error> {
        for kdf in [meta.kdf.as_ref(), meta.kdf_pending.as_ref()]
            .into_iter()
            .flatten()
        {
            let kek = kdf.derive(secret)?;
            if let Ok(key) = crypto::open(&kek, &meta.wrap_aad(), sealed) {
                return Key::from_slice(&key).ok_or(Error::Crypto).map(Some);
            }
        }
        if meta.kdf.is_none() {
            return Err(Error::Crypto);
        }
        Ok(None)
    }

    /// Runs one PIN check under the profile's failure count: refused while the count says
    /// wait or blocked; counted as a failure *before* `check` runs (so killing the process
    /// mid-check gives no free guess), forgiven when it succeeds.
    fn counted(
        &self,
        meta: &ProfileMeta,
        check: impl FnOnce(&Self) -> Result<Option<Key>, Error>,
    ) -> Result<Key, Error> {
        let max = self.policy.max_pin_failures;
        let now = self.env.unix_time();
        let count = self.load_attempts(meta)?;
        match count.check(now, max) {
            Ok(()) => {}
            Err(Refusal::Wait(seconds)) => {
                return Err(Error::PinWait {
                    profile: meta.name.clone(),
                    seconds,
                });
            }
            Err(Refusal::Blocked) => {
                if !attempts::unblocked_by_admin(&self.unblock_dir, &meta.id, count.last_failure) {
                    return Err(Error::PinBlocked {
                        profile: meta.name.clone(),
                        id: meta.id.clone(),
                    });
                }
                tracing::warn!(target: "passbridge::audit", profile = %meta.name,
                    "an administrator lifted the PIN block");
                self.store_attempts(meta, Attempts::default())?;
            }
        }
        let count = self.load_attempts(meta)?.failed(now);
        self.store_attempts(meta, count)?;
        match check(self)? {
            Some(key) => {
                self.store_attempts(meta, Attempts::default())?;
                Ok(key)
            }
            None => {
                tracing::warn!(target: "passbridge::audit", profile = %meta.name,
                    failures = count.failures, "wrong PIN or passphrase");
                Err(Error::WrongSecret {
                    profile: meta.name.clone(),
                    attempts_left: count.left(max),
                })
            }
        }
    }

    /// Where the failure count of `meta` lives: the keychain, or the profile's directory for a
    /// profile without one.
    fn attempts_file(&self, meta: &ProfileMeta) -> Option<PathBuf> {
        (meta.protection == Protection::PassphraseOnly)
            .then(|| self.profile_dir(&meta.id).join(ATTEMPTS_FILE))
    }

    fn load_attempts(&self, meta: &ProfileMeta) -> Result<Attempts, Error> {
        let stored = match self.attempts_file(meta) {
            Some(path) => match fs::read(&path) {
                Ok(bytes) => Some(bytes),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => return Err(Error::io(&path, source)),
            },
            None => self
                .keychain
                .get(&attempts_account(&meta.id))
                .map_err(|e| self.keychain_error(e))?
                .map(|secret| secret.to_vec()),
        };
        Ok(match stored {
            None => Attempts::default(),
            Some(bytes) => Attempts::decode(&bytes).unwrap_or_else(|| {
                // Fail closed: a damaged count is a block an administrator can lift.
                tracing::warn!(profile = %meta.name, "PIN failure count damaged: blocked");
                Attempts {
                    failures: u32::MAX,
                    last_failure: 0,
                }
            }),
        })
    }

    fn store_attempts(&self, meta: &ProfileMeta, count: Attempts) -> Result<(), Error> {
        match self.attempts_file(meta) {
            Some(path) => {
                let dir = self.profile_dir(&meta.id);
                if count == Attempts::default() {
                    return match fs::remove_file(&path) {
                        Ok(()) => Ok(()),
                        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
                        Err(source) => Err(Error::io(&path, source)),
                    };
                }
                record::write_atomic(&dir, ATTEMPTS_FILE, &count.encode())
                    .map_err(|source| Error::io(&dir, source))
            }
            None => {
                let account = attempts_account(&meta.id);
                if count == Attempts::default() {
                    self.keychain.delete(&account).map(|_| ())
                } else {
                    self.keychain.set(&account, &count.encode())
                }
                .map_err(|e| self.keychain_error(e))
            }
        }
    }

    /// Attempts left before `name` blocks (`None` for a profile without a PIN): what
    /// getInfo's and clientPIN's `uvRetries` report for the built-in verification.
    ///
    /// # Errors
    /// Unknown profile, unreadable count.
    pub fn pin_attempts_left(&self, name: &str) -> Result<Option<u32>, Error> {
        let meta = self.find(name)?;
        if meta.protection == Protection::Keychain {
            return Ok(None);
        }
        Ok(Some(
            self.load_attempts(&meta)?
                .left(self.policy.max_pin_failures),
        ))
    }

    /// [`Self::upgrade_kdf`], whose failure (a full disk, say) must not stop an unlock: the
    /// old wrapping still works and the next unlock tries again.
    fn upgrade_kdf_or_warn(&self, meta: &ProfileMeta, secret: &Secret, key: &Key) {
        if meta.protection == Protection::Keychain {
            return;
        }
        if let Err(error) = self.upgrade_kdf(meta, secret, key) {
            tracing::warn!(profile = %meta.name, %error, "could not upgrade the PIN key derivation");
        }
    }

    /// Re-wraps the vault key under the policy's Argon2 parameters when `meta`'s are weaker
    /// (profiles made by older versions or under an older policy), right after a correct PIN.
    /// Interrupted at any point, the profile still opens with the same PIN: the new
    /// parameters are recorded as pending before the keychain takes the new wrapping.
    fn upgrade_kdf(&self, meta: &ProfileMeta, secret: &Secret, key: &Key) -> Result<(), Error> {
        let wanted = self.policy.argon2_params().map_err(Error::Policy)?;
        let weaker = meta
            .kdf
            .as_ref()
            .is_some_and(|kdf| kdf.weaker_than(&wanted));
        if !weaker && meta.kdf_pending.is_none() {
            return Ok(());
        }
        let mut rng = self.env.rng.clone();
        let kdf = self.new_kdf()?;
        let kek = kdf.derive(secret)?;
        let sealed = crypto::seal(&kek, &meta.wrap_aad(), key.expose_secret(), &mut rng)
            .map_err(|_| Error::Crypto)?;
        let mut meta = meta.clone();
        match meta.protection {
            Protection::KeychainPin => {
                meta.kdf_pending = Some(kdf.clone());
                self.write_meta(&meta)?;
                self.keychain
                    .set(&vault_account(&meta.id), &sealed)
                    .map_err(|e| self.keychain_error(e))?;
                meta.kdf = Some(kdf);
                meta.kdf_pending = None;
                self.write_meta(&meta)?;
            }
            Protection::PassphraseOnly => {
                // One file holds both the parameters and the wrapping: one atomic write.
                meta.kdf = Some(kdf);
                meta.wrapped_key = Some(hex::encode(sealed));
                self.write_meta(&meta)?;
            }
            Protection::Keychain => return Ok(()),
        }
        tracing::info!(target: "passbridge::audit", profile = %meta.name,
            memory_kib = wanted.m_cost(), iterations = wanted.t_cost(),
            "PIN key derivation upgraded");
        Ok(())
    }
}
