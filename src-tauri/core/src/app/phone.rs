//! The window's phone flow: register or sign in at a site with a passkey on a phone, over the
//! hybrid transport, reporting each step as it happens. The ceremony is the one the command
//! line runs ([`crate::phone::ceremony`]); what is added here is the step stream, cancel, and
//! the phone passkeys this computer remembers (their public part, so a later sign-in is
//! verified).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hybrid::io::driver::ClientStep;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::types::{
    CounterRegression, FlowEnd, PasskeyLocation, PasskeyView, PhoneCeremony, PhoneOutcome,
    PhoneProgress, PhoneRequest, PhoneStep,
};
use super::{AppCore, AppError, AppResult, Invalid, Missing};
use crate::phone::ceremony::{self, Start};
use crate::phone::{PhoneFailure, linked};
use crate::profile::Vault;
use crate::system::SharedClock;
use crate::webauthn::{self, Registration};

/// Vault item kind for passkeys that live on a phone.
const PHONE_PASSKEY: &str = "phone-passkey";

/// What this computer keeps about a passkey on a phone (no secret: the public key).
#[derive(Serialize, Deserialize)]
struct PhonePasskey {
    registration: Registration,
    user_name: String,
    display_name: Option<String>,
    phone: Option<String>,
    created_at: u64,
    last_used: Option<u64>,
    /// Sign-ins whose counter did not go up, for the audit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    counter_regressions: Vec<CounterRegression>,
}

/// Whether a site's request asked for user verification: the `uv` option, or a
/// pinUvAuthParam (which the phone forwarder strips, asking the phone's own UV instead).
fn wants_uv(options: &ctap::types::Options, pin_uv_auth: bool) -> bool {
    options.uv == Some(true) || pin_uv_auth
}

/// How many counter regressions a phone passkey keeps (the newest).
const MAX_KEPT_REGRESSIONS: usize = 16;

fn load(vault: &Vault) -> AppResult<Vec<PhonePasskey>> {
    vault
        .items(PHONE_PASSKEY)?
        .into_iter()
        .map(|(_, data)| serde_json::from_slice(&data).map_err(|_| AppError::PhonePasskeyDamaged))
        .collect()
}

fn store(vault: &Vault, passkey: &PhonePasskey) -> AppResult<()> {
    let data = serde_json::to_vec(passkey).map_err(|e| AppError::internal(&e))?;
    vault.put_item(PHONE_PASSKEY, &passkey.registration.credential_id, &data)?;
    Ok(())
}

/// The phone passkeys of an open vault, as the list shows them.
///
/// # Errors
/// Locked, damaged records.
pub fn phone_passkeys(vault: &Vault) -> AppResult<Vec<PasskeyView>> {
    Ok(load(vault)?
        .into_iter()
        .map(|p| PasskeyView {
            id: hex::encode(&p.registration.credential_id),
            rp_id: p.registration.rp_id.clone(),
            rp_name: None,
            user_name: Some(p.user_name.clone()),
            display_name: p.display_name.clone(),
            created_at: p.created_at,
            last_used: p.last_used,
            location: PasskeyLocation::Phone,
            phone: p.phone,
        })
        .collect())
}

/// The phone passkeys this computer keeps for `rp_id`.
fn known_for(vault: &Vault, rp_id: &str) -> AppResult<Vec<PhonePasskey>> {
    Ok(load(vault)?
        .into_iter()
        .filter(|p| p.registration.rp_id == rp_id)
        .collect())
}

/// Marks the phone passkey among `known` that made `assertion` as used (last use, sign count).
/// Records a verified sign-in on the passkey it used; returns the counter regression, if the
/// counter did not go up (the stored counter then stays where it was, so a replayed old
/// answer cannot lower it).
fn mark_used(
    vault: &Vault,
    known: Vec<PhonePasskey>,
    assertion: &webauthn::Assertion,
    now: u64,
) -> AppResult<Option<CounterRegression>> {
    let Some(mut used) = known
        .into_iter()
        .find(|p| p.registration.credential_id == assertion.credential_id)
    else {
        return Ok(None);
    };
    used.last_used = Some(now);
    let regression = assertion.counter_went_back().then_some(CounterRegression {
        stored: assertion.previous_sign_count,
        reported: assertion.sign_count,
        at: now,
    });
    match regression {
        Some(regression) => {
            tracing::warn!(target: "passbridge::audit", rp_id = %used.registration.rp_id,
                credential = %hex::encode(&assertion.credential_id),
                stored = regression.stored, reported = regression.reported,
                "a phone passkey's signature counter did not go up: it may have been copied");
            used.counter_regressions.push(regression);
            let excess = used
                .counter_regressions
                .len()
                .saturating_sub(MAX_KEPT_REGRESSIONS);
            used.counter_regressions.drain(..excess);
        }
        None => used.registration.sign_count = assertion.sign_count,
    }
    store(vault, &used)?;
    Ok(regression)
}

