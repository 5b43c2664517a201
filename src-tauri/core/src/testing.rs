//! Test doubles for the core's seams (feature `testing`, and the crate's own tests): one
//! manual clock (`ctap`'s), a seeded generator, the in-memory keychain, and an [`Env`] made of
//! them.

use std::sync::Arc;

pub use ctap::testing::ManualClock;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

pub use crate::profile::keychain::MemoryKeychain;
use crate::system::{Env, SharedRng};

/// A generator that gives the same bytes for the same seed.
pub fn seeded_rng(seed: u64) -> SharedRng {
    SharedRng::from_rng(ChaCha20Rng::seed_from_u64(seed))
}

/// An environment on `clock` (clones share its time) with a generator seeded by `seed`.
pub fn env(clock: &ManualClock, seed: u64) -> Env {
    Env {
        clock: Arc::new(clock.clone()),
        rng: seeded_rng(seed),
    }
}
