//! Passbridge's app core: every service the command line and the window share, with neither
//! of them in it. No clap, no Tauri, no printing (a test checks all three): failures are typed
//! values, and each face (the `passbridge` package's `cli` and `desktop` modules) turns them
//! into its own words. Clippy's print lints are denied here, and `tests/boundaries.rs` fails
//! if the manifest gains a command-line or window dependency.
//!
//! # Services
//! - [`profile`]: named profiles and their encrypted vaults, keys in the OS keychain.
//! - [`policy`]: the administrator's policy file.
//! - [`phone`]: the hybrid (caBLE) client ceremonies against a phone — options, the air, the
//!   typed [`phone::PhoneFailure`], linked phones, the bridge's forwarder, the virtual phone's
//!   engine.
//! - [`webauthn`]: the relying-party checks a client that talks to a phone by itself needs.
//! - [`authenticator`]: the CTAPHID serving loop and its transports (loopback UDP, Linux
//!   uhid), the prompt seam and the policy gate.
//! - [`app`]: [`app::AppCore`], the window's API: profiles, passkeys, phones, settings, the
//!   phone flow, the security key and the request broker.
//! - [`bridge_setup`]: the one-time system set-up the uhid bridge needs.
//! - [`system`]: the one seam for time and randomness ([`system::Env`]).
//! - [`telemetry`]: logging set-up.
//!
//! Dependencies run one way: the faces → this crate → `hybrid` → `ctap`.
#![forbid(unsafe_code)]
// Words and output belong to the faces: the core neither prints nor debug-prints.
#![deny(clippy::print_stdout, clippy::print_stderr, clippy::dbg_macro)]

pub mod about;
pub mod app;
pub mod authenticator;
pub mod autostart;
pub mod bridge_setup;
pub mod diagnostics;
pub mod phone;
pub mod policy;
pub mod profile;
pub mod system;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod webauthn;

/// Entry points for the fuzz targets (`src-tauri/core/fuzz`) into parsers that are not public
/// otherwise: what Passbridge reads back from the keychain, which any program in the OS
/// account can write.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses `data` as a PIN failure count and as a rollback anchor; whatever parses must
    /// encode back to the same value.
    ///
    /// # Panics
    /// When a parsed value does not survive its own round trip (the fuzz target's finding).
    pub fn keychain_entries(data: &[u8]) {
        use crate::profile::anchor::Stored;
        use crate::profile::attempts::Attempts;
        if let Some(count) = Attempts::decode(data) {
            assert_eq!(Attempts::decode(&count.encode()), Some(count));
        }
        if let Some(anchor) = Stored::decode(data) {
            assert_eq!(Stored::decode(&anchor.encode()), Some(anchor));
        }
    }
}
