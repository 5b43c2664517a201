//! CTAP status codes and the one place where internal errors become wire codes.
//!
//! Status codes follow CTAP 2.1 §8.2 "Status codes". [`StatusCode`] is total over `u8`: codes
//! the spec does not name map to [`StatusCode::Extension`], [`StatusCode::Vendor`] or
//! [`StatusCode::Other`]. Storage and crypto failures collapse to [`StatusCode::OtherError`]
//! (`CTAP1_ERR_OTHER`); details stay in local logs, as OpenSK's `status_code.rs` keeps them.

use crate::cbor::CborError;
use crate::platform::StoreError;

/// Declares [`StatusCode`] from one table: each named code, its spec name and its wire byte are
/// written once, and the enum, [`StatusCode::code`] and the total `From<u8>` come from it.
macro_rules! status_codes {
    ($($(#[doc = $doc:literal])* $name:ident = $byte:literal,)+) => {
        /// A CTAP status code (CTAP 2.1 §8.2). The discriminant is the wire byte for named codes.
        #[repr(u8)]
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum StatusCode {
            $($(#[doc = $doc])* $name = $byte,)+
            /// Any other code without a spec name (the wire byte is carried).
            Other(u8) = 0xDF,
            /// `CTAP2_ERR_EXTENSION_FIRST`..`CTAP2_ERR_EXTENSION_LAST` (0xE0–0xEF).
            Extension(u8) = 0xE0,
            /// `CTAP2_ERR_VENDOR_FIRST`..`CTAP2_ERR_VENDOR_LAST` (0xF0–0xFF).
            Vendor(u8) = 0xF0,
        }

        impl StatusCode {
            /// The wire byte.
            pub fn code(self) -> u8 {
                match self {
                    $(Self::$name => $byte,)+
                    Self::Other(b) | Self::Extension(b) | Self::Vendor(b) => b,
                }
            }

            /// The named code for `byte`, if the spec names one.
            fn named(byte: u8) -> Option<Self> {
                match byte {
                    $($byte => Some(Self::$name),)+
                    _ => None,
                }
            }
        }
    };
}

status_codes! {
    /// `CTAP2_OK` / `CTAP1_ERR_SUCCESS`.
    Ok = 0x00,
    /// `CTAP1_ERR_INVALID_COMMAND`.
    InvalidCommand = 0x01,
    /// `CTAP1_ERR_INVALID_PARAMETER`.
    InvalidParameter = 0x02,
    /// `CTAP1_ERR_INVALID_LENGTH`.
    InvalidLength = 0x03,
    /// `CTAP1_ERR_INVALID_SEQ`.
    InvalidSeq = 0x04,
    /// `CTAP1_ERR_TIMEOUT`.
    Timeout = 0x05,
    /// `CTAP1_ERR_CHANNEL_BUSY`.
    ChannelBusy = 0x06,
    /// `CTAP1_ERR_LOCK_REQUIRED`.
    LockRequired = 0x0A,
    /// `CTAP1_ERR_INVALID_CHANNEL`.
    InvalidChannel = 0x0B,
    /// `CTAP2_ERR_CBOR_UNEXPECTED_TYPE`.
    CborUnexpectedType = 0x11,
    /// `CTAP2_ERR_INVALID_CBOR`.
    InvalidCbor = 0x12,
    /// `CTAP2_ERR_MISSING_PARAMETER`.
    MissingParameter = 0x14,
    /// `CTAP2_ERR_LIMIT_EXCEEDED`.
    LimitExceeded = 0x15,
    /// `CTAP2_ERR_FP_DATABASE_FULL`.
    FpDatabaseFull = 0x17,
    /// `CTAP2_ERR_LARGE_BLOB_STORAGE_FULL`.
    LargeBlobStorageFull = 0x18,
    /// `CTAP2_ERR_CREDENTIAL_EXCLUDED`.
    CredentialExcluded = 0x19,
    /// `CTAP2_ERR_PROCESSING`.
    Processing = 0x21,
    /// `CTAP2_ERR_INVALID_CREDENTIAL`.
    InvalidCredential = 0x22,
    /// `CTAP2_ERR_USER_ACTION_PENDING`.
    UserActionPending = 0x23,
    /// `CTAP2_ERR_OPERATION_PENDING`.
    OperationPending = 0x24,
    /// `CTAP2_ERR_NO_OPERATIONS`.
    NoOperations = 0x25,
    /// `CTAP2_ERR_UNSUPPORTED_ALGORITHM`.
    UnsupportedAlgorithm = 0x26,
    /// `CTAP2_ERR_OPERATION_DENIED`.
    OperationDenied = 0x27,
    /// `CTAP2_ERR_KEY_STORE_FULL`.
    KeyStoreFull = 0x28,
    /// `CTAP2_ERR_UNSUPPORTED_OPTION`.
    UnsupportedOption = 0x2B,
    /// `CTAP2_ERR_INVALID_OPTION`.
    InvalidOption = 0x2C,
    /// `CTAP2_ERR_KEEPALIVE_CANCEL`.
    KeepaliveCancel = 0x2D,
    /// `CTAP2_ERR_NO_CREDENTIALS`.
    NoCredentials = 0x2E,
    /// `CTAP2_ERR_USER_ACTION_TIMEOUT`.
    UserActionTimeout = 0x2F,
    /// `CTAP2_ERR_NOT_ALLOWED`.
    NotAllowed = 0x30,
    /// `CTAP2_ERR_PIN_INVALID`.
    PinInvalid = 0x31,
    /// `CTAP2_ERR_PIN_BLOCKED`.
    PinBlocked = 0x32,
    /// `CTAP2_ERR_PIN_AUTH_INVALID`.
    PinAuthInvalid = 0x33,
    /// `CTAP2_ERR_PIN_AUTH_BLOCKED`.
    PinAuthBlocked = 0x34,
    /// `CTAP2_ERR_PIN_NOT_SET`.
    PinNotSet = 0x35,
    /// `CTAP2_ERR_PUAT_REQUIRED`.
    PuatRequired = 0x36,
    /// `CTAP2_ERR_PIN_POLICY_VIOLATION`.
    PinPolicyViolation = 0x37,
    /// `CTAP2_ERR_REQUEST_TOO_LARGE`.
    RequestTooLarge = 0x39,
    /// `CTAP2_ERR_ACTION_TIMEOUT`.
    ActionTimeout = 0x3A,
    /// `CTAP2_ERR_UP_REQUIRED`.
    UpRequired = 0x3B,
    /// `CTAP2_ERR_UV_BLOCKED`.
    UvBlocked = 0x3C,
    /// `CTAP2_ERR_INTEGRITY_FAILURE`.
    IntegrityFailure = 0x3D,
    /// `CTAP2_ERR_INVALID_SUBCOMMAND`.
    InvalidSubcommand = 0x3E,
    /// `CTAP2_ERR_UV_INVALID`.
    UvInvalid = 0x3F,
    /// `CTAP2_ERR_UNAUTHORIZED_PERMISSION`.
    UnauthorizedPermission = 0x40,
    /// `CTAP1_ERR_OTHER`.
    OtherError = 0x7F,
}

impl StatusCode {
    /// True for `CTAP2_OK`.
    pub fn is_ok(self) -> bool {
        self.code() == 0
    }
}

impl From<u8> for StatusCode {
    fn from(byte: u8) -> Self {
        Self::named(byte).unwrap_or(match byte {
            0xE0..=0xEF => Self::Extension(byte),
            0xF0..=0xFF => Self::Vendor(byte),
            _ => Self::Other(byte),
        })
    }
}

impl From<StatusCode> for u8 {
    fn from(s: StatusCode) -> u8 {
        s.code()
    }
}

impl std::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?} (0x{:02X})", self.code())
    }
}

impl std::error::Error for StatusCode {}

/// Malformed CBOR from the peer is `CTAP2_ERR_INVALID_CBOR`; an unencodable value of ours is an
/// internal error.
impl From<CborError> for StatusCode {
    fn from(e: CborError) -> Self {
        match e {
            CborError::Malformed | CborError::Trailing(_) | CborError::Tagged => Self::InvalidCbor,
            _ => Self::OtherError,
        }
    }
}

/// Storage failures never reach the peer in detail.
impl From<StoreError> for StatusCode {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Full => Self::KeyStoreFull,
            _ => Self::OtherError,
        }
    }
}

