//! The app core the window calls: profiles (switch, create, lock, unlock), the active profile's
//! passkeys and linked phones, settings, the phone flow and the request broker. Headless: the
//! Tauri commands in [`crate::desktop`] are one-line adapters over [`AppCore`], and the tests
//! here run it with no display.

pub mod bindings;
pub mod broker;
pub mod error;
pub mod key;
pub mod phone;
pub mod types;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::policy::Policy;
use crate::profile::keychain::KeyStore;
use crate::profile::{
    Clock, LockState, NewProtection, ProfileManager, Protection, Secret, SystemClock, Vault,
};
pub use error::{AppError, AppResult, ErrorCode};
use types::{
    LinkedPhoneView, NewProfile, PasskeyLocation, PasskeyView, PolicyView, ProfileView,
    SettingsView, UserSettings,
};

/// The file in the data directory that keeps the user's settings and active profile.
const STATE_FILE: &str = "app.json";

/// What survives a restart.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct Saved {
    active_profile: Option<String>,
    settings: UserSettings,
}

struct State {
    saved: Saved,
    manager: Arc<ProfileManager>,
    /// Vaults this process has open, by profile name. A PIN profile's vault locks itself
    /// when idle; it is dropped from here when it does.
    open: HashMap<String, Arc<Vault>>,
}

/// The app's services, shared by every window command and the security key thread.
pub struct AppCore {
    root: PathBuf,
    keychain: Arc<dyn KeyStore>,
    admin: Policy,
    policy_source: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Set whenever the active profile or its lock state changes: the security key rebuilds
    /// its engine on the new store.
    changed: Arc<AtomicBool>,
    broker: Arc<broker::Broker>,
    flows: phone::Flows,
    security_key: Mutex<Option<String>>,
    key_switch: key::KeySwitch,
    next_id: AtomicU32,
}

impl std::fmt::Debug for AppCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// The admin policy capped by the user's shorter auto-lock, which is what profiles open with.
fn effective_policy(admin: &Policy, settings: &UserSettings) -> Policy {
    let user = u64::from(settings.auto_lock_minutes).saturating_mul(60);
    let mut policy = admin.clone();
    policy.auto_lock_idle_secs = match (admin.auto_lock_idle_secs, user) {
        (0, user) => user,
        (admin, 0) => admin,
        (admin, user) => admin.min(user),
    };
    policy
}

