//! Why a phone ceremony failed, by kind: the one enum the command line, the window and (later)
//! the doctor turn into their own words. Everything the drivers, the air and the checks of the
//! phone's answer report is sorted into it here, in one place ([`PhoneFailure::from_drive`],
//! [`PhoneFailure::from_verify`]).

use std::time::Duration;

use hybrid::error::{Error as HybridError, HandshakeProblem, Phase};
use hybrid::io::air::{AirError, BluetoothProblem};
use hybrid::io::driver::DriveError;
use hybrid::io::tunnel::TunnelError;
use hybrid::proxy::ProxyProblem;

use crate::webauthn::VerifyError;

/// Why a ceremony with a phone failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneFailure {
    /// There is no Bluetooth adapter (`None`), or none by the name the settings give.
    #[error("no Bluetooth adapter")]
    NoAdapter {
        /// The adapter asked for, if one was named.
        name: Option<String>,
    },
    /// Bluetooth is switched off (or was switched off during the scan).
    #[error("Bluetooth is off")]
    BluetoothOff {
        /// The adapter's description, when known.
        adapter: Option<String>,
    },
    /// The system does not let Passbridge use Bluetooth.
    #[error("no permission to use Bluetooth")]
    NoPermission,
    /// The system's Bluetooth service cannot be reached.
    #[error("the Bluetooth service cannot be reached: {0}")]
    BluetoothUnavailable(String),
    /// Another Bluetooth failure.
    #[error("Bluetooth failed: {0}")]
    Bluetooth(BluetoothProblem),
    /// The air setting is not one of the accepted forms (or leaves this machine).
    #[error("the air setting {0} is not understood")]
    BadAir(String),
    /// The loopback air's socket failed.
    #[error("the loopback air failed: {0}")]
    AirSocket(String),
    /// No advert from the phone in time: it did not scan the QR code, or is out of range.
    #[error("no phone advert within {} s", waited.as_secs())]
    NoAdvert {
        /// How long the ceremony waited.
        waited: Duration,
    },
    /// The tunnel relay cannot be reached.
    #[error("cannot reach the tunnel relay: {cause}")]
    RelayUnreachable {
        /// The relay the settings name (`None`: the phone's own tunnel service).
        relay: Option<String>,
        /// The connection's error.
        cause: String,
    },
    /// The relay answered with an HTTP error.
    #[error("the tunnel relay refused the connection (HTTP {status})")]
    RelayRefused {
        /// The relay.
        relay: Option<String>,
        /// The HTTP status.
        status: u16,
    },
    /// TLS with the relay failed: an untrusted certificate (a private CA not configured), or
    /// no root certificates at all.
    #[error("TLS with the tunnel relay failed: {detail}")]
    RelayTls {
        /// The relay.
        relay: Option<String>,
        /// What TLS reported.
        detail: String,
    },
    /// The relay ended the tunnel because of one of its limits.
    #[error("the tunnel relay ended the connection: {reason} (close code {code})")]
    RelayLimit {
        /// The relay.
        relay: Option<String>,
        /// The WebSocket close code.
        code: u16,
        /// The relay's reason.
        reason: String,
    },
    /// The relay did not bring the phone in time.
    #[error("the tunnel relay did not connect the phone in time")]
    RelayTimeout {
        /// The relay.
        relay: Option<String>,
    },
    /// The tunnel closed before the phone answered (not during the handshake).
    #[error("the tunnel relay closed the connection before the phone answered")]
    RelayClosed {
        /// The relay.
        relay: Option<String>,
    },
    /// The HTTP proxy cannot be used or refused the relay.
    #[error("proxy {proxy}: {problem}")]
    Proxy {
        /// The proxy, as configured.
        proxy: String,
        /// What went wrong.
        problem: ProxyProblem,
    },
    /// The phone hung up during the handshake: its keys did not match (an older QR code).
    #[error("the phone hung up during the secure handshake")]
    PhoneHungUp,
    /// The handshake's cryptography failed.
    #[error("the secure handshake with the phone failed: {0}")]
    Handshake(HandshakeProblem),
    /// The phone stopped answering during the handshake.
    #[error("the phone stopped answering during the secure handshake")]
    HandshakeStalled,
    /// The phone did not answer the request in time.
    #[error("the phone did not answer within {} s", waited.as_secs())]
    Timeout {
        /// How long the ceremony waited.
        waited: Duration,
    },
    /// The phone answered with a CTAP error.
    #[error("the phone answered with an error: {0}")]
    PhoneError(ctap::StatusCode),
    /// The phone's answer did not pass the relying party's checks.
    #[error("the phone's answer was rejected: {0}")]
    BadAnswer(VerifyError),
    /// The linked phone unlinked itself (the relay answered 410 Gone); the link is removed.
    #[error("the phone '{phone}' has unlinked itself")]
    Unlinked {
        /// The phone's name.
        phone: String,
    },
    /// The person cancelled.
    #[error("cancelled")]
    Cancelled,
    /// A site's request cannot be sent to a phone (it is not a registration or sign-in, or
    /// its CBOR is malformed).
    #[error("this request cannot be sent to a phone: {0}")]
    NotForwardable(HybridError),
    /// Another failure of the protocol session.
    #[error("the phone session failed: {0}")]
    Session(HybridError),
    /// Another failure of the tunnel.
    #[error("the tunnel failed: {0}")]
    Tunnel(String),
    /// A fault in Passbridge itself (a request it could not encode).
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a phone's CTAP error means for the person at the desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhoneRefusal {
    /// The person declined on the phone (`CTAP2_ERR_OPERATION_DENIED`).
    Declined,
    /// The phone has no passkey for the site (`CTAP2_ERR_NO_CREDENTIALS`).
    NoPasskey,
    /// The phone already has a passkey for the account (`CTAP2_ERR_CREDENTIAL_EXCLUDED`).
    AlreadyRegistered,
    /// Nobody approved in time (`CTAP2_ERR_USER_ACTION_TIMEOUT`).
    NotApprovedInTime,
    /// Cancelled on the phone (`CTAP2_ERR_KEEPALIVE_CANCEL`).
    CancelledOnPhone,
    /// The phone cannot make the kind of passkey asked for (`CTAP2_ERR_UNSUPPORTED_ALGORITHM`).
    UnsupportedAlgorithm,
    /// The phone has no room (`CTAP2_ERR_KEY_STORE_FULL`).
    Full,
    /// Any other status.
    Other,
}

