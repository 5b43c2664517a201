//! authenticatorClientPIN (CTAP 2.1 §6.5).

use std::time::Instant;

use subtle::ConstantTimeEq;

use super::{Authenticator, PendingOp, Step, Token, UserConsent, permission, respond};
use crate::cbor::{Value, int_map};
use crate::crypto::{self, COSE_ECDH_ES_HKDF_256, PinProtocol, SharedSecret};
use crate::error::StatusCode;
use crate::platform::{Clock, CredentialStore, MAX_PIN_RETRIES, PromptReason, Rng};
use crate::types::ClientPinRequest;

/// ClientPIN subcommands (CTAP 2.1 §6.5.5).
pub mod sub_command {
    /// getPINRetries.
    pub const GET_PIN_RETRIES: u64 = 0x01;
    /// getKeyAgreement.
    pub const GET_KEY_AGREEMENT: u64 = 0x02;
    /// setPIN.
    pub const SET_PIN: u64 = 0x03;
    /// changePIN.
    pub const CHANGE_PIN: u64 = 0x04;
    /// getPinToken (superseded).
    pub const GET_PIN_TOKEN: u64 = 0x05;
    /// getPinUvAuthTokenUsingUvWithPermissions.
    pub const GET_TOKEN_USING_UV: u64 = 0x06;
    /// getUVRetries.
    pub const GET_UV_RETRIES: u64 = 0x07;
    /// getPinUvAuthTokenUsingPinWithPermissions.
    pub const GET_TOKEN_USING_PIN: u64 = 0x09;
}

/// Consecutive mismatches per power cycle before PIN_AUTH_BLOCKED.
const MAX_MISMATCHES_PER_BOOT: u8 = 3;

#[derive(Debug)]
pub(super) struct UvTokenPrepared {
    shared: SharedSecret,
    permissions: u64,
    rp_id: Option<String>,
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSecret")
            .field("protocol", &self.protocol())
            .finish_non_exhaustive()
    }
}

impl<S: CredentialStore, C: Clock, R: Rng> Authenticator<S, C, R> {
    pub(super) fn client_pin(
        &mut self,
        r: ClientPinRequest,
        now: Instant,
    ) -> Result<Step, StatusCode> {
        let protocol = || -> Result<PinProtocol, StatusCode> {
            PinProtocol::from_number(r.pin_uv_auth_protocol.ok_or(StatusCode::MissingParameter)?)
        };
        match r.sub_command {
            // With no PIN there is nothing to count down; authenticators in the field (and
            // python-fido2's device suite) answer PIN_NOT_SET rather than a meaningless 8.
            sub_command::GET_PIN_RETRIES if self.state.pin_hash.is_none() => {
                Err(StatusCode::PinNotSet)
            }
            sub_command::GET_PIN_RETRIES => respond(&int_map([
                (3, Some(Value::Integer(self.state.pin_retries.into()))),
                (
                    4,
                    Some(Value::Bool(self.mismatches >= MAX_MISMATCHES_PER_BOOT)),
                ),
            ])),
            sub_command::GET_KEY_AGREEMENT => {
                protocol()?;
                let public = crypto::sec1(&self.key_agreement.public_key());
                respond(&int_map([(
                    1,
                    Some(crypto::cose_p256(&public, COSE_ECDH_ES_HKDF_256)?),
                )]))
            }
            sub_command::SET_PIN => self.set_pin(protocol()?, &r),
            sub_command::CHANGE_PIN => self.change_pin(protocol()?, &r),
            sub_command::GET_PIN_TOKEN => {
                let p = protocol()?;
                if r.permissions.is_some() || r.rp_id.is_some() {
                    return Err(StatusCode::InvalidParameter);
                }
                self.token_using_pin(
                    p,
                    &r,
                    permission::MAKE_CREDENTIAL
                        | permission::GET_ASSERTION
                        | permission::LEGACY_PREVIEW,
                    None,
                    now,
                )
            }
            sub_command::GET_TOKEN_USING_PIN => {
                let p = protocol()?;
                let permissions = check_permissions(r.permissions)?;
                self.token_using_pin(p, &r, permissions, r.rp_id.clone(), now)
            }
            sub_command::GET_TOKEN_USING_UV => {
                let p = protocol()?;
                if !self.config.built_in_uv {
                    return Err(StatusCode::NotAllowed);
                }
                let permissions = check_permissions(r.permissions)?;
                let shared = self.shared_secret(p, r.key_agreement.as_ref())?;
                if self.uv_retries() == 0 {
                    return Err(StatusCode::UvBlocked);
                }
                let mut prompt = self.prompt(PromptReason::Verify, r.rp_id.clone(), now);
                prompt.need_uv = true;
                let prepared = UvTokenPrepared {
                    shared,
                    permissions,
                    rp_id: r.rp_id,
                };
                Ok(self.need_user(PendingOp::UvToken(Box::new(prepared)), prompt))
            }
            sub_command::GET_UV_RETRIES => {
                if !self.config.built_in_uv {
                    return Err(StatusCode::NotAllowed);
                }
                respond(&int_map([(
                    5,
                    Some(Value::Integer(self.uv_retries().into())),
                )]))
            }
            _ => Err(StatusCode::InvalidSubcommand),
        }
    }

