//! The app's security key: the CTAP authenticator on the active profile, reached by browsers
//! through the Linux uhid device or by test clients through loopback UDP, asking the person
//! through the request dialog ([`super::broker`]).
//!
//! The engine is rebuilt whenever the active profile or its lock state changes, so a request
//! only ever reaches the active, unlocked profile; while it is locked, an empty in-memory
//! store answers (nothing about the profile can leak) and the dialog offers to unlock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use ctap::{CredentialStore, MemoryStore, PersistentState, StoreError, StoredCredential};

use super::broker::BrokerPrompt;
use super::phone::progress;
use super::types::{FlowEnd, PhoneStep};
use super::{AppCore, AppError, AppResult, Invalid, SecurityKeyError};
use crate::authenticator::hid_loop::{self, Forwarder, ReportPipe};
use crate::authenticator::prompt::{PolicyGate, PromptSource as _};
use crate::authenticator::udp::UdpPipe;
use crate::phone::forward::{ForwardEvent, ForwardReport, PhoneForwarder};
use crate::profile::{Protection, Vault};
use crate::system::{SharedClock, SharedRng};

/// Environment variable that turns the security key on: `udp://127.0.0.1:PORT` (replies to
/// port 7112 on the same address, as the CLI's UDP authenticator), `udp://LISTEN,REPLY`, or
/// `uhid` (Linux).
pub const SECURITY_KEY_ENV: &str = "PASSBRIDGE_SECURITY_KEY";

/// Where the security key is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Front {
    /// Loopback UDP (the SoloKeys simulation convention), for test clients.
    Udp {
        /// OUT reports arrive here.
        listen: SocketAddr,
        /// IN reports go here.
        reply_to: SocketAddr,
    },
    /// A virtual USB security key through `/dev/uhid`.
    Uhid,
}

impl std::fmt::Display for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Udp { listen, reply_to } => write!(f, "udp://{listen} (replies to {reply_to})"),
            Self::Uhid => f.write_str("USB security key (/dev/uhid)"),
        }
    }
}

/// The forms [`SECURITY_KEY_ENV`] takes.
pub const FRONT_FORMS: &str = "udp://127.0.0.1:PORT[,127.0.0.1:PORT] or uhid";

/// Parses the [`SECURITY_KEY_ENV`] value; UDP serves loopback only.
///
/// # Errors
/// [`Invalid::SecurityKeyEnv`] with the value refused.
pub fn parse_front(text: &str) -> Result<Front, Invalid> {
    let bad = || Invalid::SecurityKeyEnv(text.to_owned());
    if text == "uhid" {
        return Ok(Front::Uhid);
    }
    let rest = text.strip_prefix("udp://").ok_or_else(bad)?;
    let (listen, reply) = match rest.split_once(',') {
        Some((listen, reply)) => (listen, Some(reply)),
        None => (rest, None),
    };
    let listen: SocketAddr = listen.parse().map_err(|_| bad())?;
    let reply_to = match reply {
        Some(reply) => reply.parse().map_err(|_| bad())?,
        None => SocketAddr::new(listen.ip(), 7112),
    };
    if !listen.ip().is_loopback() || !reply_to.ip().is_loopback() {
        return Err(bad());
    }
    Ok(Front::Udp { listen, reply_to })
}

/// The store the engine runs on: the active profile's vault, or nothing while it is locked.
enum ActiveStore {
    Open {
        vault: Arc<Vault>,
        changed: Arc<AtomicBool>,
        core: Arc<AppCore>,
    },
    Locked(MemoryStore),
}

impl ActiveStore {
    /// The vault, unless it locked itself since (idle timer): then the engine is rebuilt.
    fn vault(&self) -> Option<&Vault> {
        match self {
            Self::Open { vault, changed, .. } => {
                if vault.is_locked() {
                    changed.store(true, Ordering::SeqCst);
                    None
                } else {
                    Some(vault)
                }
            }
            Self::Locked(_) => None,
        }
    }
}

fn locked() -> StoreError {
    StoreError::Backend("the profile is locked".into())
}