impl PhoneRefusal {
    /// The meaning of `status`.
    pub fn of(status: ctap::StatusCode) -> Self {
        use ctap::StatusCode as S;
        match status {
            S::OperationDenied => Self::Declined,
            S::NoCredentials => Self::NoPasskey,
            S::CredentialExcluded => Self::AlreadyRegistered,
            S::UserActionTimeout => Self::NotApprovedInTime,
            S::KeepaliveCancel => Self::CancelledOnPhone,
            S::UnsupportedAlgorithm => Self::UnsupportedAlgorithm,
            S::KeyStoreFull => Self::Full,
            _ => Self::Other,
        }
    }
}

impl PhoneFailure {
    /// Sorts a driver's error. `relay` is the relay the settings name (for the words about
    /// it), `waited` the ceremony's timeout.
    pub fn from_drive(error: DriveError, relay: Option<&str>, waited: Duration) -> Self {
        let relay = relay.map(str::to_owned);
        match error {
            DriveError::Session(HybridError::Timeout(Phase::Advert)) => Self::NoAdvert { waited },
            DriveError::Session(HybridError::Timeout(Phase::Tunnel)) => {
                Self::RelayTimeout { relay }
            }
            DriveError::Session(HybridError::Timeout(Phase::Handshake | Phase::PostHandshake)) => {
                Self::HandshakeStalled
            }
            DriveError::Session(HybridError::Timeout(_)) => Self::Timeout { waited },
            DriveError::Session(HybridError::Handshake(problem)) => Self::Handshake(problem),
            DriveError::Session(HybridError::Cancelled) => Self::Cancelled,
            DriveError::Session(other) => Self::Session(other),
            DriveError::Tunnel(tunnel) => Self::from_tunnel(tunnel, relay),
            DriveError::Air(air) => Self::from_air(air),
            DriveError::RelayLimit(close) => Self::RelayLimit {
                relay,
                code: close.code,
                reason: close.reason,
            },
            DriveError::TunnelClosed {
                phase: Some(Phase::Handshake),
            } => Self::PhoneHungUp,
            DriveError::TunnelClosed { .. } => Self::RelayClosed { relay },
            other => Self::Tunnel(other.to_string()),
        }
    }

    /// Sorts a tunnel error (also the virtual phone's, at the relay).
    pub fn from_tunnel(error: TunnelError, relay: Option<String>) -> Self {
        match error {
            TunnelError::Refused(status) => Self::RelayRefused { relay, status },
            TunnelError::Unreachable(cause) => Self::RelayUnreachable {
                relay,
                cause: cause.to_string(),
            },
            TunnelError::WebSocket(cause) => Self::RelayUnreachable {
                relay,
                cause: cause.to_string(),
            },
            TunnelError::Tls(detail) => Self::RelayTls { relay, detail },
            TunnelError::Proxy(proxy) => Self::Proxy {
                proxy: proxy.proxy,
                problem: proxy.problem,
            },
            other => Self::Tunnel(other.to_string()),
        }
    }

    /// Sorts an air error.
    pub fn from_air(error: AirError) -> Self {
        match error {
            AirError::Bluetooth(BluetoothProblem::NoAdapter(name)) => Self::NoAdapter { name },
            AirError::Bluetooth(BluetoothProblem::PoweredOff { adapter }) => Self::BluetoothOff {
                adapter: Some(adapter),
            },
            AirError::Bluetooth(BluetoothProblem::TurnedOff) => {
                Self::BluetoothOff { adapter: None }
            }
            AirError::Bluetooth(BluetoothProblem::PermissionDenied) => Self::NoPermission,
            AirError::Bluetooth(BluetoothProblem::ServiceUnavailable(cause)) => {
                Self::BluetoothUnavailable(cause)
            }
            AirError::Bluetooth(other) => Self::Bluetooth(other),
            AirError::BadAddress(text) => Self::BadAir(text),
            AirError::NotLoopback(addr) => Self::BadAir(format!("udp://{addr}")),
            other => Self::AirSocket(other.to_string()),
        }
    }

