//! The one error the window sees: a typed code the UI can act on, and a sentence for the
//! person. Every core failure is given its code and its window words here, in one place; no
//! sentence here names a command-line flag.

use passbridge_core::app::{AppError, Invalid, Missing, SecurityKeyError, Setting};
use passbridge_core::phone::PhoneFailure;
use passbridge_core::profile::Error as ProfileError;
use serde::Serialize;
use ts_rs::TS;

use super::words;

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
    /// Too many wrong PINs lately: the next attempt must wait.
    PinWait,
    /// Too many wrong PINs in a row: only an administrator or deleting the profile helps.
    PinBlocked,
    /// No profile is active.
    NoActiveProfile,
    /// The profile has no PIN, so it cannot be locked or verify the user.
    NoPin,
    /// The OS keychain cannot be reached.
    KeychainUnavailable,
    /// The admin policy forbids it.
    ForbiddenByPolicy,
    /// This computer has no Bluetooth adapter (or not the one the settings name).
    NoBluetoothAdapter,
    /// Bluetooth is switched off.
    BluetoothOff,
    /// Passbridge may not use Bluetooth.
    BluetoothPermission,
    /// Bluetooth failed otherwise (its service is not running, …).
    BluetoothFailed,
    /// No phone advert in time: the phone did not scan the QR code, or is out of range.
    PhoneNotNearby,
    /// The tunnel relay cannot be reached.
    RelayUnreachable,
    /// The tunnel relay refused (an HTTP status), or ended the tunnel on one of its limits.
    RelayRefused,
    /// A secure (TLS) connection to the relay failed: an untrusted certificate.
    RelayTls,
    /// The HTTP proxy cannot be used or refused the relay.
    ProxyFailed,
    /// The phone hung up during the secure handshake.
    PhoneHungUp,
    /// The phone answered with an error (declined, no passkey, …).
    PhoneRefused,
    /// The phone did not answer in time.
    PhoneTimeout,
    /// The linked phone unlinked itself; it was removed.
    PhoneUnlinked,
    /// The phone's answer did not pass the checks.
    PhoneAnswerInvalid,
    /// The phone ceremony failed otherwise; the message says why.
    PhoneFailed,
    /// The user cancelled.
    Cancelled,
    /// A system facility is missing or not permitted (`/dev/uhid`).
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
#[ts(rename = "AppError")]
#[error("{message}")]
pub struct IpcError {
    /// The kind.
    pub code: ErrorCode,
    /// A sentence for the person.
    pub message: String,
}

impl IpcError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A file that could not be written or opened: its path and the system's reason.
    pub fn io(path: &std::path::Path, error: &std::io::Error) -> Self {
        Self::new(
            ErrorCode::Storage,
            format!("Passbridge could not use {}: {error}.", path.display()),
        )
    }

    /// The internal-fault error: the detail goes to the log, the person gets a sentence.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(ErrorCode::Internal, words::INTERNAL)
    }
}

/// A command's result.
pub type IpcResult<T> = Result<T, IpcError>;

/// The window's code for a phone failure.
pub fn phone_code(failure: &PhoneFailure) -> ErrorCode {
    match failure {
        PhoneFailure::NoAdapter { .. } => ErrorCode::NoBluetoothAdapter,
        PhoneFailure::BluetoothOff { .. } => ErrorCode::BluetoothOff,
        PhoneFailure::NoPermission => ErrorCode::BluetoothPermission,
        PhoneFailure::BluetoothUnavailable(_)
        | PhoneFailure::Bluetooth(_)
        | PhoneFailure::BadAir(_)
        | PhoneFailure::AirSocket(_) => ErrorCode::BluetoothFailed,
        PhoneFailure::NoAdvert { .. } => ErrorCode::PhoneNotNearby,
        PhoneFailure::RelayUnreachable { .. } | PhoneFailure::RelayTimeout { .. } => {
            ErrorCode::RelayUnreachable
        }
        PhoneFailure::RelayRefused { .. }
        | PhoneFailure::RelayLimit { .. }
        | PhoneFailure::RelayClosed { .. } => ErrorCode::RelayRefused,
        PhoneFailure::RelayTls { .. } => ErrorCode::RelayTls,
        PhoneFailure::Proxy { .. } => ErrorCode::ProxyFailed,
        PhoneFailure::PhoneHungUp | PhoneFailure::Handshake(_) | PhoneFailure::HandshakeStalled => {
            ErrorCode::PhoneHungUp
        }
        PhoneFailure::Timeout { .. } => ErrorCode::PhoneTimeout,
        PhoneFailure::PhoneError(_) => ErrorCode::PhoneRefused,
        PhoneFailure::BadAnswer(_) => ErrorCode::PhoneAnswerInvalid,
        PhoneFailure::Unlinked { .. } => ErrorCode::PhoneUnlinked,
        PhoneFailure::Cancelled => ErrorCode::Cancelled,
        _ => ErrorCode::PhoneFailed,
    }
}

