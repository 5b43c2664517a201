//! One profile's open vault: decrypted credentials held in memory while unlocked, every change
//! written through to its own encrypted record before the call returns.
//!
//! A [`Vault`] implements [`ctap::platform::CredentialStore`], so the authenticator runs on it
//! directly. It locks itself after the policy's idle time (checked on every call) and on
//! [`Vault::lock`]; a locked vault answers every call with [`Error::Locked`] and holds no key.
//!
//! One process should write a profile at a time: another process sees changes when it opens
//! the profile again.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use ctap::platform::{
    CredProtect, CredRandom, CredentialStore, PersistentState, SecretKey, StoreError,
    StoredCredential,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::Error;
use super::anchor::{self, Anchor, Manifest, Verdict};
use super::crypto::{self, Key};
use super::keychain::KeyStore;
use super::record::{self, Damage, Kind};
use crate::system::{Env, SharedRng};

/// Sub-directory of a profile holding one file per credential.
pub(crate) const RECORDS_DIR: &str = "records";
/// Record file extension.
pub(crate) const RECORD_EXT: &str = "pbr";
/// Sub-directory for other per-profile secrets (linked phones, history).
const ITEMS_DIR: &str = "items";
/// The authenticator-state record, in the profile directory.
const STATE_FILE: &str = "state.pbr";
/// Record ID of the state record.
const STATE_ID: &[u8] = b"authenticator-state";

/// A record that could not be read. The rest of the vault keeps working without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordProblem {
    /// Display name of the profile.
    pub profile: String,
    /// Record file name (relative to the profile directory).
    pub record: String,
    /// Credential ID, when the identity section could still be authenticated.
    pub credential_id: Option<Vec<u8>>,
    /// What is wrong.
    pub damage: Damage,
    /// Where the record was moved aside to (relative to the profile directory), if it was.
    pub moved_to: Option<String>,
}

impl fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.credential_id {
            Some(id) => write!(
                f,
                "profile '{}': credential {} (record {}) is damaged: {}",
                self.profile,
                hex::encode(id),
                self.record,
                self.damage
            )?,
            None => write!(
                f,
                "profile '{}': record {} (credential ID unreadable) is damaged: {}",
                self.profile, self.record, self.damage
            )?,
        }
        match &self.moved_to {
            Some(place) => write!(f, "; moved aside to {place}"),
            None => Ok(()),
        }
    }
}

/// A stored item: its name and decrypted data (wiped on drop).
pub type Item = (Vec<u8>, Zeroizing<Vec<u8>>);

/// What the management views show about one passkey. Contains no key material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PasskeyInfo {
    /// Credential ID.
    pub credential_id: Vec<u8>,
    /// RP ID.
    pub rp_id: String,
    /// RP name.
    pub rp_name: Option<String>,
    /// User name.
    pub user_name: Option<String>,
    /// User display name.
    pub user_display_name: Option<String>,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// Last assertion, Unix seconds.
    pub last_used: Option<u64>,
    /// Number of assertions.
    pub use_count: u64,
    /// Signature counter.
    pub sign_count: u32,
    /// Transports.
    pub transports: Vec<String>,
    /// Discoverable (resident) or not.
    pub discoverable: bool,
    /// Backup eligible flag.
    pub backup_eligible: bool,
    /// Backup state flag.
    pub backup_state: bool,
}

/// Longest credential ID whose file name carries the (encrypted) ID: (12 + 64 + 16) bytes in
/// hex plus the extension stays well under the usual 255-byte file-name limit.
const MAX_NAMED_ID: usize = 64;

/// The derived keys of an unlocked vault.
struct Keys {
    records: Key,
    name_enc: Key,
    name_mac: Key,
}

impl Keys {
    fn new(vault_key: &Key) -> Result<Self, Error> {
        let derive = |info: &[u8]| vault_key.derive(info).map_err(|_| Error::Crypto);
        Ok(Self {
            records: derive(b"record encryption")?,
            name_enc: derive(b"record file name encryption")?,
            name_mac: derive(b"record file name nonce")?,
        })
    }

    /// The record's file name: the credential ID under deterministic authenticated encryption,
    /// so a directory listing reveals no credential IDs to anyone without the key, while the
    /// owner can still name a record whose contents are destroyed. Over-long IDs get a keyed
    /// hash instead.
    fn file_name(&self, credential_id: &[u8]) -> String {
        if credential_id.len() <= MAX_NAMED_ID
            && let Ok(sealed) = crypto::seal_deterministic(
                &self.name_enc,
                &self.name_mac,
                b"record file name",
                credential_id,
            )
        {
            return format!("{}.{RECORD_EXT}", hex::encode(sealed));
        }
        let mac = self.name_mac.mac(credential_id);
        let short = mac.get(..16).unwrap_or(&mac);
        format!("h{}.{RECORD_EXT}", hex::encode(short))
    }

    /// The credential ID a file name stands for, if it is one of ours.
    fn id_from_file_name(&self, file_name: &str) -> Option<Vec<u8>> {
        let stem = file_name.strip_suffix(RECORD_EXT)?.strip_suffix('.')?;
        let sealed = hex::decode(stem).ok()?;
        crypto::open_deterministic(&self.name_enc, &self.name_mac, b"record file name", &sealed)
            .ok()
            .map(|id| id.to_vec())
    }
}