    /// Sorts a rejected answer: a CTAP error from the phone is the phone's refusal; anything
    /// else failed the relying party's checks.
    pub fn from_verify(error: VerifyError) -> Self {
        match error {
            VerifyError::Status(status) => Self::PhoneError(status),
            other => Self::BadAnswer(other),
        }
    }

    /// The relay the failure is about, if it is about one.
    pub fn relay(&self) -> Option<Option<&str>> {
        match self {
            Self::RelayUnreachable { relay, .. }
            | Self::RelayRefused { relay, .. }
            | Self::RelayTls { relay, .. }
            | Self::RelayLimit { relay, .. }
            | Self::RelayTimeout { relay }
            | Self::RelayClosed { relay } => Some(relay.as_deref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use hybrid::io::tunnel::CloseReason;

    use super::*;

    const WAITED: Duration = Duration::from_secs(30);

    fn sorted(error: DriveError) -> PhoneFailure {
        PhoneFailure::from_drive(error, Some("ws://127.0.0.1:1"), WAITED)
    }

    #[test]
    fn each_driver_error_has_its_kind() {
        let relay = Some("ws://127.0.0.1:1".to_owned());
        assert_eq!(
            sorted(DriveError::Session(HybridError::Timeout(Phase::Advert))),
            PhoneFailure::NoAdvert { waited: WAITED }
        );
        assert_eq!(
            sorted(DriveError::Session(HybridError::Timeout(Phase::Response))),
            PhoneFailure::Timeout { waited: WAITED }
        );
        assert_eq!(
            sorted(DriveError::Session(HybridError::Timeout(Phase::Tunnel))),
            PhoneFailure::RelayTimeout {
                relay: relay.clone()
            }
        );
        assert_eq!(
            sorted(DriveError::Session(HybridError::Timeout(Phase::Handshake))),
            PhoneFailure::HandshakeStalled
        );
        assert_eq!(
            sorted(DriveError::Session(HybridError::Cancelled)),
            PhoneFailure::Cancelled
        );
        assert_eq!(
            sorted(DriveError::Tunnel(TunnelError::Refused(503))),
            PhoneFailure::RelayRefused {
                relay: relay.clone(),
                status: 503
            }
        );
        assert!(matches!(
            sorted(DriveError::Tunnel(TunnelError::Unreachable(
                std::io::ErrorKind::ConnectionRefused.into()
            ))),
            PhoneFailure::RelayUnreachable { .. }
        ));
        assert_eq!(
            sorted(DriveError::TunnelClosed {
                phase: Some(Phase::Handshake)
            }),
            PhoneFailure::PhoneHungUp
        );
        assert_eq!(
            sorted(DriveError::TunnelClosed {
                phase: Some(Phase::Response)
            }),
            PhoneFailure::RelayClosed {
                relay: relay.clone()
            }
        );
        assert_eq!(
            sorted(DriveError::RelayLimit(CloseReason {
                code: 1008,
                reason: "limit".to_owned()
            })),
            PhoneFailure::RelayLimit {
                relay,
                code: 1008,
                reason: "limit".to_owned()
            }
        );
    }

    #[test]
    fn bluetooth_problems_have_their_kind() {
        let air = |problem| sorted(DriveError::Air(AirError::Bluetooth(problem)));
        assert_eq!(
            air(BluetoothProblem::NoAdapter(Some("hci7".to_owned()))),
            PhoneFailure::NoAdapter {
                name: Some("hci7".to_owned())
            }
        );
        assert_eq!(
            air(BluetoothProblem::TurnedOff),
            PhoneFailure::BluetoothOff { adapter: None }
        );
        assert_eq!(
            air(BluetoothProblem::PermissionDenied),
            PhoneFailure::NoPermission
        );
    }

    #[test]
    fn a_phone_status_is_the_phones_refusal() {
        let failure = PhoneFailure::from_verify(VerifyError::Status(ctap::StatusCode::from(0x27)));
        assert_eq!(
            failure,
            PhoneFailure::PhoneError(ctap::StatusCode::OperationDenied)
        );
        assert_eq!(
            PhoneRefusal::of(ctap::StatusCode::OperationDenied),
            PhoneRefusal::Declined
        );
        assert_eq!(
            PhoneRefusal::of(ctap::StatusCode::from(0x99)),
            PhoneRefusal::Other
        );
        assert!(matches!(
            PhoneFailure::from_verify(VerifyError::BadSignature),
            PhoneFailure::BadAnswer(VerifyError::BadSignature)
        ));
    }
}
