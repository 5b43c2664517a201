//! Why an app-core call failed, by kind. The window turns these into its error codes and
//! sentences (the `desktop` face); nothing here is worded for a particular face.

use std::path::PathBuf;

use crate::authenticator::udp::UdpError;
#[cfg(target_os = "linux")]
use crate::authenticator::uhid::UhidError;
use crate::phone::PhoneFailure;
use crate::policy::PolicyError;
use crate::profile::Error as ProfileError;

/// A field of the settings, for errors that name one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setting {
    /// The tunnel relay URL.
    Relay,
    /// The HTTP proxy URL.
    Proxy,
    /// Where to look for the phone (Bluetooth or the loopback air).
    Air,
    /// The phone timeout.
    PhoneTimeout,
    /// The auto-lock time.
    AutoLock,
}

/// Input the core refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalid {
    /// A setting's value: which one, and the value refused.
    Setting(Setting, String),
    /// The relay setting is plain `ws://` to a host other than this machine (named).
    InsecureRelay(String),
    /// A passkey's display name must have 1 to 64 characters.
    PasskeyName,
    /// Not a passkey ID (hex).
    PasskeyId,
    /// A site must be a domain name (no scheme, path, port or spaces).
    Site,
    /// A registration needs an account name.
    AccountName,
    /// The account chosen was not one the dialog offered.
    Account,
    /// The site asks to verify the user, and no PIN was given.
    PinNeeded,
    /// `PASSBRIDGE_SECURITY_KEY` is not one of its forms.
    SecurityKeyEnv(String),
}

/// What was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Missing {
    /// No such passkey in the active profile.
    Passkey,
    /// No phone by that name is linked to the active profile.
    Phone(String),
    /// The request is no longer waiting (the site gave up or cancelled).
    Request,
    /// The profile knows no phone passkey for the site, so a sign-in cannot be verified.
    PhonePasskeyFor(String),
}

/// Why the security key could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityKeyError {
    /// The UDP transport could not be opened.
    #[error(transparent)]
    Udp(#[from] UdpError),
    /// The uhid device could not be created.
    #[cfg(target_os = "linux")]
    #[error(transparent)]
    Uhid(#[from] UhidError),
    /// This system has no uhid.
    #[error("the USB security key needs Linux's /dev/uhid")]
    NoUhid,
    /// Its thread could not start.
    #[error("cannot start the security key's thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Why an app-core call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// A profile or vault operation failed.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A ceremony with a phone failed.
    #[error(transparent)]
    Phone(#[from] PhoneFailure),
    /// No profile is active.
    #[error("no profile is active")]
    NoActiveProfile,
    /// The profile is locked.
    #[error("profile '{0}' is locked")]
    Locked(String),
    /// The profile has no PIN, so it cannot verify the user (or lock on its own).
    #[error("profile '{0}' has no PIN")]
    NoPin(String),
    /// Something is not there.
    #[error("not found: {0:?}")]
    NotFound(Missing),
    /// The input is not acceptable.
    #[error("invalid input: {0:?}")]
    InvalidInput(Invalid),
    /// A phone ceremony is already running.
    #[error("a phone ceremony is already running")]
    Busy,
    /// The admin policy cannot be loaded.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The settings file is damaged.
    #[error("the settings file {} is damaged", path.display())]
    SettingsDamaged {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The settings file cannot be read or written.
    #[error("cannot use the settings file in {}", path.display())]
    Settings {
        /// The file or its directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The autostart entry (start at login) cannot be written or removed.
    #[error("cannot change the autostart entry {}", path.display())]
    Autostart {
        /// The entry.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A phone passkey record is damaged.
    #[error("a phone passkey record is damaged")]
    PhonePasskeyDamaged,
    /// The security key could not start.
    #[error("the security key is off: {0}")]
    SecurityKey(#[source] SecurityKeyError),
    /// A fault in Passbridge itself (the detail is in the log).
    #[error("internal error")]
    Internal,
}

impl AppError {
    /// The internal-fault error: the detail goes to the log, the caller gets the kind.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::Internal
    }

    /// A locked vault (from the profile layer) and the app's own "locked" are one kind.
    pub fn is_locked(&self) -> bool {
        matches!(
            self,
            Self::Locked(_) | Self::Profile(ProfileError::Locked { .. })
        )
    }
}

/// Result of an app-core call.
pub type AppResult<T> = Result<T, AppError>;
