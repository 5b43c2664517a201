//! Who answers the authenticator's "touch / verify" requests: the seam ([`PromptSource`],
//! which each face implements — the terminal's y/N, the window's request dialog), the test
//! source, and the policy gate every face puts in front of its own.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ctap::{PromptOutcome, PromptReason, PromptRequest};

use crate::system::SharedClock;

/// Answers prompts without blocking the transport loop (keepalives must keep flowing).
pub trait PromptSource {
    /// Called repeatedly while `request` is pending; `first` is true on the first call for a
    /// new request. Returns the answer once there is one.
    fn poll(&mut self, request: &PromptRequest, first: bool) -> Option<PromptOutcome>;

    /// The request being polled went away unanswered (the client cancelled, or it timed out):
    /// a dialog showing it must close.
    fn withdrawn(&mut self) {}

    /// The answer `poll` gave has been carried out (the credential is stored, the reply
    /// sent): what the person sees may now change.
    fn resolved(&mut self) {}
}

/// Presence granted, nothing verified, the first matching account chosen: what a user who
/// touches the key (or always takes the top entry) gives.
pub fn presence_only(request: &PromptRequest) -> PromptOutcome {
    PromptOutcome::Approved {
        user_verified: false,
        chosen_credential: request.candidates.first().map(|c| c.credential_id.clone()),
    }
}

/// Grants user presence at once, never user verification: for automated tests only. Sign-in
/// picks the first matching account, as a user who always takes the top entry would.
#[derive(Debug, Default)]
pub struct AutoApproveForTesting;

impl PromptSource for AutoApproveForTesting {
    fn poll(&mut self, request: &PromptRequest, _first: bool) -> Option<PromptOutcome> {
        if request.need_uv {
            // Presence is all this source can vouch for; pretending to verify would be a lie
            // the relying party cannot detect.
            return Some(PromptOutcome::Denied);
        }
        Some(presence_only(request))
    }
}

/// One plain sentence naming what is being asked and for which site.
pub fn describe(request: &PromptRequest) -> String {
    let site = request.rp_id.as_deref().unwrap_or("a site");
    let user = request.user_name.as_deref().unwrap_or("an account");
    match request.reason {
        PromptReason::Register => format!("{site} wants to create a passkey for {user}."),
        PromptReason::Excluded => {
            format!("{site}: this authenticator already has a passkey for {user}.")
        }
        PromptReason::SignIn => format!("{site} wants to sign you in with a passkey."),
        PromptReason::Reset => {
            "A program asks to erase every passkey and the PIN (factory reset).".into()
        }
        PromptReason::Selection => "A program asks you to confirm this authenticator.".into(),
        PromptReason::Verify => format!("{site} asks to verify it is you."),
        _ => "A program asks for your confirmation.".into(),
    }
}

/// The bridge's gate in front of the user's prompt: refuses requests beyond the policy's rate
/// (without prompting), grants presence silently only for the RP IDs the policy names, and
/// passes everything else to the prompt the user sees.
pub struct PolicyGate {
    inner: Box<dyn PromptSource>,
    silent_rps: Vec<String>,
    max_per_minute: usize,
    shown: VecDeque<Instant>,
    clock: SharedClock,
}

impl core::fmt::Debug for PolicyGate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PolicyGate")
            .field("silent_rps", &self.silent_rps)
            .field("max_per_minute", &self.max_per_minute)
            .finish_non_exhaustive()
    }
}

impl PolicyGate {
    /// Wraps `inner` with the policy's silent RPs and rate, counted on `clock`.
    pub fn new(
        inner: Box<dyn PromptSource>,
        policy: &crate::policy::Policy,
        clock: SharedClock,
    ) -> Self {
        Self {
            inner,
            silent_rps: policy.silent_presence_rps.clone(),
            max_per_minute: usize::try_from(policy.bridge_max_prompts_per_minute)
                .unwrap_or(usize::MAX),
            shown: VecDeque::new(),
            clock,
        }
    }

    /// Whether a new request may be shown at `now` (and counts it if so).
    fn admit(&mut self, now: Instant) -> bool {
        while self
            .shown
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(60))
        {
            self.shown.pop_front();
        }
        if self.shown.len() >= self.max_per_minute {
            return false;
        }
        self.shown.push_back(now);
        true
    }
}

