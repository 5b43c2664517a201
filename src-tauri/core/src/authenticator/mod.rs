//! The platform authenticator's front-ends: the CTAP engine and CTAPHID framing are the `ctap`
//! crate's sans-IO [`ctap::device::HidDevice`]; this module only moves reports and asks the
//! user (through a [`prompt::PromptSource`], which each face supplies). Transports:
//! - [`udp`]: the SoloKeys simulation convention, for independent CTAP clients in tests
//!   (python-fido2, libfido2's tools) — loopback only.
//! - [`uhid`] (Linux): a virtual USB security key through `/dev/uhid`, for browsers and every
//!   other FIDO client (the bridge and the window's security key), answering only while its
//!   owner's login session is the active one on the seat ([`seat`]).

pub mod hid_loop;
pub mod prompt;
#[cfg(target_os = "linux")]
pub mod seat;
pub mod udp;
#[cfg(target_os = "linux")]
pub mod uhid;
#[cfg(target_os = "linux")]
pub mod uhid_helper;
