//! Profiles as the window shows them: list (a locked profile shows its name and nothing
//! else), create, switch, unlock, lock, and the PIN check of the request dialog.

use std::sync::Arc;

use super::types::{NewProfile, ProfileView};
use super::{AppCore, AppError, AppResult, phone, to_u32};
use crate::profile::{LockState, NewProtection, Protection, Secret};

impl AppCore {
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
            Some(pin) => manager.unlock(&new.name, pin)?,
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
        let vault = manager.unlock(name, &Secret::new(pin))?;
        self.state()?.open.insert(name.to_owned(), Arc::new(vault));
        self.touch();
        self.profiles()
    }

    /// PIN attempts left on the active profile before it blocks (`None` without a PIN, or
    /// with no active profile); an unreadable count reads as none left. The security key
    /// reports it as `uvRetries`, so a client sees what the request dialog's wrong PINs cost.
    pub fn pin_attempts_left(&self) -> Option<u8> {
        let name = self.active_name().ok()?;
        let manager = Arc::clone(&self.state().ok()?.manager);
        match manager.pin_attempts_left(&name) {
            Ok(left) => left.map(|left| u8::try_from(left).unwrap_or(u8::MAX)),
            Err(error) => {
                tracing::warn!(%error, "cannot read the PIN failure count; UV is refused");
                Some(0)
            }
        }
    }

    /// Checks the active profile's PIN (the request dialog's user verification). A correct
    /// PIN is use of the profile: it restarts the idle timer, and unlocks the profile again if
    /// it had locked itself meanwhile.
    ///
    /// # Errors
    /// A wrong PIN; [`AppError::NoPin`] for a profile without one.
    pub fn verify_pin(&self, pin: String) -> AppResult<()> {
        let name = self.active_name()?;
        let manager = Arc::clone(&self.state()?.manager);
        if manager.protection(&name)? == Protection::Keychain {
            return Err(AppError::NoPin(name));
        }
        let fresh = manager.unlock(&name, &Secret::new(pin))?;
        let mut state = self.state()?;
        // The open vault stays the only instance while it is unlocked, so the security key
        // and the window keep seeing the same records; the fresh one replaces it only when
        // it has locked itself.
        let kept = state
            .open
            .get(&name)
            .is_some_and(|open| open.note_use().is_ok());
        if !kept {
            state.open.insert(name, Arc::new(fresh));
            drop(state);
            self.touch();
        }
        Ok(())
    }

    /// Locks `name`: its keys leave memory.
    ///
    /// # Errors
    /// A keychain-only profile cannot lock on its own.
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
}
