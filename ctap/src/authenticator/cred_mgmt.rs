//! authenticatorCredentialManagement (CTAP 2.1 §6.8), also answering the FIDO_2_1_PRE
//! prototype command byte 0x41.

use std::collections::VecDeque;
use std::time::Instant;

use super::{Authenticator, Remaining, STATEFUL_TIMEOUT, Step, permission, respond};
use crate::cbor::{self, Value, int_map};
use crate::crypto::{self, COSE_ES256, PinProtocol};
use crate::error::StatusCode;
use crate::platform::{Clock, CredentialStore, Rng, StoredCredential};
use crate::types::{CredentialDescriptor, CredentialManagementRequest, UserEntity};

/// CredentialManagement subcommands.
pub mod sub_command {
    /// getCredsMetadata.
    pub const GET_CREDS_METADATA: u64 = 0x01;
    /// enumerateRPsBegin.
    pub const ENUMERATE_RPS_BEGIN: u64 = 0x02;
    /// enumerateRPsGetNextRP.
    pub const ENUMERATE_RPS_NEXT: u64 = 0x03;
    /// enumerateCredentialsBegin.
    pub const ENUMERATE_CREDENTIALS_BEGIN: u64 = 0x04;
    /// enumerateCredentialsGetNextCredential.
    pub const ENUMERATE_CREDENTIALS_NEXT: u64 = 0x05;
    /// deleteCredential.
    pub const DELETE_CREDENTIAL: u64 = 0x06;
    /// updateUserInformation.
    pub const UPDATE_USER_INFORMATION: u64 = 0x07;
}

/// A running enumeration (responses prepared, waiting for GetNext*).
#[derive(Debug)]
pub(super) enum Enumeration {
    Rps(Remaining<Value>),
    Credentials(Remaining<Value>),
}

impl<S: CredentialStore, C: Clock, R: Rng> Authenticator<S, C, R> {
    pub(super) fn credential_management(
        &mut self,
        r: CredentialManagementRequest,
        now: Instant,
    ) -> Result<Step, StatusCode> {
        match r.sub_command {
            sub_command::ENUMERATE_RPS_NEXT => return self.enumerate_next(now, true),
            sub_command::ENUMERATE_CREDENTIALS_NEXT => return self.enumerate_next(now, false),
            1 | 2 | 4 | 6 | 7 => {}
            _ => return Err(StatusCode::InvalidSubcommand),
        }
        // Authenticate: pinUvAuthParam over subCommand ‖ subCommandParams with cm permission.
        let param = r
            .pin_uv_auth_param
            .as_ref()
            .ok_or(StatusCode::PuatRequired)?;
        let protocol =
            PinProtocol::from_number(r.pin_uv_auth_protocol.ok_or(StatusCode::MissingParameter)?)?;
        let sub = u8::try_from(r.sub_command).map_err(|_| StatusCode::InvalidSubcommand)?;
        let params = match &r.sub_command_params {
            Some(p) => cbor::encode(p)?,
            None => Vec::new(),
        };
        self.verify_token(
            protocol,
            &[&[sub], &params],
            param,
            // Either bit will do: the prototype command also takes a 2.1-PRE token.
            if r.preview {
                permission::CREDENTIAL_MANAGEMENT | permission::LEGACY_PREVIEW
            } else {
                permission::CREDENTIAL_MANAGEMENT
            },
            None,
            now,
        )?;
        let bound_rp = self.token.as_ref().and_then(|t| t.rp_id.clone());
        match r.sub_command {
            sub_command::GET_CREDS_METADATA => {
                if bound_rp.is_some() {
                    return Err(StatusCode::PinAuthInvalid);
                }
                let count = self.store.credentials()?.len();
                let remaining = self.config.max_discoverable.saturating_sub(count);
                respond(&int_map([
                    (1, Some(Value::Integer(to_u64(count)?.into()))),
                    (2, Some(Value::Integer(to_u64(remaining)?.into()))),
                ]))
            }
            sub_command::ENUMERATE_RPS_BEGIN => {
                if bound_rp.is_some() {
                    return Err(StatusCode::PinAuthInvalid);
                }
                self.enumerate_rps(now)
            }
            sub_command::ENUMERATE_CREDENTIALS_BEGIN => {
                let hash = r.rp_id_hash.as_ref().ok_or(StatusCode::MissingParameter)?;
                let hash: [u8; 32] = hash
                    .as_slice()
                    .try_into()
                    .map_err(|_| StatusCode::InvalidParameter)?;
                if let Some(rp) = &bound_rp
                    && crypto::sha256(rp.as_bytes()) != hash
                {
                    return Err(StatusCode::PinAuthInvalid);
                }
                self.enumerate_credentials(&hash, now)
            }
            sub_command::DELETE_CREDENTIAL => {
                let id = r
                    .credential_id
                    .as_ref()
                    .ok_or(StatusCode::MissingParameter)?;
                let cred = self
                    .store
                    .credential(&id.id)?
                    .ok_or(StatusCode::NoCredentials)?;
                check_rp(bound_rp.as_deref(), &cred)?;
                if !self.store.delete(&id.id)? {
                    return Err(StatusCode::NoCredentials);
                }
                self.keys.remove(&id.id);
                Ok(Step::Done(vec![0]))
            }
            _ => {
                // updateUserInformation
                let (Some(id), Some(user)) = (&r.credential_id, &r.user) else {
                    return Err(StatusCode::MissingParameter);
                };
                let mut cred = self
                    .store
                    .credential(&id.id)?
                    .ok_or(StatusCode::NoCredentials)?;
                check_rp(bound_rp.as_deref(), &cred)?;
                if cred.user_id != user.id {
                    return Err(StatusCode::InvalidParameter);
                }
                cred.user_name.clone_from(&user.name);
                cred.user_display_name.clone_from(&user.display_name);
                if !self.store.update(cred)? {
                    return Err(StatusCode::NoCredentials);
                }
                Ok(Step::Done(vec![0]))
            }
        }
    }