/// Usage data kept next to each credential.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    last_used: Option<u64>,
    use_count: u64,
    /// Write order; on a crash between writing a replacement and removing the credential it
    /// replaced, the newer generation wins.
    generation: u64,
}

struct Entry {
    credential: StoredCredential,
    usage: Usage,
}

struct Inner {
    keys: Option<Keys>,
    /// The files as this vault last wrote or read them (see [`anchor`]).
    manifest: Manifest,
    entries: HashMap<Vec<u8>, Entry>,
    problems: Vec<RecordProblem>,
    last_activity: u64,
    next_generation: u64,
}

/// An open profile vault.
pub struct Vault {
    profile_id: String,
    profile_name: String,
    dir: PathBuf,
    /// Where the rollback anchor lives (keychain, account), for profiles with a keychain.
    anchor: Option<AnchorPlace>,
    idle_limit: Option<u64>,
    env: Env,
    inner: Mutex<Inner>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("profile", &self.profile_name)
            .finish_non_exhaustive()
    }
}

/// Serialized form of a credential record body. Zeroised on drop because it holds the
/// private key and hmac-secret material.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct CredentialBody {
    rp_id: String,
    rp_name: Option<String>,
    user_id: Vec<u8>,
    user_name: Option<String>,
    user_display_name: Option<String>,
    private_key: [u8; 32],
    public_key: Vec<u8>,
    sign_count: u32,
    cred_protect: u8,
    cred_random: Option<([u8; 32], [u8; 32])>,
    discoverable: bool,
    created_at: u64,
    transports: Vec<String>,
    backup_eligible: bool,
    backup_state: bool,
    last_used: Option<u64>,
    use_count: u64,
    generation: u64,
}

impl CredentialBody {
    fn new(credential: &StoredCredential, usage: Usage) -> Self {
        Self {
            rp_id: credential.rp_id.clone(),
            rp_name: credential.rp_name.clone(),
            user_id: credential.user_id.clone(),
            user_name: credential.user_name.clone(),
            user_display_name: credential.user_display_name.clone(),
            private_key: *credential.private_key.expose_secret(),
            public_key: credential.public_key.clone(),
            sign_count: credential.sign_count,
            cred_protect: credential.cred_protect.level(),
            cred_random: credential
                .cred_random
                .as_ref()
                .map(|r| (*r.with_uv.expose_secret(), *r.without_uv.expose_secret())),
            discoverable: credential.discoverable,
            created_at: credential.created_at,
            transports: credential.transports.clone(),
            backup_eligible: credential.backup_eligible,
            backup_state: credential.backup_state,
            last_used: usage.last_used,
            use_count: usage.use_count,
            generation: usage.generation,
        }
    }

    fn into_entry(self, credential_id: Vec<u8>) -> Option<Entry> {
        let credential = StoredCredential {
            credential_id,
            rp_id: self.rp_id.clone(),
            rp_name: self.rp_name.clone(),
            user_id: self.user_id.clone(),
            user_name: self.user_name.clone(),
            user_display_name: self.user_display_name.clone(),
            private_key: SecretKey::new(self.private_key),
            public_key: self.public_key.clone(),
            sign_count: self.sign_count,
            cred_protect: CredProtect::from_level(u64::from(self.cred_protect))?,
            cred_random: self.cred_random.map(|(with_uv, without_uv)| CredRandom {
                with_uv: SecretKey::new(with_uv),
                without_uv: SecretKey::new(without_uv),
            }),
            discoverable: self.discoverable,
            created_at: self.created_at,
            transports: self.transports.clone(),
            backup_eligible: self.backup_eligible,
            backup_state: self.backup_state,
        };
        let usage = Usage {
            last_used: self.last_used,
            use_count: self.use_count,
            generation: self.generation,
        };
        Some(Entry { credential, usage })
    }
}

/// Serialized authenticator state.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct StateBody {
    pin_hash: Option<[u8; 16]>,
    pin_retries: u8,
    uv_retries: u8,
    wrapping_key: [u8; 32],
    global_sign_count: u32,
    min_pin_length: u8,
}

/// Serializes into a buffer that is wiped when dropped. The capacity is reserved up front so
/// growing does not leave stray copies of key bytes in freed memory.
fn to_secret_json<T: Serialize>(value: &T) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut buffer = Zeroizing::new(Vec::with_capacity(8192));
    serde_json::to_writer(&mut *buffer, value).map_err(Error::Encode)?;
    Ok(buffer)
}

/// The keychain and the account of a profile's rollback anchor.
#[derive(Clone)]
pub(crate) struct AnchorPlace {
    pub(crate) store: Arc<dyn KeyStore>,
    pub(crate) account: String,
}

/// The rollback check [`Vault::open`] makes: against which anchor, and how strictly.
pub(crate) struct Rollback {
    pub(crate) anchor: Option<AnchorPlace>,
    pub(crate) files: Files,
}

