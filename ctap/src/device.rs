//! A sans-IO USB-HID "device": [`CtapHid`] framing plus an [`Authenticator`]. Reports in,
//! reports out, deadlines to poll, and at most one pending prompt. The UDP and uhid drivers
//! only move bytes and call [`HidDevice::poll`] at [`HidDevice::next_deadline`].
//!
//! ```text
//! loop {
//!     select { report = recv() => out = dev.handle_report(&report, now),
//!              sleep_until(dev.next_deadline()) => out = dev.poll(now),
//!              answer = ui => out = dev.resolve_prompt(answer, now) }
//!     send(out)
//! }
//! ```

use std::time::{Duration, Instant};

use crate::authenticator::{Authenticator, Pending, Step};
use crate::ctaphid::{CtapHid, HidEvent, Report, cmd, keepalive_status};
use crate::error::StatusCode;
use crate::platform::{Clock, CredentialStore, PromptOutcome, PromptRequest, Rng};

/// The SoloKeys-simulation "magic reboot" datagram: a power cycle, no reply.
pub const REBOOT_MAGIC: [u8; 64] = [
    0xac, 0x10, 0x52, 0xca, 0x95, 0xe5, 0x69, 0xde, 0x69, 0xe0, 0x2e, 0xbf, 0xf3, 0x33, 0x48, 0x5f,
    0x13, 0xf9, 0xb2, 0xda, 0x34, 0xc5, 0xa8, 0xa3, 0x40, 0x52, 0x66, 0x97, 0xa9, 0xab, 0x2e, 0x0b,
    0x39, 0x4d, 0x8d, 0x04, 0x97, 0x3c, 0x13, 0x40, 0x05, 0xbe, 0x1a, 0x01, 0x40, 0xbf, 0xf6, 0x04,
    0x5b, 0xb2, 0x6e, 0xb7, 0x7a, 0x73, 0xea, 0xa4, 0x78, 0x13, 0xf6, 0xb4, 0x9a, 0x72, 0x50, 0xdc,
];

/// Keepalive cadence while the user is asked (the spec requires at most 100 ms).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_millis(75);

/// CTAP1 status word SW_INS_NOT_SUPPORTED: our answer to CTAPHID_MSG.
const SW_INS_NOT_SUPPORTED: [u8; 2] = [0x6D, 0x00];

/// How long a forwarded request may wait for its answer (the phone's QR code, the user at the
/// phone) before the client gets `CTAP2_ERR_USER_ACTION_TIMEOUT`.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(180);

/// A makeCredential/getAssertion handed to the driver to answer elsewhere (the user's phone,
/// over the hybrid transport) instead of by the local authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// Identifies this forward; a driver whose forward no longer matches drops its work (the
    /// client cancelled or the deadline passed).
    pub id: u64,
    /// The CTAP command exactly as the client sent it (command byte, then CBOR).
    pub request: Vec<u8>,
    cid: u32,
    deadline: Instant,
}

/// How long probed descriptors wait for the real request they belong to.
const PROBE_MEMORY: Duration = Duration::from_secs(30);
/// Most descriptors remembered from probes (a hostile client cannot grow it without bound).
const MAX_PROBED: usize = 64;

/// Credential descriptors a client probed for, per RP (see `HidDevice::answer_probe`).
#[derive(Debug)]
struct Probed {
    rp_id: String,
    descriptors: Vec<crate::types::CredentialDescriptor>,
    until: Instant,
}

