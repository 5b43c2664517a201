//! The sans-IO software authenticator (CTAP 2.1 §6).
//!
//! [`Authenticator::process`] takes one CTAP2 message (command byte + CBOR) and returns a
//! [`Step`]: either the finished response (status byte + CBOR) or [`Step::NeedUser`] with a
//! [`Pending`] operation whose [`PromptRequest`] the driver shows to the user. The driver then
//! calls [`Authenticator::resume`] with the [`PromptOutcome`]. Only `resume` can mint the
//! private [`UserConsent`] proof that signing and credential creation require.

pub mod client_pin;
pub mod cred_mgmt;
mod get_assertion;
mod make_credential;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::cbor::{self, Value, int_map};
use crate::crypto::{self, KeyCache, PinProtocol};
use crate::error::StatusCode;
use crate::platform::{
    Clock, CredentialStore, PersistentState, PromptOutcome, PromptReason, PromptRequest, Rng,
    StoreError, StoredCredential, UserPrompt,
};
use crate::types::Command;

pub use get_assertion::NextAssertion;

/// The project AAGUID, 8b1e6ad6-0a7c-4f59-9c3b-2a6f5e8d41a7.
pub const AAGUID: [u8; 16] = [
    0x8b, 0x1e, 0x6a, 0xd6, 0x0a, 0x7c, 0x4f, 0x59, 0x9c, 0x3b, 0x2a, 0x6f, 0x5e, 0x8d, 0x41, 0xa7,
];

/// authenticatorReset is only allowed this long after power-up (CTAP 2.1 §6.6).
pub const RESET_WINDOW: Duration = Duration::from_secs(10);
/// How long the user has to answer a prompt.
pub const USER_ACTION_TIMEOUT: Duration = Duration::from_secs(30);
/// authenticatorGetNextAssertion / credential-management enumeration timer (CTAP 2.1 §6.3).
pub const STATEFUL_TIMEOUT: Duration = Duration::from_secs(30);
/// Maximum pinUvAuthToken lifetime.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(600);
/// maxMsgSize reported in getInfo.
pub const MAX_MSG_SIZE: u64 = 7609;

/// Attestation statement produced by makeCredential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Attestation {
    /// fmt "none", empty attStmt (default).
    #[default]
    None,
    /// fmt "packed", self attestation with the credential key.
    PackedSelf,
}

/// Static authenticator configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Attestation format.
    pub attestation: Attestation,
    /// Whether the prompt can verify the user (built-in UV); see
    /// [`UserPrompt::can_verify`].
    pub built_in_uv: bool,
    /// Maximum number of discoverable credentials.
    pub max_discoverable: usize,
    /// firmwareVersion in getInfo.
    pub firmware_version: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            attestation: Attestation::None,
            built_in_uv: false,
            max_discoverable: 256,
            firmware_version: 1,
        }
    }
}

impl Config {
    /// The default configuration with `built_in_uv` taken from the prompt.
    pub fn for_prompt(prompt: &impl UserPrompt) -> Self {
        Self {
            built_in_uv: prompt.can_verify(),
            ..Self::default()
        }
    }
}

/// Proof that the user consented (and maybe was verified) for the operation at hand. Only the
/// authenticator can create one, from an approving [`PromptOutcome`] (or, for `up=false`
/// assertions, from a verified pinUvAuthToken).
#[derive(Debug)]
pub struct UserConsent {
    up: bool,
    uv: bool,
    chosen: Option<Vec<u8>>,
}

impl UserConsent {
    /// User presence was tested.
    pub fn user_present(&self) -> bool {
        self.up
    }

    /// User verification was performed by the prompt.
    pub fn user_verified(&self) -> bool {
        self.uv
    }
}

/// Result of processing a message.
#[derive(Debug)]
pub enum Step {
    /// Finished: the CTAP response (status byte followed by CBOR, if any).
    Done(Vec<u8>),
    /// The user must be asked; show [`Pending::request`], then call
    /// [`Authenticator::resume`]. Send CTAPHID keepalives meanwhile.
    NeedUser(Pending),
}

/// An operation waiting for the user.
#[derive(Debug)]
pub struct Pending {
    request: PromptRequest,
    op: PendingOp,
    generation: u64,
}

impl Pending {
    /// What to ask the user.
    pub fn request(&self) -> &PromptRequest {
        &self.request
    }