/// How [`Vault::open`] treats the files' agreement with the anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Files {
    /// Refuse files that are not the ones last saved.
    MustMatch,
    /// The owner restored them on purpose: take them as they are.
    Accept,
}

/// A manifest holding just the authenticator state's hash, if there is a state file.
fn state_manifest(dir: &Path) -> Result<Manifest, Error> {
    let mut manifest = Manifest::new();
    match fs::read(dir.join(STATE_FILE)) {
        Ok(bytes) => {
            manifest.insert(STATE_FILE.to_owned(), anchor::hash(&bytes));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(Error::io(&dir.join(STATE_FILE), source)),
    }
    Ok(manifest)
}

/// Every record file of the profile in `dir` and the hash of its bytes.
fn scan_manifest(dir: &Path) -> Result<Manifest, Error> {
    let mut manifest = state_manifest(dir)?;
    for sub in [RECORDS_DIR, ITEMS_DIR] {
        for (file_name, bytes) in record_files(dir, sub)? {
            // An unreadable file cannot be in a manifest; opening quarantines it.
            if let Some(bytes) = bytes {
                manifest.insert(format!("{sub}/{file_name}"), anchor::hash(&bytes));
            }
        }
    }
    Ok(manifest)
}

/// Where damaged and unreadable records go, inside the profile directory.
const QUARANTINE_DIR: &str = "quarantine";

/// Moves `dir`/`path` into the quarantine directory; returns where it went (relative).
fn quarantine(dir: &Path, path: &str) -> std::io::Result<String> {
    let target_dir = dir.join(QUARANTINE_DIR);
    record::create_private_dir(&target_dir)?;
    let flat = path.replace('/', "-");
    let mut name = flat.clone();
    let mut n = 1u32;
    while target_dir.join(&name).exists() {
        n = n.saturating_add(1);
        name = format!("{flat}.{n}");
    }
    fs::rename(dir.join(path), target_dir.join(&name))?;
    record::sync_dir(&target_dir)?;
    if let Some(parent) = dir.join(path).parent() {
        record::sync_dir(parent)?;
    }
    Ok(format!("{QUARANTINE_DIR}/{name}"))
}

/// A record file's name and its bytes, `None` when it cannot be read.
type RecordFile = (String, Option<Vec<u8>>);

/// The record files of `sub` (credentials or items) with their bytes, or `None` where they
/// cannot be read. Temp files of interrupted writes were never acknowledged: left out.
fn record_files(dir: &Path, sub: &str) -> Result<Vec<RecordFile>, Error> {
    let sub_dir = dir.join(sub);
    let listing = match fs::read_dir(&sub_dir) {
        Ok(listing) => listing,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::io(&sub_dir, source)),
    };
    let mut files = Vec::new();
    for item in listing {
        let item = item.map_err(|source| Error::io(&sub_dir, source))?;
        let file_name = item.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') || !file_name.ends_with(RECORD_EXT) {
            continue;
        }
        let bytes = match fs::read(item.path()) {
            Ok(bytes) => Some(bytes),
            Err(error) => {
                tracing::warn!(%error, record = %file_name, "cannot read a vault record");
                None
            }
        };
        files.push((file_name, bytes));
    }
    Ok(files)
}