/// Internal crypto failures (bad key material of our own, RNG failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A key could not be parsed or generated.
    #[error("key material rejected")]
    Key,
    /// Signing failed.
    #[error("signing failed")]
    Sign,
    /// A ciphertext did not authenticate or had the wrong length.
    #[error("decryption failed")]
    Decrypt,
}

impl From<CryptoError> for StatusCode {
    fn from(_: CryptoError) -> Self {
        Self::OtherError
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_u8_is_total_and_round_trips() {
        for b in 0..=u8::MAX {
            assert_eq!(StatusCode::from(b).code(), b, "byte {b:#x}");
        }
        assert_eq!(StatusCode::from(0x2D), StatusCode::KeepaliveCancel);
        assert_eq!(StatusCode::from(0xE3), StatusCode::Extension(0xE3));
        assert_eq!(StatusCode::from(0xF1), StatusCode::Vendor(0xF1));
        assert_eq!(StatusCode::from(0x38), StatusCode::Other(0x38));
        assert_eq!(StatusCode::from(0xDF), StatusCode::Other(0xDF));
    }

    #[test]
    fn malformed_cbor_is_invalid_cbor() {
        assert_eq!(
            StatusCode::from(CborError::Trailing(1)),
            StatusCode::InvalidCbor
        );
    }
}
