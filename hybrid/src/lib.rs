//! FIDO hybrid transport (caBLE v2): the pure, sans-IO protocol core.
//!
//! No I/O happens here: randomness and time are injected, WebSockets and BLE belong to
//! drivers. The protocol as implemented here is in `docs/hybrid.md` (cited as §n), drawn from
//! CTAP 2.2 ("Hybrid transports") and Chromium's `device/fido/cable/`.
//!
//! # Roles
//! * **Client** (desktop, Noise initiator): shows the QR code, scans BLE adverts, connects to
//!   the tunnel, sends one CTAP command. [`session::ClientSession`].
//! * **Phone** (authenticator, Noise responder): scans the QR, opens `/cable/new`, advertises,
//!   answers. [`session::PhoneSession`] (used by the virtual phone).
//!
//! # Message flow (QR-initiated)
//! ```text
//! client                          tunnel server                      phone
//!  ShowQr(FIDO:/digits) ······················ (camera) ··············►
//!                                  ◄── /cable/new/HEX(tunnel id) ──── (routing ID header)
//!  ◄············ BLE advert = AES(EIDkey, Eid) || HMAC tag ·········· StartAdvert
//!  /cable/connect/HEX(routing)/HEX(tunnel id) ──►
//!  msg1 (81 B: e, psk) ───────────────────────────────────────────────►
//!  ◄─────────────────────────────────────────────── msg2 (81 B: e, ee, se)
//!  ◄──────────────────── Crypter(post-handshake {1: getInfo, 3: features})
//!  ◄──────────────────────────────────────── [Crypter(update {1: linking})]
//!  Crypter(01 || cmd || CBOR) ────────────────────────────────────────►
//!  ◄─────────────────────────────────────── Crypter(01 || status || CBOR)
//!  Crypter(00 shutdown) ──────────────────────────────────────────────►
//! ```
//! The linked-phone flow replaces the QR with stored [`frame::LinkingInfo`]: the client
//! calls `/cable/contact/…`, keys derive from the link secret and a client nonce, and the
//! handshake is `NKpsk0` against the phone's static key.
//!
//! # Glossary
//! * [`qr::QrPayload`]: the CBOR map in the QR code (identity key, secret, hints).
//! * [`advert::Eid`]: the 16-byte advert plaintext `0 || nonce || routing ID || domain`.
//! * [`keys::RoutingId`]: 3 bytes the tunnel server assigns to the phone's connection.
//! * [`keys::TunnelId`]: 16 bytes derived from the QR secret; names the tunnel.
//! * [`keys::Psk`]: Noise pre-shared key, derived from the secret and the Eid plaintext.
//! * [`noise::Crypter`]: post-handshake AES-GCM with 32-byte padding and sequence numbers.
//!
//! # Building blocks
//! * Desktop QR: [`qr::ClientQr::generate`] → [`qr::ClientQr::url`].
//! * Phone advert: [`keys::QrSecret::eid_key`] + [`keys::EidKey::encrypt`] (20 bytes for UUID 0xFFF9).
//! * URLs: [`tunnel_url::TunnelBase`] (`Default` = real services, `Custom(base)` = any relay).
//! * Handshake typestates: [`noise::InitiatorStart`] → [`noise::InitiatorSent`] →
//!   [`noise::Established`]; [`noise::ResponderStart`] → [`noise::ResponderReceived`] →
//!   [`noise::Established`].
//!
//! Errors are one [`Error`] with category sub-enums; sessions make fatal errors sticky.
#![forbid(unsafe_code)]
#![deny(clippy::indexing_slicing, clippy::as_conversions)]
#![warn(missing_docs)]

pub mod advert;
pub mod contact_proof;
pub mod error;
pub mod forward;
pub mod frame;
#[cfg(feature = "io")]
pub mod io;
pub mod keys;
pub mod noise;
pub mod proxy;
pub mod qr;
pub mod session;
#[cfg(all(feature = "testing", feature = "io"))]
pub mod testing;
pub mod tunnel_url;
mod util;

pub use error::{Error, Phase, Result};
