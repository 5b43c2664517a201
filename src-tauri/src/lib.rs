//! Passbridge, the app: the headless core (profiles, vault, policy, audit, request broker, CLI)
//! and, behind the `desktop` feature, the Tauri window that sits on top of the same services.
//!
//! Everything outside [`desktop`] compiles and is tested without WebKit or GTK, so the CLI, the
//! relay and the authenticator run on servers and in CI without a display.

pub mod about;
pub mod app;
pub mod authenticator;
pub mod bridge_cli;
pub mod cli;
pub mod hybrid_cli;
pub mod linked;
pub mod policy;
pub mod profile;
pub mod system;
pub mod telemetry;
pub mod webauthn;

#[cfg(feature = "desktop")]
pub mod desktop;
