//! authenticatorGetAssertion and authenticatorGetNextAssertion (CTAP 2.1 §6.2, §6.3), with the
//! hmac-secret extension (§12.5).

use std::collections::VecDeque;
use std::time::Instant;

use zeroize::Zeroizing;

use super::{
    Authenticator, PendingOp, Remaining, STATEFUL_TIMEOUT, Step, UserConsent, auth_protocol,
    permission, respond,
};
use crate::cbor::{Value, int_map};
use crate::crypto::{self, PinProtocol, hmac_sha256};
use crate::error::StatusCode;
use crate::platform::{
    CandidateAccount, Clock, CredProtect, CredentialStore, PromptReason, Rng, StoredCredential,
};
use crate::types::flags;
use crate::types::{CredentialDescriptor, GetAssertionRequest, HmacSecretInput, UserEntity};

/// Everything decided before the user is asked.
#[derive(Debug)]
pub(super) struct Prepared {
    rp_id_hash: [u8; 32],
    client_data_hash: Vec<u8>,
    credentials: Vec<StoredCredential>,
    from_allow_list: bool,
    token_uv: bool,
    hmac_secret: Option<HmacSecretInput>,
}

/// State kept for authenticatorGetNextAssertion.
#[derive(Debug)]
pub struct NextAssertion {
    remaining: Remaining<StoredCredential>,
    rp_id_hash: [u8; 32],
    client_data_hash: Vec<u8>,
    up: bool,
    uv: bool,
    hmac_secret: Option<HmacSecretInput>,
}

impl<S: CredentialStore, C: Clock, R: Rng> Authenticator<S, C, R> {
    pub(super) fn get_assertion(
        &mut self,
        request: GetAssertionRequest,
        now: Instant,
    ) -> Result<Step, StatusCode> {
        // 1. Zero-length pinUvAuthParam probe.
        if request
            .pin_uv_auth_param
            .as_ref()
            .is_some_and(Vec::is_empty)
        {
            return Ok(self.pin_probe(&request.rp_id, now));
        }
        // 2. pinUvAuthProtocol.
        let protocol = auth_protocol(
            request.pin_uv_auth_param.as_ref(),
            request.pin_uv_auth_protocol,
        )?;
        // 3. Options: rk is not an assertion option; uv needs built-in UV.
        if request.options.rk.is_some() {
            return Err(StatusCode::UnsupportedOption);
        }
        let up = request.options.up.unwrap_or(true);
        let uv_requested = protocol.is_none() && request.options.uv == Some(true);
        if uv_requested && !self.config.built_in_uv {
            return Err(StatusCode::InvalidOption);
        }
        if uv_requested && self.uv_retries() == 0 {
            return Err(StatusCode::UvBlocked);
        }
        // 4. Verify pinUvAuthParam (ga permission, RP binding).
        let mut token_uv = false;
        if let (Some(protocol), Some(param)) = (protocol, &request.pin_uv_auth_param) {
            self.verify_token(
                protocol,
                &[&request.client_data_hash],
                param,
                permission::GET_ASSERTION,
                Some(&request.rp_id),
                now,
            )?;
            token_uv = true;
        }
        // 5. Locate credentials, honouring credProtect at the UV level this request will reach.
        let will_uv = token_uv || uv_requested;
        let rp_id_hash = crypto::sha256(request.rp_id.as_bytes());
        let allow_list = request.allow_list.filter(|l| !l.is_empty());
        let from_allow_list = allow_list.is_some();
        let mut credentials = Vec::new();
        if let Some(list) = &allow_list {
            for d in list.iter().filter(|d| d.kind == "public-key") {
                if let Some(c) = self.lookup(&request.rp_id, &rp_id_hash, &d.id)?
                    && (c.cred_protect != CredProtect::UvRequired || will_uv)
                {
                    credentials.push(c);
                    break;
                }
            }
        } else {
            credentials = self
                .store
                .credentials_for_rp(&rp_id_hash)?
                .into_iter()
                .filter(|c| c.cred_protect == CredProtect::UvOptional || will_uv)
                .collect();
            credentials.sort_by(|a, b| {
                b.created_at
                    .cmp(&a.created_at)
                    .then_with(|| a.credential_id.cmp(&b.credential_id))
            });
        }
        if credentials.is_empty() {
            return Err(StatusCode::NoCredentials);
        }
        let prepared = Prepared {
            rp_id_hash,
            client_data_hash: request.client_data_hash,
            credentials,
            from_allow_list,
            token_uv,
            hmac_secret: request.hmac_secret,
        };
        // 6. Silent assertion (up=false, no UV to collect): no prompt.
        if !up && !uv_requested {
            let consent = UserConsent {
                up: false,
                uv: false,
                chosen: None,
            };
            return self.finish_get_assertion(prepared, &consent, now);
        }
        // 7. Ask the user, offering an account chooser for several discoverable credentials.
        let mut prompt = self.prompt(PromptReason::SignIn, Some(request.rp_id), now);
        prompt.need_uv = uv_requested;
        if !from_allow_list && prepared.credentials.len() > 1 {
            prompt.candidates = prepared
                .credentials
                .iter()
                .map(|c| CandidateAccount {
                    credential_id: c.credential_id.clone(),
                    user_id: c.user_id.clone(),
                    user_name: c.user_name.clone(),
                    user_display_name: c.user_display_name.clone(),
                })
                .collect();
        }
        if let Some(c) = prepared.credentials.first() {
            prompt.rp_name.clone_from(&c.rp_name);
        }
        Ok(self.need_user(PendingOp::GetAssertion(Box::new(prepared)), prompt))
    }

