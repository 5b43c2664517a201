//! Sans-IO session state machines: events in, actions out, deadlines exposed (the sans-IO
//! shape of rustls and snow).
//!
//! A driver is a loop: wait for the next event (scanner, tunnel, caller, or the
//! [`next_deadline`](client::ClientSession::next_deadline) timer), call `handle(now, input)`,
//! then drain `poll_action()` and perform each action. When `handle` returns `Err`, the
//! session is dead (the error is sticky): close the tunnel, stop scanning/advertising, report.

pub mod client;
pub mod phone;

use std::time::{Duration, Instant};

pub use client::{ClientAction, ClientConfig, ClientInput, ClientSession, StoredLink};
pub use phone::{PhoneAction, PhoneConfig, PhoneInput, PhoneLinking, PhoneSession};

use crate::error::Phase;

/// Per-phase time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Client: from start until a matching advert (the QR stays valid this long).
    pub advert: Duration,
    /// From `Connect` until `TunnelUp`.
    pub tunnel: Duration,
    /// Waiting for the peer's handshake message.
    pub handshake: Duration,
    /// Client: waiting for the phone's post-handshake message.
    pub post_handshake: Duration,
    /// Client: waiting for the CTAP reply; covers user interaction on the phone, so long.
    pub response: Duration,
    /// Phone: waiting for the client's request after the handshake.
    pub request: Duration,
    /// After shutdown/reply: waiting for the peer to close before closing ourselves.
    pub shutdown: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            advert: Duration::from_secs(180),
            tunnel: Duration::from_secs(30),
            handshake: Duration::from_secs(30),
            post_handshake: Duration::from_secs(30),
            response: Duration::from_secs(300),
            request: Duration::from_secs(60),
            shutdown: Duration::from_secs(10),
        }
    }
}

impl Timeouts {
    pub(crate) fn for_phase(&self, phase: Phase) -> Duration {
        match phase {
            Phase::Advert => self.advert,
            Phase::Tunnel => self.tunnel,
            Phase::Handshake => self.handshake,
            Phase::PostHandshake => self.post_handshake,
            Phase::Response => self.response,
            Phase::Request => self.request,
            Phase::Shutdown => self.shutdown,
        }
    }

    pub(crate) fn deadline(&self, now: Instant, phase: Phase) -> Deadline {
        Deadline {
            phase,
            at: now.checked_add(self.for_phase(phase)),
        }
    }
}

/// A phase and when it expires (`None` = never, on `Instant` overflow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline {
    pub(crate) phase: Phase,
    pub(crate) at: Option<Instant>,
}

impl Deadline {
    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.at.is_some_and(|at| now >= at)
    }
}