fn profile_error(error: &ProfileError) -> IpcError {
    let code = match error {
        ProfileError::NotFound(_) => ErrorCode::NotFound,
        ProfileError::AlreadyExists(_) => ErrorCode::AlreadyExists,
        ProfileError::InvalidName(_) | ProfileError::SecretTooShort { .. } => {
            ErrorCode::InvalidInput
        }
        ProfileError::Locked { .. } => ErrorCode::Locked,
        ProfileError::WrongSecret { .. } => ErrorCode::WrongPin,
        ProfileError::PinWait { .. } => ErrorCode::PinWait,
        ProfileError::PinBlocked { .. } => ErrorCode::PinBlocked,
        ProfileError::NotLockable { .. } => ErrorCode::NoPin,
        ProfileError::KeychainUnavailable { .. }
        | ProfileError::Keychain(_)
        | ProfileError::KeyMissing { .. } => ErrorCode::KeychainUnavailable,
        ProfileError::PassphraseOnlyNotAllowed | ProfileError::Policy(_) => {
            ErrorCode::ForbiddenByPolicy
        }
        ProfileError::Io { .. } | ProfileError::DiskFull { .. } | ProfileError::NoDataDir => {
            ErrorCode::Storage
        }
        ProfileError::Metadata { .. }
        | ProfileError::Record(_)
        | ProfileError::Damaged(_)
        | ProfileError::RolledBack { .. } => ErrorCode::Damaged,
        _ => ErrorCode::Internal,
    };
    if code == ErrorCode::Internal {
        return IpcError::internal(error);
    }
    IpcError::new(code, words::profile_error(error))
}

fn invalid(invalid: &Invalid) -> String {
    match invalid {
        Invalid::Setting(Setting::Relay, relay) => {
            format!("relay: '{relay}' is not a WebSocket URL (wss://host or ws://127.0.0.1:PORT)")
        }
        Invalid::InsecureRelay(host) => format!(
            "relay: plain ws:// is only for this machine; {host} needs wss:// (TLS). For a \
             relay whose certificate comes from your organisation's own CA, set \
             {} to that CA's PEM file",
            hybrid::io::tls::CA_FILE_VAR
        ),
        Invalid::Setting(Setting::Proxy, proxy) => {
            format!("proxy: '{proxy}' is not an HTTP proxy URL (http://host:port)")
        }
        Invalid::Setting(Setting::Air, _) => format!(
            "Bluetooth/air: use {}",
            passbridge_core::phone::air::AIR_FORMS
        ),
        Invalid::Setting(Setting::PhoneTimeout, _) => {
            "phone timeout: between 10 and 600 seconds".to_owned()
        }
        Invalid::Setting(Setting::AutoLock, _) => {
            "auto-lock: at most 1440 minutes (a day)".to_owned()
        }
        Invalid::PasskeyName => "a name needs 1 to 64 characters".to_owned(),
        Invalid::PasskeyId => "not a passkey ID".to_owned(),
        Invalid::Site => "site: a domain name such as example.com".to_owned(),
        Invalid::AccountName => "account: enter the account name".to_owned(),
        Invalid::Account => "choose one of the accounts shown".to_owned(),
        Invalid::PinNeeded => {
            "this site asks to verify it is you: enter the profile's PIN".to_owned()
        }
        Invalid::SecurityKeyEnv(value) => format!(
            "{}={value}: use {}",
            passbridge_core::app::key::SECURITY_KEY_ENV,
            passbridge_core::app::key::FRONT_FORMS
        ),
        other => format!("{other:?}"),
    }
}

fn missing(missing: &Missing) -> String {
    match missing {
        Missing::Passkey => "no such passkey".to_owned(),
        Missing::Phone(name) => format!("no phone named '{name}' is linked to this profile"),
        Missing::Request => {
            "this request is no longer waiting (the site gave up or cancelled)".to_owned()
        }
        Missing::PhonePasskeyFor(rp_id) => format!(
            "this profile knows no phone passkey for {rp_id}: register one first, so its \
             signature can be verified"
        ),
        other => format!("not found: {other:?}"),
    }
}