/// Merges `memory`'s descriptors into the request's list when the request is for the same RP:
/// getAssertion key 3 (allowList), makeCredential key 5 (excludeList). `None`: leave it as is.
fn merge_probed(request: &[u8], memory: &Probed) -> Option<Vec<u8>> {
    use crate::cbor::Value;
    let (&command, body) = request.split_first()?;
    let Value::Map(mut entries) = crate::cbor::decode(body).ok()? else {
        return None;
    };
    let is_key = |entry: &(Value, Value), k: i64| entry.0 == Value::Integer(k.into());
    let (rp_key, list_key) = match command {
        crate::types::command::GET_ASSERTION => (1, 3),
        crate::types::command::MAKE_CREDENTIAL => (2, 5),
        _ => return None,
    };
    let rp_id = match crate::cbor::map_get_int(&entries, rp_key)? {
        Value::Text(id) => id.clone(),
        Value::Map(rp) => match crate::cbor::map_get_text(rp, "id") {
            Some(Value::Text(id)) => id.clone(),
            _ => return None,
        },
        _ => return None,
    };
    if rp_id != memory.rp_id {
        return None;
    }
    let mut list = match entries.iter().position(|e| is_key(e, list_key)) {
        Some(i) => match entries.swap_remove(i).1 {
            Value::Array(list) => list,
            _ => return None,
        },
        None => Vec::new(),
    };
    for descriptor in &memory.descriptors {
        let id = Value::Bytes(descriptor.id.clone());
        let present = list.iter().any(|d| match d {
            Value::Map(m) => crate::cbor::map_get_text(m, "id") == Some(&id),
            _ => false,
        });
        if !present {
            list.push(Value::Map(vec![
                (Value::Text("id".into()), id),
                (
                    Value::Text("type".into()),
                    Value::Text(descriptor.kind.clone()),
                ),
            ]));
        }
    }
    entries.push((Value::Integer(list_key.into()), Value::Array(list)));
    let body = crate::cbor::encode(&Value::Map(entries)).ok()?;
    Some([vec![command], body].concat())
}

/// Whether a CTAP message is a makeCredential or getAssertion: what a phone can answer.
fn is_registration_or_sign_in(payload: &[u8]) -> bool {
    matches!(
        payload.first(),
        Some(&crate::types::command::MAKE_CREDENTIAL | &crate::types::command::GET_ASSERTION)
    )
}

/// What the device is doing about the one transaction CTAPHID lets it have at a time.
#[derive(Debug)]
enum Busy {
    /// Nothing waits: requests are answered as they arrive.
    Idle,
    /// The authenticator waits for the user on channel `cid`.
    Prompt {
        cid: u32,
        pending: Pending,
        /// The client's makeCredential/getAssertion behind `pending`, kept so the user can
        /// choose to answer it on a phone instead ([`PromptOutcome::Forward`]).
        request: Option<Vec<u8>>,
        /// When the next "user presence needed" keepalive is due.
        keepalive_at: Instant,
    },
    /// A request waits for the driver's answer from elsewhere (the phone).
    Forward {
        forward: Forward,
        /// When the next "user presence needed" keepalive is due.
        keepalive_at: Instant,
    },
}

/// CtapHid + Authenticator.
#[derive(Debug)]
pub struct HidDevice<S, C, R, H> {
    hid: CtapHid<H>,
    auth: Authenticator<S, C, R>,
    busy: Busy,
    forwarding: bool,
    forwards: u64,
    probed: Option<Probed>,
    /// Whether [`REBOOT_MAGIC`] power-cycles the device (the UDP test transport only).
    simulation_reboot: bool,
    /// Whether every CTAP message is refused (the owner's session is not the active one).
    refusing: bool,
}

impl<S: CredentialStore, C: Clock, R: Rng, H: Rng> HidDevice<S, C, R, H> {
    /// Wraps `auth`; `hid_rng` allocates channel IDs.
    pub fn new(auth: Authenticator<S, C, R>, hid_rng: H) -> Self {
        Self {
            hid: CtapHid::new(hid_rng),
            auth,
            busy: Busy::Idle,
            forwarding: false,
            forwards: 0,
            probed: None,
            simulation_reboot: false,
            refusing: false,
        }
    }

    /// While on, every CTAP message is answered `CTAP2_ERR_NOT_ALLOWED` without reaching the
    /// authenticator, and a request waiting for the user or the phone is ended the same way
    /// (its prompt withdrawn): the app turns it on while its owner's login session is not the
    /// active one on the seat, so a user switched in reaches nothing. Channel set-up (INIT,
    /// PING, WINK) keeps working, as on a key that refuses. Returns the reports to send.
    pub fn set_refusing(&mut self, on: bool, now: Instant) -> Vec<Report> {
        let mut out = Vec::new();
        if on && !self.refusing {
            match &self.busy {
                Busy::Prompt { .. } => out.extend(self.finish(PromptOutcome::Denied, now)),
                Busy::Forward { .. } => out.extend(self.end_forward(StatusCode::NotAllowed)),
                Busy::Idle => {}
            }
        }
        self.refusing = on;
        out
    }

