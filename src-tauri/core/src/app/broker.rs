//! The request broker: a site's makeCredential/getAssertion, arriving at the security key,
//! becomes the window's request dialog; the person's answer goes back to the authenticator.
//!
//! The authenticator's loop must keep sending keepalives while the person decides, so the
//! broker never blocks it: [`BrokerPrompt::poll`] posts the request once and then only looks
//! for an answer; the window answers through [`AppCore::answer_request`].

use std::sync::{Arc, Mutex};

use ctap::{PromptOutcome, PromptReason, PromptRequest};

use super::types::{AccountChoice, PhoneProgress, RequestAnswer, RequestKind, RequestView};
use super::{AppCore, AppError, AppResult, Invalid, Missing};
use crate::authenticator::prompt::{PromptSource, describe};
use crate::profile::Protection;

/// Called with the request to show, or `None` when the dialog must close.
pub type Notify = Box<dyn Fn(Option<&RequestView>) + Send + Sync>;

/// Called with each step of a request the person sent to their phone.
pub type PhoneNotify = Box<dyn Fn(&PhoneProgress) + Send + Sync>;

struct Pending {
    view: RequestView,
    candidates: Vec<Vec<u8>>,
    answer: Option<PromptOutcome>,
}

/// The one pending request (the authenticator handles one at a time) and who to tell.
#[derive(Default)]
pub struct Broker {
    pending: Mutex<Option<Pending>>,
    notify: Mutex<Option<Notify>>,
    phone_notify: Mutex<Option<PhoneNotify>>,
}

impl Broker {
    /// Sets who is told about requests (the window's event emitter).
    pub fn set_notify(&self, notify: Notify) {
        if let Ok(mut slot) = self.notify.lock() {
            *slot = Some(notify);
        }
    }

    /// Sets who is told the steps of forwarded requests (the window's event emitter).
    pub fn set_phone_notify(&self, notify: PhoneNotify) {
        if let Ok(mut slot) = self.phone_notify.lock() {
            *slot = Some(notify);
        }
    }

    pub(super) fn tell_phone(&self, event: &PhoneProgress) {
        if let Ok(slot) = self.phone_notify.lock()
            && let Some(notify) = slot.as_ref()
        {
            notify(event);
        }
    }

    fn tell(&self, view: Option<&RequestView>) {
        if let Ok(slot) = self.notify.lock()
            && let Some(notify) = slot.as_ref()
        {
            notify(view);
        }
    }

    /// The request waiting for the person, if any.
    pub fn current(&self) -> Option<RequestView> {
        self.pending
            .lock()
            .ok()?
            .as_ref()
            .filter(|p| p.answer.is_none())
            .map(|p| p.view.clone())
    }

    fn post(&self, pending: Pending) {
        let view = pending.view.clone();
        if let Ok(mut slot) = self.pending.lock() {
            *slot = Some(pending);
        }
        self.tell(Some(&view));
    }

    fn take_answer(&self) -> Option<PromptOutcome> {
        let mut slot = self.pending.lock().ok()?;
        let answer = slot.as_mut()?.answer.take()?;
        *slot = None;
        Some(answer)
    }

    fn withdraw(&self) {
        let had = self
            .pending
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .is_some();
        if had {
            self.tell(None);
        }
    }
}

/// The security key's prompt source in the app: the request dialog.
pub struct BrokerPrompt {
    core: Arc<AppCore>,
}

impl BrokerPrompt {
    /// Prompts through `core`'s broker.
    pub fn new(core: Arc<AppCore>) -> Self {
        Self { core }
    }

    fn view(&self, request: &PromptRequest) -> (RequestView, Vec<Vec<u8>>) {
        let kind = match request.reason {
            PromptReason::Register | PromptReason::Excluded => RequestKind::Register,
            PromptReason::SignIn => RequestKind::SignIn,
            _ => RequestKind::Confirm,
        };
        let profile = self.core.active_name().unwrap_or_default();
        let locked = self.core.active_vault().is_err();
        let can_verify = !matches!(
            self.core.active_protection(),
            Ok(Protection::Keychain) | Err(_)
        );
        let view = RequestView {
            id: self.core.next_id(),
            kind,
            rp_id: request.rp_id.clone(),
            rp_name: request.rp_name.clone(),
            user_name: request.user_name.clone(),
            display_name: request.user_display_name.clone(),
            accounts: request
                .candidates
                .iter()
                .map(|c| AccountChoice {
                    id: hex::encode(&c.credential_id),
                    user_name: c.user_name.clone(),
                    display_name: c.user_display_name.clone(),
                })
                .collect(),
            profile,
            // Erasing a PIN profile's passkeys takes its PIN, not just a click: anyone at the
            // seat could click, and a program can ask for a reset at any time.
            needs_verification: request.need_uv
                || (can_verify && request.reason == PromptReason::Reset),
            can_verify,
            summary: describe(request),
            expires_at: self.core.unix_time().saturating_add(
                request
                    .deadline
                    .saturating_duration_since(self.core.env().now())
                    .as_secs(),
            ),
            locked,
            can_use_phone: !locked
                && matches!(
                    request.reason,
                    PromptReason::Register | PromptReason::Excluded | PromptReason::SignIn
                ),
        };
        let candidates = request
            .candidates
            .iter()
            .map(|c| c.credential_id.clone())
            .collect();
        (view, candidates)
    }
}