impl CredentialStore for ActiveStore {
    fn credentials_for_rp(&self, hash: &[u8; 32]) -> Result<Vec<StoredCredential>, StoreError> {
        match (self, self.vault()) {
            (_, Some(vault)) => vault.credentials_for_rp(hash),
            (Self::Locked(memory), None) => memory.credentials_for_rp(hash),
            _ => Err(locked()),
        }
    }

    fn credential(&self, id: &[u8]) -> Result<Option<StoredCredential>, StoreError> {
        match (self, self.vault()) {
            (_, Some(vault)) => vault.credential(id),
            (Self::Locked(memory), None) => memory.credential(id),
            _ => Err(locked()),
        }
    }

    fn credentials(&self) -> Result<Vec<StoredCredential>, StoreError> {
        match (self, self.vault()) {
            (_, Some(vault)) => vault.credentials(),
            (Self::Locked(memory), None) => memory.credentials(),
            _ => Err(locked()),
        }
    }

    fn insert(&mut self, credential: StoredCredential) -> Result<(), StoreError> {
        match self.vault() {
            Some(vault) => { vault }.insert(credential),
            None => Err(locked()),
        }
    }

    fn update(&mut self, credential: StoredCredential) -> Result<bool, StoreError> {
        match self.vault() {
            Some(vault) => { vault }.update(credential),
            None => Err(locked()),
        }
    }

    fn delete(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        match self.vault() {
            Some(vault) => { vault }.delete(id),
            None => Err(locked()),
        }
    }

    fn bump_sign_count(&mut self, id: &[u8]) -> Result<u32, StoreError> {
        match self.vault() {
            Some(vault) => { vault }.bump_sign_count(id),
            None => Err(locked()),
        }
    }

    fn load_state(&self) -> Result<Option<PersistentState>, StoreError> {
        match (self, self.vault()) {
            (_, Some(vault)) => vault.load_state(),
            (Self::Locked(memory), None) => memory.load_state(),
            _ => Err(locked()),
        }
    }

    fn save_state(&mut self, state: &PersistentState) -> Result<(), StoreError> {
        match self {
            Self::Locked(memory) => memory.save_state(state),
            Self::Open { .. } => match self.vault() {
                Some(vault) => { vault }.save_state(state),
                None => Err(locked()),
            },
        }
    }

    /// The profile's PIN failure count, which the request dialog's wrong PINs add to.
    fn uv_retries(&self) -> Option<u8> {
        match self {
            Self::Open { core, .. } => core.pin_attempts_left(),
            Self::Locked(_) => None,
        }
    }

    fn wipe(&mut self) -> Result<(), StoreError> {
        match self.vault() {
            Some(vault) => { vault }.wipe(),
            None => Err(locked()),
        }
    }
}

/// The forwarder behind "Use a phone instead": the window's relay and Bluetooth settings at
/// the time of each request, and every step shown in the window (`phone-progress`).
fn phone_forwarder(core: &Arc<AppCore>) -> std::io::Result<PhoneForwarder> {
    let settings_core = Arc::clone(core);
    let opts = Arc::new(move || settings_core.ceremony_options());
    PhoneForwarder::new(core.env.clone(), opts, forward_report(core))
}

/// How the window hears of forwards: each one becomes a phone flow (cancellable, with its
/// steps shown) from its start to its end.
pub(super) fn forward_report(core: &Arc<AppCore>) -> ForwardReport {
    let core_for_report = Arc::clone(core);
    // The window's flow for each forward still running, by forward ID: a cancelled forward's
    // last events can arrive after the next one started.
    let running: Mutex<HashMap<u64, (u32, std::time::Instant)>> = Mutex::new(HashMap::new());
    Arc::new(move |forward: u64, event: ForwardEvent| {
        let core = &core_for_report;
        let Ok(mut running) = running.lock() else {
            return;
        };
        let now = core.env.now();
        match event {
            ForwardEvent::Started { cancel } => {
                let flow = core.next_id();
                core.flows.add_forward(flow, cancel);
                running.insert(forward, (flow, now));
            }
            ForwardEvent::Step(step) => {
                if let Some(&(flow, started)) = running.get(&forward) {
                    for (step, qr_url, qr_svg) in super::phone::step_events(step) {
                        let mut event = progress(flow, started, now, step, None);
                        event.qr_url = qr_url;
                        event.qr_svg = qr_svg;
                        core.broker().tell_phone(&event);
                    }
                }
            }
            ForwardEvent::Finished { .. } | ForwardEvent::Failed(_) | ForwardEvent::Cancelled => {
                if let ForwardEvent::Finished { request, response } = &event {
                    core.remember_forwarded(request, response);
                }
                if let Some((flow, started)) = running.remove(&forward) {
                    core.flows.remove(flow);
                    let (step, end) = match event {
                        ForwardEvent::Cancelled => (PhoneStep::Cancelled, FlowEnd::SiteToldNo),
                        ForwardEvent::Failed(failure) => {
                            (PhoneStep::Failed, FlowEnd::Failed(Some(failure)))
                        }
                        _ => (PhoneStep::Done, FlowEnd::SiteAnswered),
                    };
                    core.broker()
                        .tell_phone(&progress(flow, started, now, step, Some(end)));
                }
            }
        }
    })
}