    pub(super) fn finish_get_assertion(
        &mut self,
        prepared: Prepared,
        consent: &UserConsent,
        now: Instant,
    ) -> Result<Step, StatusCode> {
        let Prepared {
            rp_id_hash,
            client_data_hash,
            mut credentials,
            from_allow_list,
            token_uv,
            hmac_secret,
        } = prepared;
        let uv = token_uv || consent.uv;
        // The account chooser picked one: return it alone with userSelected.
        let mut user_selected = false;
        if let Some(chosen) = &consent.chosen
            && let Some(pos) = credentials.iter().position(|c| &c.credential_id == chosen)
        {
            let c = credentials.swap_remove(pos);
            credentials = vec![c];
            user_selected = true;
        }
        let total = credentials.len();
        let mut queue: VecDeque<StoredCredential> = credentials.into();
        let first = queue.pop_front().ok_or(StatusCode::NoCredentials)?;
        let number = (!from_allow_list && total > 1).then_some(total);
        let response = self.assertion(
            &first,
            &rp_id_hash,
            &client_data_hash,
            consent.up,
            uv,
            hmac_secret.as_ref(),
            number,
            user_selected,
        )?;
        if number.is_some() && !queue.is_empty() {
            self.next_assertion = Some(NextAssertion {
                remaining: Remaining {
                    items: queue,
                    deadline: now + STATEFUL_TIMEOUT,
                },
                rp_id_hash,
                client_data_hash,
                up: consent.up,
                uv,
                hmac_secret,
            });
        }
        Ok(response)
    }

    pub(super) fn get_next_assertion(&mut self, now: Instant) -> Result<Step, StatusCode> {
        let mut state = self.next_assertion.take().ok_or(StatusCode::NotAllowed)?;
        if now > state.remaining.deadline {
            return Err(StatusCode::NotAllowed);
        }
        let cred = state
            .remaining
            .items
            .pop_front()
            .ok_or(StatusCode::NotAllowed)?;
        let response = self.assertion(
            &cred,
            &state.rp_id_hash,
            &state.client_data_hash,
            state.up,
            state.uv,
            state.hmac_secret.as_ref(),
            None,
            false,
        )?;
        if !state.remaining.items.is_empty() {
            state.remaining.deadline = now + STATEFUL_TIMEOUT;
            self.next_assertion = Some(state);
        }
        Ok(response)
    }