impl PromptSource for PolicyGate {
    fn poll(&mut self, request: &PromptRequest, first: bool) -> Option<PromptOutcome> {
        let silent = !request.need_uv
            && matches!(
                request.reason,
                PromptReason::Register | PromptReason::SignIn
            )
            && request
                .rp_id
                .as_ref()
                .is_some_and(|rp| self.silent_rps.iter().any(|allowed| allowed == rp));
        if silent {
            tracing::info!(rp = ?request.rp_id, "presence granted without a prompt (policy silent_presence_rps)");
            return Some(presence_only(request));
        }
        let now = self.clock.now();
        if first && !self.admit(now) {
            tracing::warn!(rp = ?request.rp_id, "too many requests: refused without a prompt");
            return Some(PromptOutcome::Denied);
        }
        self.inner.poll(request, first)
    }

    fn withdrawn(&mut self) {
        self.inner.withdrawn();
    }

    fn resolved(&mut self) {
        self.inner.resolved();
    }
}

#[cfg(test)]
mod tests {
    use ctap::testing::ManualClock;

    use super::*;

    /// Counts how often it was asked; never answers.
    struct Silent(std::rc::Rc<std::cell::Cell<usize>>);
    impl PromptSource for Silent {
        fn poll(&mut self, _: &PromptRequest, first: bool) -> Option<PromptOutcome> {
            if first {
                self.0.set(self.0.get() + 1);
            }
            None
        }
    }

    fn request(rp: &str, reason: PromptReason, need_uv: bool) -> PromptRequest {
        PromptRequest {
            reason,
            rp_id: Some(rp.to_owned()),
            rp_name: None,
            user_name: None,
            user_display_name: None,
            candidates: Vec::new(),
            need_uv,
            deadline: ctap::Clock::now(&ManualClock::new()) + Duration::from_secs(30),
        }
    }

    fn gate(
        silent: &[&str],
        max: u32,
    ) -> (PolicyGate, std::rc::Rc<std::cell::Cell<usize>>, ManualClock) {
        let asked = std::rc::Rc::new(std::cell::Cell::new(0));
        let policy = crate::policy::Policy {
            silent_presence_rps: silent.iter().map(|s| (*s).to_owned()).collect(),
            bridge_max_prompts_per_minute: max,
            ..crate::policy::Policy::default()
        };
        let clock = ManualClock::new();
        (
            PolicyGate::new(
                Box::new(Silent(asked.clone())),
                &policy,
                std::sync::Arc::new(clock.clone()),
            ),
            asked,
            clock,
        )
    }

    #[test]
    fn only_named_rps_skip_the_prompt_and_never_for_verification() {
        let (mut gate, asked, _) = gate(&["ssh:"], 10);
        let approved = |o: Option<PromptOutcome>| {
            matches!(
                o,
                Some(PromptOutcome::Approved {
                    user_verified: false,
                    ..
                })
            )
        };
        assert!(approved(
            gate.poll(&request("ssh:", PromptReason::SignIn, false), true)
        ));
        assert!(approved(
            gate.poll(&request("ssh:", PromptReason::Register, false), true)
        ));
        assert_eq!(asked.get(), 0);
        // Another RP, a UV request, or a reset all reach the user.
        assert_eq!(
            gate.poll(&request("example.com", PromptReason::SignIn, false), true),
            None
        );
        assert_eq!(
            gate.poll(&request("ssh:", PromptReason::SignIn, true), true),
            None
        );
        assert_eq!(
            gate.poll(&request("ssh:", PromptReason::Reset, false), true),
            None
        );
        assert_eq!(asked.get(), 3);
    }

    #[test]
    fn requests_beyond_the_rate_are_refused_without_a_prompt() {
        let (mut gate, asked, clock) = gate(&[], 2);
        let r = request("example.com", PromptReason::SignIn, false);
        assert_eq!(gate.poll(&r, true), None);
        assert_eq!(gate.poll(&r, false), None);
        assert_eq!(gate.poll(&r, true), None);
        assert_eq!(gate.poll(&r, true), Some(PromptOutcome::Denied));
        assert_eq!(asked.get(), 2);
        // A minute later the window has moved on: the next request is shown again.
        clock.advance(Duration::from_secs(59));
        assert_eq!(gate.poll(&r, true), Some(PromptOutcome::Denied));
        clock.advance(Duration::from_secs(1));
        assert_eq!(gate.poll(&r, true), None);
        assert_eq!(asked.get(), 3);
    }
}
