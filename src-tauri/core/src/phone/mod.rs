//! The phone side of the app: a desktop's ceremonies with a phone over the FIDO hybrid
//! transport, and what it keeps about phones.
//!
//! - [`ceremony`]: register or sign in with a phone ([`ceremony::CeremonyOptions`], QR code
//!   or linked phone), the phone's answer checked as a relying party would.
//! - [`failure`]: [`PhoneFailure`], why a ceremony failed, by kind.
//! - [`cross_device`]: the admins' cross-device test, every phase timed.
//! - [`info`]: a phone's getInfo, read for reports.
//! - [`air`]: where adverts travel (Bluetooth, or the loopback air for tests).
//! - [`linked`]: linked phones, kept in the profile's vault.
//! - [`forward`]: a site's request answered on a phone (the bridge's `--phone`, the window's
//!   "Use a phone instead").
//! - [`virtual_phone`]: the `ctap` engine playing the phone, for tests and the demo.

pub mod air;
pub mod ceremony;
pub mod cross_device;
pub mod failure;
pub mod forward;
pub mod info;
pub mod linked;
pub mod virtual_phone;

pub use air::Air;
pub use ceremony::{CeremonyOptions, Start, Verified};
pub use failure::{PhoneFailure, PhoneRefusal};