impl From<AppError> for IpcError {
    fn from(error: AppError) -> Self {
        match &error {
            AppError::Profile(profile) => profile_error(profile),
            AppError::Phone(failure) => Self::new(phone_code(failure), words::phone(failure)),
            AppError::NoActiveProfile => Self::new(
                ErrorCode::NoActiveProfile,
                "no profile is active: create one or pick one",
            ),
            AppError::Locked(name) => Self::new(
                ErrorCode::Locked,
                format!("profile '{name}' is locked: unlock it with its PIN"),
            ),
            AppError::NoPin(name) => Self::new(
                ErrorCode::NoPin,
                format!("profile '{name}' has no PIN to verify you with"),
            ),
            AppError::NotFound(what) => Self::new(ErrorCode::NotFound, missing(what)),
            AppError::InvalidInput(what) => Self::new(ErrorCode::InvalidInput, invalid(what)),
            AppError::Busy => Self::new(
                ErrorCode::Busy,
                "a phone ceremony is already running: finish or cancel it first",
            ),
            AppError::Policy(policy) => Self::new(
                ErrorCode::ForbiddenByPolicy,
                format!("{policy}: ask your administrator to correct it"),
            ),
            AppError::SettingsDamaged { path, source } => Self::new(
                ErrorCode::Damaged,
                format!("the settings file {} is damaged: {source}", path.display()),
            ),
            AppError::Settings { path, source } => Self::new(
                ErrorCode::Storage,
                format!("cannot save the settings in {}: {source}", path.display()),
            ),
            AppError::Autostart { path, source } => Self::new(
                ErrorCode::Storage,
                format!(
                    "the other settings are saved, but starting at login could not be changed \
                     ({}: {source}); check that you may write there",
                    path.display()
                ),
            ),
            AppError::PhonePasskeyDamaged => {
                Self::new(ErrorCode::Damaged, "a phone passkey record is damaged")
            }
            AppError::SecurityKey(problem) => {
                Self::new(ErrorCode::Unavailable, words::security_key(problem))
            }
            _ => Self::internal(&error),
        }
    }
}

