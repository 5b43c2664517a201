//! An in-memory [`CredentialStore`]: an ephemeral authenticator (tests, demos, the virtual
//! phone) whose credentials vanish with the process. The app's profiles use the encrypted,
//! keychain-backed vault instead.

use crate::crypto;
use crate::platform::{CredentialStore, PersistentState, StoreError, StoredCredential};

/// In-memory [`CredentialStore`].
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    credentials: Vec<StoredCredential>,
    state: Option<PersistentState>,
    /// Number of `save_state` calls (lets tests check persistence happens).
    pub state_saves: usize,
    /// What [`CredentialStore::uv_retries`] reports: a platform verifier's own count (tests).
    pub platform_uv_retries: Option<u8>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The persisted state, if any.
    pub fn state(&self) -> Option<&PersistentState> {
        self.state.as_ref()
    }
}

impl CredentialStore for MemoryStore {
    fn credentials_for_rp(
        &self,
        rp_id_hash: &[u8; 32],
    ) -> Result<Vec<StoredCredential>, StoreError> {
        Ok(self
            .credentials
            .iter()
            .filter(|c| &crypto::sha256(c.rp_id.as_bytes()) == rp_id_hash)
            .cloned()
            .collect())
    }

    fn credential(&self, credential_id: &[u8]) -> Result<Option<StoredCredential>, StoreError> {
        Ok(self
            .credentials
            .iter()
            .find(|c| c.credential_id == credential_id)
            .cloned())
    }

    fn credentials(&self) -> Result<Vec<StoredCredential>, StoreError> {
        Ok(self.credentials.clone())
    }

    fn insert(&mut self, credential: StoredCredential) -> Result<(), StoreError> {
        self.credentials
            .retain(|c| !(c.rp_id == credential.rp_id && c.user_id == credential.user_id));
        self.credentials.push(credential);
        Ok(())
    }

    fn update(&mut self, credential: StoredCredential) -> Result<bool, StoreError> {
        match self
            .credentials
            .iter_mut()
            .find(|c| c.credential_id == credential.credential_id)
        {
            Some(slot) => {
                *slot = credential;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn delete(&mut self, credential_id: &[u8]) -> Result<bool, StoreError> {
        let before = self.credentials.len();
        self.credentials
            .retain(|c| c.credential_id != credential_id);
        Ok(self.credentials.len() != before)
    }

    fn bump_sign_count(&mut self, credential_id: &[u8]) -> Result<u32, StoreError> {
        let c = self
            .credentials
            .iter_mut()
            .find(|c| c.credential_id == credential_id)
            .ok_or(StoreError::Corrupt)?;
        c.sign_count = c.sign_count.wrapping_add(1);
        Ok(c.sign_count)
    }

    fn load_state(&self) -> Result<Option<PersistentState>, StoreError> {
        Ok(self.state.clone())
    }

    fn save_state(&mut self, state: &PersistentState) -> Result<(), StoreError> {
        self.state = Some(state.clone());
        self.state_saves = self.state_saves.saturating_add(1);
        Ok(())
    }

    fn uv_retries(&self) -> Option<u8> {
        self.platform_uv_retries
    }

    fn wipe(&mut self) -> Result<(), StoreError> {
        self.credentials.clear();
        self.state = None;
        Ok(())
    }
}