    pub(super) fn finish_uv_token(
        &mut self,
        prepared: UvTokenPrepared,
        consent: &UserConsent,
        now: Instant,
    ) -> Result<Step, StatusCode> {
        if !consent.uv {
            return Err(StatusCode::UvInvalid);
        }
        let token = self.issue_token(prepared.permissions, prepared.rp_id, now);
        let enc = prepared.shared.encrypt(&mut self.rng, &token)?;
        respond(&int_map([(2, Some(Value::Bytes(enc)))]))
    }

    fn shared_secret(
        &self,
        protocol: PinProtocol,
        key_agreement: Option<&Value>,
    ) -> Result<SharedSecret, StatusCode> {
        let peer = crypto::parse_cose_p256(key_agreement.ok_or(StatusCode::MissingParameter)?)?;
        Ok(protocol.kdf(&crypto::ecdh(&self.key_agreement, &peer)))
    }

    fn set_pin(&mut self, protocol: PinProtocol, r: &ClientPinRequest) -> Result<Step, StatusCode> {
        let (Some(param), Some(new_pin_enc)) = (&r.pin_uv_auth_param, &r.new_pin_enc) else {
            return Err(StatusCode::MissingParameter);
        };
        if r.key_agreement.is_none() {
            return Err(StatusCode::MissingParameter);
        }
        if self.state.pin_hash.is_some() {
            return Err(StatusCode::NotAllowed);
        }
        let shared = self.shared_secret(protocol, r.key_agreement.as_ref())?;
        if !shared.verify(&[new_pin_enc], param) {
            return Err(StatusCode::PinAuthInvalid);
        }
        self.store_new_pin(&shared, new_pin_enc)?;
        Ok(Step::Done(vec![0]))
    }

    fn change_pin(
        &mut self,
        protocol: PinProtocol,
        r: &ClientPinRequest,
    ) -> Result<Step, StatusCode> {
        let (Some(param), Some(new_pin_enc), Some(pin_hash_enc)) =
            (&r.pin_uv_auth_param, &r.new_pin_enc, &r.pin_hash_enc)
        else {
            return Err(StatusCode::MissingParameter);
        };
        if r.key_agreement.is_none() {
            return Err(StatusCode::MissingParameter);
        }
        self.pin_precheck()?;
        let shared = self.shared_secret(protocol, r.key_agreement.as_ref())?;
        if !shared.verify(&[new_pin_enc, pin_hash_enc], param) {
            return Err(StatusCode::PinAuthInvalid);
        }
        self.check_pin_hash(&shared, pin_hash_enc)?;
        self.store_new_pin(&shared, new_pin_enc)?;
        self.token = None;
        Ok(Step::Done(vec![0]))
    }

    fn token_using_pin(
        &mut self,
        protocol: PinProtocol,
        r: &ClientPinRequest,
        permissions: u64,
        rp_id: Option<String>,
        now: Instant,
    ) -> Result<Step, StatusCode> {
        let Some(pin_hash_enc) = &r.pin_hash_enc else {
            return Err(StatusCode::MissingParameter);
        };
        if r.key_agreement.is_none() {
            return Err(StatusCode::MissingParameter);
        }
        self.pin_precheck()?;
        let shared = self.shared_secret(protocol, r.key_agreement.as_ref())?;
        self.check_pin_hash(&shared, pin_hash_enc)?;
        let token = self.issue_token(permissions, rp_id, now);
        let enc = shared.encrypt(&mut self.rng, &token)?;
        respond(&int_map([(2, Some(Value::Bytes(enc)))]))
    }

