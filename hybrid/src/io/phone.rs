//! The virtual phone's authenticator: the `ctap` engine behind [`PhoneAuthenticator`], with a
//! user who always approves (and is verified, as a phone's biometric would), plus the failure
//! behaviours admins and tests need (answer with a chosen CTAP error, or never answer).

use ctap::{Authenticator, Clock, CredentialStore, PromptOutcome, PromptRequest, UserPrompt};

use super::driver::PhoneAuthenticator;

/// How the virtual phone answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Run the request through the authenticator, approving as a verified user.
    #[default]
    Answer,
    /// Answer every request with this CTAP status byte (e.g. 0x27 operation denied).
    Error(u8),
    /// Never answer (the user put the phone down); the client's timeout must fire.
    Stall,
}

/// The phone's user: present, verified, and picks the first account offered.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifiedUser;

impl UserPrompt for VerifiedUser {
    fn can_verify(&self) -> bool {
        true
    }

    fn ask(&mut self, request: &PromptRequest) -> PromptOutcome {
        PromptOutcome::Approved {
            user_verified: true,
            chosen_credential: request
                .candidates
                .first()
                .map(|account| account.credential_id.clone()),
        }
    }
}

/// A phone authenticator over the `ctap` engine.
#[derive(Debug)]
pub struct CtapPhone<S, C, R> {
    authenticator: Authenticator<S, C, R>,
    behaviour: Behaviour,
}

impl<S: CredentialStore, C: Clock, R: ctap::platform::Rng> CtapPhone<S, C, R> {
    /// Wraps an authenticator (build it with `Config { built_in_uv: true, .. }`, as a phone).
    pub fn new(authenticator: Authenticator<S, C, R>, behaviour: Behaviour) -> Self {
        Self {
            authenticator,
            behaviour,
        }
    }

    /// The engine, to read getInfo or inspect the store after a ceremony.
    pub fn authenticator(&mut self) -> &mut Authenticator<S, C, R> {
        &mut self.authenticator
    }

    /// The authenticatorGetInfo response CBOR (no status byte), for the post-handshake
    /// message.
    pub fn get_info(&mut self) -> Vec<u8> {
        let reply = self
            .authenticator
            .handle_with_prompt(&[ctap::types::command::GET_INFO], &mut VerifiedUser);
        match reply.split_first() {
            Some((0, body)) => body.to_vec(),
            _ => Vec::new(),
        }
    }
}

impl<S: CredentialStore, C: Clock, R: ctap::platform::Rng> PhoneAuthenticator
    for CtapPhone<S, C, R>
{
    fn answer(&mut self, request: &[u8]) -> Option<Vec<u8>> {
        match self.behaviour {
            Behaviour::Answer => Some(
                self.authenticator
                    .handle_with_prompt(request, &mut VerifiedUser),
            ),
            Behaviour::Error(status) => Some(vec![status]),
            Behaviour::Stall => None,
        }
    }
}