/// The profile manager the settings call for: the admin policy with the user's auto-lock.
fn manager_for(
    root: &Path,
    admin: &Policy,
    settings: &UserSettings,
    keychain: &Arc<dyn KeyStore>,
    clock: &Arc<dyn Clock>,
) -> Arc<ProfileManager> {
    Arc::new(
        ProfileManager::new(
            root,
            effective_policy(admin, settings),
            Arc::clone(keychain),
        )
        .with_clock(Arc::clone(clock)),
    )
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl AppCore {
    /// The core over `data_dir` with an explicit admin policy, keychain and clock (tests).
    ///
    /// # Errors
    /// An unreadable settings file.
    pub fn new(
        data_dir: &Path,
        admin: Policy,
        policy_source: Option<PathBuf>,
        keychain: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
    ) -> AppResult<Self> {
        let path = data_dir.join(STATE_FILE);
        let saved: Saved = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| {
                AppError::new(
                    ErrorCode::Damaged,
                    format!("the settings file {} is damaged: {error}", path.display()),
                )
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Saved::default(),
            Err(error) => {
                return Err(AppError::new(
                    ErrorCode::Storage,
                    format!("cannot read {}: {error}", path.display()),
                ));
            }
        };
        hybrid::io::tunnel::set_proxy_override(saved.settings.proxy.clone());
        let manager = manager_for(data_dir, &admin, &saved.settings, &keychain, &clock);
        Ok(Self {
            root: data_dir.to_path_buf(),
            keychain,
            admin,
            policy_source,
            clock,
            state: Mutex::new(State {
                saved,
                manager,
                open: HashMap::new(),
            }),
            changed: Arc::new(AtomicBool::new(true)),
            broker: Arc::new(broker::Broker::default()),
            flows: phone::Flows::default(),
            security_key: Mutex::new(None),
            key_switch: key::KeySwitch::default(),
            next_id: AtomicU32::new(1),
        })
    }

    /// The core on this system: the default data directory, the admin policy file, the OS
    /// keychain.
    ///
    /// # Errors
    /// No data directory, an invalid policy, an unreadable settings file.
    pub fn system() -> AppResult<Self> {
        let root = crate::profile::default_data_dir()?;
        let admin = Policy::load()
            .map_err(|error| AppError::new(ErrorCode::ForbiddenByPolicy, error.to_string()))?;
        Self::new(
            &root,
            admin,
            Policy::source_path(),
            Arc::new(crate::profile::keychain::OsKeychain::new()),
            Arc::new(SystemClock),
        )
    }

    fn state(&self) -> AppResult<MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| AppError::internal(&"app state lock poisoned"))
    }

    fn save(&self, saved: &Saved) -> AppResult<()> {
        let bytes = serde_json::to_vec_pretty(saved).map_err(|e| AppError::internal(&e))?;
        crate::profile::write_private_file(&self.root, STATE_FILE, &bytes).map_err(|error| {
            AppError::new(
                ErrorCode::Storage,
                format!(
                    "cannot save the settings in {}: {error}",
                    self.root.display()
                ),
            )
        })
    }

    fn touch(&self) {
        self.changed.store(true, Ordering::SeqCst);
    }

    /// The flag the security key watches to rebuild its engine.
    pub fn change_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.changed)
    }

    /// The request broker the security key asks.
    pub fn broker(&self) -> Arc<broker::Broker> {
        Arc::clone(&self.broker)
    }

    /// A new process-unique handle for a phone flow or request.
    pub(crate) fn next_id(&self) -> u32 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The vault of `name` if this process has it open and it has not locked itself; falls
    /// back to opening it without a secret (keychain-only profiles, or a PIN profile whose
    /// unlock session another Passbridge process started).
    fn vault_of(state: &mut State, name: &str) -> Option<Arc<Vault>> {
        if let Some(vault) = state.open.get(name) {
            if !vault.is_locked() {
                return Some(Arc::clone(vault));
            }
            state.open.remove(name);
        }
        let vault = Arc::new(state.manager.open(name, None).ok()?);
        state.open.insert(name.to_owned(), Arc::clone(&vault));
        Some(vault)
    }

    /// The active profile's name and open vault.
    ///
    /// # Errors
    /// [`ErrorCode::NoActiveProfile`], [`ErrorCode::Locked`].
    pub fn active_vault(&self) -> AppResult<(String, Arc<Vault>)> {
        let mut state = self.state()?;
        let name = state.saved.active_profile.clone().ok_or_else(|| {
            AppError::new(
                ErrorCode::NoActiveProfile,
                "no profile is active: create one or pick one",
            )
        })?;
        match Self::vault_of(&mut state, &name) {
            Some(vault) => Ok((name, vault)),
            None => Err(AppError::new(
                ErrorCode::Locked,
                format!("profile '{name}' is locked: unlock it with its PIN"),
            )),
        }
    }

    /// The active profile's name, locked or not.
    ///
    /// # Errors
    /// [`ErrorCode::NoActiveProfile`].
    pub fn active_name(&self) -> AppResult<String> {
        self.state()?
            .saved
            .active_profile
            .clone()
            .ok_or_else(|| AppError::new(ErrorCode::NoActiveProfile, "no profile is active"))
    }

    /// How the active profile is protected.
    ///
    /// # Errors
    /// No active profile, unreadable metadata.
    pub fn active_protection(&self) -> AppResult<Protection> {
        let name = self.active_name()?;
        let manager = Arc::clone(&self.state()?.manager);
        Ok(manager.protection(&name)?)
    }

    /// Every profile, the active one marked. Locked profiles show only their names.
    ///
    /// # Errors
    /// Unreadable profile metadata.
    pub fn profiles(&self) -> AppResult<Vec<ProfileView>> {
        let mut state = self.state()?;
        let active = state.saved.active_profile.clone();
        let listed = state.manager.list()?;
        let mut out = Vec::with_capacity(listed.len());
        for summary in listed {
            let vault = match summary.state {
                LockState::KeychainUnavailable => None,
                _ => Self::vault_of(&mut state, &summary.name),
            };
            let (state_now, count, auto_lock_at) = match &vault {
                Some(vault) => (
                    LockState::Unlocked,
                    Some(to_u32(
                        vault.passkeys()?.len() + phone::phone_passkeys(vault)?.len(),
                    )),
                    vault.auto_lock_at(),
                ),
                None if summary.state == LockState::Unlocked => (LockState::Locked, None, None),
                None => (summary.state, None, None),
            };
            out.push(ProfileView {
                active: active.as_deref() == Some(summary.name.as_str()),
                name: summary.name,
                state: state_now,
                protection: summary.protection,
                passkey_count: count,
                auto_lock_at,
            });
        }
        Ok(out)
    }

    /// Creates a profile and makes it active. With a PIN it is unlocked with that PIN right
    /// away (the person just typed it).
    ///
    /// # Errors
    /// Invalid or taken name, a PIN shorter than policy, the keychain unreachable.
    pub fn create_profile(&self, new: NewProfile) -> AppResult<Vec<ProfileView>> {
        let manager = Arc::clone(&self.state()?.manager);
        let pin = new.pin.filter(|pin| !pin.is_empty()).map(Secret::new);
        let protection = match &pin {
            Some(pin) => NewProtection::KeychainPin(pin.clone()),
            None => NewProtection::Keychain,
        };
        manager.create(&new.name, protection)?;
        let vault = match &pin {
            Some(pin) => manager.unlock(&new.name, pin)?.0,
            None => manager.open(&new.name, None)?,
        };
        {
            let mut state = self.state()?;
            state.open.insert(new.name.clone(), Arc::new(vault));
            state.saved.active_profile = Some(new.name.clone());
            let saved = state.saved.clone();
            drop(state);
            self.save(&saved)?;
        }
        self.touch();
        tracing::info!(target: "passbridge::audit", profile = %&new.name, "profile created");
        self.profiles()
    }

    /// Makes `name` the profile requests are answered from.
    ///
    /// # Errors
    /// No such profile; the settings cannot be saved.
    pub fn switch_profile(&self, name: &str) -> AppResult<Vec<ProfileView>> {
        {
            let mut state = self.state()?;
            state.manager.protection(name)?;
            state.saved.active_profile = Some(name.to_owned());
            let saved = state.saved.clone();
            drop(state);
            self.save(&saved)?;
        }
        self.touch();
        self.profiles()
    }

    /// Unlocks `name` with its PIN or passphrase.
    ///
    /// # Errors
    /// Wrong PIN, no such profile, the keychain unreachable.
    pub fn unlock_profile(&self, name: &str, pin: String) -> AppResult<Vec<ProfileView>> {
        let manager = Arc::clone(&self.state()?.manager);
        let (vault, _deadline) = manager.unlock(name, &Secret::new(pin))?;
        self.state()?.open.insert(name.to_owned(), Arc::new(vault));
        self.touch();
        self.profiles()
    }

    /// Checks the active profile's PIN without changing anything else (the request dialog's
    /// user verification). Refreshes the unlock session as a side effect.
    ///
    /// # Errors
    /// [`ErrorCode::WrongPin`], [`ErrorCode::NoPin`] for a profile without one.
    pub fn verify_pin(&self, pin: String) -> AppResult<()> {
        let name = self.active_name()?;
        let manager = Arc::clone(&self.state()?.manager);
        match manager.protection(&name)? {
            Protection::Keychain => Err(AppError::new(
                ErrorCode::NoPin,
                format!("profile '{name}' has no PIN to verify you with"),
            )),
            _ => {
                // The vault this returns is dropped: the open one stays the only instance, so
                // the security key and the window keep seeing the same records.
                manager.unlock(&name, &Secret::new(pin))?;
                Ok(())
            }
        }
    }

    /// Locks `name`: its keys leave memory and its unlock session ends.
    ///
    /// # Errors
    /// [`ErrorCode::NoPin`] for a keychain-only profile (it cannot lock on its own).
    pub fn lock_profile(&self, name: &str) -> AppResult<Vec<ProfileView>> {
        let manager = Arc::clone(&self.state()?.manager);
        manager.lock(name)?;
        if let Some(vault) = self.state()?.open.remove(name) {
            vault.lock();
        }
        self.touch();
        tracing::info!(target: "passbridge::audit", profile = %name, "profile locked");
        self.profiles()
    }

    /// The active profile's passkeys: those on this computer and those on phones.
    ///
    /// # Errors
    /// No active profile, locked.
    pub fn passkeys(&self) -> AppResult<Vec<PasskeyView>> {
        let (_, vault) = self.active_vault()?;
        let mut out: Vec<PasskeyView> = vault
            .passkeys()?
            .into_iter()
            .map(|info| PasskeyView {
                id: hex::encode(&info.credential_id),
                rp_id: info.rp_id,
                rp_name: info.rp_name,
                user_name: info.user_name,
                display_name: info.user_display_name,
                created_at: info.created_at,
                last_used: info.last_used,
                location: PasskeyLocation::ThisComputer,
                phone: None,
            })
            .collect();
        out.extend(phone::phone_passkeys(&vault)?);
        out.sort_by(|a, b| (&a.rp_id, &a.user_name).cmp(&(&b.rp_id, &b.user_name)));
        Ok(out)
    }

    /// Renames a passkey's account display name.
    ///
    /// # Errors
    /// Locked, no such passkey.
    pub fn rename_passkey(&self, id: &str, display_name: &str) -> AppResult<Vec<PasskeyView>> {
        let (_, vault) = self.active_vault()?;
        let credential_id = parse_id(id)?;
        let display_name = display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 64 {
            return Err(AppError::new(
                ErrorCode::InvalidInput,
                "a name needs 1 to 64 characters",
            ));
        }
        let local = vault
            .passkeys()?
            .into_iter()
            .find(|info| info.credential_id == credential_id);
        let renamed = match local {
            Some(info) => {
                vault.rename_passkey(&credential_id, info.user_name, Some(display_name.into()))?
            }
            None => phone::rename(&vault, &credential_id, display_name)?,
        };
        if !renamed {
            return Err(AppError::new(ErrorCode::NotFound, "no such passkey"));
        }
        self.passkeys()
    }

    /// Deletes a passkey from this computer (for a phone passkey: forgets it here; the phone
    /// keeps it).
    ///
    /// # Errors
    /// Locked, no such passkey.
    pub fn delete_passkey(&self, id: &str) -> AppResult<Vec<PasskeyView>> {
        let (profile, vault) = self.active_vault()?;
        let credential_id = parse_id(id)?;
        let removed =
            vault.delete_passkey(&credential_id)? || phone::forget(&vault, &credential_id)?;
        if !removed {
            return Err(AppError::new(ErrorCode::NotFound, "no such passkey"));
        }
        tracing::info!(target: "passbridge::audit", profile = %&profile, "passkey deleted");
        self.passkeys()
    }

    /// Phones linked to the active profile.
    ///
    /// # Errors
    /// Locked, damaged records.
    pub fn linked_phones(&self) -> AppResult<Vec<LinkedPhoneView>> {
        let (_, vault) = self.active_vault()?;
        Ok(crate::linked::list(&vault)?
            .into_iter()
            .map(|phone| LinkedPhoneView {
                name: phone.name,
                linked_at: phone.linked_at,
            })
            .collect())
    }

    /// Forgets a linked phone.
    ///
    /// # Errors
    /// Locked, no such phone.
    pub fn remove_phone(&self, name: &str) -> AppResult<Vec<LinkedPhoneView>> {
        let (_, vault) = self.active_vault()?;
        if !crate::linked::forget(&vault, name)? {
            return Err(AppError::new(
                ErrorCode::NotFound,
                format!("no phone named '{name}' is linked"),
            ));
        }
        self.linked_phones()
    }

    /// The policy in force and the user's settings.
    ///
    /// # Errors
    /// Internal state failure only.
    pub fn settings(&self) -> AppResult<SettingsView> {
        let settings = self.state()?.saved.settings.clone();
        let admin = &self.admin;
        Ok(SettingsView {
            policy: PolicyView {
                source: self
                    .policy_source
                    .as_ref()
                    .map(|path| path.display().to_string()),
                min_pin_length: to_u32(admin.min_pin_length),
                allow_passphrase_only: admin.allow_passphrase_only,
                max_auto_lock_minutes: u32::try_from(admin.auto_lock_idle_secs.div_ceil(60))
                    .unwrap_or(u32::MAX),
                silent_presence_rps: admin.silent_presence_rps.clone(),
                max_prompts_per_minute: admin.bridge_max_prompts_per_minute,
            },
            settings,
            security_key: self.security_key.lock().ok().and_then(|slot| slot.clone()),
        })
    }

    /// Checks and saves the user's settings; they apply at once.
    ///
    /// # Errors
    /// [`ErrorCode::InvalidInput`] naming the field; the file cannot be written.
    pub fn save_settings(&self, settings: UserSettings) -> AppResult<SettingsView> {
        validate_settings(&settings)?;
        {
            let mut state = self.state()?;
            state.saved.settings = settings.clone();
            state.manager = manager_for(
                &self.root,
                &self.admin,
                &settings,
                &self.keychain,
                &self.clock,
            );
            let saved = state.saved.clone();
            drop(state);
            self.save(&saved)?;
        }
        hybrid::io::tunnel::set_proxy_override(settings.proxy.clone());
        crate::telemetry::set_level(settings.log_level);
        self.settings()
    }

    /// The user's settings.
    ///
    /// # Errors
    /// Internal state failure only.
    pub fn user_settings(&self) -> AppResult<UserSettings> {
        Ok(self.state()?.saved.settings.clone())
    }

    /// How the hybrid client reaches phones under the current settings (the defaults, should
    /// the state be unreadable).
    pub(crate) fn client_opts(&self) -> crate::hybrid_cli::client::ClientOpts {
        let settings = self.user_settings().unwrap_or_default();
        crate::hybrid_cli::client::ClientOpts {
            relay: settings.relay,
            air: settings.air,
            timeout: u64::from(settings.phone_timeout_secs),
            json: false,
            profile: None,
            profile_opts: crate::profile::cli::CommonOpts::default(),
        }
    }

    /// Records where the security key listens, for the Settings screen.
    pub fn set_security_key(&self, description: Option<String>) {
        if let Ok(mut slot) = self.security_key.lock() {
            *slot = description;
        }
    }

    /// The admin policy (before the user's settings).
    pub fn admin_policy(&self) -> &Policy {
        &self.admin
    }

    /// The wall clock the core uses.
    pub fn unix_time(&self) -> u64 {
        self.clock.unix_time()
    }
}

