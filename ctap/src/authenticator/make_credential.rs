//! authenticatorMakeCredential (CTAP 2.1 §6.1.2).

use std::time::Instant;

use super::{
    AAGUID, Attestation, Authenticator, PendingOp, Step, UserConsent, auth_protocol, permission,
    respond,
};
use crate::cbor::{self, Value, int_map};
use crate::crypto::{self, COSE_ES256, WrappedCredential};
use crate::error::StatusCode;
use crate::platform::{
    Clock, CredProtect, CredRandom, CredentialStore, PromptReason, Rng, SecretKey, StoredCredential,
};
use crate::types::{MakeCredentialRequest, flags};

/// Everything decided before the user is asked.
#[derive(Debug)]
pub(super) struct Prepared {
    request: MakeCredentialRequest,
    rp_id_hash: [u8; 32],
    /// UV already established through a pinUvAuthToken.
    token_uv: bool,
    cred_protect: Option<CredProtect>,
}

impl<S: CredentialStore, C: Clock, R: Rng> Authenticator<S, C, R> {
    pub(super) fn make_credential(
        &mut self,
        request: MakeCredentialRequest,
        now: Instant,
    ) -> Result<Step, StatusCode> {
        // 1. Zero-length pinUvAuthParam: the platform probes for a touch.
        if request
            .pin_uv_auth_param
            .as_ref()
            .is_some_and(Vec::is_empty)
        {
            return Ok(self.pin_probe(&request.rp.id, now));
        }
        // 2. pinUvAuthProtocol must accompany pinUvAuthParam and be supported.
        let protocol = auth_protocol(
            request.pin_uv_auth_param.as_ref(),
            request.pin_uv_auth_protocol,
        )?;
        // 3. Algorithm: ES256 only; other credential types are skipped.
        if !request
            .pub_key_cred_params
            .iter()
            .any(|(kind, alg)| kind == "public-key" && *alg == COSE_ES256)
        {
            return Err(StatusCode::UnsupportedAlgorithm);
        }
        // 4. Options. up=false is invalid for makeCredential.
        if request.options.up == Some(false) {
            return Err(StatusCode::InvalidOption);
        }
        // A present pinUvAuthParam makes the uv option moot.
        let mut uv_requested = protocol.is_none() && request.options.uv == Some(true);
        if uv_requested && !self.config.built_in_uv {
            return Err(StatusCode::InvalidOption);
        }
        let rk = request.options.rk.unwrap_or(false);
        // 5. Enterprise attestation is not supported.
        if request.enterprise_attestation.is_some() {
            return Err(StatusCode::InvalidParameter);
        }
        // 6. makeCredUvNotRqd: a protected authenticator creates discoverable credentials only
        //    with UV.
        let protected = self.state.pin_hash.is_some() || self.config.built_in_uv;
        if protected && protocol.is_none() && !uv_requested && rk {
            if self.config.built_in_uv {
                uv_requested = true;
            } else {
                return Err(StatusCode::PuatRequired);
            }
        }
        if uv_requested && self.uv_retries() == 0 {
            return Err(StatusCode::UvBlocked);
        }
        // 7. Verify pinUvAuthParam (mc permission, RP binding).
        let mut token_uv = false;
        if let (Some(protocol), Some(param)) = (protocol, &request.pin_uv_auth_param) {
            self.verify_token(
                protocol,
                &[&request.client_data_hash],
                param,
                permission::MAKE_CREDENTIAL,
                Some(&request.rp.id),
                now,
            )?;
            token_uv = true;
        }
        let rp_id_hash = crypto::sha256(request.rp.id.as_bytes());
        // 8. excludeList: a match (visible at this UV level) ends in CREDENTIAL_EXCLUDED after
        //    a touch.
        for descriptor in &request.exclude_list {
            if descriptor.kind != "public-key" {
                continue;
            }
            if let Some(existing) = self.lookup(&request.rp.id, &rp_id_hash, &descriptor.id)? {
                let visible =
                    existing.cred_protect != CredProtect::UvRequired || token_uv || uv_requested;
                if visible {
                    let prompt =
                        self.prompt(PromptReason::Excluded, Some(request.rp.id.clone()), now);
                    return Ok(self.need_user(PendingOp::Excluded, prompt));
                }
            }
        }
        // 9. Extensions: credProtect (invalid levels are ignored), hmac-secret.
        let cred_protect = request.cred_protect.and_then(CredProtect::from_level);
        if rk {
            let existing = self.store.credentials()?;
            let replaces = existing
                .iter()
                .any(|c| c.rp_id == request.rp.id && c.user_id == request.user.id);
            if !replaces && existing.len() >= self.config.max_discoverable {
                return Err(StatusCode::KeyStoreFull);
            }
        }
        // 10. Ask for consent (user presence, plus UV when requested).
        let mut prompt = self.prompt(PromptReason::Register, Some(request.rp.id.clone()), now);
        prompt.rp_name = request.rp.name.clone();
        prompt.user_name = request.user.name.clone();
        prompt.user_display_name = request.user.display_name.clone();
        prompt.need_uv = uv_requested;
        let prepared = Prepared {
            request,
            rp_id_hash,
            token_uv,
            cred_protect,
        };
        Ok(self.need_user(PendingOp::MakeCredential(Box::new(prepared)), prompt))
    }

