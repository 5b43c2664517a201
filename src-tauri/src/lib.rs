//! Passbridge, the app: its two faces over [`passbridge_core`], which holds every service.
//!
//! - [`cli`]: the command line, one module per command, and every line it prints.
//! - `desktop` (feature `desktop`, the default): the Tauri window, thin commands over the
//!   core's [`AppCore`](passbridge_core::app::AppCore), and every word the window shows.
//!
//! The faces import the core, never each other (`main.rs` picks one); a test checks it. What
//! both must say alike lives beside them ([`doctor_words`]).
//! Without the `desktop` feature the binary links no WebKit, GTK or Tauri, so the CLI, the
//! relay and the authenticator run on servers and in CI without a display.

pub mod cli;
#[cfg(feature = "desktop")]
pub mod desktop;
pub mod doctor_words;
pub mod report;
