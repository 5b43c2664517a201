//! Logging set-up, done once at start-up. `RUST_LOG` picks the level (default: info for our
//! crates, warn for the rest). Logs go to stderr so stdout stays clean for `--json` output.

use tracing_subscriber::EnvFilter;

/// Default filter when `RUST_LOG` is unset.
const DEFAULT_FILTER: &str = "warn,passbridge=info,hybrid=info,ctap=info";

/// Installs the global subscriber. Calling it twice is harmless (the second call is ignored),
/// which keeps tests that start the CLI in-process simple.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // An error only means a subscriber is already installed.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