fn parse_id(id: &str) -> AppResult<Vec<u8>> {
    hex::decode(id).map_err(|_| AppError::new(ErrorCode::InvalidInput, "not a passkey ID"))
}

fn validate_settings(settings: &UserSettings) -> AppResult<()> {
    let invalid = |message: String| Err(AppError::new(ErrorCode::InvalidInput, message));
    if let Some(relay) = settings.relay.as_deref()
        && !(relay.starts_with("wss://") || relay.starts_with("ws://"))
    {
        return invalid(format!(
            "relay: '{relay}' is not a WebSocket URL (wss://host or ws://127.0.0.1:PORT)"
        ));
    }
    if let Some(proxy) = settings.proxy.as_deref()
        && !proxy.starts_with("http://")
    {
        return invalid(format!(
            "proxy: '{proxy}' is not an HTTP proxy URL (http://host:port)"
        ));
    }
    if let Err(error) = crate::hybrid_cli::parse_air_setting(settings.air.as_deref()) {
        return invalid(format!("Bluetooth/air: {error}"));
    }
    if !(10..=600).contains(&settings.phone_timeout_secs) {
        return invalid("phone timeout: between 10 and 600 seconds".to_owned());
    }
    if settings.auto_lock_minutes > 24 * 60 {
        return invalid("auto-lock: at most 1440 minutes (a day)".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
