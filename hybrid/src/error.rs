//! The crate's one error type and its category sub-enums, as rustls and snow organise theirs.
//!
//! Every fallible step names *what* went wrong in a small `*Problem` enum; [`Error`] only says
//! *where* (QR, advert, handshake, frame, linking, session, timeout). Sessions keep the first
//! fatal error and return it again for every later input ("sticky", as rustls does).

/// Anything that can go wrong in the hybrid protocol core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A BLE advert could not be used (only surfaced by the explicit decrypt APIs; sessions
    /// ignore foreign adverts silently).
    #[error("advert: {0}")]
    Advert(#[from] AdvertProblem),
    /// The user or the caller cancelled the session.
    #[error("cancelled")]
    Cancelled,
    /// A post-handshake message or its encryption was malformed.
    #[error("frame: {0}")]
    Frame(#[from] FrameProblem),
    /// A client's CTAP request could not be prepared for a phone.
    #[error("request for the phone: {0}")]
    Forward(#[from] ForwardProblem),
    /// The Noise handshake failed.
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeProblem),
    /// Linking information was malformed or failed verification.
    #[error("linking: {0}")]
    Linking(#[from] LinkingProblem),
    /// The QR code (URL, digits or CBOR map) was invalid.
    #[error("QR code: {0}")]
    Qr(#[from] QrProblem),
    /// The session was driven in a way its state does not allow, or the peer broke the flow.
    #[error("session: {0}")]
    Session(#[from] SessionProblem),
    /// A phase of the session did not complete before its deadline.
    #[error("timed out waiting for {0:?}")]
    Timeout(Phase),
    /// A tunnel-server domain or URL could not be built.
    #[error("tunnel: {0}")]
    Tunnel(#[from] TunnelProblem),
}

/// Why a request cannot be forwarded to a phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardProblem {
    /// Only makeCredential and getAssertion go to a phone.
    #[error("only makeCredential and getAssertion can go to a phone")]
    NotForwardable,
    /// The request's CBOR is not a well-formed map.
    #[error("the request is not a CBOR map")]
    Malformed,
    /// A field has the wrong type or is missing.
    #[error("{0} is missing or of the wrong type")]
    BadField(&'static str),
}

/// What was wrong with a QR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrProblem {
    /// Key 0 was not a valid compressed P-256 point (33 bytes, on the curve).
    #[error("identity key is not a valid compressed P-256 point")]
    BadIdentityKey,
    /// The digit string's final group has a length no byte count maps to.
    #[error("digit string has a tail of invalid length")]
    BadTailLength,
    /// The CBOR could not be decoded, or was not a map.
    #[error("payload is not a CBOR map")]
    Cbor,
    /// A required key (0 or 1) is absent.
    #[error("required key {0} is missing")]
    MissingKey(u8),
    /// A character other than an ASCII digit appeared in the digit string.
    #[error("non-digit character in payload")]
    NonDigit,
    /// The URL does not start with `FIDO:/` (case-insensitive).
    #[error("URL does not start with FIDO:/")]
    NotFidoUrl,
    /// Key 1 (the QR secret) is not a 16-byte byte string.
    #[error("QR secret is not 16 bytes")]
    SecretLength,
    /// A known key carried the wrong CBOR type (key number given).
    #[error("key {0} has the wrong type")]
    WrongType(u8),
    /// A digit group's value does not fit in its byte count.
    #[error("digit group value overflows its byte count")]
    ValueOverflow,
}

/// Why an advert was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdvertProblem {
    /// The decrypted EID carries an assigned domain ID this client does not know (2..=255).
    #[error("unknown assigned tunnel domain {0}")]
    UnknownDomain(u16),
    /// The service data is not exactly 20 bytes (or shorter than 20 with a suffix policy).
    #[error("advert has wrong length {0}")]
    WrongLength(usize),
    /// The reserved first plaintext byte is not zero.
    #[error("reserved EID byte is not zero")]
    ReservedByte,
    /// The 4-byte HMAC tag does not match (wrong key: another session's advert).
    #[error("advert tag mismatch")]
    TagMismatch,
}

/// Why the Noise handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeProblem {
    /// A handshake message had a non-empty payload.
    #[error("handshake payload is not empty")]
    NonEmptyPayload,
    /// The peer's ephemeral or static public key is not a valid P-256 point.
    #[error("invalid P-256 public key")]
    BadPublicKey,
    /// A local private key was not a valid P-256 scalar.
    #[error("invalid P-256 private key")]
    BadPrivateKey,
    /// The AEAD tag did not verify: wrong PSK, wrong keys, or tampering.
    #[error("handshake message failed authentication")]
    Decrypt,
    /// The Noise library refused an operation (internal; should not happen).
    #[error("Noise state error")]
    Internal,
    /// A handshake message was not exactly 81 bytes.
    #[error("handshake message has wrong length {0}")]
    WrongLength(usize),
}

/// Why a transport message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameProblem {
    /// The AEAD tag did not verify under either construction.
    #[error("message failed authentication")]
    Decrypt,
    /// A message body that must be CBOR was not (or not the right shape).
    #[error("malformed CBOR body")]
    Cbor,
    /// The plaintext (after unpadding) was empty.
    #[error("empty message")]
    Empty,
    /// The post-handshake `"ctap"` rule was broken (getInfo present without "ctap" or missing
    /// with it).
    #[error("getInfo presence does not match the \"ctap\" feature")]
    CtapFeatureMismatch,
    /// The padding length byte points outside the message (or the message is empty).
    #[error("bad padding")]
    Padding,
    /// The per-direction sequence number would exceed 2^24 - 1.
    #[error("sequence number limit reached")]
    SequenceLimit,
    /// The message is larger than this implementation accepts.
    #[error("message too large")]
    TooLarge,
    /// A message type byte this implementation does not know (> 3).
    #[error("unknown message type {0}")]
    UnknownType(u8),
    /// A message type that is not allowed in this direction or state (e.g. shutdown from the
    /// phone).
    #[error("unexpected message type {0}")]
    UnexpectedType(u8),
}

/// Why linking information was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkingProblem {
    /// The HMAC over the handshake hash did not verify.
    #[error("linking signature does not verify")]
    BadSignature,
    /// The phone's static public key is not a valid uncompressed P-256 point.
    #[error("linking public key is invalid")]
    BadPublicKey,
    /// A required key is missing or has the wrong type or length (key number given).
    #[error("linking key {0} missing or malformed")]
    Field(u16),
    /// The linking value was not a CBOR map.
    #[error("linking info is not a CBOR map")]
    NotAMap,
}

