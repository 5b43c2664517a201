//! The one seam for time and randomness, as OpenSK's `env` is: every service takes an [`Env`]
//! and reads the clock and the RNG through it, so a test can pass a manual clock and a seeded
//! generator. This module holds the only real implementations: clippy's `disallowed-methods`
//! and `disallowed-types` send every other caller of the system clock or the OS RNG here.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rand_core::{CryptoRng, CryptoRngCore, RngCore};

/// Monotonic and wall-clock time from the operating system.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl ctap::Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "this is the Clock seam's real implementation"
    )]
    fn now(&self) -> Instant {
        Instant::now()
    }

    #[allow(
        clippy::disallowed_methods,
        reason = "this is the Clock seam's real implementation"
    )]
    fn unix_time(&self) -> u64 {
        // A clock before 1970 is a broken clock; 0 keeps "created at" harmless rather than fatal.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock every thread and task can share.
pub type SharedClock = Arc<dyn ctap::Clock + Send + Sync>;

/// A cryptographically secure generator every thread and task can share; clones draw from the
/// same generator.
#[derive(Clone)]
pub struct SharedRng(Arc<Mutex<dyn CryptoRngCore + Send>>);

impl SharedRng {
    /// The operating system's CSPRNG.
    #[allow(
        clippy::disallowed_types,
        reason = "this is the RNG seam's real implementation"
    )]
    pub fn system() -> Self {
        Self::from_rng(rand_core::OsRng)
    }

    /// Draws from `rng` (a seeded generator in tests).
    pub fn from_rng(rng: impl CryptoRngCore + Send + 'static) -> Self {
        Self(Arc::new(Mutex::new(rng)))
    }

    /// `N` random bytes.
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        self.fill_bytes(&mut out);
        out
    }

    fn with<T>(&self, f: impl FnOnce(&mut dyn CryptoRngCore) -> T) -> T {
        // A panic elsewhere while drawing cannot leave a generator half-updated in a way that
        // matters: its state is still unpredictable, so a poisoned lock is taken as is.
        let mut rng = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut *rng)
    }
}

impl std::fmt::Debug for SharedRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedRng(..)")
    }
}

impl RngCore for SharedRng {
    fn next_u32(&mut self) -> u32 {
        self.with(|rng| rng.next_u32())
    }

    fn next_u64(&mut self) -> u64 {
        self.with(|rng| rng.next_u64())
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.with(|rng| rng.fill_bytes(dest));
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.with(|rng| rng.try_fill_bytes(dest))
    }
}

impl CryptoRng for SharedRng {}

/// Time and randomness, as every service receives them.
#[derive(Clone)]
pub struct Env {
    /// The clock.
    pub clock: SharedClock,
    /// The generator.
    pub rng: SharedRng,
}

impl Env {
    /// The operating system's clock and CSPRNG.
    pub fn system() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            rng: SharedRng::system(),
        }
    }

    /// Monotonic now.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Seconds since the Unix epoch.
    pub fn unix_time(&self) -> u64 {
        self.clock.unix_time()
    }
}

impl Default for Env {
    fn default() -> Self {
        Self::system()
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").finish_non_exhaustive()
    }
}