    /// Builds and signs one assertion response (CTAP 2.1 §6.2.2 steps 11–13).
    #[allow(clippy::too_many_arguments)]
    fn assertion(
        &mut self,
        cred: &StoredCredential,
        rp_id_hash: &[u8; 32],
        client_data_hash: &[u8],
        up: bool,
        uv: bool,
        hmac_secret: Option<&HmacSecretInput>,
        number_of_credentials: Option<usize>,
        user_selected: bool,
    ) -> Result<Step, StatusCode> {
        let hmac_output = match hmac_secret {
            Some(input) => self.hmac_secret(input, cred, uv)?,
            None => None,
        };
        let sign_count = if cred.discoverable {
            self.store.bump_sign_count(&cred.credential_id)?
        } else {
            self.state.global_sign_count = self.state.global_sign_count.wrapping_add(1);
            self.store.save_state(&self.state)?;
            self.state.global_sign_count
        };
        let mut flag_byte = 0u8;
        if up {
            flag_byte |= flags::UP;
        }
        if uv {
            flag_byte |= flags::UV;
        }
        if cred.backup_eligible {
            flag_byte |= flags::BE;
        }
        if cred.backup_state {
            flag_byte |= flags::BS;
        }
        let mut auth_data = Vec::with_capacity(37 + 64);
        auth_data.extend_from_slice(rp_id_hash);
        if let Some(out) = hmac_output {
            flag_byte |= flags::ED;
            auth_data.push(flag_byte);
            auth_data.extend_from_slice(&sign_count.to_be_bytes());
            let ext = Value::Map(vec![(Value::Text("hmac-secret".into()), Value::Bytes(out))]);
            auth_data.extend_from_slice(&crate::cbor::encode(&ext)?);
        } else {
            auth_data.push(flag_byte);
            auth_data.extend_from_slice(&sign_count.to_be_bytes());
        }
        let public = (!cred.public_key.is_empty()).then_some(cred.public_key.as_slice());
        let signature = self.keys.sign(
            &cred.credential_id,
            &cred.private_key,
            public,
            &[&auth_data, client_data_hash],
        )?;
        let user = cred.discoverable.then(|| {
            UserEntity {
                id: cred.user_id.clone(),
                name: cred.user_name.clone(),
                display_name: cred.user_display_name.clone(),
            }
            // User-identifiable information only after UV (CTAP 2.1 §6.2.2).
            .to_value(uv)
        });
        let number = match number_of_credentials {
            Some(n) => Some(Value::Integer(
                u64::try_from(n).map_err(|_| StatusCode::OtherError)?.into(),
            )),
            None => None,
        };
        respond(&int_map([
            (
                1,
                Some(CredentialDescriptor::public_key(&cred.credential_id)),
            ),
            (2, Some(Value::Bytes(auth_data))),
            (3, Some(Value::Bytes(signature))),
            (4, user),
            (5, number),
            (6, user_selected.then_some(Value::Bool(true))),
        ]))
    }

    /// hmac-secret output: HMAC(CredRandom, salt1) [‖ HMAC(CredRandom, salt2)], encrypted
    /// under the shared secret. CredRandom differs with and without UV.
    fn hmac_secret(
        &mut self,
        input: &HmacSecretInput,
        cred: &StoredCredential,
        uv: bool,
    ) -> Result<Option<Vec<u8>>, StatusCode> {
        let Some(cred_random) = &cred.cred_random else {
            return Ok(None);
        };
        let protocol = PinProtocol::from_number(input.pin_uv_auth_protocol)?;
        let peer = crypto::parse_cose_p256(&input.key_agreement)?;
        let shared = protocol.kdf(&crypto::ecdh(&self.key_agreement, &peer));
        if !shared.verify(&[&input.salt_enc], &input.salt_auth) {
            return Err(StatusCode::PinAuthInvalid);
        }
        let salts = shared
            .decrypt(&input.salt_enc)
            .map_err(|_| StatusCode::InvalidLength)?;
        if salts.len() != 32 && salts.len() != 64 {
            return Err(StatusCode::InvalidLength);
        }
        let key = if uv {
            &cred_random.with_uv
        } else {
            &cred_random.without_uv
        };
        let mut output = Zeroizing::new(Vec::with_capacity(64));
        for salt in salts.chunks(32) {
            output.extend_from_slice(&hmac_sha256(key.expose_secret(), &[salt]));
        }
        Ok(Some(shared.encrypt(&mut self.rng, &output)?))
    }
}