    pub(super) fn finish_make_credential(
        &mut self,
        prepared: Prepared,
        consent: &UserConsent,
    ) -> Result<Step, StatusCode> {
        let Prepared {
            request,
            rp_id_hash,
            token_uv,
            cred_protect,
        } = prepared;
        let uv = token_uv || consent.uv;
        let rk = request.options.rk.unwrap_or(false);
        // 11. Generate the key pair.
        let (private_key, public_key) = crypto::generate_p256(&mut self.rng);
        let level = cred_protect.unwrap_or_default();
        let sign_count;
        let credential_id;
        if rk {
            let mut id = vec![0u8; 16];
            self.rng.fill_bytes(&mut id);
            let cred_random = request.hmac_secret.then(|| {
                let mut a = [0u8; 32];
                let mut b = [0u8; 32];
                self.rng.fill_bytes(&mut a);
                self.rng.fill_bytes(&mut b);
                CredRandom {
                    with_uv: SecretKey::new(a),
                    without_uv: SecretKey::new(b),
                }
            });
            sign_count = 0;
            credential_id = id.clone();
            self.store.insert(StoredCredential {
                credential_id: id,
                rp_id: request.rp.id.clone(),
                rp_name: request.rp.name.clone(),
                user_id: request.user.id.clone(),
                user_name: request.user.name.clone(),
                user_display_name: request.user.display_name.clone(),
                private_key: private_key.clone(),
                public_key: public_key.clone(),
                sign_count,
                cred_protect: level,
                cred_random,
                discoverable: true,
                created_at: self.clock.unix_time(),
                transports: vec!["usb".into()],
                backup_eligible: false,
                backup_state: false,
            })?;
        } else {
            credential_id = crypto::wrap_credential(
                &self.state.wrapping_key,
                &rp_id_hash,
                &WrappedCredential {
                    private_key: private_key.clone(),
                    cred_protect: level,
                    hmac_secret: request.hmac_secret,
                },
                &mut self.rng,
            )?;
            self.state.global_sign_count = self.state.global_sign_count.wrapping_add(1);
            self.store.save_state(&self.state)?;
            sign_count = self.state.global_sign_count;
        }
        // 12. Extension outputs.
        let mut ext = Vec::new();
        if let Some(level) = cred_protect {
            ext.push((
                Value::Text("credProtect".into()),
                Value::Integer(level.level().into()),
            ));
        }
        if request.hmac_secret {
            ext.push((Value::Text("hmac-secret".into()), Value::Bool(true)));
        }
        // 13. authenticatorData with attested credential data.
        let mut flag_byte = flags::AT;
        if consent.up {
            flag_byte |= flags::UP;
        }
        if uv {
            flag_byte |= flags::UV;
        }
        if !ext.is_empty() {
            flag_byte |= flags::ED;
        }
        let cose = cbor::encode(&crypto::cose_p256(&public_key, COSE_ES256)?)?;
        let id_len = u16::try_from(credential_id.len()).map_err(|_| StatusCode::OtherError)?;
        let mut auth_data = Vec::with_capacity(37 + 18 + credential_id.len() + cose.len());
        auth_data.extend_from_slice(&rp_id_hash);
        auth_data.push(flag_byte);
        auth_data.extend_from_slice(&sign_count.to_be_bytes());
        auth_data.extend_from_slice(&AAGUID);
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&credential_id);
        auth_data.extend_from_slice(&cose);
        if !ext.is_empty() {
            auth_data.extend_from_slice(&cbor::encode(&Value::Map(ext))?);
        }
        // 14. Attestation statement.
        let (fmt, att_stmt) = match self.config.attestation {
            Attestation::None => ("none", Value::Map(Vec::new())),
            Attestation::PackedSelf => {
                let sig = self.keys.sign(
                    &credential_id,
                    &private_key,
                    Some(&public_key),
                    &[&auth_data, &request.client_data_hash],
                )?;
                (
                    "packed",
                    Value::Map(vec![
                        (Value::Text("alg".into()), Value::Integer(COSE_ES256.into())),
                        (Value::Text("sig".into()), Value::Bytes(sig)),
                    ]),
                )
            }
        };
        respond(&int_map([
            (1, Some(Value::Text(fmt.into()))),
            (2, Some(Value::Bytes(auth_data))),
            (3, Some(att_stmt)),
        ]))
    }
}
