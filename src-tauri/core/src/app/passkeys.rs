//! The active profile's passkeys: those on this computer and those on phones (this computer
//! keeps their public part); rename and delete.

use super::types::{PasskeyLocation, PasskeyView};
use super::{AppCore, AppError, AppResult, Invalid, Missing, parse_id, phone};

impl AppCore {
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
            return Err(AppError::InvalidInput(Invalid::PasskeyName));
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
            return Err(AppError::NotFound(Missing::Passkey));
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
            return Err(AppError::NotFound(Missing::Passkey));
        }
        tracing::info!(target: "passbridge::audit", profile = %&profile, "passkey deleted");
        self.passkeys()
    }
}
