//! Deterministic test doubles for the seams (feature `testing`): [`MemoryStore`] (re-exported),
//! [`ScriptedPrompt`], [`ManualClock`] and [`seeded_rng`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::platform::{Clock, PromptOutcome, PromptRequest, UserPrompt};

pub use crate::memory_store::MemoryStore;

/// A deterministic CSPRNG for tests.
pub fn seeded_rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A [`UserPrompt`] answering from a script, recording every request.
#[derive(Debug, Clone, Default)]
pub struct ScriptedPrompt {
    script: VecDeque<PromptOutcome>,
    fallback: Option<PromptOutcome>,
    /// Whether it claims built-in UV.
    pub can_verify: bool,
    /// Every request shown, in order.
    pub asked: Vec<PromptRequest>,
}

impl ScriptedPrompt {
    /// Answers with `outcomes` in order, then denies. Queued outcomes also go first for
    /// [`ScriptedPrompt::always_approve`] / [`ScriptedPrompt::always_verify`] prompts.
    pub fn new(outcomes: impl IntoIterator<Item = PromptOutcome>) -> Self {
        Self {
            script: outcomes.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Approves everything with presence only (no user verification), after the script.
    pub fn always_approve() -> Self {
        Self {
            fallback: Some(PromptOutcome::approved()),
            ..Self::default()
        }
    }

    /// Approves everything with user verification, and claims built-in UV.
    pub fn always_verify() -> Self {
        Self {
            fallback: Some(PromptOutcome::verified()),
            can_verify: true,
            ..Self::default()
        }
    }

    /// Queues another outcome.
    pub fn push(&mut self, outcome: PromptOutcome) {
        self.script.push_back(outcome);
    }
}

impl UserPrompt for ScriptedPrompt {
    fn can_verify(&self) -> bool {
        self.can_verify
    }

    fn ask(&mut self, request: &PromptRequest) -> PromptOutcome {
        self.asked.push(request.clone());
        self.script
            .pop_front()
            .or_else(|| self.fallback.clone())
            .unwrap_or(PromptOutcome::Denied)
    }
}

/// A clock that only moves when told; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    base: Instant,
    offset_nanos: Arc<AtomicU64>,
    unix_base: u64,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock starting at an arbitrary instant and Unix time 1 700 000 000.
    #[allow(
        clippy::disallowed_methods,
        reason = "the test clock needs one real base instant"
    )]
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
            offset_nanos: Arc::new(AtomicU64::new(0)),
            unix_base: 1_700_000_000,
        }
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset_nanos.fetch_add(nanos, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base + Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst))
    }

    fn unix_time(&self) -> u64 {
        self.unix_base + self.offset_nanos.load(Ordering::SeqCst) / 1_000_000_000
    }
}