    /// Lets the [`REBOOT_MAGIC`] datagram power-cycle the device, as test suites written for
    /// the SoloKeys simulation expect. Off by default, and only for a test transport: a power
    /// cycle reopens the reset window and forgets the PIN mismatch count (CTAP 2.1 §6.5.5.5),
    /// so on a real transport any program that can write a report could use it.
    pub fn allow_simulation_reboot(&mut self, allow: bool) {
        self.simulation_reboot = allow;
    }

    /// When on, makeCredential and getAssertion are not answered locally but become a
    /// [`Forward`] for the driver ([`HidDevice::forward`], [`HidDevice::resolve_forward`]);
    /// everything else (getInfo, PIN, credential management) stays local.
    pub fn set_forwarding(&mut self, on: bool) {
        self.forwarding = on;
    }

    /// The request waiting for the driver's answer, if any.
    pub fn forward(&self) -> Option<&Forward> {
        match &self.busy {
            Busy::Forward { forward, .. } => Some(forward),
            _ => None,
        }
    }

    /// Answers the forward `id` with `response` (status byte, then CBOR, as the phone sent
    /// it). A stale `id` (cancelled, timed out) is ignored.
    pub fn resolve_forward(&mut self, id: u64, response: &[u8]) -> Vec<Report> {
        match core::mem::replace(&mut self.busy, Busy::Idle) {
            Busy::Forward { forward, .. } if forward.id == id => {
                self.hid.respond(forward.cid, cmd::CBOR, response)
            }
            other => {
                self.busy = other;
                Vec::new()
            }
        }
    }

    /// A forwarding device's own answer to a getAssertion with `up: false`. Clients
    /// (browsers, python-fido2) send such silent probes to a security key to learn which
    /// credentials of a list it holds before the real request. A phone must not see them (it
    /// would show UI for nothing and hang up), and the bridge cannot
    /// know what the phone holds. So every probe is answered NO_CREDENTIALS, which makes the
    /// client probe the whole list, and the probed descriptors are remembered for the RP; the
    /// real request that follows (which then carries no or a dummy list) goes to the phone with
    /// them merged back in, as allowList (getAssertion) or excludeList (makeCredential). The
    /// phone, which knows its credentials, decides.
    fn answer_probe(&mut self, payload: &[u8], now: Instant) -> Option<Vec<u8>> {
        let (&command, body) = payload.split_first()?;
        if command != crate::types::command::GET_ASSERTION {
            return None;
        }
        let request = crate::cbor::decode(body)
            .ok()
            .and_then(|v| crate::types::GetAssertionRequest::parse(&v).ok())?;
        if request.options.up != Some(false) {
            return None;
        }
        let memory = match self.probed.take() {
            Some(m) if m.rp_id == request.rp_id && now < m.until => m,
            _ => Probed {
                rp_id: request.rp_id.clone(),
                descriptors: Vec::new(),
                until: now,
            },
        };
        let mut memory = memory;
        memory.until = now + PROBE_MEMORY;
        for descriptor in request.allow_list.unwrap_or_default() {
            if !memory.descriptors.iter().any(|d| d.id == descriptor.id)
                && memory.descriptors.len() < MAX_PROBED
            {
                memory.descriptors.push(descriptor);
            }
        }
        self.probed = Some(memory);
        Some(vec![u8::from(StatusCode::NoCredentials)])
    }

    /// `request` with the descriptors probed for its RP merged into its credential list.
    fn with_probed(&mut self, request: Vec<u8>, now: Instant) -> Vec<u8> {
        let Some(memory) = self.probed.take().filter(|m| now < m.until) else {
            return request;
        };
        merge_probed(&request, &memory).unwrap_or(request)
    }

    fn forwardable(&self, payload: &[u8]) -> bool {
        self.forwarding && is_registration_or_sign_in(payload)
    }

    /// Swaps in another authenticator (the app's active profile changed) and keeps the
    /// CTAPHID channels, so a client that opened the key goes on talking to it. A request
    /// waiting for the user, or for the phone, belonged to the previous authenticator: it is
    /// answered `CTAP2_ERR_OPERATION_DENIED`, and the reports for that are returned.
    pub fn replace_authenticator(&mut self, auth: Authenticator<S, C, R>) -> Vec<Report> {
        let cid = match core::mem::replace(&mut self.busy, Busy::Idle) {
            Busy::Idle => None,
            Busy::Prompt { cid, .. } => Some(cid),
            Busy::Forward { forward, .. } => Some(forward.cid),
        };
        let out = cid.map_or_else(Vec::new, |cid| {
            self.hid
                .respond(cid, cmd::CBOR, &[u8::from(StatusCode::OperationDenied)])
        });
        self.probed = None;
        let previous = core::mem::replace(&mut self.auth, auth);
        // The device was not unplugged: what CTAP keeps per power cycle (the PIN mismatch
        // count, the reset window) carries over, so swapping the engine is not a free reboot.
        self.auth.continue_power_cycle_of(&previous);
        out
    }