impl Vault {
    /// Opens the vault in `dir` with its vault key, reading every record. Damaged records are
    /// collected in [`Vault::problems`] and logged; they do not prevent opening. With an
    /// anchor, files that are not the ones last saved are refused ([`Error::RolledBack`])
    /// unless `files` accepts them.
    pub(crate) fn open(
        profile_id: &str,
        profile_name: &str,
        dir: &Path,
        vault_key: &Key,
        idle_limit: Option<u64>,
        env: Env,
        rollback: Rollback,
    ) -> Result<Self, Error> {
        let Rollback {
            anchor: place,
            files,
        } = rollback;
        let keys = Keys::new(vault_key)?;
        let records_dir = dir.join(RECORDS_DIR);
        record::create_private_dir(&records_dir)
            .map_err(|source| Error::io(&records_dir, source))?;
        let mut entries: HashMap<Vec<u8>, Entry> = HashMap::new();
        let mut problems = Vec::new();
        let mut superseded = Vec::new();
        let mut manifest = state_manifest(dir)?;
        for (file_name, bytes) in record_files(dir, RECORDS_DIR)? {
            let path = format!("{RECORDS_DIR}/{file_name}");
            // Damaged records are named by the ID in their contents if that still
            // authenticates, else by the ID their file name stands for.
            let problem = |credential_id: Option<Vec<u8>>, damage| RecordProblem {
                profile: profile_name.to_owned(),
                record: path.clone(),
                credential_id: credential_id.or_else(|| keys.id_from_file_name(&file_name)),
                damage,
                moved_to: None,
            };
            let Some(bytes) = bytes else {
                problems.push(problem(None, Damage::Unreadable));
                continue;
            };
            let entry = match record::decode(&keys.records, profile_id, Kind::Credential, &bytes) {
                Err(failure) => Err(problem(failure.id, failure.damage)),
                Ok((id, _)) if keys.file_name(&id) != file_name => {
                    Err(problem(Some(id), Damage::Misplaced))
                }
                Ok((id, body)) => serde_json::from_slice::<CredentialBody>(&body)
                    .ok()
                    .and_then(|body| body.into_entry(id.clone()))
                    .ok_or_else(|| problem(Some(id), Damage::Undecodable)),
            };
            let entry = match entry {
                Ok(entry) => entry,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            manifest.insert(path, anchor::hash(&bytes));
            // One credential per (RP, user): a crash during a replacing insert can leave both.
            let older = entries
                .iter()
                .find(|(_, other)| same_account(&other.credential, &entry.credential))
                .map(|(id, other)| (id.clone(), other.usage.generation));
            match older {
                Some((_, generation)) if generation > entry.usage.generation => {
                    superseded.push(entry.credential.credential_id.clone());
                }
                Some((older_id, _)) => {
                    entries.remove(&older_id);
                    superseded.push(older_id);
                    entries.insert(entry.credential.credential_id.clone(), entry);
                }
                None => {
                    entries.insert(entry.credential.credential_id.clone(), entry);
                }
            }
        }
        for (file_name, bytes) in record_files(dir, ITEMS_DIR)? {
            let path = format!("{ITEMS_DIR}/{file_name}");
            let damage = match &bytes {
                None => Some(Damage::Unreadable),
                Some(bytes) => match record::decode(&keys.records, profile_id, Kind::Item, bytes) {
                    Ok((id, _)) if keys.file_name(&id) == file_name => None,
                    Ok(_) => Some(Damage::Misplaced),
                    Err(failure) => Some(failure.damage),
                },
            };
            match (damage, bytes) {
                (None, Some(bytes)) => {
                    manifest.insert(path, anchor::hash(&bytes));
                }
                (damage, _) => problems.push(RecordProblem {
                    profile: profile_name.to_owned(),
                    record: path,
                    credential_id: None,
                    damage: damage.unwrap_or(Damage::Unreadable),
                    moved_to: None,
                }),
            }
        }
        let quarantined: std::collections::BTreeSet<String> =
            problems.iter().map(|p| p.record.clone()).collect();
        if let Some(place) = &place {
            let anchor = Anchor::new(Arc::clone(&place.store), place.account.clone());
            match anchor
                .check(&manifest, &quarantined)
                .map_err(Error::Keychain)?
            {
                Verdict::Current if quarantined.is_empty() => {}
                Verdict::Current | Verdict::Pending | Verdict::NoAnchor => {
                    anchor.settle(&manifest).map_err(Error::Keychain)?;
                }
                Verdict::RolledBack(_) if files == Files::Accept => {
                    tracing::warn!(target: "passbridge::audit", profile = profile_name,
                        "the owner accepted files that differ from the last saved ones");
                    anchor.settle(&manifest).map_err(Error::Keychain)?;
                }
                Verdict::RolledBack(differences) => {
                    tracing::warn!(target: "passbridge::audit", profile = profile_name,
                        %differences, "vault files are not the ones last saved: refused");
                    return Err(Error::RolledBack {
                        profile: profile_name.to_owned(),
                        differences,
                    });
                }
            }
        }
        // Only now, with the files accepted, are damaged records moved aside.
        for problem in &mut problems {
            match quarantine(dir, &problem.record) {
                Ok(moved_to) => problem.moved_to = Some(moved_to),
                Err(error) => {
                    tracing::warn!(%error, record = %problem.record, "cannot quarantine a record");
                }
            }
            tracing::warn!(%problem, "a damaged vault record was set aside");
        }
        let next_generation = entries
            .values()
            .map(|entry| entry.usage.generation)
            .max()
            .unwrap_or(0)
            + 1;
        tracing::debug!(
            profile = profile_name,
            credentials = entries.len(),
            damaged = problems.len(),
            "vault opened"
        );
        let vault = Self {
            profile_id: profile_id.to_owned(),
            profile_name: profile_name.to_owned(),
            dir: dir.to_path_buf(),
            anchor: place,
            idle_limit,
            inner: Mutex::new(Inner {
                keys: Some(keys),
                manifest,
                entries,
                problems,
                last_activity: env.unix_time(),
                next_generation,
            }),
            env,
        };
        {
            let mut inner = vault.inner.lock().map_err(|_| Error::Poisoned)?;
            for id in &superseded {
                let name = vault.keys_of(&inner)?.file_name(id);
                vault.remove_file(&mut inner, RECORDS_DIR, &name)?;
            }
        }
        Ok(vault)
    }

    /// The anchor of this (unlocked) vault, if it has one.
    fn anchor_of(&self, inner: &Inner) -> Result<Option<Anchor>, Error> {
        self.keys_of(inner)?;
        Ok(self
            .anchor
            .as_ref()
            .map(|place| Anchor::new(Arc::clone(&place.store), place.account.clone())))
    }

    /// Changes one file (`sub`/`name`, `sub` empty for the profile directory itself) under the
    /// anchor's two phases: the anchor first accepts both the files before and after, `apply`
    /// changes the file, then the anchor keeps only the after. `after` is the new content's
    /// hash, or `None` when `apply` removes the file.
    fn change_file<T>(
        &self,
        inner: &mut Inner,
        sub: &str,
        name: &str,
        after: Option<[u8; 32]>,
        apply: impl FnOnce(&Path) -> std::io::Result<T>,
    ) -> Result<T, Error> {
        let dir = if sub.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(sub)
        };
        let path = if sub.is_empty() {
            name.to_owned()
        } else {
            format!("{sub}/{name}")
        };
        let anchor = self.anchor_of(inner)?;
        if let Some(anchor) = &anchor {
            self.catch_up(inner, anchor)?;
        }
        let mut next = inner.manifest.clone();
        match after {
            Some(hash) => next.insert(path, hash),
            None => next.remove(&path),
        };
        if let Some(anchor) = &anchor {
            anchor
                .begin(&inner.manifest, &next)
                .map_err(Error::Keychain)?;
        }
        let result = apply(&dir).map_err(|source| Error::io(&dir, source))?;
        inner.manifest = next;
        if let Some(anchor) = &anchor
            && let Err(error) = anchor.settle(&inner.manifest)
        {
            // The write is done and the anchor accepts it as pending: the next write or open
            // settles it.
            tracing::warn!(%error, profile = %self.profile_name, "could not settle the anchor");
        }
        Ok(result)
    }