/// The security key's failure, for the Settings screen (also when it is not a command's).
pub fn security_key(problem: &SecurityKeyError) -> IpcError {
    IpcError::new(ErrorCode::Unavailable, words::security_key(problem))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn profile_errors_keep_their_sentence_and_get_a_code() {
        let error = IpcError::from(AppError::Profile(ProfileError::WrongSecret {
            profile: "Ana".into(),
            attempts_left: 6,
        }));
        assert_eq!(error.code, ErrorCode::WrongPin);
        assert_eq!(
            error.message,
            "Wrong PIN. 6 attempts left before the profile is blocked."
        );
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["code"], "wrong-pin");
        let wait = IpcError::from(AppError::Profile(ProfileError::PinWait {
            profile: "Ana".into(),
            seconds: 90,
        }));
        assert_eq!(
            (wait.code, wait.message.as_str()),
            (
                ErrorCode::PinWait,
                "Too many wrong PINs. Wait 2 minutes before trying again."
            )
        );
        let blocked = IpcError::from(AppError::Profile(ProfileError::PinBlocked {
            profile: "Ana".into(),
            id: "00ff".into(),
        }));
        assert_eq!(blocked.code, ErrorCode::PinBlocked);
        assert!(
            blocked
                .message
                .contains("sudo touch /etc/passbridge/unblock/00ff"),
            "{}",
            blocked.message
        );
    }

    #[test]
    fn io_errors_name_the_cause() {
        let error = IpcError::from(AppError::Profile(ProfileError::Io {
            path: "/x/records".into(),
            source: std::io::Error::from_raw_os_error(28),
        }));
        assert_eq!(error.code, ErrorCode::Storage);
        assert!(
            error.message.contains("No space left on device"),
            "{}",
            error.message
        );
    }

    /// Every phone failure has its own code where the person can act differently, and no
    /// window sentence names a command-line flag.
    #[test]
    fn phone_failures_get_their_code_and_no_flag_in_their_words() {
        use hybrid::error::HandshakeProblem;
        use hybrid::io::air::BluetoothProblem;
        use hybrid::proxy::ProxyProblem;

        let relay = Some("wss://relay.example".to_owned());
        let cases = [
            (
                PhoneFailure::NoAdapter {
                    name: Some("hci7".into()),
                },
                ErrorCode::NoBluetoothAdapter,
            ),
            (
                PhoneFailure::NoAdapter { name: None },
                ErrorCode::NoBluetoothAdapter,
            ),
            (
                PhoneFailure::BluetoothOff {
                    adapter: Some("hci0".into()),
                },
                ErrorCode::BluetoothOff,
            ),
            (
                PhoneFailure::BluetoothOff { adapter: None },
                ErrorCode::BluetoothOff,
            ),
            (PhoneFailure::NoPermission, ErrorCode::BluetoothPermission),
            (
                PhoneFailure::BluetoothUnavailable("no bus".into()),
                ErrorCode::BluetoothFailed,
            ),
            (
                PhoneFailure::Bluetooth(BluetoothProblem::TurnedOff),
                ErrorCode::BluetoothFailed,
            ),
            (
                PhoneFailure::BadAir("wifi".into()),
                ErrorCode::BluetoothFailed,
            ),
            (
                PhoneFailure::NoAdvert {
                    waited: Duration::from_secs(5),
                },
                ErrorCode::PhoneNotNearby,
            ),
            (
                PhoneFailure::RelayUnreachable {
                    relay: relay.clone(),
                    cause: "refused".into(),
                },
                ErrorCode::RelayUnreachable,
            ),
            (
                PhoneFailure::RelayRefused {
                    relay: relay.clone(),
                    status: 404,
                },
                ErrorCode::RelayRefused,
            ),
            (
                PhoneFailure::RelayRefused {
                    relay: None,
                    status: 503,
                },
                ErrorCode::RelayRefused,
            ),
            (
                PhoneFailure::RelayTls {
                    relay: relay.clone(),
                    detail: "unknown issuer".into(),
                },
                ErrorCode::RelayTls,
            ),
            (
                PhoneFailure::RelayLimit {
                    relay: relay.clone(),
                    code: 1009,
                    reason: "too big".into(),
                },
                ErrorCode::RelayRefused,
            ),
            (
                PhoneFailure::RelayTimeout {
                    relay: relay.clone(),
                },
                ErrorCode::RelayUnreachable,
            ),
            (PhoneFailure::RelayClosed { relay }, ErrorCode::RelayRefused),
            (
                PhoneFailure::Proxy {
                    proxy: "http://proxy:3128".into(),
                    problem: ProxyProblem::Refused {
                        target: "relay.example:443".into(),
                        status: 403,
                    },
                },
                ErrorCode::ProxyFailed,
            ),
            (PhoneFailure::PhoneHungUp, ErrorCode::PhoneHungUp),
            (
                PhoneFailure::Handshake(HandshakeProblem::Decrypt),
                ErrorCode::PhoneHungUp,
            ),
            (PhoneFailure::HandshakeStalled, ErrorCode::PhoneHungUp),
            (
                PhoneFailure::Timeout {
                    waited: Duration::from_secs(30),
                },
                ErrorCode::PhoneTimeout,
            ),
            (
                PhoneFailure::PhoneError(ctap::StatusCode::OperationDenied),
                ErrorCode::PhoneRefused,
            ),
            (
                PhoneFailure::BadAnswer(passbridge_core::webauthn::VerifyError::BadSignature),
                ErrorCode::PhoneAnswerInvalid,
            ),
            (
                PhoneFailure::Unlinked {
                    phone: "Pixel".into(),
                },
                ErrorCode::PhoneUnlinked,
            ),
            (PhoneFailure::Cancelled, ErrorCode::Cancelled),
            (PhoneFailure::Tunnel("x".into()), ErrorCode::PhoneFailed),
        ];
        for (failure, code) in cases {
            let error = IpcError::from(AppError::Phone(failure.clone()));
            assert_eq!(error.code, code, "{failure:?}");
            assert!(!error.message.is_empty());
            assert!(
                !error.message.contains("--"),
                "{failure:?}: {}",
                error.message
            );
            assert!(!error.message.contains("PASSBRIDGE_"), "{}", error.message);
        }
    }

    #[test]
    fn no_window_sentence_names_a_flag() {
        let errors = [
            AppError::Profile(ProfileError::NoDataDir),
            AppError::Profile(ProfileError::Locked {
                profile: "Ana".into(),
            }),
            AppError::Profile(ProfileError::PassphraseOnlyNotAllowed),
            AppError::InvalidInput(Invalid::Setting(Setting::Air, "wifi".into())),
            AppError::NoActiveProfile,
        ];
        for error in errors {
            let said = IpcError::from(error).message;
            assert!(!said.contains("--"), "{said}");
        }
    }
}