    /// The authenticator.
    pub fn authenticator(&self) -> &Authenticator<S, C, R> {
        &self.auth
    }

    /// The authenticator, mutably.
    pub fn authenticator_mut(&mut self) -> &mut Authenticator<S, C, R> {
        &mut self.auth
    }

    /// The prompt the user should see now, if any.
    pub fn prompt(&self) -> Option<&PromptRequest> {
        match &self.busy {
            Busy::Prompt { pending, .. } => Some(pending.request()),
            _ => None,
        }
    }

    /// Power cycle: forget channels and any pending prompt, drop PIN tokens and reopen the
    /// reset window.
    pub fn power_cycle(&mut self, now: Instant) {
        self.hid.reset();
        self.busy = Busy::Idle;
        self.auth.power_cycle(now);
    }

    /// Processes one OUT report and returns the IN reports to send. Where allowed
    /// ([`HidDevice::allow_simulation_reboot`]), the [`REBOOT_MAGIC`] datagram power-cycles the
    /// device and gets no reply; elsewhere it is an ordinary report.
    pub fn handle_report(&mut self, report: &[u8], now: Instant) -> Vec<Report> {
        if self.simulation_reboot && report == REBOOT_MAGIC {
            self.power_cycle(now);
            return Vec::new();
        }
        let mut out = Vec::new();
        for event in self.hid.handle_report(report, now) {
            match event {
                HidEvent::Send(r) => out.push(r),
                HidEvent::Request(req) if self.refusing => {
                    let refusal = [u8::from(StatusCode::NotAllowed)];
                    let refusal: &[u8] = if req.cmd == cmd::CBOR {
                        &refusal
                    } else {
                        &SW_INS_NOT_SUPPORTED
                    };
                    out.extend(self.hid.respond(req.cid, req.cmd, refusal));
                }
                HidEvent::Request(req)
                    if req.cmd == cmd::CBOR && self.forwardable(&req.payload) =>
                {
                    if let Some(reply) = self.answer_probe(&req.payload, now) {
                        out.extend(self.hid.respond(req.cid, cmd::CBOR, &reply));
                        continue;
                    }
                    self.start_forward(req.cid, req.payload, now + KEEPALIVE_INTERVAL, now);
                    // "User presence needed" while the QR code is up: the client keeps waiting.
                    out.push(self.hid.keepalive(req.cid, keepalive_status::UPNEEDED));
                }
                HidEvent::Request(req) if req.cmd == cmd::CBOR => {
                    let step = self.auth.process(&req.payload, now);
                    let request = is_registration_or_sign_in(&req.payload).then_some(req.payload);
                    self.step(req.cid, step, request, now, &mut out);
                }
                HidEvent::Request(req) => {
                    out.extend(self.hid.respond(req.cid, req.cmd, &SW_INS_NOT_SUPPORTED));
                }
                HidEvent::Cancel { cid } => match &self.busy {
                    Busy::Prompt { cid: busy, .. } if *busy == cid => {
                        out.extend(self.finish(PromptOutcome::Cancelled, now));
                    }
                    Busy::Forward { forward, .. } if forward.cid == cid => {
                        out.extend(self.end_forward(StatusCode::KeepaliveCancel));
                    }
                    _ => {}
                },
            }
        }
        out
    }

    /// Answers the pending prompt.
    pub fn resolve_prompt(&mut self, outcome: PromptOutcome, now: Instant) -> Vec<Report> {
        self.finish(outcome, now)
    }

    /// Whether a keepalive is due.
    pub fn keepalive_due(&self, now: Instant) -> bool {
        self.keepalive().is_some_and(|(_, at)| now >= at)
    }

    /// The channel that waits and when its next keepalive is due.
    fn keepalive(&self) -> Option<(u32, Instant)> {
        match &self.busy {
            Busy::Idle => None,
            Busy::Prompt {
                cid, keepalive_at, ..
            } => Some((*cid, *keepalive_at)),
            Busy::Forward {
                forward,
                keepalive_at,
            } => Some((forward.cid, *keepalive_at)),
        }
    }

