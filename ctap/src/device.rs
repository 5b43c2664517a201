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

/// CtapHid + Authenticator.
#[derive(Debug)]
pub struct HidDevice<S, C, R, H> {
    hid: CtapHid<H>,
    auth: Authenticator<S, C, R>,
    pending: Option<(u32, Pending)>,
    next_keepalive: Option<Instant>,
}

impl<S: CredentialStore, C: Clock, R: Rng, H: Rng> HidDevice<S, C, R, H> {
    /// Wraps `auth`; `hid_rng` allocates channel IDs.
    pub fn new(auth: Authenticator<S, C, R>, hid_rng: H) -> Self {
        Self {
            hid: CtapHid::new(hid_rng),
            auth,
            pending: None,
            next_keepalive: None,
        }
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
        self.pending.as_ref().map(|(_, p)| p.request())
    }

    /// Power cycle: forget channels and any pending prompt, drop PIN tokens and reopen the
    /// reset window.
    pub fn power_cycle(&mut self, now: Instant) {
        self.hid.reset();
        self.pending = None;
        self.next_keepalive = None;
        self.auth.power_cycle(now);
    }

    /// Processes one OUT report and returns the IN reports to send. The
    /// [`REBOOT_MAGIC`] datagram power-cycles the device and gets no reply.
    pub fn handle_report(&mut self, report: &[u8], now: Instant) -> Vec<Report> {
        if report == REBOOT_MAGIC {
            self.power_cycle(now);
            return Vec::new();
        }
        let mut out = Vec::new();
        for event in self.hid.handle_report(report, now) {
            match event {
                HidEvent::Send(r) => out.push(r),
                HidEvent::Request(req) if req.cmd == cmd::CBOR => {
                    let step = self.auth.process(&req.payload, now);
                    self.step(req.cid, step, now, &mut out);
                }
                HidEvent::Request(req) => {
                    out.extend(self.hid.respond(req.cid, req.cmd, &SW_INS_NOT_SUPPORTED));
                }
                HidEvent::Cancel { cid } => {
                    if self.pending.as_ref().is_some_and(|(c, _)| *c == cid) {
                        out.extend(self.finish(PromptOutcome::Cancelled, now));
                    }
                }
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
        self.next_keepalive.is_some_and(|t| now >= t)
    }

    /// The earliest time [`HidDevice::poll`] has work: message timeout, keepalive or prompt
    /// deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.hid.next_deadline(),
            self.next_keepalive,
            self.pending.as_ref().map(|(_, p)| p.deadline()),
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
        if self
            .pending
            .as_ref()
            .is_some_and(|(_, p)| now >= p.deadline())
        {
            out.extend(self.finish(PromptOutcome::TimedOut, now));
        } else if self.keepalive_due(now)
            && let Some((cid, _)) = &self.pending
        {
            out.push(self.hid.keepalive(*cid, keepalive_status::UPNEEDED));
            self.next_keepalive = Some(now + KEEPALIVE_INTERVAL);
        }
        out
    }

    fn finish(&mut self, outcome: PromptOutcome, now: Instant) -> Vec<Report> {
        let Some((cid, pending)) = self.pending.take() else {
            return Vec::new();
        };
        self.next_keepalive = None;
        let step = self.auth.resume(pending, outcome, now);
        let mut out = Vec::new();
        self.step(cid, step, now, &mut out);
        out
    }

    fn step(&mut self, cid: u32, step: Step, now: Instant, out: &mut Vec<Report>) {
        match step {
            Step::Done(response) => out.extend(self.hid.respond(cid, cmd::CBOR, &response)),
            Step::NeedUser(pending) => {
                out.push(self.hid.keepalive(cid, keepalive_status::UPNEEDED));
                self.pending = Some((cid, pending));
                self.next_keepalive = Some(now + KEEPALIVE_INTERVAL);
            }
        }
    }
}