/// The engine for the active profile now: its vault, or an empty in-memory store while it is
/// locked. getInfo tells the truth about the profile: user verification is built in when the
/// request dialog can check the profile's PIN.
fn engine_for(
    core: &Arc<AppCore>,
    changed: &Arc<AtomicBool>,
) -> Result<ctap::Authenticator<ActiveStore, SharedClock, SharedRng>, StoreError> {
    let store = match core.active_vault() {
        Ok((_, vault)) => ActiveStore::Open {
            vault,
            changed: Arc::clone(changed),
            core: Arc::clone(core),
        },
        Err(_) => ActiveStore::Locked(MemoryStore::new()),
    };
    let config = ctap::Config {
        built_in_uv: matches!(
            core.active_protection(),
            Ok(Protection::KeychainPin | Protection::PassphraseOnly)
        ),
        ..ctap::Config::default()
    };
    ctap::Authenticator::new(store, core.env.clock.clone(), core.env.rng.clone(), config)
}

/// The one security key the app runs, started and stopped as the settings say.
#[derive(Debug, Default)]
pub struct KeySwitch(Mutex<Option<(Front, SecurityKey)>>);

impl AppCore {
    /// Starts, stops or keeps the security key as wanted now: [`SECURITY_KEY_ENV`] if set (tests
    /// and admins), otherwise the `security_key` setting (the USB key through `/dev/uhid`).
    ///
    /// # Errors
    /// [`AppError::SecurityKey`] when the key cannot be created; it stays off.
    pub fn apply_security_key(self: &Arc<Self>) -> AppResult<()> {
        let wanted = match std::env::var(SECURITY_KEY_ENV) {
            Ok(text) if !text.is_empty() => {
                Some(parse_front(&text).map_err(AppError::InvalidInput)?)
            }
            _ => self.user_settings()?.security_key.then_some(Front::Uhid),
        };
        let mut running = self
            .key_switch
            .0
            .lock()
            .map_err(|_| AppError::internal(&"key switch poisoned"))?;
        if running.as_ref().map(|(front, _)| front) == wanted.as_ref() {
            return Ok(());
        }
        if let Some((_, key)) = running.take() {
            key.stop();
            self.set_security_key(None);
            tracing::info!(target: "passbridge::audit", "security key turned off");
        }
        let Some(front) = wanted else {
            return Ok(());
        };
        let key = SecurityKey::start(Arc::clone(self), &front).map_err(AppError::SecurityKey)?;
        tracing::info!(target: "passbridge::audit", front = %front, "security key on");
        *running = Some((front, key));
        Ok(())
    }

    /// Stops the security key, if it runs (the window is closing).
    pub fn stop_security_key(&self) {
        if let Some((_, key)) = self
            .key_switch
            .0
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
        {
            key.stop();
            self.set_security_key(None);
        }
    }
}

