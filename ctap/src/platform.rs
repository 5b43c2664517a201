//! Seams between the authenticator core and its environment, as OpenSK's `env` bundles them:
//! time, randomness, the user and persistent storage. Everything here is synchronous; the
//! sans-IO core never blocks on any of them except through the convenience driver
//! [`Authenticator::handle_with_prompt`](crate::Authenticator::handle_with_prompt).

use std::fmt;
use std::time::Instant;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Monotonic and wall-clock time.
pub trait Clock {
    /// Monotonic now (timers, the reset window, token lifetimes).
    fn now(&self) -> Instant;
    /// Seconds since the Unix epoch (credential creation time only).
    fn unix_time(&self) -> u64;
}

/// A shared clock is a clock (the apps hand one `Arc<dyn Clock>` to every service).
impl<T: Clock + ?Sized> Clock for std::sync::Arc<T> {
    fn now(&self) -> Instant {
        (**self).now()
    }

    fn unix_time(&self) -> u64 {
        (**self).unix_time()
    }
}

/// The randomness the core needs: a cryptographically secure generator.
pub trait Rng: rand_core::RngCore + rand_core::CryptoRng {}
impl<T: rand_core::RngCore + rand_core::CryptoRng> Rng for T {}

/// A 32-byte secret (private key scalar, wrapping key, CredRandom). Zeroised on drop; `Debug`
/// prints no bytes.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// Wraps raw secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Builds from a slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// The secret bytes. Callers must not log or copy them needlessly.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// credProtect levels (CTAP 2.1 §12.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum CredProtect {
    /// 1: userVerificationOptional.
    #[default]
    UvOptional = 1,
    /// 2: userVerificationOptionalWithCredentialIDList.
    UvOptionalWithCredIdList = 2,
    /// 3: userVerificationRequired.
    UvRequired = 3,
}

impl CredProtect {
    /// Level from its wire value.
    pub fn from_level(level: u64) -> Option<Self> {
        match level {
            1 => Some(Self::UvOptional),
            2 => Some(Self::UvOptionalWithCredIdList),
            3 => Some(Self::UvRequired),
            _ => None,
        }
    }

    /// Wire value.
    pub fn level(self) -> u8 {
        match self {
            Self::UvOptional => 1,
            Self::UvOptionalWithCredIdList => 2,
            Self::UvRequired => 3,
        }
    }
}

/// hmac-secret CredRandom pair (CTAP 2.1 §12.5): one used with UV, one without.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CredRandom {
    /// CredRandomWithUV.
    pub with_uv: SecretKey,
    /// CredRandomWithoutUV.
    pub without_uv: SecretKey,
}

/// A credential as persisted by a [`CredentialStore`]. Discoverable credentials are stored;
/// non-discoverable ones only pass through this type transiently (their ID wraps the key).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StoredCredential {
    /// Credential ID as given to the RP.
    pub credential_id: Vec<u8>,
    /// RP ID.
    pub rp_id: String,
    /// RP name, if the RP gave one.
    pub rp_name: Option<String>,
    /// User handle.
    pub user_id: Vec<u8>,
    /// User name.
    pub user_name: Option<String>,
    /// User display name.
    pub user_display_name: Option<String>,
    /// P-256 private scalar.
    pub private_key: SecretKey,
    /// Uncompressed SEC1 public key (65 bytes), kept to avoid recomputing it.
    pub public_key: Vec<u8>,
    /// Signature counter.
    pub sign_count: u32,
    /// credProtect policy.
    pub cred_protect: CredProtect,
    /// hmac-secret CredRandom pair, if the credential was created with hmac-secret.
    pub cred_random: Option<CredRandom>,
    /// Whether this is a discoverable (resident) credential.
    pub discoverable: bool,
    /// Creation time, Unix seconds from the [`Clock`].
    pub created_at: u64,
    /// Transports to report (informational).
    pub transports: Vec<String>,
    /// Backup eligible (BE flag). Always false for now.
    pub backup_eligible: bool,
    /// Backup state (BS flag). Always false for now.
    pub backup_state: bool,
}

