//! The cross-device commands: `passbridge relay` (the self-hostable tunnel relay),
//! `passbridge hybrid register|sign-in` (the desktop client), `passbridge phone` (the virtual
//! phone) and `passbridge demo` (all three in one process on loopback).
//!
//! Steps and the QR code go to stderr, each with its elapsed time; with `--json` the result is
//! the only thing on stdout, so scripts can parse it.

pub(crate) mod air;
pub(crate) mod client;
mod demo;
pub(crate) mod forward;
pub(crate) mod phone;
mod relay;

pub use client::{HybridArgs, run_hybrid};
pub use demo::{DemoArgs, run_demo};
pub use forward::{PhoneForwarder, PhoneOpts};
pub use phone::{PhoneArgs, run_phone_command};
pub use relay::{RelayArgs, run_relay};

use std::process::ExitCode;

use serde::Serialize;

use crate::system::SystemRng;
use crate::webauthn::VerifyError;

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| fail(&format!("could not start the async runtime: {error}")))
}

pub(crate) fn fail(message: &str) -> ExitCode {
    eprintln!("passbridge: {message}");
    ExitCode::FAILURE
}

pub(super) fn print_json<T: Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

/// Checks an air setting (`ble`, `ble:hciN`, `udp://127.0.0.1:PORT`; `None` = Bluetooth).
///
/// # Errors
/// A sentence naming the accepted forms.
pub(crate) fn parse_air_setting(text: Option<&str>) -> Result<(), String> {
    air::Air::parse(text)
        .map(|_| ())
        .map_err(|_| format!("use {}", air::AIR_FORMS))
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand_core::RngCore::fill_bytes(&mut SystemRng::default(), &mut out);
    out
}

pub(crate) fn verify_failure(error: &VerifyError) -> String {
    match error {
        VerifyError::Status(status) => {
            format!(
                "the phone answered with an error: {} ({status})",
                status_meaning(*status)
            )
        }
        other => format!("the phone's answer was rejected: {other}"),
    }
}

/// What a phone's CTAP error means for the person at the desktop.
pub(super) fn status_meaning(status: ctap::StatusCode) -> &'static str {
    use ctap::StatusCode as S;
    match status {
        S::OperationDenied => "the request was declined on the phone",
        S::NoCredentials => "the phone has no passkey for this site",
        S::CredentialExcluded => "the phone already has a passkey for this account",
        S::UserActionTimeout => "nobody approved the request on the phone in time",
        S::KeepaliveCancel => "the request was cancelled on the phone",
        S::UnsupportedAlgorithm => "the phone cannot make a passkey of the kind this site asks for",
        S::KeyStoreFull => "the phone has no room for another passkey",
        _ => "the phone could not complete the request",
    }
}