    /// Another Passbridge process may have written this profile since this vault read it (the
    /// command line while the window runs): if the anchor no longer names this vault's
    /// manifest but does name the files on disk, those are the current ones.
    fn catch_up(&self, inner: &mut Inner, anchor: &Anchor) -> Result<(), Error> {
        let none = std::collections::BTreeSet::new();
        if anchor
            .check(&inner.manifest, &none)
            .map_err(Error::Keychain)?
            == Verdict::Current
        {
            return Ok(());
        }
        let on_disk = scan_manifest(&self.dir)?;
        if matches!(
            anchor.check(&on_disk, &none).map_err(Error::Keychain)?,
            Verdict::Current | Verdict::Pending
        ) {
            inner.manifest = on_disk;
        }
        Ok(())
    }

    /// Removes `sub`/`name` durably under the anchor; returns whether it existed.
    fn remove_file(&self, inner: &mut Inner, sub: &str, name: &str) -> Result<bool, Error> {
        self.change_file(inner, sub, name, None, |dir| {
            record::remove_durable(dir, name)
        })
    }

    /// Writes `sub`/`name` atomically and durably under the anchor.
    fn write_file(
        &self,
        inner: &mut Inner,
        sub: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), Error> {
        self.change_file(inner, sub, name, Some(anchor::hash(bytes)), |dir| {
            record::write_atomic(dir, name, bytes)
        })
    }

    /// The profile's display name (the only thing a locked vault reveals).
    pub fn profile_name(&self) -> &str {
        &self.profile_name
    }