impl PromptSource for BrokerPrompt {
    fn poll(&mut self, request: &PromptRequest, first: bool) -> Option<PromptOutcome> {
        let broker = self.core.broker();
        if first && self.core.active_name().is_err() {
            // No profile at all: there is nothing to answer from, and no one to ask to unlock.
            tracing::info!(target: "passbridge::audit", rp = ?request.rp_id, "request refused: no profile yet");
            return Some(PromptOutcome::Denied);
        }
        if first {
            let (view, candidates) = self.view(request);
            tracing::info!(target: "passbridge::audit", rp = ?view.rp_id, kind = ?view.kind, "request shown");
            broker.post(Pending {
                view,
                candidates,
                answer: None,
            });
            return None;
        }
        broker.take_answer()
    }

    fn resolved(&mut self) {
        // Only now is the passkey stored (or used): the window closes the dialog and reloads.
        self.core.broker().tell(None);
    }

    fn withdrawn(&mut self) {
        self.core.broker().withdraw();
    }
}

impl AppCore {
    /// The request waiting in the dialog, if any (for a window that opens late).
    pub fn current_request(&self) -> Option<RequestView> {
        self.broker.current()
    }

    /// Answers the request dialog. Approving with a PIN verifies the person; a wrong PIN
    /// leaves the request open so they can try again. Declining answers the site with
    /// `CTAP2_ERR_OPERATION_DENIED`.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for a request that is gone; a wrong PIN;
    /// [`AppError::InvalidInput`] for an account that was not offered or a missing PIN.
    pub fn answer_request(&self, answer: RequestAnswer) -> AppResult<()> {
        let (needs_uv, candidates, locked) = {
            let slot = self
                .broker
                .pending
                .lock()
                .map_err(|_| AppError::internal(&"broker poisoned"))?;
            match slot.as_ref() {
                Some(p) if p.view.id == answer.id && p.answer.is_none() => (
                    p.view.needs_verification,
                    p.candidates.clone(),
                    p.view.locked,
                ),
                _ => return Err(AppError::NotFound(Missing::Request)),
            }
        };
        let outcome = if answer.use_phone && !locked {
            // The device hands the client's request, unchanged, to the phone forwarder.
            PromptOutcome::Forward
        } else if locked {
            // A locked profile never answers: the dialog was the unlock prompt, and the site
            // may ask again once the profile is unlocked.
            PromptOutcome::Denied
        } else if answer.approve {
            let chosen = match answer.account.as_deref() {
                Some(id) => {
                    let id = hex::decode(id).ok().filter(|id| candidates.contains(id));
                    Some(id.ok_or(AppError::InvalidInput(Invalid::Account))?)
                }
                None => candidates.first().cloned(),
            };
            let verified = match answer.pin.filter(|pin| !pin.is_empty()) {
                Some(pin) => {
                    self.verify_pin(pin)?;
                    true
                }
                None if needs_uv => return Err(AppError::InvalidInput(Invalid::PinNeeded)),
                None => false,
            };
            PromptOutcome::Approved {
                user_verified: verified,
                chosen_credential: chosen,
            }
        } else {
            PromptOutcome::Denied
        };
        tracing::info!(target: "passbridge::audit", approved = answer.approve, "request answered");
        let mut slot = self
            .broker
            .pending
            .lock()
            .map_err(|_| AppError::internal(&"broker poisoned"))?;
        match slot.as_mut() {
            Some(p) if p.view.id == answer.id => {
                p.answer = Some(outcome);
                Ok(())
            }
            _ => Err(AppError::NotFound(Missing::Request)),
        }
    }
}
