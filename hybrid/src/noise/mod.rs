//! Noise handshakes (`KNpsk0` / `NKpsk0` over P-256, AES-256-GCM, SHA-256) and the
//! post-handshake [`Crypter`], built on `snow` with our own resolver.

pub mod crypter;
pub mod handshake;
mod resolver;

pub use crypter::{Construction, Crypter, MAX_SEQUENCE};
pub use handshake::{
    Established, HANDSHAKE_MESSAGE_LEN, InitiatorSent, InitiatorStart, ResponderReceived,
    ResponderStart,
};