/// The authenticator's own persistent state (not per credential).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PersistentState {
    /// LEFT(SHA-256(PIN), 16), if a PIN is set.
    pub pin_hash: Option<[u8; 16]>,
    /// Remaining PIN retries (8 after set/reset).
    pub pin_retries: u8,
    /// Remaining built-in UV retries.
    pub uv_retries: u8,
    /// AES-256-GCM key wrapping non-discoverable credentials.
    pub wrapping_key: SecretKey,
    /// Counter shared by non-discoverable credentials.
    pub global_sign_count: u32,
    /// Current minimum PIN length in code points.
    pub min_pin_length: u8,
}

/// Maximum PIN retries (CTAP 2.1 §6.5.2.2).
pub const MAX_PIN_RETRIES: u8 = 8;
/// Maximum built-in UV retries we allow.
pub const MAX_UV_RETRIES: u8 = 8;

impl PersistentState {
    /// Fresh state with a new wrapping key (first boot, or after authenticatorReset).
    pub fn fresh(rng: &mut impl Rng) -> Self {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        Self {
            pin_hash: None,
            pin_retries: MAX_PIN_RETRIES,
            uv_retries: MAX_UV_RETRIES,
            wrapping_key: SecretKey::new(key),
            global_sign_count: 0,
            min_pin_length: 4,
        }
    }
}

/// Why storage failed. Mapped to `CTAP1_ERR_OTHER` / `CTAP2_ERR_KEY_STORE_FULL` on the wire.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No room for another credential.
    #[error("credential store full")]
    Full,
    /// The backing store failed.
    #[error("storage backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data could not be decoded.
    #[error("stored data corrupt")]
    Corrupt,
}

/// Persistent credential storage. Synchronous; implementable on a key–value store (the profile
/// vault encrypts records and keeps its key in the OS keychain).
pub trait CredentialStore {
    /// All discoverable credentials of the RP whose SHA-256(rpId) is `rp_id_hash`.
    ///
    /// # Errors
    /// Backend failure.
    fn credentials_for_rp(
        &self,
        rp_id_hash: &[u8; 32],
    ) -> Result<Vec<StoredCredential>, StoreError>;

    /// The discoverable credential with this ID, if any.
    ///
    /// # Errors
    /// Backend failure.
    fn credential(&self, credential_id: &[u8]) -> Result<Option<StoredCredential>, StoreError>;

    /// Every discoverable credential (credential management).
    ///
    /// # Errors
    /// Backend failure.
    fn credentials(&self) -> Result<Vec<StoredCredential>, StoreError>;

    /// Inserts `credential`; an existing credential with the same RP ID and user ID is replaced.
    ///
    /// # Errors
    /// [`StoreError::Full`] or backend failure.
    fn insert(&mut self, credential: StoredCredential) -> Result<(), StoreError>;

    /// Replaces the credential with the same ID (user information update). Returns false when
    /// no such credential exists.
    ///
    /// # Errors
    /// Backend failure.
    fn update(&mut self, credential: StoredCredential) -> Result<bool, StoreError>;

    /// Deletes by ID; returns whether a credential was removed.
    ///
    /// # Errors
    /// Backend failure.
    fn delete(&mut self, credential_id: &[u8]) -> Result<bool, StoreError>;

    /// Atomically increments the credential's sign count and returns the new value.
    ///
    /// # Errors
    /// Backend failure, or [`StoreError::Corrupt`] if the credential vanished.
    fn bump_sign_count(&mut self, credential_id: &[u8]) -> Result<u32, StoreError>;

    /// The authenticator state, or `None` on first use.
    ///
    /// # Errors
    /// Backend failure.
    fn load_state(&self) -> Result<Option<PersistentState>, StoreError>;

    /// Persists the authenticator state.
    ///
    /// # Errors
    /// Backend failure.
    fn save_state(&mut self, state: &PersistentState) -> Result<(), StoreError>;