    /// Whether the vault is locked (explicitly or by the idle timer).
    pub fn is_locked(&self) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return true;
        };
        let idle = self
            .idle_limit
            .is_some_and(|limit| self.env.unix_time().saturating_sub(inner.last_activity) > limit);
        if idle {
            lock_inner(&mut inner);
        }
        inner.keys.is_none()
    }

    /// When the idle timer will lock this vault (Unix seconds), if it has one and is unlocked.
    pub fn auto_lock_at(&self) -> Option<u64> {
        let limit = self.idle_limit?;
        let inner = self.inner.lock().ok()?;
        inner
            .keys
            .as_ref()
            .map(|_| inner.last_activity.saturating_add(limit))
    }

    /// Forgets the keys and every decrypted credential. Reopen through the
    /// [`ProfileManager`](super::ProfileManager) to use the profile again.
    pub fn lock(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            lock_inner(&mut inner);
        }
        tracing::info!(profile = %self.profile_name, "vault locked");
    }

    /// Records that could not be read when the vault was opened.
    ///
    /// # Errors
    /// [`Error::Locked`].
    pub fn problems(&self) -> Result<Vec<RecordProblem>, Error> {
        Ok(self.guard()?.problems.clone())
    }

    /// Metadata of every stored passkey, oldest first.
    ///
    /// # Errors
    /// [`Error::Locked`].
    pub fn passkeys(&self) -> Result<Vec<PasskeyInfo>, Error> {
        let inner = self.guard()?;
        let mut list: Vec<PasskeyInfo> = inner
            .entries
            .values()
            .map(|entry| {
                let c = &entry.credential;
                PasskeyInfo {
                    credential_id: c.credential_id.clone(),
                    rp_id: c.rp_id.clone(),
                    rp_name: c.rp_name.clone(),
                    user_name: c.user_name.clone(),
                    user_display_name: c.user_display_name.clone(),
                    created_at: c.created_at,
                    last_used: entry.usage.last_used,
                    use_count: entry.usage.use_count,
                    sign_count: c.sign_count,
                    transports: c.transports.clone(),
                    discoverable: c.discoverable,
                    backup_eligible: c.backup_eligible,
                    backup_state: c.backup_state,
                }
            })
            .collect();
        list.sort_by(|a, b| {
            (a.created_at, &a.rp_id, &a.credential_id).cmp(&(
                b.created_at,
                &b.rp_id,
                &b.credential_id,
            ))
        });
        Ok(list)
    }

    /// Changes the user name and/or display name shown for a passkey. Returns false when no
    /// such passkey exists.
    ///
    /// # Errors
    /// [`Error::Locked`], or the record could not be written.
    pub fn rename_passkey(
        &self,
        credential_id: &[u8],
        user_name: Option<String>,
        user_display_name: Option<String>,
    ) -> Result<bool, Error> {
        let mut inner = self.guard_for_change()?;
        let Some(entry) = inner.entries.get(credential_id) else {
            return Ok(false);
        };
        let mut credential = entry.credential.clone();
        let usage = entry.usage;
        if let Some(name) = user_name {
            credential.user_name = Some(name);
        }
        if let Some(name) = user_display_name {
            credential.user_display_name = Some(name);
        }
        self.write_entry(&mut inner, credential, usage)?;
        Ok(true)
    }

    /// Deletes a passkey; returns whether it existed.
    ///
    /// # Errors
    /// [`Error::Locked`], or the record could not be removed.
    pub fn delete_passkey(&self, credential_id: &[u8]) -> Result<bool, Error> {
        let mut inner = self.guard_for_change()?;
        self.remove_entry(&mut inner, credential_id)
    }

    /// Stores another per-profile secret (a linked phone's pairing data, history …) as an
    /// encrypted record: `kind` groups items, `name` identifies one within its kind.
    ///
    /// # Errors
    /// [`Error::Locked`], or the record could not be written.
    pub fn put_item(&self, kind: &str, name: &[u8], data: &[u8]) -> Result<(), Error> {
        let mut inner = self.guard_for_change()?;
        let keys = self.keys_of(&inner)?;
        let id = item_id(kind, name);
        let file_name = keys.file_name(&id);
        let bytes = record::encode(
            &keys.records,
            &self.profile_id,
            Kind::Item,
            &id,
            data,
            &mut self.rng(),
        )
        .map_err(|_| Error::Crypto)?;
        let dir = self.dir.join(ITEMS_DIR);
        record::create_private_dir(&dir).map_err(|source| Error::io(&dir, source))?;
        self.write_file(&mut inner, ITEMS_DIR, &file_name, &bytes)
    }

    /// Every item of `kind` as (name, data). Damaged items are logged with their identity and
    /// skipped.
    ///
    /// # Errors
    /// [`Error::Locked`], I/O.
    pub fn items(&self, kind: &str) -> Result<Vec<Item>, Error> {
        let inner = self.guard()?;
        let keys = self.keys_of(&inner)?;
        let dir = self.dir.join(ITEMS_DIR);
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(Error::io(&dir, source)),
        };
        let prefix = item_id(kind, b"");
        let mut out = Vec::new();
        for item in listing {
            let item = item.map_err(|source| Error::io(&dir, source))?;
            let file_name = item.file_name().to_string_lossy().into_owned();
            if file_name.starts_with('.') || !file_name.ends_with(RECORD_EXT) {
                continue;
            }
            let bytes = fs::read(item.path()).map_err(|source| Error::io(&item.path(), source))?;
            match record::decode(&keys.records, &self.profile_id, Kind::Item, &bytes) {
                Ok((id, data)) if keys.file_name(&id) == file_name => {
                    if let Some(name) = id.strip_prefix(prefix.as_slice()) {
                        out.push((name.to_vec(), data));
                    }
                }
                Ok(_) | Err(_) => {
                    let problem = RecordProblem {
                        profile: self.profile_name.clone(),
                        record: format!("{ITEMS_DIR}/{file_name}"),
                        credential_id: keys.id_from_file_name(&file_name),
                        damage: Damage::IdentityTampered,
                        moved_to: None,
                    };
                    tracing::warn!(%problem, "skipping damaged profile item");
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Removes an item; returns whether it existed.
    ///
    /// # Errors
    /// [`Error::Locked`], I/O.
    pub fn remove_item(&self, kind: &str, name: &[u8]) -> Result<bool, Error> {
        let mut inner = self.guard_for_change()?;
        let file_name = self.keys_of(&inner)?.file_name(&item_id(kind, name));
        if !self.dir.join(ITEMS_DIR).exists() {
            return Ok(false);
        }
        self.remove_file(&mut inner, ITEMS_DIR, &file_name)
    }

    /// Records something the user did with this profile (an unlock, a sign-in, a passkey
    /// change): it restarts the idle timer. Reads do not: the window asks for the passkey list
    /// on a timer, and a lock that polling could hold open would never fire.
    ///
    /// # Errors
    /// [`Error::Locked`] when the vault is locked or its idle time has already run out.
    pub fn note_use(&self) -> Result<(), Error> {
        self.guard_for_change().map(drop)
    }

    /// Locks the inner state for a change the user made: enforces the lock and the idle timer,
    /// then restarts the timer.
    fn guard_for_change(&self) -> Result<MutexGuard<'_, Inner>, Error> {
        let mut inner = self.guard()?;
        inner.last_activity = self.env.unix_time();
        Ok(inner)
    }

    /// Locks the inner state, enforcing the lock and the idle timer. A read: it does not count
    /// as activity (see [`Vault::note_use`]).
    fn guard(&self) -> Result<MutexGuard<'_, Inner>, Error> {
        let mut inner = self.inner.lock().map_err(|_| Error::Poisoned)?;
        if inner.keys.is_none() {
            return Err(Error::Locked {
                profile: self.profile_name.clone(),
            });
        }
        let now = self.env.unix_time();
        if let Some(limit) = self.idle_limit
            && now.saturating_sub(inner.last_activity) > limit
        {
            lock_inner(&mut inner);
            tracing::info!(profile = %self.profile_name, "vault auto-locked after idle time");
            return Err(Error::Locked {
                profile: self.profile_name.clone(),
            });
        }
        Ok(inner)
    }

    fn records_dir(&self) -> PathBuf {
        self.dir.join(RECORDS_DIR)
    }

    /// Writes `credential` durably, then updates the in-memory copy.
    fn write_entry(
        &self,
        inner: &mut Inner,
        credential: StoredCredential,
        mut usage: Usage,
    ) -> Result<(), Error> {
        let keys = inner.keys.as_ref().ok_or_else(|| self.locked())?;
        usage.generation = inner.next_generation;
        let body = to_secret_json(&CredentialBody::new(&credential, usage))?;
        let bytes = record::encode(
            &keys.records,
            &self.profile_id,
            Kind::Credential,
            &credential.credential_id,
            &body,
            &mut self.rng(),
        )
        .map_err(|_| Error::Crypto)?;
        let file_name = keys.file_name(&credential.credential_id);
        self.write_file(inner, RECORDS_DIR, &file_name, &bytes)?;
        inner.next_generation = inner.next_generation.saturating_add(1);
        tracing::debug!(profile = %self.profile_name, "credential record written");
        inner.entries.insert(
            credential.credential_id.clone(),
            Entry { credential, usage },
        );
        Ok(())
    }

    fn remove_entry(&self, inner: &mut Inner, credential_id: &[u8]) -> Result<bool, Error> {
        let file_name = self.keys_of(inner)?.file_name(credential_id);
        let removed = self.remove_file(inner, RECORDS_DIR, &file_name)?;
        let known = inner.entries.remove(credential_id).is_some();
        Ok(removed || known)
    }

    /// The generator record nonces come from.
    fn rng(&self) -> SharedRng {
        self.env.rng.clone()
    }

    fn locked(&self) -> Error {
        Error::Locked {
            profile: self.profile_name.clone(),
        }
    }

    fn keys_of<'a>(&self, inner: &'a Inner) -> Result<&'a Keys, Error> {
        inner.keys.as_ref().ok_or_else(|| self.locked())
    }
}

