//! Unlock sessions across processes: `session:<id>` in the keychain holds a PIN profile's
//! vault key and a deadline (see the module docs of [`super`]).

use zeroize::Zeroizing;

use super::crypto::Key;
use super::meta::{ProfileMeta, session_account};
use super::{Error, ProfileManager};

impl ProfileManager {
    /// Stores the session entry; returns its deadline.
    pub(super) fn store_session(&self, meta: &ProfileMeta, key: &Key) -> Result<u64, Error> {
        let deadline = match self.policy.auto_lock_idle() {
            Some(idle) => self.env.unix_time().saturating_add(idle),
            None => u64::MAX,
        };
        let mut entry = Zeroizing::new(Vec::with_capacity(40));
        entry.extend_from_slice(key.expose_secret());
        entry.extend_from_slice(&deadline.to_be_bytes());
        self.keychain
            .set(&session_account(&meta.id), &entry)
            .map_err(|e| self.keychain_error(e))?;
        Ok(deadline)
    }

    /// The session's vault key if a live session exists; expired sessions are deleted.
    /// `refresh` extends a live session (the profile is being used).
    pub(super) fn session_key(
        &self,
        meta: &ProfileMeta,
        refresh: bool,
    ) -> Result<Option<Key>, Error> {
        let account = session_account(&meta.id);
        let Some(entry) = self
            .keychain
            .get(&account)
            .map_err(|e| self.keychain_error(e))?
        else {
            return Ok(None);
        };
        let parsed = entry.split_at_checked(32).and_then(|(key, deadline)| {
            Some((
                Key::from_slice(key)?,
                u64::from_be_bytes(deadline.try_into().ok()?),
            ))
        });
        let live = parsed.filter(|(_, deadline)| self.env.unix_time() <= *deadline);
        match live {
            Some((key, _)) => {
                if refresh {
                    self.store_session(meta, &key)?;
                }
                Ok(Some(key))
            }
            None => {
                self.keychain
                    .delete(&account)
                    .map_err(|e| self.keychain_error(e))?;
                tracing::info!(profile = %meta.name, "unlock session expired; profile locked");
                Ok(None)
            }
        }
    }
}
