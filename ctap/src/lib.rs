//! CTAP 2.1: types, canonical CBOR, CTAPHID framing and a sans-IO software authenticator.
//!
//! # Roles
//! - [`Authenticator`]: the CTAP2 command processor (CTAP 2.1 §6): getInfo, makeCredential,
//!   getAssertion, getNextAssertion, clientPIN (PIN/UV auth protocols 1 and 2, §6.5),
//!   credentialManagement (§6.8, also the `0x41` prototype byte), reset (§6.6) and selection
//!   (§6.9); extensions credProtect (§12.1) and hmac-secret (§12.5).
//! - [`ctaphid::CtapHid`]: CTAPHID framing (§11.2), independent of the authenticator.
//! - [`device::HidDevice`]: both glued into one sans-IO "device" for the UDP and uhid drivers.
//! - Seams ([`platform`]): [`Clock`], an RNG, [`UserPrompt`], [`CredentialStore`].
//!
//! # Sans-IO flow
//! ```text
//! driver ──bytes──▶ Authenticator::process(req, now) ──▶ Step::Done(resp)
//!                                                   └──▶ Step::NeedUser(pending)
//! driver shows pending.request(), sends keepalives, honours cancel, then
//! driver ──outcome──▶ Authenticator::resume(pending, outcome, now) ──▶ Step::Done(resp)
//! ```
//! Approval becomes a private [`UserConsent`] proof that credential creation and signing
//! require. [`Authenticator::handle_with_prompt`] is the blocking shortcut for tests and simple
//! callers.
//!
//! # Credentials
//! Discoverable credentials live in the [`CredentialStore`]. Non-discoverable credential IDs
//! wrap the private key, credProtect level and hmac-secret flag with AES-256-GCM under a
//! per-authenticator wrapping key, with the rpIdHash as associated data; nothing is stored.
//!
//! # Threat notes
//! Everything a peer sends is parsed without panicking (clippy denies indexing, unwrap,
//! `as` casts). PIN hashes are compared in constant time; secrets are zeroised on drop.
#![forbid(unsafe_code)]
#![deny(clippy::indexing_slicing, clippy::as_conversions)]
#![warn(missing_docs)]

pub mod authenticator;
pub mod cbor;
pub mod crypto;
pub mod ctaphid;
pub mod device;
pub mod error;
pub mod memory_store;
pub mod platform;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod types;
pub mod uhid;

pub use authenticator::{AAGUID, Attestation, Authenticator, Config, Pending, Step, UserConsent};
pub use error::StatusCode;
pub use memory_store::MemoryStore;
pub use platform::{
    CandidateAccount, Clock, CredProtect, CredRandom, CredentialStore, PersistentState,
    PromptOutcome, PromptReason, PromptRequest, SecretKey, StoreError, StoredCredential,
    UserPrompt,
};