    /// Removes every credential and the state (authenticatorReset).
    ///
    /// # Errors
    /// Backend failure.
    fn wipe(&mut self) -> Result<(), StoreError>;

    /// Built-in UV attempts left, when the platform's verifier counts them itself (a PIN the
    /// platform checks and counts where it keeps it): the engine then reports this number as
    /// `uvRetries` and refuses UV at zero. `None`, the default: the engine counts, in
    /// [`PersistentState::uv_retries`].
    fn uv_retries(&self) -> Option<u8> {
        None
    }
}

/// Why the authenticator needs the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PromptReason {
    /// authenticatorMakeCredential: consent to create a credential.
    Register,
    /// authenticatorMakeCredential hit the excludeList: touch to confirm, then it fails.
    Excluded,
    /// authenticatorGetAssertion: consent to sign in.
    SignIn,
    /// authenticatorReset.
    Reset,
    /// authenticatorSelection, or a zero-length pinUvAuthParam probe.
    Selection,
    /// getPinUvAuthTokenUsingUvWithPermissions: verify the user.
    Verify,
}

/// One account the user may choose from (discoverable sign-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateAccount {
    /// Credential ID.
    pub credential_id: Vec<u8>,
    /// User handle.
    pub user_id: Vec<u8>,
    /// User name.
    pub user_name: Option<String>,
    /// User display name.
    pub user_display_name: Option<String>,
}

/// What the driver shows the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRequest {
    /// Why.
    pub reason: PromptReason,
    /// RP ID, when the operation has one.
    pub rp_id: Option<String>,
    /// RP name, when known.
    pub rp_name: Option<String>,
    /// User being registered (Register).
    pub user_name: Option<String>,
    /// User display name being registered (Register).
    pub user_display_name: Option<String>,
    /// Accounts to choose from (SignIn without allowList, more than one match).
    pub candidates: Vec<CandidateAccount>,
    /// Whether user verification (not just presence) is required.
    pub need_uv: bool,
    /// When the authenticator gives up with `CTAP2_ERR_USER_ACTION_TIMEOUT`.
    pub deadline: Instant,
}

/// The user's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PromptOutcome {
    /// The user consented.
    Approved {
        /// Whether the prompt verified the user (biometric, OS password ...).
        user_verified: bool,
        /// Credential chosen from [`PromptRequest::candidates`], if any.
        chosen_credential: Option<Vec<u8>>,
    },
    /// The user refused (`CTAP2_ERR_OPERATION_DENIED`).
    Denied,
    /// The platform cancelled (`CTAP2_ERR_KEEPALIVE_CANCEL`).
    Cancelled,
    /// Nobody answered in time (`CTAP2_ERR_USER_ACTION_TIMEOUT`).
    TimedOut,
    /// The user chose to answer this makeCredential/getAssertion elsewhere (a phone): the
    /// [`HidDevice`](crate::device::HidDevice) hands the client's request to its driver as a
    /// forward. Anywhere else it means `CTAP2_ERR_OPERATION_DENIED`.
    Forward,
}

impl PromptOutcome {
    /// Approval with presence only.
    pub fn approved() -> Self {
        Self::Approved {
            user_verified: false,
            chosen_credential: None,
        }
    }

    /// Approval with user verification.
    pub fn verified() -> Self {
        Self::Approved {
            user_verified: true,
            chosen_credential: None,
        }
    }
}

/// Asks the user (blocking). Used by [`Authenticator::handle_with_prompt`]; sans-IO drivers
/// may ask however they like and call [`Authenticator::resume`].
///
/// [`Authenticator::handle_with_prompt`]: crate::Authenticator::handle_with_prompt
/// [`Authenticator::resume`]: crate::Authenticator::resume
pub trait UserPrompt {
    /// Whether this prompt can verify the user (built-in UV). Reported in getInfo.
    fn can_verify(&self) -> bool {
        false
    }

    /// Shows `request` and returns the user's answer.
    fn ask(&mut self, request: &PromptRequest) -> PromptOutcome;
}
