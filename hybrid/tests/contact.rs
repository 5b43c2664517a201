//! The state-assisted ("linked phone") pieces that have no published
//! vectors: the client payload header and the relay's contact push, round trip and rejection,
//! and a linked phone session refusing a contact for a link it does not have.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    reason = "tests: the session only stores the instant, any one will do"
)]

use std::time::Instant;

use hybrid::error::{Error, TunnelProblem};
use hybrid::keys::{LinkSecret, PrivateKey, RoutingId, TunnelId};
use hybrid::qr::RequestHint;
use hybrid::session::{PhoneAction, PhoneConfig, PhoneLinking, PhoneSession};
use hybrid::tunnel_url::{ClientPayload, ContactPush, TunnelBase};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fn payload() -> ClientPayload {
    ClientPayload {
        link_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
        client_nonce: [9; 16],
        hint: RequestHint::MakeCredential,
    }
}

#[test]
fn client_payload_round_trips_through_the_header() {
    let p = payload();
    assert_eq!(
        ClientPayload::from_header_value(&p.header_value()),
        Ok(p.clone())
    );
    // Servers and clients differ in hex case; both parse.
    assert_eq!(
        ClientPayload::from_header_value(&p.header_value().to_lowercase()),
        Ok(p)
    );
}

#[test]
fn malformed_client_payloads_are_refused() {
    let bad = Err(TunnelProblem::BadClientPayload);
    for header in [
        "",
        "zz",
        "A0",     // empty map: no link ID
        "A10140", // {1: h''}: empty link ID
        // {1: h'01', 2: h'00'}: nonce of 1 byte
        "A2014101024100",
    ] {
        assert_eq!(ClientPayload::from_header_value(header), bad, "{header}");
    }
}

#[test]
fn contact_push_round_trips_and_rejects_truncation() {
    let push = ContactPush {
        routing_id: RoutingId([1, 2, 3]),
        tunnel_id: TunnelId([7; 16]),
        payload: payload(),
    };
    let bytes = push.to_cbor();
    assert_eq!(ContactPush::from_cbor(&bytes), Ok(push));
    for cut in 0..bytes.len() {
        assert!(
            ContactPush::from_cbor(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn a_phone_answers_only_contacts_for_its_own_link() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut config = PhoneConfig::new(vec![0xa0]);
    config.tunnel_base = TunnelBase::Custom("ws://127.0.0.1:1".to_owned());
    config.linking = Some(PhoneLinking {
        static_key: PrivateKey::generate(&mut rng),
        contact_id: vec![5; 16],
        link_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
        link_secret: LinkSecret::from_bytes([3; 32]),
        name: "test phone".to_owned(),
        google_tag: None,
        in_post_handshake: false,
    });
    let push = ContactPush {
        routing_id: RoutingId([1, 2, 3]),
        tunnel_id: TunnelId([7; 16]),
        payload: payload(),
    };
    let now = Instant::now();
    let mut session = PhoneSession::new_linked(&push, config.clone(), &mut rng, now).unwrap();
    assert_eq!(
        session.poll_action(),
        Some(PhoneAction::Connect(
            hybrid::tunnel_url::TunnelRequest::plain(
                "ws://127.0.0.1:1/cable/connect/010203/07070707070707070707070707070707".to_owned()
            )
        ))
    );
    assert_eq!(session.known_routing_id(), Some(RoutingId([1, 2, 3])));

    let mut other = push;
    other.payload.link_id = vec![8; 8];
    assert!(matches!(
        PhoneSession::new_linked(&other, config.clone(), &mut rng, now),
        Err(Error::Tunnel(TunnelProblem::UnknownLink))
    ));
    config.linking = None;
    assert!(matches!(
        PhoneSession::new_linked(&other, config, &mut rng, now),
        Err(Error::Tunnel(TunnelProblem::UnknownLink))
    ));
}