/// Renames a phone passkey here. Returns whether it exists.
pub(super) fn rename(vault: &Vault, id: &[u8], display_name: &str) -> AppResult<bool> {
    let Some(mut passkey) = load(vault)?
        .into_iter()
        .find(|p| p.registration.credential_id == id)
    else {
        return Ok(false);
    };
    passkey.display_name = Some(display_name.to_owned());
    store(vault, &passkey)?;
    Ok(true)
}

/// Forgets a phone passkey here (the phone keeps it). Returns whether it existed.
pub(super) fn forget(vault: &Vault, id: &[u8]) -> AppResult<bool> {
    Ok(vault.remove_item(PHONE_PASSKEY, id)?)
}

/// Running phone flows, by ID, so the window can cancel one: its own ceremonies and the
/// site requests it sent to the phone.
#[derive(Default)]
pub struct Flows(Mutex<HashMap<u32, Arc<Notify>>>);

impl Flows {
    pub(super) fn add(&self, id: u32, cancel: Arc<Notify>) -> AppResult<()> {
        let mut flows = self
            .0
            .lock()
            .map_err(|_| AppError::internal(&"flow registry poisoned"))?;
        if !flows.is_empty() {
            return Err(AppError::Busy);
        }
        flows.insert(id, cancel);
        Ok(())
    }

    /// Registers a forwarded request's ceremony (it never waits for another).
    pub(super) fn add_forward(&self, id: u32, cancel: Arc<Notify>) {
        if let Ok(mut flows) = self.0.lock() {
            flows.insert(id, cancel);
        }
    }

    pub(super) fn remove(&self, id: u32) -> Option<Arc<Notify>> {
        self.0.lock().ok()?.remove(&id)
    }
}

/// The window's events for one hybrid step (a handshake also means the request went out).
pub(super) fn step_events(step: ClientStep) -> Vec<(PhoneStep, Option<String>, Option<String>)> {
    match step {
        ClientStep::QrShown(url) => {
            let svg = qr_svg(&url);
            vec![(PhoneStep::QrShown, Some(url), svg)]
        }
        ClientStep::ContactingPhone => vec![(PhoneStep::ContactingPhone, None, None)],
        ClientStep::AdvertMatched => vec![(PhoneStep::PhoneNearby, None, None)],
        ClientStep::TunnelOpen => vec![(PhoneStep::RelayConnected, None, None)],
        // The request goes out right after the handshake; from here the phone's user decides.
        ClientStep::HandshakeDone => vec![
            (PhoneStep::SecureChannel, None, None),
            (PhoneStep::WaitingForApproval, None, None),
        ],
        _ => Vec::new(),
    }
}

/// Reports steps with their time since the start.
struct Reporter<'a> {
    flow: u32,
    clock: SharedClock,
    started: Instant,
    emit: &'a mut (dyn FnMut(PhoneProgress) + Send),
}

impl Reporter<'_> {
    fn end(&mut self, step: PhoneStep, end: FlowEnd) {
        let event = progress(self.flow, self.started, self.clock.now(), step, Some(end));
        (self.emit)(event);
    }

    fn on_step(&mut self, step: ClientStep) {
        let now = self.clock.now();
        for (step, qr_url, qr_svg) in step_events(step) {
            let mut event = progress(self.flow, self.started, now, step, None);
            event.qr_url = qr_url;
            event.qr_svg = qr_svg;
            (self.emit)(event);
        }
    }
}

