//! The Settings screen: the admin policy (read-only) and the user's own settings, checked and
//! applied at once; and what the settings mean for the rest of the core (the profile manager's
//! auto-lock, how ceremonies reach phones).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::types::{PolicyView, SettingsView, UserSettings};
use super::{AppCore, AppError, AppResult, Invalid, Setting, to_u32};
use crate::autostart::Autostart;
use crate::phone::{Air, CeremonyOptions};
use crate::policy::Policy;
use crate::profile::ProfileManager;
use crate::profile::keychain::KeyStore;
use crate::system::Env;

/// Shortest and longest phone timeout a user may set, in seconds.
const PHONE_TIMEOUT_SECS: std::ops::RangeInclusive<u32> = 10..=600;
/// Longest auto-lock a user may set, in minutes (a day).
const MAX_AUTO_LOCK_MINUTES: u32 = 24 * 60;

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
pub(super) fn manager_for(
    root: &Path,
    admin: &Policy,
    settings: &UserSettings,
    keychain: &Arc<dyn KeyStore>,
    env: &Env,
) -> Arc<ProfileManager> {
    Arc::new(
        ProfileManager::new(
            root,
            effective_policy(admin, settings),
            Arc::clone(keychain),
        )
        .with_env(env.clone()),
    )
}

/// Checks every field; the first refused one is named.
fn validate(settings: &UserSettings) -> AppResult<()> {
    let invalid = |setting, value: &str| {
        Err(AppError::InvalidInput(Invalid::Setting(
            setting,
            value.to_owned(),
        )))
    };
    if let Some(relay) = settings.relay.as_deref() {
        match hybrid::io::tunnel::check_relay_url(relay) {
            Ok(()) => {}
            Err(hybrid::io::tunnel::TunnelError::Insecure { host }) => {
                return Err(AppError::InvalidInput(Invalid::InsecureRelay(host)));
            }
            Err(_) => return invalid(Setting::Relay, relay),
        }
    }
    if let Some(proxy) = settings.proxy.as_deref()
        && !proxy.starts_with("http://")
    {
        return invalid(Setting::Proxy, proxy);
    }
    if Air::parse(settings.air.as_deref()).is_err() {
        return invalid(Setting::Air, settings.air.as_deref().unwrap_or_default());
    }
    if !PHONE_TIMEOUT_SECS.contains(&settings.phone_timeout_secs) {
        return invalid(
            Setting::PhoneTimeout,
            &settings.phone_timeout_secs.to_string(),
        );
    }
    if settings.auto_lock_minutes > MAX_AUTO_LOCK_MINUTES {
        return invalid(Setting::AutoLock, &settings.auto_lock_minutes.to_string());
    }
    Ok(())
}

impl AppCore {
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
                start_at_login: admin.start_at_login,
            },
            starts_at_login: self.autostart.as_ref().map(Autostart::is_on),
            settings,
            security_key: self.security_key.lock().ok().and_then(|slot| slot.clone()),
        })
    }

    /// Checks and saves the user's settings; they apply at once.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] naming the field; the file cannot be written.
    pub fn save_settings(&self, settings: UserSettings) -> AppResult<SettingsView> {
        validate(&settings)?;
        {
            let mut state = self.state()?;
            state.saved.settings = settings.clone();
            state.manager = manager_for(
                &self.root,
                &self.admin,
                &settings,
                &self.keychain,
                &self.env,
            );
            state.tunnel = self
                .base_tunnel
                .clone()
                .with_proxy_override(settings.proxy.clone());
            let saved = state.saved.clone();
            drop(state);
            self.save(&saved)?;
        }
        crate::telemetry::set_level(settings.log_level);
        self.set_start_at_login(settings.start_at_login)?;
        self.settings()
    }

    /// Enforces the administrator's start-at-login, at start (so a policy change applies at
    /// the next launch). The user's own choice is written only when they save it
    /// ([`Self::save_settings`]): an entry the person made some other way (a desktop's startup
    /// applications tool copies the same file name) is not undone behind their back. Where
    /// the system has no autostart place this does nothing.
    ///
    /// # Errors
    /// [`AppError::Autostart`]: the entry could not be written or removed.
    pub fn apply_start_at_login(&self) -> AppResult<()> {
        match self.admin.start_at_login {
            Some(forced) => self.set_start_at_login(forced),
            None => Ok(()),
        }
    }

    /// Writes or removes the autostart entry: the policy's value where it forces one, else
    /// `wanted`.
    fn set_start_at_login(&self, wanted: bool) -> AppResult<()> {
        let Some(autostart) = &self.autostart else {
            return Ok(());
        };
        let on = self.admin.start_at_login.unwrap_or(wanted);
        if autostart.is_on() == on {
            return Ok(());
        }
        autostart.set(on).map_err(|source| AppError::Autostart {
            path: autostart.path(),
            source,
        })
    }

    /// The user's settings.
    ///
    /// # Errors
    /// Internal state failure only.
    pub fn user_settings(&self) -> AppResult<UserSettings> {
        Ok(self.state()?.saved.settings.clone())
    }

    /// How ceremonies reach phones under the current settings (the defaults, should the state
    /// be unreadable).
    pub fn ceremony_options(&self) -> CeremonyOptions {
        let (settings, tunnel) = match self.state() {
            Ok(state) => (state.saved.settings.clone(), state.tunnel.clone()),
            Err(_) => (UserSettings::default(), self.base_tunnel.clone()),
        };
        CeremonyOptions {
            relay: settings.relay,
            // Saved settings were checked; an unreadable one falls back to Bluetooth.
            air: Air::parse(settings.air.as_deref()).unwrap_or_default(),
            timeout: Duration::from_secs(u64::from(settings.phone_timeout_secs)),
            tunnel,
        }
    }
}