    fn enumerate_rps(&mut self, now: Instant) -> Result<Step, StatusCode> {
        let mut rps: Vec<(String, Option<String>)> = Vec::new();
        for c in self.store.credentials()? {
            if !rps.iter().any(|(id, _)| id == &c.rp_id) {
                rps.push((c.rp_id, c.rp_name));
            }
        }
        rps.sort();
        let total = to_u64(rps.len())?;
        let mut items: VecDeque<Value> = rps
            .into_iter()
            .map(|(id, name)| {
                let mut rp = vec![(Value::Text("id".into()), Value::Text(id.clone()))];
                if let Some(n) = name {
                    rp.push((Value::Text("name".into()), Value::Text(n)));
                }
                int_map([
                    (3, Some(Value::Map(rp))),
                    (
                        4,
                        Some(Value::Bytes(crypto::sha256(id.as_bytes()).to_vec())),
                    ),
                ])
            })
            .collect();
        let first = items.pop_front().ok_or(StatusCode::NoCredentials)?;
        if !items.is_empty() {
            self.cred_mgmt = Some(Enumeration::Rps(Remaining {
                items,
                deadline: now + STATEFUL_TIMEOUT,
            }));
        }
        respond(&with_total(first, total))
    }

    fn enumerate_credentials(&mut self, hash: &[u8; 32], now: Instant) -> Result<Step, StatusCode> {
        let mut creds = self.store.credentials_for_rp(hash)?;
        creds.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.credential_id.cmp(&b.credential_id))
        });
        let total = to_u64(creds.len())?;
        let mut items = VecDeque::with_capacity(creds.len());
        for c in &creds {
            items.push_back(credential_value(c)?);
        }
        let first = items.pop_front().ok_or(StatusCode::NoCredentials)?;
        if !items.is_empty() {
            self.cred_mgmt = Some(Enumeration::Credentials(Remaining {
                items,
                deadline: now + STATEFUL_TIMEOUT,
            }));
        }
        respond(&with_total(first, total))
    }

    fn enumerate_next(&mut self, now: Instant, rps: bool) -> Result<Step, StatusCode> {
        let mut remaining = match (self.cred_mgmt.take(), rps) {
            (Some(Enumeration::Rps(r)), true) | (Some(Enumeration::Credentials(r)), false) => r,
            _ => return Err(StatusCode::NotAllowed),
        };
        if now > remaining.deadline {
            return Err(StatusCode::NotAllowed);
        }
        let item = remaining.items.pop_front().ok_or(StatusCode::NotAllowed)?;
        if !remaining.items.is_empty() {
            remaining.deadline = now + STATEFUL_TIMEOUT;
            self.cred_mgmt = Some(if rps {
                Enumeration::Rps(remaining)
            } else {
                Enumeration::Credentials(remaining)
            });
        }
        respond(&item)
    }
}

fn check_rp(bound_rp: Option<&str>, cred: &StoredCredential) -> Result<(), StatusCode> {
    match bound_rp {
        Some(rp) if rp != cred.rp_id => Err(StatusCode::PinAuthInvalid),
        _ => Ok(()),
    }
}

fn to_u64(n: usize) -> Result<u64, StatusCode> {
    u64::try_from(n).map_err(|_| StatusCode::OtherError)
}

/// Adds totalRPs (0x05) or totalCredentials (0x09) to the first enumeration response.
fn with_total(first: Value, total: u64) -> Value {
    let Value::Map(mut entries) = first else {
        return first;
    };
    let is_rp = entries
        .iter()
        .any(|(k, _)| matches!(k, Value::Integer(i) if i128::from(*i) == 3));
    let key = if is_rp { 5 } else { 9 };
    entries.push((Value::Integer(key.into()), Value::Integer(total.into())));
    Value::Map(entries)
}

fn credential_value(c: &StoredCredential) -> Result<Value, StatusCode> {
    let user = UserEntity {
        id: c.user_id.clone(),
        name: c.user_name.clone(),
        display_name: c.user_display_name.clone(),
    };
    Ok(int_map([
        (6, Some(user.to_value(true))),
        (7, Some(CredentialDescriptor::public_key(&c.credential_id))),
        (8, Some(crypto::cose_p256(&c.public_key, COSE_ES256)?)),
        (0x0A, Some(Value::Integer(c.cred_protect.level().into()))),
    ]))
}
