//! The window's phone flow: register or sign in at a site with a passkey on a phone, over the
//! hybrid transport, reporting each step as it happens. The ceremony is the CLI's
//! (`passbridge hybrid …`); what is added here is the step stream, cancel, and the phone
//! passkeys this computer remembers (their public part, so a later sign-in is verified).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ctap::Clock as _;
use hybrid::io::driver::{ClientStep, DriveError};
use hybrid::io::tunnel::TunnelError;
use hybrid::qr::RequestHint;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::types::{
    PasskeyLocation, PasskeyView, PhoneCeremony, PhoneEvent, PhoneOutcome, PhoneRequest, PhoneStep,
};
use super::{AppCore, AppError, AppResult, ErrorCode};
use crate::hybrid_cli::client::{ClientOpts, Start, client_round, explain};
use crate::hybrid_cli::{random_bytes, verify_failure};
use crate::linked;
use crate::profile::Vault;
use crate::system::SystemClock;
use crate::webauthn::{self, ClientData, Registration};

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
}

fn damaged() -> AppError {
    AppError::new(ErrorCode::Damaged, "a phone passkey record is damaged")
}

fn load(vault: &Vault) -> AppResult<Vec<PhonePasskey>> {
    vault
        .items(PHONE_PASSKEY)?
        .into_iter()
        .map(|(_, data)| serde_json::from_slice(&data).map_err(|_| damaged()))
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

/// Verifies a phone's sign-in reply against `known`, the phone passkeys this computer keeps
/// for the site, and marks the one that signed as used (last use, sign count). The outer error
/// is the vault's; the inner one says why the reply did not verify.
fn verify_sign_in(
    vault: &Vault,
    known: Vec<PhonePasskey>,
    rp_id: &str,
    client_data_hash: &[u8; 32],
    response: &[u8],
    now: u64,
) -> AppResult<Result<webauthn::Assertion, webauthn::VerifyError>> {
    let registrations: Vec<Registration> = known.iter().map(|p| p.registration.clone()).collect();
    let assertion =
        match webauthn::verify_assertion(response, rp_id, client_data_hash, &registrations) {
            Ok(assertion) => assertion,
            Err(error) => return Ok(Err(error)),
        };
    if let Some(mut used) = known
        .into_iter()
        .find(|p| p.registration.credential_id == assertion.credential_id)
    {
        used.last_used = Some(now);
        used.registration.sign_count = assertion.sign_count;
        store(vault, &used)?;
    }
    Ok(Ok(assertion))
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
    fn add(&self, id: u32, cancel: Arc<Notify>) -> AppResult<()> {
        let mut flows = self
            .0
            .lock()
            .map_err(|_| AppError::internal(&"flow registry poisoned"))?;
        if !flows.is_empty() {
            return Err(AppError::new(
                ErrorCode::Busy,
                "a phone ceremony is already running: finish or cancel it first",
            ));
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
    started: std::time::Instant,
    emit: &'a mut (dyn FnMut(PhoneEvent) + Send),
}

impl Reporter<'_> {
    fn send(&mut self, step: PhoneStep, message: Option<String>) {
        self.send_full(step, None, None, message);
    }

    fn send_full(
        &mut self,
        step: PhoneStep,
        qr_url: Option<String>,
        qr_svg: Option<String>,
        message: Option<String>,
    ) {
        let elapsed = SystemClock.now().saturating_duration_since(self.started);
        let event = PhoneEvent {
            flow: self.flow,
            step,
            elapsed_ms: u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX),
            qr_url,
            qr_svg,
            message,
        };
        (self.emit)(event);
    }

    fn on_step(&mut self, step: ClientStep) {
        for (step, url, svg) in step_events(step) {
            self.send_full(step, url, svg, None);
        }
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

    fn try_remember_forwarded(&self, request: &[u8], response: &[u8]) -> AppResult<()> {
        let (_, vault) = self.active_vault()?;
        let bad = |what: &str| AppError::new(ErrorCode::InvalidInput, what.to_owned());
        let (&command, body) = request.split_first().ok_or_else(|| bad("empty request"))?;
        let value = ctap::cbor::decode(body).map_err(|_| bad("request is not CBOR"))?;
        let now = self.unix_time();
        match command {
            ctap::types::command::MAKE_CREDENTIAL => {
                let r = ctap::types::MakeCredentialRequest::parse(&value)
                    .map_err(|_| bad("not a makeCredential"))?;
                let hash: [u8; 32] = r
                    .client_data_hash
                    .as_slice()
                    .try_into()
                    .map_err(|_| bad("clientDataHash"))?;
                let registration = webauthn::verify_registration(response, &r.rp.id, &hash)
                    .map_err(|e| bad(&verify_failure(&e)))?;
                store(
                    &vault,
                    &PhonePasskey {
                        registration,
                        user_name: r.user.name.unwrap_or_default(),
                        display_name: r.user.display_name,
                        phone: None,
                        created_at: now,
                        last_used: None,
                    },
                )?;
                tracing::info!(target: "passbridge::audit", rp_id = %r.rp.id, "a site's passkey was created on a phone");
            }
            ctap::types::command::GET_ASSERTION => {
                let r = ctap::types::GetAssertionRequest::parse(&value)
                    .map_err(|_| bad("not a getAssertion"))?;
                let hash: [u8; 32] = r
                    .client_data_hash
                    .as_slice()
                    .try_into()
                    .map_err(|_| bad("clientDataHash"))?;
                let known = known_for(&vault, &r.rp_id)?;
                // A passkey this computer never saw cannot be checked, so it is not recorded.
                let _ = verify_sign_in(&vault, known, &r.rp_id, &hash, response, now)?;
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
    /// [`ErrorCode::PhoneFailed`] with what to do; [`ErrorCode::Cancelled`]; locked profile;
    /// invalid input.
    pub async fn run_phone(
        &self,
        request: PhoneRequest,
        emit: &mut (dyn FnMut(PhoneEvent) + Send),
    ) -> AppResult<PhoneOutcome> {
        let (_, vault) = self.active_vault()?;
        let rp_id = request.rp_id.trim().to_owned();
        if rp_id.is_empty() || rp_id.contains(['/', ' ', ':']) {
            return Err(AppError::new(
                ErrorCode::InvalidInput,
                "site: a domain name such as example.com",
            ));
        }
        let opts = self.client_opts();
        let origin = format!("https://{rp_id}");
        let flow = self.next_id();
        let cancel = Arc::new(Notify::new());
        self.flows.add(flow, Arc::clone(&cancel))?;
        let mut reporter = Reporter {
            flow,
            started: SystemClock.now(),
            emit,
        };
        let result = self
            .phone_ceremony(
                &request,
                &rp_id,
                &origin,
                &vault,
                &opts,
                &cancel,
                &mut reporter,
            )
            .await;
        self.flows.remove(flow);
        match &result {
            Ok(outcome) => reporter.send(
                PhoneStep::Done,
                Some(match outcome.ceremony {
                    PhoneCeremony::Register => format!("Passkey created on the phone for {rp_id}."),
                    PhoneCeremony::SignIn => {
                        format!("Signed in to {rp_id} with the phone; signature verified.")
                    }
                }),
            ),
            Err(error) if error.code == ErrorCode::Cancelled => {
                reporter.send(PhoneStep::Cancelled, Some(error.message.clone()));
            }
            Err(error) => reporter.send(PhoneStep::Failed, Some(error.message.clone())),
        }
        result
    }

    #[allow(clippy::too_many_arguments, reason = "one private step of run_phone")]
    async fn phone_ceremony(
        &self,
        request: &PhoneRequest,
        rp_id: &str,
        origin: &str,
        vault: &Vault,
        opts: &ClientOpts,
        cancel: &Notify,
        reporter: &mut Reporter<'_>,
    ) -> AppResult<PhoneOutcome> {
        let start = match request.phone.as_deref() {
            Some(name) => match linked::find(vault, name)? {
                Some(link) => Start::Linked(Box::new(link)),
                None => {
                    return Err(AppError::new(
                        ErrorCode::NotFound,
                        format!("no phone named '{name}' is linked to this profile"),
                    ));
                }
            },
            None => Start::Qr,
        };
        let (kind, hint, client_data, ctap_request, user_name, known) = match request.ceremony {
            PhoneCeremony::Register => {
                let user = request
                    .user_name
                    .as_deref()
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| {
                        AppError::new(ErrorCode::InvalidInput, "account: enter the account name")
                    })?
                    .to_owned();
                let client_data = ClientData::new("webauthn.create", &random_bytes::<32>(), origin);
                let ctap = webauthn::make_credential_request(
                    &client_data.hash,
                    rp_id,
                    &random_bytes::<16>(),
                    &user,
                )
                .map_err(|e| AppError::internal(&e))?;
                (
                    PhoneCeremony::Register,
                    RequestHint::MakeCredential,
                    client_data,
                    ctap,
                    user,
                    Vec::new(),
                )
            }
            PhoneCeremony::SignIn => {
                let known = known_for(vault, rp_id)?;
                if known.is_empty() {
                    return Err(AppError::new(
                        ErrorCode::NotFound,
                        format!(
                            "this profile knows no phone passkey for {rp_id}: register one \
                             first, so its signature can be verified"
                        ),
                    ));
                }
                let client_data = ClientData::new("webauthn.get", &random_bytes::<32>(), origin);
                let allow: Vec<Vec<u8>> = known
                    .iter()
                    .map(|p| p.registration.credential_id.clone())
                    .collect();
                let ctap = webauthn::get_assertion_request(&client_data.hash, rp_id, &allow)
                    .map_err(|e| AppError::internal(&e))?;
                (
                    PhoneCeremony::SignIn,
                    RequestHint::GetAssertion,
                    client_data,
                    ctap,
                    String::new(),
                    known,
                )
            }
        };
        let cancelled = cancel.notified();
        let mut on_step = |step: ClientStep| reporter.on_step(step);
        let outcome =
            match client_round(opts, start, hint, &ctap_request, &mut on_step, cancelled).await {
                Ok(outcome) => outcome,
                Err(DriveError::Session(hybrid::error::Error::Cancelled)) => {
                    return Err(AppError::new(ErrorCode::Cancelled, "Cancelled."));
                }
                Err(DriveError::Tunnel(TunnelError::Refused(410))) => {
                    if let Some(name) = request.phone.as_deref() {
                        let _ = linked::forget(vault, name);
                    }
                    return Err(AppError::new(
                        ErrorCode::PhoneFailed,
                        "the phone has unlinked itself, so it was removed from this profile; use \
                     the QR code to link it again",
                    ));
                }
                Err(error) => {
                    return Err(AppError::new(ErrorCode::PhoneFailed, explain(&error, opts)));
                }
            };
        let now = self.unix_time();
        let mut linked_phone = None;
        if request.remember_phone {
            for link in &outcome.links {
                linked::remember(vault, link, now)?;
                linked_phone = Some(link.linking.name.clone());
            }
        }
        let phone_name = linked_phone.clone().or_else(|| request.phone.clone());
        match kind {
            PhoneCeremony::Register => {
                let registration =
                    webauthn::verify_registration(&outcome.response, rp_id, &client_data.hash)
                        .map_err(|e| AppError::new(ErrorCode::PhoneFailed, verify_failure(&e)))?;
                let credential_id = hex::encode(&registration.credential_id);
                let verified = registration.attestation_signature_verified;
                store(
                    vault,
                    &PhonePasskey {
                        registration,
                        user_name,
                        display_name: None,
                        phone: phone_name,
                        created_at: now,
                        last_used: None,
                    },
                )?;
                tracing::info!(target: "passbridge::audit", rp_id, "passkey registered on a phone");
                Ok(PhoneOutcome {
                    ceremony: kind,
                    rp_id: rp_id.to_owned(),
                    credential_id,
                    verified,
                    linked_phone,
                })
            }
            PhoneCeremony::SignIn => {
                let assertion = verify_sign_in(
                    vault,
                    known,
                    rp_id,
                    &client_data.hash,
                    &outcome.response,
                    now,
                )?
                .map_err(|e| AppError::new(ErrorCode::PhoneFailed, verify_failure(&e)))?;
                tracing::info!(target: "passbridge::audit", rp_id, "signed in with a phone");
                Ok(PhoneOutcome {
                    ceremony: kind,
                    rp_id: rp_id.to_owned(),
                    credential_id: hex::encode(&assertion.credential_id),
                    verified: true,
                    linked_phone,
                })
            }
        }
    }
}
