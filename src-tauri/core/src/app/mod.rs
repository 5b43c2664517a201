//! The app core the window calls, one file per area: [`profiles`] (switch, create, lock,
//! unlock), [`passkeys`] and [`phones`] of the active profile, [`settings`], the [`phone`]
//! flow, the security [`key`] and the request [`broker`]. Headless: the Tauri commands in the
//! `desktop` face are one-line adapters over [`AppCore`], and the tests here run it with no
//! display.

pub mod broker;
pub mod diagnostics;
pub mod error;
pub mod key;
pub mod passkeys;
pub mod phone;
pub mod phones;
pub mod profiles;
pub mod settings;
pub mod types;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

pub use error::{AppError, AppResult, Invalid, Missing, SecurityKeyError, Setting};
use hybrid::io::tunnel::TunnelConfig;
use types::UserSettings;

use crate::autostart::Autostart;
use crate::policy::Policy;
use crate::profile::keychain::KeyStore;
use crate::profile::{ProfileManager, Vault};
use crate::system::Env;

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
    /// The proxy and TLS settings tunnels open with (the user's proxy over the environment's).
    tunnel: TunnelConfig,
}

/// The app's services, shared by every window command and the security key thread.
pub struct AppCore {
    root: PathBuf,
    keychain: Arc<dyn KeyStore>,
    admin: Policy,
    policy_source: Option<PathBuf>,
    env: Env,
    /// The environment's proxy variables and CA file, read once at start.
    base_tunnel: TunnelConfig,
    state: Mutex<State>,
    /// Set whenever the active profile or its lock state changes: the security key rebuilds
    /// its engine on the new store.
    changed: Arc<AtomicBool>,
    broker: Arc<broker::Broker>,
    flows: phone::Flows,
    security_key: Mutex<Option<String>>,
    key_switch: key::KeySwitch,
    next_id: AtomicU32,
    autostart: Option<Autostart>,
    watchers: Mutex<Vec<Watcher>>,
    /// Wakes a running [`AppCore::network_checks`] (or cross-device test) to stop it.
    network_cancel: tokio::sync::Notify,
    /// What the Diagnostics page last found, for its report.
    last_diagnostics: Mutex<diagnostics::LastDiagnostics>,
}

/// Told when the profiles change (see [`AppCore::on_change`]).
pub type Watcher = Box<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for AppCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Where the app core's data lives and what it runs on.
pub struct CoreSetup {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The administrator's policy.
    pub admin: Policy,
    /// The file the policy came from (`None`: the built-in defaults).
    pub policy_source: Option<PathBuf>,
    /// The keychain vault keys live in.
    pub keychain: Arc<dyn KeyStore>,
    /// Time and randomness.
    pub env: Env,
    /// The environment's proxy variables and CA file (tests pass their own).
    pub tunnel: TunnelConfig,
    /// Where starting at login is written (`None`: this system has no such place).
    pub autostart: Option<Autostart>,
}