/// Record ID of an item: kind, a zero byte, then the name (kinds contain no zero bytes).
fn item_id(kind: &str, name: &[u8]) -> Vec<u8> {
    [kind.as_bytes(), &[0], name].concat()
}

fn lock_inner(inner: &mut Inner) {
    // Dropping the keys and credentials zeroises them (Key and SecretKey wipe on drop).
    inner.keys = None;
    inner.entries.clear();
    inner.problems.clear();
}

fn same_account(a: &StoredCredential, b: &StoredCredential) -> bool {
    a.rp_id == b.rp_id && a.user_id == b.user_id
}

fn store_error(error: Error) -> StoreError {
    match error {
        Error::Record(_) => StoreError::Corrupt,
        // CTAP2_ERR_KEY_STORE_FULL: the client learns nothing could be stored.
        Error::DiskFull { .. } => StoreError::Full,
        other => StoreError::Backend(Box::new(other)),
    }
}

/// The credential store the authenticator runs on. Every operation needs only `&Vault` (the
/// vault locks internally), so the store is a shared reference: the security key's engine and
/// the window's passkey list use one open vault at the same time.
impl CredentialStore for &Vault {
    fn credentials_for_rp(
        &self,
        rp_id_hash: &[u8; 32],
    ) -> Result<Vec<StoredCredential>, StoreError> {
        let inner = self.guard().map_err(store_error)?;
        let mut found: Vec<StoredCredential> = inner
            .entries
            .values()
            .filter(|entry| {
                let hash: [u8; 32] = Sha256::digest(entry.credential.rp_id.as_bytes()).into();
                &hash == rp_id_hash
            })
            .map(|entry| entry.credential.clone())
            .collect();
        // Newest first, the order authenticators conventionally offer accounts in.
        found.sort_by_key(|credential| std::cmp::Reverse(credential.created_at));
        Ok(found)
    }

    fn credential(&self, credential_id: &[u8]) -> Result<Option<StoredCredential>, StoreError> {
        let inner = self.guard().map_err(store_error)?;
        Ok(inner
            .entries
            .get(credential_id)
            .map(|entry| entry.credential.clone()))
    }

    fn credentials(&self) -> Result<Vec<StoredCredential>, StoreError> {
        let inner = self.guard().map_err(store_error)?;
        Ok(inner
            .entries
            .values()
            .map(|entry| entry.credential.clone())
            .collect())
    }