/// A running security key; dropping it does not stop it, [`SecurityKey::stop`] does.
#[derive(Debug)]
pub struct SecurityKey {
    stop: Arc<AtomicBool>,
    changed: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SecurityKey {
    /// Opens `front` and serves the active profile on a thread of its own.
    ///
    /// # Errors
    /// The transport cannot be opened (port taken, no `/dev/uhid` access).
    pub fn start(core: Arc<AppCore>, front: &Front) -> Result<Self, SecurityKeyError> {
        let mut pipe: Box<dyn ReportPipe + Send> = match front {
            Front::Udp { listen, reply_to } => Box::new(UdpPipe::bind(*listen, *reply_to)?),
            #[cfg(target_os = "linux")]
            Front::Uhid => {
                let serial = core.env.rng.clone().bytes::<8>();
                let clock = core.env.clock.clone();
                crate::authenticator::uhid::open_key(&hex::encode(serial), &|| {
                    crate::authenticator::seat::for_uhid(clock.clone())
                })?
            }
            #[cfg(not(target_os = "linux"))]
            Front::Uhid => return Err(SecurityKeyError::NoUhid),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let changed = core.change_flag();
        let policy = core.admin_policy().clone();
        core.set_security_key(Some(front.to_string()));
        let thread = {
            let stop = Arc::clone(&stop);
            let changed = Arc::clone(&changed);
            std::thread::Builder::new()
                .name("security-key".into())
                .spawn(move || {
                    let mut prompt = PolicyGate::new(
                        Box::new(BrokerPrompt::new(Arc::clone(&core))),
                        &policy,
                        core.env.clock.clone(),
                    );
                    // "Use a phone instead" in the request dialog.
                    let mut phone = match phone_forwarder(&core) {
                        Ok(phone) => Some(phone),
                        Err(error) => {
                            tracing::warn!(%error, "no phone forwarding: cannot start its runtime");
                            None
                        }
                    };
                    let mut device: Option<hid_loop::Device<ActiveStore>> = None;
                    while !stop.load(Ordering::SeqCst) {
                        changed.store(false, Ordering::SeqCst);
                        let engine = match engine_for(&core, &changed) {
                            Ok(engine) => engine,
                            Err(error) => {
                                tracing::warn!(%error, "security key: the profile's store failed");
                                std::thread::sleep(std::time::Duration::from_secs(1));
                                continue;
                            }
                        };
                        let device = match device.as_mut() {
                            // A switch keeps the clients' channels: only the engine changes.
                            Some(device) => {
                                let replies = device.replace_authenticator(engine);
                                prompt.withdrawn();
                                if let Err(error) = replies.iter().try_for_each(|r| pipe.send(r)) {
                                    tracing::error!(%error, "security key stopped");
                                    break;
                                }
                                device
                            }
                            None => device
                                .insert(ctap::device::HidDevice::new(engine, core.env.rng.clone())),
                        };
                        let forwarder: Option<&mut dyn Forwarder> = match phone.as_mut() {
                            Some(phone) => Some(phone),
                            None => None,
                        };
                        // Returns when `changed` is set: a profile switch, lock or unlock.
                        if let Err(error) =
                            hid_loop::serve(device, pipe.as_mut(), &mut prompt, forwarder, &changed)
                        {
                            tracing::error!(%error, "security key stopped");
                            break;
                        }
                    }
                })
                .map_err(SecurityKeyError::Thread)?
        };
        Ok(Self {
            stop,
            changed,
            thread: Some(thread),
        })
    }

    /// Stops serving and waits for the thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.changed.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fronts_parse_and_refuse_the_network() {
        assert_eq!(
            parse_front("udp://127.0.0.1:8111").unwrap(),
            Front::Udp {
                listen: "127.0.0.1:8111".parse().unwrap(),
                reply_to: "127.0.0.1:7112".parse().unwrap()
            }
        );
        assert_eq!(
            parse_front("udp://127.0.0.1:9000,127.0.0.1:9001").unwrap(),
            Front::Udp {
                listen: "127.0.0.1:9000".parse().unwrap(),
                reply_to: "127.0.0.1:9001".parse().unwrap()
            }
        );
        assert_eq!(parse_front("uhid").unwrap(), Front::Uhid);
        assert_eq!(
            parse_front("udp://0.0.0.0:8111"),
            Err(Invalid::SecurityKeyEnv("udp://0.0.0.0:8111".to_owned()))
        );
        assert!(parse_front("tcp://x").is_err());
    }
}
