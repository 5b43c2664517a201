//! Unlock sessions. Older versions kept `session:<id>` in the keychain (a PIN profile's vault
//! key and a deadline) so that one CLI call could use what another had unlocked. Any program in
//! the OS account can read the keychain, the co-user of a shared account included, so the entry
//! made the PIN worthless for as long as it lived. Now an unlocked PIN profile's key lives only
//! in the memory of the process that unlocked it; this module removes the entries older
//! versions left behind.

use super::meta::{ProfileMeta, session_account};
use super::{Error, ProfileManager, Protection};

impl ProfileManager {
    /// Deletes a profile's legacy session entry; returns whether there was one.
    pub(super) fn end_session(&self, meta: &ProfileMeta) -> Result<bool, Error> {
        let ended = self
            .keychain
            .delete(&session_account(&meta.id))
            .map_err(|e| self.keychain_error(e))?;
        if ended {
            tracing::info!(profile = %meta.name, "removed an unlock session left in the keychain");
        }
        Ok(ended)
    }

    /// Deletes every PIN profile's legacy session entry (the app does this when it starts);
    /// returns how many there were.
    ///
    /// # Errors
    /// Unreadable profile metadata, an unreachable keychain.
    pub fn end_sessions(&self) -> Result<usize, Error> {
        let mut ended = 0;
        for meta in self.all_meta()? {
            if meta.protection == Protection::KeychainPin && self.end_session(&meta)? {
                ended += 1;
            }
        }
        Ok(ended)
    }
}