    fn insert(&mut self, credential: StoredCredential) -> Result<(), StoreError> {
        let mut inner = self.guard_for_change().map_err(store_error)?;
        let replaced: Vec<Vec<u8>> = inner
            .entries
            .values()
            .filter(|entry| {
                same_account(&entry.credential, &credential)
                    && entry.credential.credential_id != credential.credential_id
            })
            .map(|entry| entry.credential.credential_id.clone())
            .collect();
        // New record first: a crash before the old one is removed leaves two records for the
        // account, and the newer generation wins on the next open.
        self.write_entry(&mut inner, credential, Usage::default())
            .map_err(store_error)?;
        for id in replaced {
            self.remove_entry(&mut inner, &id).map_err(store_error)?;
        }
        Ok(())
    }

    fn update(&mut self, credential: StoredCredential) -> Result<bool, StoreError> {
        let mut inner = self.guard_for_change().map_err(store_error)?;
        let Some(usage) = inner
            .entries
            .get(&credential.credential_id)
            .map(|e| e.usage)
        else {
            return Ok(false);
        };
        self.write_entry(&mut inner, credential, usage)
            .map_err(store_error)?;
        Ok(true)
    }

    fn delete(&mut self, credential_id: &[u8]) -> Result<bool, StoreError> {
        let mut inner = self.guard_for_change().map_err(store_error)?;
        self.remove_entry(&mut inner, credential_id)
            .map_err(store_error)
    }

    fn bump_sign_count(&mut self, credential_id: &[u8]) -> Result<u32, StoreError> {
        let now = self.env.unix_time();
        let mut inner = self.guard_for_change().map_err(store_error)?;
        let Some(entry) = inner.entries.get(credential_id) else {
            return Err(StoreError::Corrupt);
        };
        let mut credential = entry.credential.clone();
        let mut usage = entry.usage;
        credential.sign_count = credential.sign_count.saturating_add(1);
        usage.last_used = Some(now);
        usage.use_count = usage.use_count.saturating_add(1);
        let count = credential.sign_count;
        self.write_entry(&mut inner, credential, usage)
            .map_err(store_error)?;
        Ok(count)
    }

    fn load_state(&self) -> Result<Option<PersistentState>, StoreError> {
        let inner = self.guard().map_err(store_error)?;
        let keys = self.keys_of(&inner).map_err(store_error)?;
        let path = self.dir.join(STATE_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(store_error(Error::io(&path, source))),
        };
        let report = |damage| {
            let problem = RecordProblem {
                profile: self.profile_name.clone(),
                record: STATE_FILE.to_owned(),
                credential_id: None,
                damage,
                moved_to: None,
            };
            tracing::warn!(%problem, "authenticator state unreadable");
            StoreError::Corrupt
        };
        let (id, body) = record::decode(&keys.records, &self.profile_id, Kind::State, &bytes)
            .map_err(|failure| report(failure.damage))?;
        if id != STATE_ID {
            return Err(report(Damage::Misplaced));
        }
        let state: StateBody =
            serde_json::from_slice(&body).map_err(|_| report(Damage::Undecodable))?;
        Ok(Some(PersistentState {
            pin_hash: state.pin_hash,
            pin_retries: state.pin_retries,
            uv_retries: state.uv_retries,
            wrapping_key: SecretKey::new(state.wrapping_key),
            global_sign_count: state.global_sign_count,
            min_pin_length: state.min_pin_length,
        }))
    }

    fn save_state(&mut self, state: &PersistentState) -> Result<(), StoreError> {
        let inner = self.guard().map_err(store_error)?;
        let keys = self.keys_of(&inner).map_err(store_error)?;
        let body = to_secret_json(&StateBody {
            pin_hash: state.pin_hash,
            pin_retries: state.pin_retries,
            uv_retries: state.uv_retries,
            wrapping_key: *state.wrapping_key.expose_secret(),
            global_sign_count: state.global_sign_count,
            min_pin_length: state.min_pin_length,
        })
        .map_err(store_error)?;
        let bytes = record::encode(
            &keys.records,
            &self.profile_id,
            Kind::State,
            STATE_ID,
            &body,
            &mut self.rng(),
        )
        .map_err(|_| store_error(Error::Crypto))?;
        let mut inner = inner;
        self.write_file(&mut inner, "", STATE_FILE, &bytes)
            .map_err(store_error)
    }

    fn wipe(&mut self) -> Result<(), StoreError> {
        let mut inner = self.guard_for_change().map_err(store_error)?;
        let ids: Vec<Vec<u8>> = inner.entries.keys().cloned().collect();
        for id in ids {
            self.remove_entry(&mut inner, &id).map_err(store_error)?;
        }
        // Damaged records belong to the reset too.
        let dir = self.records_dir();
        let listing = fs::read_dir(&dir).map_err(|source| store_error(Error::io(&dir, source)))?;
        for item in listing.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                let _ = fs::remove_file(item.path());
            } else {
                self.remove_file(&mut inner, RECORDS_DIR, &name)
                    .map_err(store_error)?;
            }
        }
        inner.problems.clear();
        self.remove_file(&mut inner, "", STATE_FILE)
            .map_err(store_error)?;
        tracing::info!(profile = %self.profile_name, "vault wiped (authenticatorReset)");
        Ok(())
    }
}