/// What went wrong building tunnel URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TunnelProblem {
    /// The domain ID is below 256 but not one of the assigned domains.
    #[error("unassigned tunnel domain ID {0}")]
    UnknownDomain(u16),
    /// The client payload could not be encoded.
    #[error("client payload encoding failed")]
    Encoding,
    /// A client payload or contact push message is malformed.
    #[error("malformed client payload or contact message")]
    BadClientPayload,
    /// A contact names a link this phone does not have.
    #[error("the contact names an unknown link")]
    UnknownLink,
}

/// Session-level misuse or flow violations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionProblem {
    /// A second CTAP command was submitted; phones serve one per session.
    #[error("only one CTAP command per session")]
    OneCommandPerSession,
    /// The input does not fit the session's current state.
    #[error("input not valid in the current state")]
    UnexpectedInput,
    /// The tunnel closed before the session finished.
    #[error("tunnel closed early")]
    TunnelClosed,
    /// The peer sent a message the flow does not allow at this point.
    #[error("peer sent an unexpected message")]
    UnexpectedMessage,
    /// The random number generator failed.
    #[error("random number generator failed")]
    Rng,
    /// The session already finished.
    #[error("session finished")]
    Finished,
    /// The phone does not offer CTAP (its features lack `"ctap"`).
    #[error("phone does not offer CTAP")]
    CtapNotSupported,
    /// The CTAP request was empty.
    #[error("empty CTAP request")]
    EmptyRequest,
}

/// Session phases, used to name which deadline expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Client: waiting for a matching BLE advert.
    Advert,
    /// Waiting for the tunnel server to connect us.
    Tunnel,
    /// Waiting for the peer's handshake message.
    Handshake,
    /// Client: waiting for the phone's post-handshake message.
    PostHandshake,
    /// Client: waiting for the phone's CTAP reply (user interaction happens here).
    Response,
    /// Phone: waiting for the client's CTAP request.
    Request,
    /// Waiting for the peer to close after shutdown.
    Shutdown,
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