    /// When the waiting request gives up: the prompt's or the forward's deadline.
    fn busy_deadline(&self) -> Option<Instant> {
        match &self.busy {
            Busy::Idle => None,
            Busy::Prompt { pending, .. } => Some(pending.deadline()),
            Busy::Forward { forward, .. } => Some(forward.deadline),
        }
    }

    /// The earliest time [`HidDevice::poll`] has work: message timeout, keepalive or prompt
    /// deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.hid.next_deadline(),
            self.keepalive().map(|(_, at)| at),
            self.busy_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Timers: MSG_TIMEOUT errors, keepalives, and the prompt deadline.
    pub fn poll(&mut self, now: Instant) -> Vec<Report> {
        let mut out: Vec<Report> = self
            .hid
            .on_timeout(now)
            .into_iter()
            .filter_map(|e| match e {
                HidEvent::Send(r) => Some(r),
                _ => None,
            })
            .collect();
        let expired = self.busy_deadline().is_some_and(|deadline| now >= deadline);
        match &mut self.busy {
            Busy::Prompt { .. } if expired => {
                out.extend(self.finish(PromptOutcome::TimedOut, now));
            }
            Busy::Forward { .. } if expired => {
                out.extend(self.end_forward(StatusCode::UserActionTimeout));
            }
            Busy::Prompt {
                cid, keepalive_at, ..
            }
            | Busy::Forward {
                forward: Forward { cid, .. },
                keepalive_at,
            } if now >= *keepalive_at => {
                *keepalive_at = now + KEEPALIVE_INTERVAL;
                let cid = *cid;
                out.push(self.hid.keepalive(cid, keepalive_status::UPNEEDED));
            }
            _ => {}
        }
        out
    }

    /// Hands `request` (from channel `cid`) to the driver as a new forward.
    fn start_forward(&mut self, cid: u32, request: Vec<u8>, keepalive_at: Instant, now: Instant) {
        self.forwards += 1;
        let request = self.with_probed(request, now);
        self.busy = Busy::Forward {
            forward: Forward {
                id: self.forwards,
                request,
                cid,
                deadline: now + FORWARD_TIMEOUT,
            },
            keepalive_at,
        };
    }

    /// Ends the forward with an error status for the client.
    fn end_forward(&mut self, status: StatusCode) -> Vec<Report> {
        match core::mem::replace(&mut self.busy, Busy::Idle) {
            Busy::Forward { forward, .. } => {
                self.hid
                    .respond(forward.cid, cmd::CBOR, &[u8::from(status)])
            }
            other => {
                self.busy = other;
                Vec::new()
            }
        }
    }

    fn finish(&mut self, outcome: PromptOutcome, now: Instant) -> Vec<Report> {
        let (cid, pending, request) = match core::mem::replace(&mut self.busy, Busy::Idle) {
            Busy::Prompt {
                cid,
                pending,
                request,
                ..
            } => (cid, pending, request),
            other => {
                self.busy = other;
                return Vec::new();
            }
        };
        if let (PromptOutcome::Forward, Some(request)) = (&outcome, request) {
            // The user picked the phone: the same request, unchanged, becomes a forward; the
            // client keeps getting "user presence needed" keepalives meanwhile.
            self.start_forward(cid, request, now, now);
            return Vec::new();
        }
        let step = self.auth.resume(pending, outcome, now);
        let mut out = Vec::new();
        self.step(cid, step, None, now, &mut out);
        out
    }

    /// Carries out the authenticator's `step` for channel `cid`; `request` is kept with a
    /// prompt so the user may send it to a phone.
    fn step(
        &mut self,
        cid: u32,
        step: Step,
        request: Option<Vec<u8>>,
        now: Instant,
        out: &mut Vec<Report>,
    ) {
        match step {
            Step::Done(response) => out.extend(self.hid.respond(cid, cmd::CBOR, &response)),
            Step::NeedUser(pending) => {
                out.push(self.hid.keepalive(cid, keepalive_status::UPNEEDED));
                self.busy = Busy::Prompt {
                    cid,
                    pending,
                    request,
                    keepalive_at: now + KEEPALIVE_INTERVAL,
                };
            }
        }
    }
}