    /// When the operation fails with `CTAP2_ERR_USER_ACTION_TIMEOUT`.
    pub fn deadline(&self) -> Instant {
        self.request.deadline
    }
}

#[derive(Debug)]
enum PendingOp {
    MakeCredential(Box<make_credential::Prepared>),
    Excluded,
    GetAssertion(Box<get_assertion::Prepared>),
    Reset,
    Selection,
    PinProbe,
    UvToken(Box<client_pin::UvTokenPrepared>),
}

/// pinUvAuthToken permissions (CTAP 2.1 §6.5.5.7).
pub mod permission {
    /// mc: makeCredential.
    pub const MAKE_CREDENTIAL: u64 = 0x01;
    /// ga: getAssertion.
    pub const GET_ASSERTION: u64 = 0x02;
    /// cm: credentialManagement.
    pub const CREDENTIAL_MANAGEMENT: u64 = 0x04;
    /// be: bioEnrollment (unsupported).
    pub const BIO_ENROLLMENT: u64 = 0x08;
    /// lbw: largeBlobWrite (unsupported).
    pub const LARGE_BLOB_WRITE: u64 = 0x10;
    /// acfg: authenticatorConfig (unsupported).
    pub const AUTHENTICATOR_CONFIG: u64 = 0x20;
    /// Everything a client may ask for.
    pub const SUPPORTED: u64 = MAKE_CREDENTIAL | GET_ASSERTION | CREDENTIAL_MANAGEMENT;
    /// Not a CTAP permission (clients cannot ask for it): marks a token from the legacy
    /// getPinToken. FIDO_2_1_PRE had no permissions, so a 2.1-PRE client (ctap-hid-fido2's
    /// default, for one) manages credentials with such a token through the prototype command
    /// 0x41, which we list (`credentialMgmtPreview`); only that command accepts this bit.
    pub const LEGACY_PREVIEW: u64 = 0x1_0000;
}

/// The current pinUvAuthToken; zeroised on drop.
#[derive(Debug)]
struct Token {
    value: [u8; 32],
    permissions: u64,
    rp_id: Option<String>,
    issued: Instant,
}

impl Drop for Token {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.value);
    }
}

/// A CTAP 2.1 software authenticator over a [`CredentialStore`], a [`Clock`] and an RNG.
pub struct Authenticator<S, C, R> {
    store: S,
    clock: C,
    rng: R,
    config: Config,
    state: PersistentState,
    boot: Instant,
    key_agreement: p256::SecretKey,
    token: Option<Token>,
    mismatches: u8,
    next_assertion: Option<NextAssertion>,
    cred_mgmt: Option<cred_mgmt::Enumeration>,
    generation: u64,
    keys: KeyCache,
}

