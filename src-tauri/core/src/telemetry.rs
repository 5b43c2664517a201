//! Logging set-up, done once at start-up. `RUST_LOG` picks the level (default: info for our
//! crates, warn for the rest). Logs go to stderr so stdout stays clean for `--json` output.
//! The window's log-level setting changes our crates' level while the app runs.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::app::types::LogLevel;

/// Default filter when `RUST_LOG` is unset.
const DEFAULT_FILTER: &str = "warn,passbridge=info,hybrid=info,ctap=info";

static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Installs the global subscriber. Calling it twice is harmless (the second call is ignored),
/// which keeps tests that start the CLI in-process simple.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let (layer, handle) = reload::Layer::new(filter);
    let installed = tracing_subscriber::registry()
        .with(layer)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .try_init();
    // An error only means a subscriber is already installed.
    if installed.is_ok() {
        let _ = FILTER.set(handle);
    }
}

/// Sets our crates' log level (the window's setting); other crates stay at warn.
pub fn set_level(level: LogLevel) {
    let name = match level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
    };
    if let Some(handle) = FILTER.get() {
        let filter = EnvFilter::new(format!("warn,passbridge={name},hybrid={name},ctap={name}"));
        if let Err(error) = handle.reload(filter) {
            tracing::warn!(%error, "cannot change the log level");
        }
    }
}