/// A step of flow `flow`, started at `started`, reached at `now`.
pub(super) fn progress(
    flow: u32,
    started: Instant,
    now: Instant,
    step: PhoneStep,
    end: Option<FlowEnd>,
) -> PhoneProgress {
    let elapsed = now.saturating_duration_since(started);
    PhoneProgress {
        flow,
        step,
        elapsed_ms: u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX),
        qr_url: None,
        qr_svg: None,
        end,
    }
}

/// The QR code as SVG with one unit per module, so the webview scales it crisply at any DPI.
pub fn qr_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .module_dimensions(1, 1)
            .quiet_zone(true)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build(),
    )
}

impl AppCore {
    /// Keeps what a site's request, answered on the phone through the request dialog ("Use a
    /// phone instead"), says about the active profile's phone passkeys: a new registration
    /// joins the list (its public part, verified here against the site's own clientDataHash),
    /// and a verified sign-in marks its passkey used. Anything that does not verify is left out.
    pub(crate) fn remember_forwarded(&self, request: &[u8], response: &[u8]) {
        if let Err(error) = self.try_remember_forwarded(request, response) {
            tracing::warn!(%error, "a passkey used on the phone is not recorded in the list");
        }
    }

    fn try_remember_forwarded(&self, request: &[u8], response: &[u8]) -> Result<(), String> {
        let (_, vault) = self.active_vault().map_err(|e| e.to_string())?;
        let (&command, body) = request.split_first().ok_or("empty request")?;
        let value = ctap::cbor::decode(body).map_err(|_| "the request is not CBOR")?;
        let now = self.unix_time();
        let hash_of = |hash: &[u8]| -> Result<[u8; 32], String> {
            hash.try_into()
                .map_err(|_| "a clientDataHash of the wrong size".to_owned())
        };
        match command {
            ctap::types::command::MAKE_CREDENTIAL => {
                let r = ctap::types::MakeCredentialRequest::parse(&value)
                    .map_err(|_| "not a makeCredential")?;
                let hash = hash_of(&r.client_data_hash)?;
                let registration = webauthn::verify_registration(response, &r.rp.id, &hash)
                    .map_err(|e| e.to_string())?;
                // The site checks the flags itself; this list only keeps what it asked for.
                if wants_uv(&r.options, r.pin_uv_auth_param.is_some()) {
                    webauthn::require_user_verified(registration.flags)
                        .map_err(|e| e.to_string())?;
                }
                store(
                    &vault,
                    &PhonePasskey {
                        registration,
                        user_name: r.user.name.unwrap_or_default(),
                        display_name: r.user.display_name,
                        phone: None,
                        created_at: now,
                        last_used: None,
                        counter_regressions: Vec::new(),
                    },
                )
                .map_err(|e| e.to_string())?;
                tracing::info!(target: "passbridge::audit", rp_id = %r.rp.id, "a site's passkey was created on a phone");
            }
            ctap::types::command::GET_ASSERTION => {
                let r = ctap::types::GetAssertionRequest::parse(&value)
                    .map_err(|_| "not a getAssertion")?;
                let hash = hash_of(&r.client_data_hash)?;
                let known = known_for(&vault, &r.rp_id).map_err(|e| e.to_string())?;
                let registrations: Vec<Registration> =
                    known.iter().map(|p| p.registration.clone()).collect();
                // A passkey this computer never saw cannot be checked, so it is not recorded.
                if let Ok(assertion) =
                    webauthn::verify_assertion(response, &r.rp_id, &hash, &registrations)
                {
                    mark_used(&vault, known, &assertion, now).map_err(|e| e.to_string())?;
                    if wants_uv(&r.options, r.pin_uv_auth_param.is_some())
                        && webauthn::require_user_verified(assertion.flags).is_err()
                    {
                        tracing::warn!(target: "passbridge::audit", rp_id = %r.rp_id,
                            "the site asked the phone to verify the person; its answer says it did not");
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Cancels a running phone flow. Returns whether it was running.
    pub fn cancel_phone(&self, flow: u32) -> bool {
        self.flows.remove(flow).is_some_and(|cancel| {
            // notify_one keeps a permit: a cancel before the ceremony waits still counts.
            cancel.notify_one();
            true
        })
    }

    /// Runs a phone ceremony for the active profile, calling `emit` at every step. The flow's
    /// ID comes with the first event; [`AppCore::cancel_phone`] stops it at any step.
    ///
    /// # Errors
    /// [`AppError::Phone`] (cancelled included); a locked profile; invalid input.
    pub async fn run_phone(
        &self,
        request: PhoneRequest,
        emit: &mut (dyn FnMut(PhoneProgress) + Send),
    ) -> AppResult<PhoneOutcome> {
        let (_, vault) = self.active_vault()?;
        let rp_id = request.rp_id.trim().to_owned();
        if rp_id.is_empty() || rp_id.contains(['/', ' ', ':']) {
            return Err(AppError::InvalidInput(Invalid::Site));
        }
        let flow = self.next_id();
        let cancel = Arc::new(Notify::new());
        self.flows.add(flow, Arc::clone(&cancel))?;
        let clock = Arc::clone(&self.env.clock);
        let mut reporter = Reporter {
            flow,
            started: clock.now(),
            clock,
            emit,
        };
        let result = self
            .phone_ceremony(&request, &rp_id, &vault, &cancel, &mut reporter)
            .await;
        self.flows.remove(flow);
        match &result {
            Ok(outcome) => {
                let rp_id = rp_id.clone();
                let end = match outcome.ceremony {
                    PhoneCeremony::Register => FlowEnd::Registered { rp_id },
                    PhoneCeremony::SignIn => FlowEnd::SignedIn {
                        rp_id,
                        counter_regression: outcome.counter_regression,
                    },
                };
                reporter.end(PhoneStep::Done, end);
            }
            Err(AppError::Phone(PhoneFailure::Cancelled)) => {
                reporter.end(PhoneStep::Cancelled, FlowEnd::Cancelled);
            }
            Err(AppError::Phone(failure)) => {
                reporter.end(PhoneStep::Failed, FlowEnd::Failed(Some(failure.clone())));
            }
            Err(_) => reporter.end(PhoneStep::Failed, FlowEnd::Failed(None)),
        }
        result
    }

    async fn phone_ceremony(
        &self,
        request: &PhoneRequest,
        rp_id: &str,
        vault: &Vault,
        cancel: &Notify,
        reporter: &mut Reporter<'_>,
    ) -> AppResult<PhoneOutcome> {
        let start = match request.phone.as_deref() {
            Some(name) => Start::linked(vault, name)?
                .ok_or_else(|| AppError::NotFound(Missing::Phone(name.to_owned())))?,
            None => Start::Qr,
        };
        let opts = self.ceremony_options();
        let cancelled = cancel.notified();
        let mut on_step = |step: ClientStep| reporter.on_step(step);
        let now = self.unix_time();
        let failed = |failure| AppError::from(ceremony::forget_if_unlinked(Some(vault), failure));
        match request.ceremony {
            PhoneCeremony::Register => {
                let user = request
                    .user_name
                    .as_deref()
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .ok_or(AppError::InvalidInput(Invalid::AccountName))?
                    .to_owned();
                let verified = ceremony::register(
                    &opts,
                    &self.env,
                    start,
                    rp_id,
                    &user,
                    &mut on_step,
                    cancelled,
                )
                .await
                .map_err(failed)?;
                let linked_phone = self.remember_links(request, vault, &verified.links, now)?;
                let registration = verified.result;
                let credential_id = hex::encode(&registration.credential_id);
                let verified_attestation = registration.attestation_signature_verified;
                store(
                    vault,
                    &PhonePasskey {
                        registration,
                        user_name: user,
                        display_name: None,
                        phone: linked_phone.clone().or_else(|| request.phone.clone()),
                        created_at: now,
                        last_used: None,
                        counter_regressions: Vec::new(),
                    },
                )?;
                tracing::info!(target: "passbridge::audit", rp_id, "passkey registered on a phone");
                Ok(PhoneOutcome {
                    ceremony: PhoneCeremony::Register,
                    rp_id: rp_id.to_owned(),
                    credential_id,
                    verified: verified_attestation,
                    linked_phone,
                    counter_regression: None,
                })
            }
            PhoneCeremony::SignIn => {
                let known = known_for(vault, rp_id)?;
                if known.is_empty() {
                    return Err(AppError::NotFound(Missing::PhonePasskeyFor(
                        rp_id.to_owned(),
                    )));
                }
                let registrations: Vec<Registration> =
                    known.iter().map(|p| p.registration.clone()).collect();
                let verified = ceremony::sign_in(
                    &opts,
                    &self.env,
                    start,
                    rp_id,
                    &registrations,
                    &mut on_step,
                    cancelled,
                )
                .await
                .map_err(failed)?;
                let linked_phone = self.remember_links(request, vault, &verified.links, now)?;
                let counter_regression = mark_used(vault, known, &verified.result, now)?;
                tracing::info!(target: "passbridge::audit", rp_id, "signed in with a phone");
                Ok(PhoneOutcome {
                    ceremony: PhoneCeremony::SignIn,
                    rp_id: rp_id.to_owned(),
                    credential_id: hex::encode(&verified.result.credential_id),
                    verified: true,
                    linked_phone,
                    counter_regression,
                })
            }
        }
    }

    /// Stores the links a ceremony produced when the person asked to remember the phone;
    /// returns the name of the phone remembered.
    fn remember_links(
        &self,
        request: &PhoneRequest,
        vault: &Vault,
        links: &[hybrid::session::StoredLink],
        now: u64,
    ) -> AppResult<Option<String>> {
        let mut remembered = None;
        if request.remember_phone {
            for link in links {
                linked::remember(vault, link, now)?;
                remembered = Some(link.linking.name.clone());
            }
        }
        Ok(remembered)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::profile::keychain::MemoryKeychain;
    use crate::profile::{NewProtection, ProfileManager};
    use crate::testing;
    use crate::webauthn::AttestationFacts;

    fn passkey(sign_count: u32) -> PhonePasskey {
        PhonePasskey {
            registration: Registration {
                rp_id: "example.net".into(),
                credential_id: vec![5; 16],
                public_key: vec![4; 65],
                authenticator_data: Vec::new(),
                attestation_format: "none".into(),
                attestation_signature_verified: false,
                attestation: AttestationFacts::default(),
                flags: 0x45,
                sign_count,
            },
            user_name: "ana".into(),
            display_name: None,
            phone: None,
            created_at: 1,
            last_used: None,
            counter_regressions: Vec::new(),
        }
    }

    fn assertion(previous: u32, now: u32) -> webauthn::Assertion {
        webauthn::Assertion {
            credential_id: vec![5; 16],
            authenticator_data: Vec::new(),
            signature: Vec::new(),
            user_handle: Vec::new(),
            flags: 0x05,
            sign_count: now,
            previous_sign_count: previous,
        }
    }

    /// A replayed or cloned passkey's counter does not go up: the sign-in says so, the
    /// passkey keeps the event, and the stored counter does not drop to the replayed one.
    #[test]
    fn a_counter_that_does_not_go_up_is_reported_kept_and_never_lowers_the_stored_one() {
        let dir = tempfile::tempdir().unwrap();
        let manager = ProfileManager::new(
            dir.path(),
            testing::cheap_policy(),
            Arc::new(MemoryKeychain::new()),
        );
        manager.create("Ana", NewProtection::Keychain).unwrap();
        let vault = manager.open("Ana", None).unwrap();
        store(&vault, &passkey(7)).unwrap();

        assert_eq!(
            mark_used(&vault, load(&vault).unwrap(), &assertion(7, 8), 100).unwrap(),
            None
        );
        assert_eq!(load(&vault).unwrap()[0].registration.sign_count, 8);
        let regression = mark_used(&vault, load(&vault).unwrap(), &assertion(8, 3), 200)
            .unwrap()
            .expect("a counter going back is reported");
        assert_eq!(
            regression,
            CounterRegression {
                stored: 8,
                reported: 3,
                at: 200
            }
        );
        let kept = &load(&vault).unwrap()[0];
        assert_eq!(kept.registration.sign_count, 8, "lowered by a replay");
        assert_eq!(kept.counter_regressions, vec![regression]);
        // Both counters zero: an authenticator without a counter, not a regression.
        assert!(!assertion(0, 0).counter_went_back());
        assert!(assertion(8, 8).counter_went_back());
    }
}
