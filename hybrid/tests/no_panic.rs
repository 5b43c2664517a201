//! proptest: the parsers never panic on arbitrary input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    clippy::as_conversions,
    clippy::redundant_clone
)]

use std::time::Instant;

use hybrid::frame::{LinkingInfo, Message, PostHandshake};
use hybrid::keys::{PrivateKey, QrSecret};
use hybrid::noise::{Construction, Crypter, ResponderStart};
use hybrid::qr::{QrPayload, digits_to_bytes};
use hybrid::session::{ClientConfig, ClientInput, ClientSession};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

proptest! {
    #[test]
    fn qr_parsers_never_panic(s in ".{0,300}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = QrPayload::from_url(&s);
        let _ = QrPayload::from_url(&format!("FIDO:/{s}"));
        let _ = digits_to_bytes(&s);
        let _ = QrPayload::from_cbor(&bytes);
    }

    #[test]
    fn digits_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let d = hybrid::qr::bytes_to_digits(&bytes);
        prop_assert_eq!(digits_to_bytes(&d).unwrap(), bytes);
    }

    #[test]
    fn frame_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Message::parse(&bytes);
        let _ = PostHandshake::parse(&bytes);
        let _ = LinkingInfo::from_cbor(&bytes);
        let _ = hybrid::noise::crypter::unpad(&bytes);
        let mut c = Crypter::new([1; 32], [2; 32], Construction::Negotiate);
        let _ = c.decrypt(&bytes);
    }

    #[test]
    fn advert_and_handshake_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let s = QrSecret::from_bytes([4; 16]);
        let _ = s.eid_key().decrypt(&bytes, 2);
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let id = PrivateKey::generate(&mut rng);
        let _ = ResponderStart::qr(&s.psk(&[0; 16]), id.public_key(), &mut rng).unwrap().read_message(&bytes);
    }

    /// Arbitrary inputs at arbitrary times (up to an hour apart, so every phase's deadline can
    /// fire): never a panic, and an error once reported is reported again for every input.
    #[test]
    fn client_session_never_panics(inputs in proptest::collection::vec((0u8..7, proptest::collection::vec(any::<u8>(), 0..100), 0u64..3_600_000), 0..12)) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut c = ClientSession::new_qr(ClientConfig::default(), hybrid::qr::RequestHint::GetAssertion, 0, &mut rng, t0);
        let mut failed: Option<hybrid::Error> = None;
        for (kind, data, after_ms) in &inputs {
            now += std::time::Duration::from_millis(*after_ms);
            let input = match kind {
                0 => ClientInput::Advert(data),
                1 => ClientInput::TunnelUp,
                2 => ClientInput::TunnelData(data),
                3 => ClientInput::TunnelDown,
                4 => ClientInput::CtapRequest(data),
                5 => ClientInput::Tick,
                _ => ClientInput::Cancel,
            };
            let result = c.handle(now, input);
            if let Some(sticky) = &failed {
                prop_assert_eq!(result.as_ref().err(), Some(sticky));
            } else if c.error().is_some() {
                failed = result.err();
                prop_assert!(failed.is_some());
            }
            if let Some(deadline) = c.next_deadline() {
                prop_assert!(deadline >= t0);
            }
            while c.poll_action().is_some() {}
        }
    }
}
