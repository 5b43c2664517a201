//! The phones linked to the active profile (no secrets shown): list and remove.

use super::types::LinkedPhoneView;
use super::{AppCore, AppError, AppResult, Missing};
use crate::phone::linked;

impl AppCore {
    /// Phones linked to the active profile.
    ///
    /// # Errors
    /// Locked, damaged records.
    pub fn linked_phones(&self) -> AppResult<Vec<LinkedPhoneView>> {
        let (_, vault) = self.active_vault()?;
        Ok(linked::list(&vault)?
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
        if !linked::forget(&vault, name)? {
            return Err(AppError::NotFound(Missing::Phone(name.to_owned())));
        }
        self.linked_phones()
    }
}