impl<S, C, R> std::fmt::Debug for Authenticator<S, C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config)
            .field("pin_set", &self.state.pin_hash.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: CredentialStore, C: Clock, R: Rng> Authenticator<S, C, R> {
    /// Creates the authenticator, loading (or creating and saving) its persistent state. The
    /// 10-second reset window starts now.
    ///
    /// # Errors
    /// Storage failure.
    pub fn new(mut store: S, clock: C, mut rng: R, config: Config) -> Result<Self, StoreError> {
        let state = match store.load_state()? {
            Some(s) => s,
            None => {
                let s = PersistentState::fresh(&mut rng);
                store.save_state(&s)?;
                s
            }
        };
        let boot = clock.now();
        let key_agreement = p256::SecretKey::random(&mut rng);
        Ok(Self {
            store,
            clock,
            rng,
            config,
            state,
            boot,
            key_agreement,
            token: None,
            mismatches: 0,
            next_assertion: None,
            cred_mgmt: None,
            generation: 0,
            keys: KeyCache::new(16),
        })
    }

    /// The credential store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The credential store, mutably (e.g. for an app-side credential list).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Takes over what `previous` kept for its power cycle (when it booted, the consecutive
    /// PIN mismatches): this engine replaces it on the same device without a power cycle.
    pub fn continue_power_cycle_of(&mut self, previous: &Self) {
        self.boot = previous.boot;
        self.mismatches = previous.mismatches;
    }

    /// Simulates a power cycle: drops the pinUvAuthToken and the key-agreement key, resets the
    /// per-boot PIN mismatch counter, forgets stateful commands and restarts the reset window.
    pub fn power_cycle(&mut self, now: Instant) {
        self.boot = now;
        self.token = None;
        self.key_agreement = p256::SecretKey::random(&mut self.rng);
        self.mismatches = 0;
        self.next_assertion = None;
        self.cred_mgmt = None;
        self.generation = self.generation.wrapping_add(1);
    }

    /// Processes one CTAP2 message (command byte + CBOR parameters).
    pub fn process(&mut self, request: &[u8], now: Instant) -> Step {
        self.generation = self.generation.wrapping_add(1);
        let command = match Command::parse(request) {
            Ok(c) => c,
            Err(e) => {
                self.next_assertion = None;
                self.cred_mgmt = None;
                return Step::Done(vec![e.code()]);
            }
        };
        if !matches!(command, Command::GetNextAssertion) {
            self.next_assertion = None;
        }
        if !matches!(&command, Command::CredentialManagement(r) if matches!(r.sub_command, 3 | 5)) {
            self.cred_mgmt = None;
        }
        let result = match command {
            Command::GetInfo => self.get_info(),
            Command::MakeCredential(r) => self.make_credential(*r, now),
            Command::GetAssertion(r) => self.get_assertion(*r, now),
            Command::GetNextAssertion => self.get_next_assertion(now),
            Command::ClientPin(r) => self.client_pin(*r, now),
            Command::CredentialManagement(r) => self.credential_management(*r, now),
            Command::Reset => self.reset(now),
            Command::Selection => Ok(self.need_user(
                PendingOp::Selection,
                self.prompt(PromptReason::Selection, None, now),
            )),
        };
        result.unwrap_or_else(|e| Step::Done(vec![e.code()]))
    }

    /// Continues a [`Pending`] operation with the user's answer.
    pub fn resume(&mut self, pending: Pending, outcome: PromptOutcome, now: Instant) -> Step {
        if pending.generation != self.generation {
            return Step::Done(vec![StatusCode::NotAllowed.code()]);
        }
        let need_uv = pending.request.need_uv;
        let consent = match outcome {
            PromptOutcome::Approved { .. } if now > pending.request.deadline => {
                Err(StatusCode::UserActionTimeout)
            }
            PromptOutcome::Approved {
                user_verified,
                chosen_credential,
            } => Ok(UserConsent {
                up: true,
                uv: user_verified,
                chosen: chosen_credential,
            }),
            PromptOutcome::Denied | PromptOutcome::Forward => Err(StatusCode::OperationDenied),
            PromptOutcome::Cancelled => Err(StatusCode::KeepaliveCancel),
            PromptOutcome::TimedOut => Err(StatusCode::UserActionTimeout),
        };
        let result = consent.and_then(|consent| {
            if need_uv {
                self.record_uv(consent.uv)?;
            }
            self.complete(pending.op, consent, now)
        });
        result.unwrap_or_else(|e| Step::Done(vec![e.code()]))
    }

    /// Blocking convenience driver: processes `request`, asks `prompt` whenever the user is
    /// needed, and returns the final response. Time comes from the [`Clock`].
    pub fn handle_with_prompt(&mut self, request: &[u8], prompt: &mut impl UserPrompt) -> Vec<u8> {
        let mut step = self.process(request, self.clock.now());
        loop {
            match step {
                Step::Done(response) => return response,
                Step::NeedUser(pending) => {
                    let outcome = prompt.ask(pending.request());
                    let now = self.clock.now();
                    step = self.resume(pending, outcome, now);
                }
            }
        }
    }

    fn complete(
        &mut self,
        op: PendingOp,
        consent: UserConsent,
        now: Instant,
    ) -> Result<Step, StatusCode> {
        match op {
            PendingOp::MakeCredential(p) => self.finish_make_credential(*p, &consent),
            PendingOp::Excluded => Err(StatusCode::CredentialExcluded),
            PendingOp::GetAssertion(p) => self.finish_get_assertion(*p, &consent, now),
            PendingOp::Reset => self.finish_reset(now),
            PendingOp::Selection => Ok(Step::Done(vec![0])),
            PendingOp::PinProbe => Err(if self.state.pin_hash.is_some() {
                StatusCode::PinInvalid
            } else {
                StatusCode::PinNotSet
            }),
            PendingOp::UvToken(p) => self.finish_uv_token(*p, &consent, now),
        }
    }

    /// Built-in UV attempts left: the platform's own count if it keeps one
    /// ([`CredentialStore::uv_retries`]), else the engine's.
    fn uv_retries(&self) -> u8 {
        self.store.uv_retries().unwrap_or(self.state.uv_retries)
    }

    /// Built-in UV bookkeeping: a failed verification costs a UV retry.
    fn record_uv(&mut self, verified: bool) -> Result<(), StatusCode> {
        if verified {
            if self.state.uv_retries != crate::platform::MAX_UV_RETRIES {
                self.state.uv_retries = crate::platform::MAX_UV_RETRIES;
                self.store.save_state(&self.state)?;
            }
            return Ok(());
        }
        self.state.uv_retries = self.state.uv_retries.saturating_sub(1);
        self.store.save_state(&self.state)?;
        Err(if self.state.uv_retries == 0 {
            StatusCode::UvBlocked
        } else {
            StatusCode::UvInvalid
        })
    }

    fn prompt(&self, reason: PromptReason, rp_id: Option<String>, now: Instant) -> PromptRequest {
        PromptRequest {
            reason,
            rp_id,
            rp_name: None,
            user_name: None,
            user_display_name: None,
            candidates: Vec::new(),
            need_uv: false,
            deadline: now + USER_ACTION_TIMEOUT,
        }
    }

    fn need_user(&self, op: PendingOp, request: PromptRequest) -> Step {
        Step::NeedUser(Pending {
            request,
            op,
            generation: self.generation,
        })
    }

    /// Zero-length pinUvAuthParam: wait for a touch, then PIN_NOT_SET / PIN_INVALID.
    fn pin_probe(&self, rp_id: &str, now: Instant) -> Step {
        self.need_user(
            PendingOp::PinProbe,
            self.prompt(PromptReason::Selection, Some(rp_id.to_owned()), now),
        )
    }

    /// Validates pinUvAuthParam against the current pinUvAuthToken, checks `permission` and
    /// the RP binding, and binds an unbound token to `bind_rp`.
    fn verify_token(
        &mut self,
        protocol: PinProtocol,
        message: &[&[u8]],
        param: &[u8],
        permission: u64,
        bind_rp: Option<&str>,
        now: Instant,
    ) -> Result<(), StatusCode> {
        let token = self.current_token(now).ok_or(StatusCode::PinAuthInvalid)?;
        if !protocol.verify(&token.value, message, param) {
            return Err(StatusCode::PinAuthInvalid);
        }
        if token.permissions & permission == 0 {
            return Err(StatusCode::PinAuthInvalid);
        }
        if let Some(rp) = bind_rp {
            match &token.rp_id {
                Some(bound) if bound != rp => return Err(StatusCode::PinAuthInvalid),
                Some(_) => {}
                None => token.rp_id = Some(rp.to_owned()),
            }
        }
        Ok(())
    }

    fn current_token(&mut self, now: Instant) -> Option<&mut Token> {
        if self
            .token
            .as_ref()
            .is_some_and(|t| now.saturating_duration_since(t.issued) > TOKEN_LIFETIME)
        {
            self.token = None;
        }
        self.token.as_mut()
    }

    /// A stored discoverable credential for this RP, or a non-discoverable one unwrapped from
    /// its ID.
    fn lookup(
        &self,
        rp_id: &str,
        rp_id_hash: &[u8; 32],
        credential_id: &[u8],
    ) -> Result<Option<StoredCredential>, StatusCode> {
        if let Some(c) = self.store.credential(credential_id)? {
            if c.rp_id == rp_id {
                return Ok(Some(c));
            }
            return Ok(None);
        }
        let Some(w) =
            crypto::unwrap_credential(&self.state.wrapping_key, rp_id_hash, credential_id)
        else {
            return Ok(None);
        };
        let cred_random = w.hmac_secret.then(|| crate::platform::CredRandom {
            with_uv: crypto::derived_cred_random(&w.private_key, true),
            without_uv: crypto::derived_cred_random(&w.private_key, false),
        });
        Ok(Some(StoredCredential {
            credential_id: credential_id.to_vec(),
            rp_id: rp_id.to_owned(),
            rp_name: None,
            user_id: Vec::new(),
            user_name: None,
            user_display_name: None,
            private_key: w.private_key,
            public_key: Vec::new(),
            sign_count: self.state.global_sign_count,
            cred_protect: w.cred_protect,
            cred_random,
            discoverable: false,
            created_at: 0,
            transports: Vec::new(),
            backup_eligible: false,
            backup_state: false,
        }))
    }

    /// authenticatorGetInfo (CTAP 2.1 §6.4).
    fn get_info(&self) -> Result<Step, StatusCode> {
        let t = |s: &str| Value::Text(s.into());
        let mut options = vec![
            (t("rk"), Value::Bool(true)),
            (t("up"), Value::Bool(true)),
            (t("plat"), Value::Bool(false)),
            (t("clientPin"), Value::Bool(self.state.pin_hash.is_some())),
            (t("credMgmt"), Value::Bool(true)),
            (t("credentialMgmtPreview"), Value::Bool(true)),
            (t("pinUvAuthToken"), Value::Bool(true)),
            (t("makeCredUvNotRqd"), Value::Bool(true)),
        ];
        if self.config.built_in_uv {
            options.push((t("uv"), Value::Bool(true)));
        }
        let info = int_map([
            (
                0x01,
                Some(Value::Array(vec![
                    t("FIDO_2_0"),
                    t("FIDO_2_1_PRE"),
                    t("FIDO_2_1"),
                ])),
            ),
            (
                0x02,
                Some(Value::Array(vec![t("credProtect"), t("hmac-secret")])),
            ),
            (0x03, Some(Value::Bytes(AAGUID.to_vec()))),
            (0x04, Some(Value::Map(options))),
            (0x05, Some(Value::Integer(MAX_MSG_SIZE.into()))),
            (
                0x06,
                Some(Value::Array(vec![
                    Value::Integer(2.into()),
                    Value::Integer(1.into()),
                ])),
            ),
            (0x07, Some(Value::Integer(8.into()))),
            (0x08, Some(Value::Integer(128.into()))),
            (0x09, Some(Value::Array(vec![t("usb")]))),
            (
                0x0A,
                Some(Value::Array(vec![Value::Map(vec![
                    (t("alg"), Value::Integer(crypto::COSE_ES256.into())),
                    (t("type"), t("public-key")),
                ])])),
            ),
            (0x0D, Some(Value::Integer(self.state.min_pin_length.into()))),
            (
                0x0E,
                Some(Value::Integer(self.config.firmware_version.into())),
            ),
            (
                0x11,
                self.config.built_in_uv.then(|| Value::Integer(3.into())),
            ),
        ]);
        respond(&info)
    }

    /// authenticatorReset (CTAP 2.1 §6.6): only within the reset window, with user presence.
    fn reset(&mut self, now: Instant) -> Result<Step, StatusCode> {
        if now.saturating_duration_since(self.boot) > RESET_WINDOW {
            return Err(StatusCode::NotAllowed);
        }
        Ok(self.need_user(
            PendingOp::Reset,
            self.prompt(PromptReason::Reset, None, now),
        ))
    }

    fn finish_reset(&mut self, now: Instant) -> Result<Step, StatusCode> {
        if now.saturating_duration_since(self.boot) > RESET_WINDOW + USER_ACTION_TIMEOUT {
            return Err(StatusCode::NotAllowed);
        }
        self.store.wipe()?;
        self.state = PersistentState::fresh(&mut self.rng);
        self.store.save_state(&self.state)?;
        self.keys.clear();
        self.token = None;
        self.mismatches = 0;
        self.key_agreement = p256::SecretKey::random(&mut self.rng);
        Ok(Step::Done(vec![0]))
    }
}

/// Status OK followed by the canonical encoding of `value`.
fn respond(value: &Value) -> Result<Step, StatusCode> {
    let body = cbor::encode(value)?;
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(0);
    out.extend_from_slice(&body);
    Ok(Step::Done(out))
}

/// Parses an optional pinUvAuthProtocol that must accompany a pinUvAuthParam.
fn auth_protocol(
    param: Option<&Vec<u8>>,
    protocol: Option<u64>,
) -> Result<Option<PinProtocol>, StatusCode> {
    match (param, protocol) {
        (Some(_), None) => Err(StatusCode::MissingParameter),
        (Some(_), Some(n)) => PinProtocol::from_number(n).map(Some),
        (None, _) => Ok(None),
    }
}

/// Remaining items of a stateful enumeration with its deadline.
#[derive(Debug)]
struct Remaining<T> {
    items: VecDeque<T>,
    deadline: Instant,
}
