//! The one error the window sees: a typed code the UI can act on, and a sentence for the
//! person. Every core error is mapped here, in one place.

use serde::Serialize;
use ts_rs::TS;

use crate::profile::Error as ProfileError;

/// What kind of failure, for the UI to react to (focus the PIN field, offer unlock, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// No such profile, passkey, phone or request.
    NotFound,
    /// The name is taken.
    AlreadyExists,
    /// The input is not acceptable (name, URL, PIN length, …).
    InvalidInput,
    /// The profile is locked.
    Locked,
    /// Wrong PIN or passphrase.
    WrongPin,
    /// No profile is active.
    NoActiveProfile,
    /// The profile has no PIN, so it cannot be locked or verify the user.
    NoPin,
    /// The OS keychain cannot be reached.
    KeychainUnavailable,
    /// The admin policy forbids it.
    ForbiddenByPolicy,
    /// The phone ceremony failed; the message says why and what to do.
    PhoneFailed,
    /// The user cancelled.
    Cancelled,
    /// A system facility is missing or not permitted (`/dev/uhid`, Bluetooth).
    Unavailable,
    /// Something else is in progress.
    Busy,
    /// Reading or writing files failed (disk full, permissions).
    Storage,
    /// Stored data is damaged.
    Damaged,
    /// A fault in Passbridge itself.
    Internal,
}

/// An error as the window receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// The kind.
    pub code: ErrorCode,
    /// A sentence for the person.
    pub message: String,
}

impl AppError {
    /// An error of `code` saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The internal-fault error: the detail goes to the log, the person gets a sentence.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            ErrorCode::Internal,
            "Passbridge hit an internal problem; the log has the details.",
        )
    }
}

impl From<ProfileError> for AppError {
    fn from(error: ProfileError) -> Self {
        let code = match &error {
            ProfileError::NotFound(_) => ErrorCode::NotFound,
            ProfileError::AlreadyExists(_) => ErrorCode::AlreadyExists,
            ProfileError::InvalidName(_) | ProfileError::SecretTooShort { .. } => {
                ErrorCode::InvalidInput
            }
            ProfileError::Locked { .. } => ErrorCode::Locked,
            ProfileError::WrongSecret { .. } => ErrorCode::WrongPin,
            ProfileError::NotLockable { .. } => ErrorCode::NoPin,
            ProfileError::KeychainUnavailable { .. }
            | ProfileError::Keychain(_)
            | ProfileError::KeyMissing { .. } => ErrorCode::KeychainUnavailable,
            ProfileError::PassphraseOnlyNotAllowed | ProfileError::Policy(_) => {
                ErrorCode::ForbiddenByPolicy
            }
            ProfileError::Io { .. } | ProfileError::NoDataDir => ErrorCode::Storage,
            ProfileError::Metadata { .. } | ProfileError::Record(_) | ProfileError::Damaged(_) => {
                ErrorCode::Damaged
            }
            _ => ErrorCode::Internal,
        };
        // The profile errors are written for people already; I/O errors get their cause too,
        // since "disk full" is what the person needs to hear.
        let message = match &error {
            ProfileError::Io { source, .. } => format!("{error}: {source}"),
            _ => error.to_string(),
        };
        if code == ErrorCode::Internal {
            tracing::error!(%error, "profile operation failed");
        }
        Self { code, message }
    }
}

/// Result of an app-core call.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_errors_keep_their_sentence_and_get_a_code() {
        let error = AppError::from(ProfileError::WrongSecret {
            profile: "Ana".into(),
        });
        assert_eq!(error.code, ErrorCode::WrongPin);
        assert_eq!(error.message, "wrong PIN or passphrase for profile 'Ana'");
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["code"], "wrong-pin");
    }

    #[test]
    fn io_errors_name_the_cause() {
        let error = AppError::from(ProfileError::Io {
            path: "/x/records".into(),
            source: std::io::Error::from_raw_os_error(28),
        });
        assert_eq!(error.code, ErrorCode::Storage);
        assert!(
            error.message.contains("No space left on device"),
            "{}",
            error.message
        );
    }
}