    /// PIN set, not blocked, not blocked for this power cycle.
    fn pin_precheck(&self) -> Result<(), StatusCode> {
        if self.state.pin_hash.is_none() {
            return Err(StatusCode::PinNotSet);
        }
        if self.state.pin_retries == 0 {
            return Err(StatusCode::PinBlocked);
        }
        if self.mismatches >= MAX_MISMATCHES_PER_BOOT {
            return Err(StatusCode::PinAuthBlocked);
        }
        Ok(())
    }

    /// Decrements the retry counter, compares the PIN hash, and on mismatch regenerates the
    /// key-agreement key (CTAP 2.1 §6.5.5.5 steps 5–8).
    fn check_pin_hash(
        &mut self,
        shared: &SharedSecret,
        pin_hash_enc: &[u8],
    ) -> Result<(), StatusCode> {
        let expected_len = match shared.protocol() {
            PinProtocol::V1 => 16,
            PinProtocol::V2 => 32,
        };
        if pin_hash_enc.len() != expected_len {
            return Err(StatusCode::InvalidParameter);
        }
        let decrypted = shared
            .decrypt(pin_hash_enc)
            .map_err(|_| StatusCode::InvalidParameter)?;
        let stored = self.state.pin_hash.ok_or(StatusCode::PinNotSet)?;
        self.state.pin_retries = self.state.pin_retries.saturating_sub(1);
        self.store.save_state(&self.state)?;
        if bool::from(decrypted.as_slice().ct_eq(stored.as_slice())) {
            self.state.pin_retries = MAX_PIN_RETRIES;
            self.mismatches = 0;
            self.store.save_state(&self.state)?;
            return Ok(());
        }
        self.key_agreement = p256::SecretKey::random(&mut self.rng);
        self.mismatches = self.mismatches.saturating_add(1);
        if self.state.pin_retries == 0 {
            Err(StatusCode::PinBlocked)
        } else if self.mismatches >= MAX_MISMATCHES_PER_BOOT {
            Err(StatusCode::PinAuthBlocked)
        } else {
            Err(StatusCode::PinInvalid)
        }
    }

    /// Decrypts newPinEnc, applies the PIN policy and stores LEFT(SHA-256(PIN), 16).
    fn store_new_pin(
        &mut self,
        shared: &SharedSecret,
        new_pin_enc: &[u8],
    ) -> Result<(), StatusCode> {
        let expected_len = match shared.protocol() {
            PinProtocol::V1 => 64,
            PinProtocol::V2 => 80,
        };
        if new_pin_enc.len() != expected_len {
            return Err(StatusCode::InvalidParameter);
        }
        let padded = shared
            .decrypt(new_pin_enc)
            .map_err(|_| StatusCode::InvalidParameter)?;
        let pin_len = padded.iter().position(|&b| b == 0).unwrap_or(padded.len());
        if pin_len > 63 {
            return Err(StatusCode::PinPolicyViolation);
        }
        let pin = padded
            .get(..pin_len)
            .ok_or(StatusCode::PinPolicyViolation)?;
        let text = std::str::from_utf8(pin).map_err(|_| StatusCode::PinPolicyViolation)?;
        if text.chars().count() < usize::from(self.state.min_pin_length) {
            return Err(StatusCode::PinPolicyViolation);
        }
        let digest = crypto::sha256(pin);
        let mut hash = [0u8; 16];
        hash.copy_from_slice(digest.get(..16).ok_or(StatusCode::OtherError)?);
        self.state.pin_hash = Some(hash);
        self.state.pin_retries = MAX_PIN_RETRIES;
        self.store.save_state(&self.state)?;
        Ok(())
    }

    /// A fresh pinUvAuthToken; any earlier token stops working.
    fn issue_token(&mut self, permissions: u64, rp_id: Option<String>, now: Instant) -> [u8; 32] {
        let mut value = [0u8; 32];
        self.rng.fill_bytes(&mut value);
        self.token = Some(Token {
            value,
            permissions,
            rp_id,
            issued: now,
        });
        value
    }
}

/// permissions must be present, non-zero and only name what we support.
fn check_permissions(permissions: Option<u64>) -> Result<u64, StatusCode> {
    let p = permissions.ok_or(StatusCode::MissingParameter)?;
    if p == 0 {
        return Err(StatusCode::InvalidParameter);
    }
    if p & !permission::SUPPORTED != 0 {
        return Err(StatusCode::UnauthorizedPermission);
    }
    Ok(p)
}