impl AppCore {
    /// The core as `setup` describes it.
    ///
    /// # Errors
    /// An unreadable or damaged settings file.
    pub fn new(setup: CoreSetup) -> AppResult<Self> {
        let CoreSetup {
            data_dir,
            admin,
            policy_source,
            keychain,
            env,
            tunnel,
            autostart,
        } = setup;
        let path = data_dir.join(STATE_FILE);
        let saved: Saved = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| AppError::SettingsDamaged { path, source })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Saved::default(),
            Err(source) => return Err(AppError::Settings { path, source }),
        };
        let manager = settings::manager_for(&data_dir, &admin, &saved.settings, &keychain, &env);
        // Unlock sessions older versions kept in the keychain would open a PIN profile for
        // anyone in the OS account; this version never reads them.
        if let Err(error) = manager.end_sessions() {
            tracing::warn!(%error, "could not remove old unlock sessions from the keychain");
        }
        let user_tunnel = tunnel
            .clone()
            .with_proxy_override(saved.settings.proxy.clone());
        Ok(Self {
            root: data_dir,
            keychain,
            admin,
            policy_source,
            base_tunnel: tunnel,
            env,
            state: Mutex::new(State {
                saved,
                manager,
                open: HashMap::new(),
                tunnel: user_tunnel,
            }),
            changed: Arc::new(AtomicBool::new(true)),
            broker: Arc::new(broker::Broker::default()),
            flows: phone::Flows::default(),
            security_key: Mutex::new(None),
            key_switch: key::KeySwitch::default(),
            next_id: AtomicU32::new(1),
            autostart,
            watchers: Mutex::new(Vec::new()),
            network_cancel: tokio::sync::Notify::new(),
            last_diagnostics: Mutex::default(),
        })
    }

    /// The core on this system: the default data directory, the admin policy file, the OS
    /// keychain, the system clock and RNG, the environment's proxy and CA file.
    ///
    /// # Errors
    /// No data directory, an invalid policy, an unreadable settings file.
    pub fn system() -> AppResult<Self> {
        Self::new(CoreSetup {
            data_dir: crate::profile::default_data_dir()?,
            admin: Policy::load()?,
            policy_source: Policy::source_path(),
            keychain: Arc::new(crate::profile::keychain::OsKeychain::new()),
            env: Env::system(),
            tunnel: TunnelConfig::from_env(),
            autostart: Autostart::system(),
        })
    }

    fn state(&self) -> AppResult<MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| AppError::internal(&"app state lock poisoned"))
    }

    fn save(&self, saved: &Saved) -> AppResult<()> {
        let bytes = serde_json::to_vec_pretty(saved).map_err(|e| AppError::internal(&e))?;
        crate::profile::write_private_file(&self.root, STATE_FILE, &bytes).map_err(|source| {
            AppError::Settings {
                path: self.root.join(STATE_FILE),
                source,
            }
        })
    }

    fn touch(&self) {
        self.changed.store(true, Ordering::SeqCst);
        if let Ok(watchers) = self.watchers.lock() {
            for watcher in watchers.iter() {
                watcher();
            }
        }
    }

    /// `doctor`'s machine checks for this app: its policy (loaded, or the app would not run),
    /// its keychain and data directory, and this system's security-key parts.
    pub fn machine_checks(&self) -> Vec<crate::diagnostics::Check> {
        let checks = crate::diagnostics::machine_checks(&crate::diagnostics::MachineSetup {
            data_dir: self.root.clone(),
            keychain: Arc::clone(&self.keychain),
            policy: Ok((self.admin.clone(), self.policy_source.clone())),
            devices: crate::diagnostics::DevicePaths::system(),
            unlocked_here: self
                .profiles()
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p.state == crate::profile::LockState::Unlocked)
                .map(|p| p.name)
                .collect(),
        });
        self.remember_checks(&checks, false);
        checks
    }

    /// `doctor`'s Bluetooth and network checks for this app: the adapter its air setting
    /// names (no scan), then the public tunnel services (unless `only_relay`) and the relay
    /// its settings name, through its proxy setting (or the environment's) and trust roots,
    /// each step bounded by `step_limit`. `None` when [`Self::cancel_network_checks`] stopped
    /// it.
    pub async fn network_checks(
        &self,
        step_limit: std::time::Duration,
        only_relay: bool,
        progress: crate::diagnostics::NetProgress,
    ) -> Option<Vec<crate::diagnostics::Check>> {
        let options = self.ceremony_options();
        let (relay, tunnel, air) = (options.relay, options.tunnel, options.air);
        let mut rng = self.env.rng.clone();
        let targets = crate::diagnostics::probe_targets(relay.as_deref(), only_relay, &mut rng);
        let probe = hybrid::io::probe::ProbeOptions {
            step_limit,
            connect_to: None,
        };
        let cancelled = self.network_cancel.notified();
        let checks = async {
            let mut checks = crate::diagnostics::air_checks(&air, None, step_limit).await;
            checks.extend(
                crate::diagnostics::network_checks(
                    targets,
                    &tunnel,
                    &probe,
                    &self.env.clock,
                    progress,
                )
                .await,
            );
            checks
        };
        let checks = tokio::select! {
            checks = checks => Some(checks),
            () = cancelled => None,
        };
        if let Some(checks) = &checks {
            self.remember_checks(checks, true);
        }
        checks
    }

    /// Stops a running [`Self::network_checks`] (a no-op when none runs).
    pub fn cancel_network_checks(&self) {
        self.network_cancel.notify_waiters();
    }

    /// Calls `watcher` whenever a profile is created, deleted, switched to, unlocked or locked
    /// by a call (a tray menu or the window may then show it at once). A profile that locks
    /// itself when idle is not announced: it locks when next used, so whoever shows lock states
    /// looks again at the [`ProfileView::auto_lock_at`](types::ProfileView) it was told.
    /// `watcher` runs on the caller's thread, sometimes under the core's lock: it must only
    /// pass the news on (a channel, an event), never call back into the core.
    pub fn on_change(&self, watcher: Watcher) {
        if let Ok(mut watchers) = self.watchers.lock() {
            watchers.push(watcher);
        }
    }

    /// Ends the app's life: stops the security key and locks every open vault, so no key
    /// outlives the process in memory it no longer controls. Later calls find every PIN
    /// profile locked.
    pub fn shutdown(&self) {
        self.stop_security_key();
        let open: Vec<Arc<Vault>> = match self.state.lock() {
            Ok(mut state) => state.open.drain().map(|(_, vault)| vault).collect(),
            Err(_) => Vec::new(),
        };
        for vault in open {
            vault.lock();
        }
        self.touch();
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
    /// back to opening it without a secret (keychain-only profiles).
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
    /// [`AppError::NoActiveProfile`], [`AppError::Locked`].
    pub fn active_vault(&self) -> AppResult<(String, Arc<Vault>)> {
        let mut state = self.state()?;
        let name = state
            .saved
            .active_profile
            .clone()
            .ok_or(AppError::NoActiveProfile)?;
        match Self::vault_of(&mut state, &name) {
            Some(vault) => Ok((name, vault)),
            None => Err(AppError::Locked(name)),
        }
    }

    /// The active profile's name, locked or not.
    ///
    /// # Errors
    /// [`AppError::NoActiveProfile`].
    pub fn active_name(&self) -> AppResult<String> {
        self.state()?
            .saved
            .active_profile
            .clone()
            .ok_or(AppError::NoActiveProfile)
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

    /// Time and randomness, as the core uses them.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.root
    }

    /// The wall clock the core uses.
    pub fn unix_time(&self) -> u64 {
        self.env.unix_time()
    }
}

fn parse_id(id: &str) -> AppResult<Vec<u8>> {
    hex::decode(id).map_err(|_| AppError::InvalidInput(Invalid::PasskeyId))
}

/// What the core tells the window in numbers it shows.
fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
