//! The real clock and RNG: the one place the app reads the system time (clippy's
//! `disallowed-methods` sends every other caller through the `Clock` seam).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

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

/// The operating system's CSPRNG.
pub type SystemRng = rand_core::OsRng;
