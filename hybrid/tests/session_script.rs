//! Round trips and scripted sessions: client ⇄ phone state machines wired back to back,
//! plus the rejection rules of `docs/hybrid.md`, each asserting its specific error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    clippy::as_conversions,
    clippy::redundant_clone
)]

use std::time::{Duration, Instant};

use hybrid::error::{
    AdvertProblem, Error, FrameProblem, HandshakeProblem, LinkingProblem, Phase, QrProblem,
    SessionProblem,
};
use hybrid::frame::{LinkingInfo, Message, PostHandshake, Revision};
use hybrid::keys::{LinkSecret, PrivateKey, PublicKey, QrSecret, RoutingId};
use hybrid::noise::{Construction, Crypter, InitiatorStart, MAX_SEQUENCE, ResponderStart};
use hybrid::qr::{ClientQr, QrPayload, RequestHint, digits_to_bytes};
use hybrid::session::{
    ClientAction, ClientConfig, ClientInput, ClientSession, PhoneAction, PhoneConfig, PhoneInput,
    PhoneLinking, PhoneSession, StoredLink,
};
use hybrid::tunnel_url::{DomainId, TunnelBase};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

const GET_INFO: &[u8] = &[
    0xa1, 0x01, 0x81, 0x68, b'F', b'I', b'D', b'O', b'_', b'2', b'_', b'0',
];

fn drain_client(c: &mut ClientSession) -> Vec<ClientAction> {
    std::iter::from_fn(|| c.poll_action()).collect()
}
fn drain_phone(p: &mut PhoneSession) -> Vec<PhoneAction> {
    std::iter::from_fn(|| p.poll_action()).collect()
}

fn linking_offer(seed: u64) -> PhoneLinking {
    let mut r = rng(seed);
    PhoneLinking {
        static_key: PrivateKey::generate(&mut r),
        contact_id: b"fcm-token".to_vec(),
        link_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
        link_secret: LinkSecret::from_bytes([7; 32]),
        name: "Pixel".into(),
        google_tag: Some(true),
        in_post_handshake: false,
    }
}

/// Runs a full QR session. Returns the client's actions (all of them) and links received.
fn run_qr(phone_cfg: PhoneConfig, request: &[u8]) -> (Vec<ClientAction>, Vec<StoredLink>) {
    let t0 = Instant::now();
    let mut r = rng(1);
    let config = ClientConfig {
        tunnel_base: TunnelBase::Custom("ws://127.0.0.1:8080".into()),
        ..ClientConfig::default()
    };
    let mut client =
        ClientSession::new_qr(config, RequestHint::GetAssertion, 1_700_000_000, &mut r, t0);
    let mut all = Vec::new();
    let acts = drain_client(&mut client);
    let ClientAction::ShowQr(url) = &acts[0] else {
        panic!()
    };
    assert_eq!(acts[1], ClientAction::StartScan);
    all.extend(acts.clone());
    client
        .handle(t0, ClientInput::CtapRequest(&[0x04]))
        .unwrap(); // queued getInfo

    let qr = QrPayload::from_url(url).unwrap();
    let mut phone = PhoneSession::new(qr, phone_cfg, &mut rng(2), t0).unwrap();
    let pa = drain_phone(&mut phone);
    let PhoneAction::Connect(req) = &pa[0] else {
        panic!()
    };
    assert!(req.url.starts_with("wss://cable.ua5v.com/cable/new/"));
    phone
        .handle(
            t0,
            PhoneInput::TunnelUp {
                routing_id: RoutingId([1, 2, 3]),
            },
        )
        .unwrap();
    let pa = drain_phone(&mut phone);
    let PhoneAction::StartAdvert(advert) = pa[0] else {
        panic!()
    };

    // A foreign advert is ignored, the real one matches.
    client.handle(t0, ClientInput::Advert(&[0u8; 20])).unwrap();
    assert!(drain_client(&mut client).is_empty());
    client.handle(t0, ClientInput::Advert(&advert)).unwrap();
    let acts = drain_client(&mut client);
    assert_eq!(acts[0], ClientAction::StopScan);
    let ClientAction::Connect(creq) = &acts[1] else {
        panic!()
    };
    assert!(
        creq.url
            .starts_with("ws://127.0.0.1:8080/cable/connect/010203/")
    );
    client.handle(t0, ClientInput::TunnelUp).unwrap();
    let mut to_phone: Vec<Vec<u8>> = drain_client(&mut client)
        .into_iter()
        .filter_map(|a| {
            if let ClientAction::Send(m) = a {
                Some(m)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(to_phone[0].len(), 81);

    let mut links = Vec::new();
    let mut request_seen = false;
    for _round in 0..6 {
        for m in to_phone.drain(..) {
            phone.handle(t0, PhoneInput::TunnelData(&m)).unwrap();
        }
        let mut to_client = Vec::new();
        for a in drain_phone(&mut phone) {
            match a {
                PhoneAction::Send(m) => to_client.push(m),
                PhoneAction::CtapRequest(req) => {
                    assert_eq!(req, request);
                    request_seen = true;
                    phone
                        .handle(t0, PhoneInput::CtapResponse(&[0x00, 0xa0]))
                        .unwrap();
                    for a in drain_phone(&mut phone) {
                        if let PhoneAction::Send(m) = a {
                            to_client.push(m);
                        }
                    }
                }
                PhoneAction::Finished => {
                    client.handle(t0, ClientInput::TunnelDown).unwrap();
                }
                _ => {}
            }
        }
        for m in to_client {
            client.handle(t0, ClientInput::TunnelData(&m)).unwrap();
        }
        for a in drain_client(&mut client) {
            match &a {
                ClientAction::Send(m) => to_phone.push(m.clone()),
                ClientAction::Linked(l) => links.push((**l).clone()),
                ClientAction::CtapResponse(r) if r.first() == Some(&0x00) && r.len() > 2 => {
                    // getInfo from cache → now send the real command.
                    assert_eq!(&r[1..], GET_INFO);
                    client
                        .handle(t0, ClientInput::CtapRequest(request))
                        .unwrap();
                    assert_eq!(
                        client.handle(t0, ClientInput::CtapRequest(request)),
                        Err(Error::Session(SessionProblem::OneCommandPerSession))
                    );
                    for a in drain_client(&mut client) {
                        if let ClientAction::Send(m) = a {
                            to_phone.push(m);
                        }
                    }
                }
                _ => {}
            }
            all.push(a);
        }
        if client.is_finished() {
            break;
        }
    }
    assert!(request_seen);
    assert!(
        client.is_finished(),
        "client did not finish: {:?}",
        client.error()
    );
    assert!(phone.is_finished());
    (all, links)
}

#[test]
fn qr_session_round_trip_without_linking() {
    let (acts, links) = run_qr(PhoneConfig::new(GET_INFO.to_vec()), &[0x02, 0xa0]);
    assert!(links.is_empty());
    assert!(acts.contains(&ClientAction::CtapResponse(vec![0x00, 0xa0])));
    assert!(acts.contains(&ClientAction::Finished));
}

#[test]
fn qr_session_with_linking_update_verifies() {
    let mut cfg = PhoneConfig::new(GET_INFO.to_vec());
    cfg.linking = Some(linking_offer(9));
    let (_, links) = run_qr(cfg, &[0x01, 0xa0]);
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].domain, DomainId::GOOGLE);
    assert_eq!(links[0].linking.name, "Pixel");
}

#[test]
fn qr_session_with_linking_in_post_handshake() {
    let mut cfg = PhoneConfig::new(GET_INFO.to_vec());
    let mut l = linking_offer(9);
    l.in_post_handshake = true;
    cfg.linking = Some(l);
    let (_, links) = run_qr(cfg, &[0x01, 0xa0]);
    assert_eq!(links.len(), 1);
}

#[test]
fn legacy_construction_phone_is_accepted() {
    let mut cfg = PhoneConfig::new(GET_INFO.to_vec());
    cfg.construction = Construction::Legacy;
    let (acts, _) = run_qr(cfg, &[0x02, 0xa0]);
    assert!(acts.contains(&ClientAction::CtapResponse(vec![0x00, 0xa0])));
}

#[test]
fn revision_zero_phone_is_detected() {
    let mut cfg = PhoneConfig::new(GET_INFO.to_vec());
    cfg.revision = Revision::Zero;
    cfg.features = None;
    let t0 = Instant::now();
    // Drive by hand: revision 0 has no shutdown message, so the phone finishes on TunnelDown.
    let mut client = ClientSession::new_qr(
        ClientConfig::default(),
        RequestHint::MakeCredential,
        1,
        &mut rng(3),
        t0,
    );
    let acts = drain_client(&mut client);
    let ClientAction::ShowQr(url) = &acts[0] else {
        panic!()
    };
    let mut phone =
        PhoneSession::new(QrPayload::from_url(url).unwrap(), cfg, &mut rng(4), t0).unwrap();
    drain_phone(&mut phone);
    phone
        .handle(
            t0,
            PhoneInput::TunnelUp {
                routing_id: RoutingId([9, 9, 9]),
            },
        )
        .unwrap();
    let PhoneAction::StartAdvert(adv) = drain_phone(&mut phone)[0] else {
        panic!()
    };
    client.handle(t0, ClientInput::Advert(&adv)).unwrap();
    client.handle(t0, ClientInput::TunnelUp).unwrap();
    client
        .handle(t0, ClientInput::CtapRequest(&[0x01, 0xa0]))
        .unwrap();
    let sends = |acts: Vec<ClientAction>| -> Vec<Vec<u8>> {
        acts.into_iter()
            .filter_map(|a| {
                if let ClientAction::Send(m) = a {
                    Some(m)
                } else {
                    None
                }
            })
            .collect()
    };
    let msg1 = sends(drain_client(&mut client)).remove(0);
    phone.handle(t0, PhoneInput::TunnelData(&msg1)).unwrap();
    let out: Vec<Vec<u8>> = drain_phone(&mut phone)
        .into_iter()
        .filter_map(|a| {
            if let PhoneAction::Send(m) = a {
                Some(m)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(out[1].len(), 512 + 32 + 16); // 512-padded map, then the 32-byte padding layer
    for m in &out {
        client.handle(t0, ClientInput::TunnelData(m)).unwrap();
    }
    assert_eq!(client.get_info(), Some(GET_INFO));
    let req = sends(drain_client(&mut client)).remove(0);
    phone.handle(t0, PhoneInput::TunnelData(&req)).unwrap();
    assert_eq!(
        drain_phone(&mut phone),
        vec![PhoneAction::CtapRequest(vec![0x01, 0xa0])]
    );
    phone.handle(t0, PhoneInput::CtapResponse(&[0x00])).unwrap();
    let PhoneAction::Send(reply) = drain_phone(&mut phone).remove(0) else {
        panic!()
    };
    client.handle(t0, ClientInput::TunnelData(&reply)).unwrap();
    assert!(drain_client(&mut client).contains(&ClientAction::CtapResponse(vec![0x00])));
}

#[test]
fn linked_flow_round_trip_nkpsk0() {
    // Phone side of a state-assisted session, built from primitives (tunnel ID and routing
    // ID come from the push message; here chosen by the test).
    let t0 = Instant::now();
    let offer = linking_offer(11);
    let hh = [5u8; 32];
    let identity = PrivateKey::generate(&mut rng(12));
    let link = StoredLink {
        linking: LinkingInfo {
            contact_id: offer.contact_id.clone(),
            link_id: offer.link_id.clone(),
            link_secret: offer.link_secret.clone(),
            authenticator_public_key: offer.static_key.public_key().clone(),
            name: offer.name.clone(),
            signature: LinkingInfo::sign(&offer.static_key, identity.public_key(), &hh),
            google_tag: None,
        },
        domain: DomainId(0),
    };
    link.linking.verify(&identity, &hh).unwrap();
    let mut client = ClientSession::new_linked(
        ClientConfig::default(),
        link.clone(),
        RequestHint::GetAssertion,
        &mut rng(13),
        t0,
    )
    .unwrap();
    let acts = drain_client(&mut client);
    let ClientAction::Connect(req) = &acts[0] else {
        panic!()
    };
    assert_eq!(req.url, "wss://cable.ua5v.com/cable/contact/ZmNtLXRva2Vu");
    let payload = hex::decode(&req.headers[0].1).unwrap();
    assert_eq!(req.headers[0].0, "X-caBLE-Client-Payload");
    let ciborium::Value::Map(m) = ctap::cbor::decode(&payload).unwrap() else {
        panic!()
    };
    let ciborium::Value::Bytes(nonce) = ctap::cbor::map_get_int(&m, 2).unwrap() else {
        panic!()
    };
    let nonce: [u8; 16] = nonce.as_slice().try_into().unwrap();

    // Phone: advert under the link secret, NKpsk0 responder with its static key.
    let eid = hybrid::advert::Eid {
        nonce: [3; 10],
        routing_id: RoutingId([0, 0, 1]),
        domain: DomainId(0),
    };
    let advert = offer.link_secret.eid_key(&nonce).encrypt(&eid);
    let psk = offer.link_secret.psk(&eid.to_bytes());
    let responder = ResponderStart::linked(&psk, &offer.static_key, &mut rng(14)).unwrap();

    // Tunnel first, then advert (either order works), then the connect signal.
    client.handle(t0, ClientInput::TunnelUp).unwrap();
    assert!(drain_client(&mut client).is_empty());
    client.handle(t0, ClientInput::Advert(&advert)).unwrap();
    let msg1 = drain_client(&mut client)
        .into_iter()
        .find_map(|a| {
            if let ClientAction::Send(m) = a {
                Some(m)
            } else {
                None
            }
        })
        .unwrap();
    client.handle(t0, ClientInput::TunnelData(&[0x00])).unwrap(); // connect signal
    let (est, msg2) = responder
        .read_message(&msg1)
        .unwrap()
        .write_message()
        .unwrap();
    client.handle(t0, ClientInput::TunnelData(&msg2)).unwrap();
    let mut crypter = est.crypter;
    let ph = PostHandshake {
        get_info: Some(GET_INFO.to_vec()),
        linking: None,
        features: Some(vec!["ctap".into()]),
        revision: Revision::One,
    };
    client
        .handle(
            t0,
            ClientInput::TunnelData(&crypter.encrypt(&ph.encode()).unwrap()),
        )
        .unwrap();
    client
        .handle(t0, ClientInput::CtapRequest(&[0x02, 0xa0]))
        .unwrap();
    let ct = drain_client(&mut client)
        .into_iter()
        .find_map(|a| {
            if let ClientAction::Send(m) = a {
                Some(m)
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(
        Message::parse(&crypter.decrypt(&ct).unwrap()).unwrap(),
        Message::Ctap(vec![0x02, 0xa0])
    );
}

#[test]
fn handshake_round_trips_with_random_keys() {
    for seed in 0..4u64 {
        let mut r = rng(100 + seed);
        let psk = QrSecret::generate(&mut r).psk(&[seed as u8; 16]);
        let id = PrivateKey::generate(&mut r);
        let (sent, m1) = InitiatorStart::qr(&psk, &id, &mut r)
            .unwrap()
            .write_message()
            .unwrap();
        let (mut pe, m2) = ResponderStart::qr(&psk, id.public_key(), &mut r)
            .unwrap()
            .read_message(&m1)
            .unwrap()
            .write_message()
            .unwrap();
        let mut ce = sent.read_message(&m2).unwrap();
        assert_eq!(ce.handshake_hash, pe.handshake_hash);
        let ct = pe.crypter.encrypt(b"hello").unwrap();
        assert_eq!(ce.crypter.decrypt(&ct).unwrap(), b"hello");
        let ct = ce.crypter.encrypt(b"").unwrap();
        assert_eq!(ct.len(), 32 + 16);
        assert_eq!(pe.crypter.decrypt(&ct).unwrap(), b"");
    }
}

// ---------------------------------------------------------------- rejections

#[test]
fn digit_rejections() {
    assert_eq!(digits_to_bytes("999"), Err(QrProblem::ValueOverflow));
    assert_eq!(digits_to_bytes("1234"), Err(QrProblem::BadTailLength));
    assert_eq!(digits_to_bytes("12a"), Err(QrProblem::NonDigit));
    assert_eq!(
        digits_to_bytes("99999999999999999"),
        Err(QrProblem::ValueOverflow)
    );
    assert_eq!(QrPayload::from_url("https://x"), Err(QrProblem::NotFidoUrl));
    assert_eq!(QrPayload::from_url("FIDO:/"), Err(QrProblem::Cbor));
}

#[test]
fn advert_rejections() {
    let secret = QrSecret::from_bytes([1; 16]);
    let key = secret.eid_key();
    let eid = hybrid::advert::Eid {
        nonce: [2; 10],
        routing_id: RoutingId([1, 2, 3]),
        domain: DomainId(1),
    };
    let good = key.encrypt(&eid);
    assert!(key.decrypt(&good, 2).is_ok());
    assert_eq!(
        key.decrypt(&good[..19], 2),
        Err(AdvertProblem::WrongLength(19))
    );
    let mut long = good.to_vec();
    long.extend_from_slice(&[0xa1, 0x01, 0x19, 0x00, 0x80]);
    assert_eq!(key.decrypt(&long, 2), Err(AdvertProblem::WrongLength(25)));
    let d = key
        .decrypt_with(&long, 2, hybrid::advert::LengthPolicy::AllowSuffix)
        .unwrap();
    assert_eq!(d.suffix, [0xa1, 0x01, 0x19, 0x00, 0x80]);
    let mut bad_tag = good;
    bad_tag[19] ^= 1;
    assert_eq!(key.decrypt(&bad_tag, 2), Err(AdvertProblem::TagMismatch));
    assert_eq!(
        QrSecret::from_bytes([9; 16]).eid_key().decrypt(&good, 2),
        Err(AdvertProblem::TagMismatch)
    );
    let mut reserved = eid.to_bytes();
    reserved[0] = 1;
    assert_eq!(
        key.decrypt(&key.encrypt_block(&reserved), 2),
        Err(AdvertProblem::ReservedByte)
    );
    for d in [2u16, 7, 255] {
        let e = hybrid::advert::Eid {
            domain: DomainId(d),
            ..eid
        };
        assert_eq!(
            key.decrypt(&key.encrypt(&e), 2),
            Err(AdvertProblem::UnknownDomain(d))
        );
    }
    assert_eq!(
        key.decrypt(
            &key.encrypt(&hybrid::advert::Eid {
                domain: DomainId(1),
                ..eid
            }),
            1
        ),
        Err(AdvertProblem::UnknownDomain(1))
    );
    assert!(
        key.decrypt(
            &key.encrypt(&hybrid::advert::Eid {
                domain: DomainId(256),
                ..eid
            }),
            2
        )
        .is_ok()
    );
}

fn handshake_pair() -> (hybrid::keys::Psk, PrivateKey) {
    let mut r = rng(77);
    (
        QrSecret::generate(&mut r).psk(&[0; 16]),
        PrivateKey::generate(&mut r),
    )
}

#[test]
fn handshake_rejections() {
    let (psk, id) = handshake_pair();
    let mut r = rng(5);
    let (_, m1) = InitiatorStart::qr(&psk, &id, &mut r)
        .unwrap()
        .write_message()
        .unwrap();
    for len in [0usize, 65, 80, 82, 200] {
        let mut m = m1.to_vec();
        m.resize(len, 0);
        assert_eq!(
            ResponderStart::qr(&psk, id.public_key(), &mut r)
                .unwrap()
                .read_message(&m)
                .unwrap_err(),
            HandshakeProblem::WrongLength(len)
        );
    }
    // Wrong PSK.
    let other = QrSecret::from_bytes([3; 16]).psk(&[0; 16]);
    assert_eq!(
        ResponderStart::qr(&other, id.public_key(), &mut r)
            .unwrap()
            .read_message(&m1)
            .unwrap_err(),
        HandshakeProblem::Decrypt
    );
    // Bad point.
    let mut bad = m1;
    bad[1] ^= 0xff;
    assert_eq!(
        ResponderStart::qr(&psk, id.public_key(), &mut r)
            .unwrap()
            .read_message(&bad)
            .unwrap_err(),
        HandshakeProblem::BadPublicKey
    );
    // A reply of the wrong size, and one from a responder with the wrong PSK.
    let sent = || {
        InitiatorStart::qr(&psk, &id, &mut rng(9))
            .unwrap()
            .write_message()
            .unwrap()
            .0
    };
    let (_, m2) = ResponderStart::qr(&other, id.public_key(), &mut r)
        .unwrap()
        .read_message(
            &InitiatorStart::qr(&other, &id, &mut r)
                .unwrap()
                .write_message()
                .unwrap()
                .1,
        )
        .unwrap()
        .write_message()
        .unwrap();
    for len in [0usize, 80, 82] {
        let mut reply = m2.to_vec();
        reply.resize(len, 0);
        assert_eq!(
            sent().read_message(&reply).unwrap_err(),
            HandshakeProblem::WrongLength(len)
        );
    }
    assert_eq!(
        sent().read_message(&m2).unwrap_err(),
        HandshakeProblem::Decrypt
    );
}

#[test]
fn non_empty_handshake_payload_is_rejected() {
    // Message 1 with one payload byte (82 bytes, what a peer that sends a non-empty payload
    // produces): our responder refuses it by length, before any decryption.
    let (psk, id) = handshake_pair();
    let mut r = rng(6);
    let (_, m1) = InitiatorStart::qr(&psk, &id, &mut r)
        .unwrap()
        .write_message()
        .unwrap();
    let mut with_payload = m1.to_vec();
    with_payload.insert(65, 0x00);
    assert_eq!(
        ResponderStart::qr(&psk, id.public_key(), &mut r)
            .unwrap()
            .read_message(&with_payload)
            .unwrap_err(),
        HandshakeProblem::WrongLength(82)
    );
}

#[test]
fn crypter_rejections() {
    let mut a = Crypter::new([1; 32], [2; 32], Construction::Current);
    let mut b = Crypter::new([2; 32], [1; 32], Construction::Negotiate);
    let ct = a.encrypt(b"x").unwrap();
    let mut tampered = ct.clone();
    tampered[0] ^= 1;
    assert_eq!(b.decrypt(&tampered), Err(FrameProblem::Decrypt));
    // Counter did not advance: the genuine message still decrypts.
    assert_eq!(b.decrypt(&ct).unwrap(), b"x");
    // Replay fails (counter advanced).
    assert_eq!(b.decrypt(&ct), Err(FrameProblem::Decrypt));
    // Sequence limit.
    a.set_sequence_numbers_for_testing(0, MAX_SEQUENCE);
    assert!(a.encrypt(b"last").is_ok());
    assert_eq!(a.encrypt(b"over"), Err(FrameProblem::SequenceLimit));
    b.set_sequence_numbers_for_testing(MAX_SEQUENCE + 1, 0);
    assert_eq!(b.decrypt(&ct), Err(FrameProblem::SequenceLimit));
    // Padding: an AEAD-valid message whose length byte points outside it.
    assert_eq!(
        hybrid::noise::crypter::unpad(&[]),
        Err(FrameProblem::Padding)
    );
    assert_eq!(
        hybrid::noise::crypter::unpad(&[0, 0, 5]),
        Err(FrameProblem::Padding)
    );
    assert_eq!(hybrid::noise::crypter::unpad(&[7, 0, 1]).unwrap(), [7]);
}

#[test]
fn legacy_fallback_sticks() {
    let mut phone = Crypter::new([1; 32], [2; 32], Construction::Legacy);
    let mut client = Crypter::new([2; 32], [1; 32], Construction::Negotiate);
    let ct = phone.encrypt(b"post").unwrap();
    assert_eq!(client.decrypt(&ct).unwrap(), b"post");
    assert_eq!(client.construction(), Construction::Legacy);
    let back = client.encrypt(b"req").unwrap();
    assert_eq!(phone.decrypt(&back).unwrap(), b"req");
    // Once legacy, a current-construction message is refused.
    let mut modern = Crypter::new([9; 32], [2; 32], Construction::Current);
    modern.set_sequence_numbers_for_testing(0, 1);
    assert_eq!(
        client.decrypt(&modern.encrypt(b"x").unwrap()),
        Err(FrameProblem::Decrypt)
    );
}

#[test]
fn message_rejections() {
    assert_eq!(Message::parse(&[]), Err(FrameProblem::Empty));
    assert_eq!(Message::parse(&[4]), Err(FrameProblem::UnknownType(4)));
    assert_eq!(
        Message::parse(&[0xff, 1]),
        Err(FrameProblem::UnknownType(0xff))
    );
    assert_eq!(Message::parse(&[2, 0xff]), Err(FrameProblem::Cbor));
    assert_eq!(Message::parse(&[2, 0xa0]).unwrap(), Message::Update(None));
    assert_eq!(Message::Update(None).encode().len(), 511);
    assert_eq!(PostHandshake::parse(&[]), Err(FrameProblem::Empty));
    // "ctap" listed without key 1.
    let ph = PostHandshake {
        get_info: None,
        linking: None,
        features: Some(vec!["ctap".into()]),
        revision: Revision::One,
    };
    assert_eq!(
        PostHandshake::parse(&ph.encode()),
        Err(FrameProblem::CtapFeatureMismatch)
    );
    // Features absent ⇒ CTAP ⇒ key 1 required.
    let ph = PostHandshake {
        get_info: None,
        linking: None,
        features: None,
        revision: Revision::One,
    };
    assert_eq!(
        PostHandshake::parse(&ph.encode()),
        Err(FrameProblem::CtapFeatureMismatch)
    );
    // Key 1 present without "ctap".
    let ph = PostHandshake {
        get_info: Some(vec![0xa0]),
        linking: None,
        features: Some(vec!["dc".into()]),
        revision: Revision::One,
    };
    assert_eq!(
        PostHandshake::parse(&ph.encode()),
        Err(FrameProblem::CtapFeatureMismatch)
    );
    // "dc" only, no key 1: fine.
    let ph = PostHandshake {
        get_info: None,
        linking: None,
        features: Some(vec!["dc".into()]),
        revision: Revision::One,
    };
    assert!(!PostHandshake::parse(&ph.encode()).unwrap().supports_ctap());
    // Revision 0 round trip, and unknown keys ignored.
    let ph = PostHandshake {
        get_info: Some(vec![0xa0]),
        linking: None,
        features: None,
        revision: Revision::Zero,
    };
    let enc = ph.encode();
    assert_eq!(enc.len() % 512, 0);
    assert_eq!(PostHandshake::parse(&enc).unwrap(), ph);
}

#[test]
fn linking_rejections() {
    let offer = linking_offer(21);
    let identity = PrivateKey::generate(&mut rng(22));
    let hh = [1u8; 32];
    let info = LinkingInfo {
        contact_id: offer.contact_id.clone(),
        link_id: offer.link_id.clone(),
        link_secret: offer.link_secret.clone(),
        authenticator_public_key: offer.static_key.public_key().clone(),
        name: offer.name.clone(),
        signature: LinkingInfo::sign(&offer.static_key, identity.public_key(), &hh),
        google_tag: Some(true),
    };
    info.verify(&identity, &hh).unwrap();
    assert_eq!(
        info.verify(&identity, &[2; 32]),
        Err(LinkingProblem::BadSignature)
    );
    let mut forged = info.clone();
    forged.signature[0] ^= 1;
    assert_eq!(
        forged.verify(&identity, &hh),
        Err(LinkingProblem::BadSignature)
    );
    let round = LinkingInfo::from_value(&info.to_value()).unwrap();
    assert_eq!(round, info);
    assert_eq!(
        LinkingInfo::from_cbor(&[0x01]),
        Err(LinkingProblem::NotAMap)
    );
    let ciborium::Value::Map(mut entries) = info.to_value() else {
        panic!()
    };
    entries.retain(|(k, _)| k != &ciborium::Value::Integer(6.into()));
    assert_eq!(
        LinkingInfo::from_value(&ciborium::Value::Map(entries)),
        Err(LinkingProblem::Field(6))
    );
    let ciborium::Value::Map(mut entries) = info.to_value() else {
        panic!()
    };
    entries[3].1 = ciborium::Value::Bytes(vec![4; 65]);
    assert_eq!(
        LinkingInfo::from_value(&ciborium::Value::Map(entries)),
        Err(LinkingProblem::BadPublicKey)
    );
    // A compressed point whose x is not on the curve, and a wrong length, are not keys.
    assert!(PublicKey::from_sec1(&[0; 33]).is_none());
    assert!(PublicKey::from_sec1(&[2; 10]).is_none());
}

#[test]
fn bad_linking_update_is_dropped_not_fatal() {
    // Hand-driven phone that signs over the wrong handshake hash.
    let t0 = Instant::now();
    let mut c = ClientSession::new_qr(
        ClientConfig::default(),
        RequestHint::MakeCredential,
        0,
        &mut rng(31),
        t0,
    );
    let acts = drain_client(&mut c);
    let ClientAction::ShowQr(url) = &acts[0] else {
        panic!()
    };
    let qr = QrPayload::from_url(url).unwrap();
    let eid = hybrid::advert::Eid {
        nonce: [1; 10],
        routing_id: RoutingId([0, 1, 2]),
        domain: DomainId(1),
    };
    let advert = qr.secret.eid_key().encrypt(&eid);
    let psk = qr.secret.psk(&eid.to_bytes());
    c.handle(t0, ClientInput::Advert(&advert)).unwrap();
    c.handle(t0, ClientInput::TunnelUp).unwrap();
    let msg1 = drain_client(&mut c)
        .into_iter()
        .find_map(|a| {
            if let ClientAction::Send(m) = a {
                Some(m)
            } else {
                None
            }
        })
        .unwrap();
    let (est, msg2) = ResponderStart::qr(&psk, &qr.identity_key, &mut rng(32))
        .unwrap()
        .read_message(&msg1)
        .unwrap()
        .write_message()
        .unwrap();
    c.handle(t0, ClientInput::TunnelData(&msg2)).unwrap();
    let mut crypter = est.crypter;
    let ph = PostHandshake {
        get_info: Some(GET_INFO.to_vec()),
        linking: None,
        features: None,
        revision: Revision::One,
    };
    c.handle(
        t0,
        ClientInput::TunnelData(&crypter.encrypt(&ph.encode()).unwrap()),
    )
    .unwrap();
    let offer = linking_offer(33);
    let bad = LinkingInfo {
        contact_id: offer.contact_id.clone(),
        link_id: offer.link_id.clone(),
        link_secret: offer.link_secret.clone(),
        authenticator_public_key: offer.static_key.public_key().clone(),
        name: offer.name.clone(),
        signature: LinkingInfo::sign(&offer.static_key, &qr.identity_key, &[0; 32]),
        google_tag: None,
    };
    let upd = crypter
        .encrypt(&Message::Update(Some(Box::new(bad.clone()))).encode())
        .unwrap();
    assert_eq!(upd.len(), 528);
    c.handle(t0, ClientInput::TunnelData(&upd)).unwrap();
    assert!(
        drain_client(&mut c)
            .iter()
            .all(|a| !matches!(a, ClientAction::Linked(_)))
    );
    // A correctly signed one is accepted.
    let good = LinkingInfo {
        signature: LinkingInfo::sign(&offer.static_key, &qr.identity_key, &est.handshake_hash),
        ..bad
    };
    let upd = crypter
        .encrypt(&Message::Update(Some(Box::new(good))).encode())
        .unwrap();
    c.handle(t0, ClientInput::TunnelData(&upd)).unwrap();
    let acts = drain_client(&mut c);
    assert!(matches!(&acts[0], ClientAction::Linked(l) if l.domain == DomainId(1)));
    // Shutdown from the phone is a protocol error.
    let sd = crypter.encrypt(&Message::Shutdown.encode()).unwrap();
    assert_eq!(
        c.handle(t0, ClientInput::TunnelData(&sd)),
        Err(Error::Frame(FrameProblem::UnexpectedType(0)))
    );
}

#[test]
fn client_timeouts_and_cancel_are_sticky() {
    let t0 = Instant::now();
    let mut c = ClientSession::new_qr(
        ClientConfig::default(),
        RequestHint::GetAssertion,
        0,
        &mut rng(1),
        t0,
    );
    let dl = c.next_deadline().unwrap();
    assert_eq!(dl, t0 + Duration::from_secs(180));
    assert_eq!(c.phase(), Some(Phase::Advert));
    c.handle(t0 + Duration::from_secs(179), ClientInput::Tick)
        .unwrap();
    assert_eq!(
        c.handle(dl, ClientInput::Tick),
        Err(Error::Timeout(Phase::Advert))
    );
    assert_eq!(
        c.handle(dl, ClientInput::TunnelUp),
        Err(Error::Timeout(Phase::Advert))
    );

    let mut c = ClientSession::new_qr(
        ClientConfig::default(),
        RequestHint::GetAssertion,
        0,
        &mut rng(1),
        t0,
    );
    drain_client(&mut c);
    assert_eq!(c.handle(t0, ClientInput::Cancel), Err(Error::Cancelled));
    assert_eq!(
        drain_client(&mut c),
        vec![ClientAction::StopScan, ClientAction::CloseTunnel]
    );
    assert_eq!(
        c.handle(t0, ClientInput::Advert(&[0; 20])),
        Err(Error::Cancelled)
    );
    assert_eq!(
        c.handle(t0, ClientInput::CtapRequest(&[])),
        Err(Error::Cancelled)
    );
}

#[test]
fn client_no_reply_timeout_and_bad_reply() {
    let t0 = Instant::now();
    let mut c = ClientSession::new_qr(
        ClientConfig::default(),
        RequestHint::GetAssertion,
        0,
        &mut rng(1),
        t0,
    );
    let acts = drain_client(&mut c);
    let ClientAction::ShowQr(url) = &acts[0] else {
        panic!()
    };
    let qr = QrPayload::from_url(url).unwrap();
    let mut p =
        PhoneSession::new(qr, PhoneConfig::new(GET_INFO.to_vec()), &mut rng(2), t0).unwrap();
    drain_phone(&mut p);
    p.handle(
        t0,
        PhoneInput::TunnelUp {
            routing_id: RoutingId([0; 3]),
        },
    )
    .unwrap();
    let PhoneAction::StartAdvert(adv) = drain_phone(&mut p)[0] else {
        panic!()
    };
    c.handle(t0, ClientInput::Advert(&adv)).unwrap();
    c.handle(t0, ClientInput::TunnelUp).unwrap();
    assert_eq!(c.phase(), Some(Phase::Handshake));
    let dl = c.next_deadline().unwrap();
    assert_eq!(
        c.handle(dl, ClientInput::Tick),
        Err(Error::Timeout(Phase::Handshake))
    );

    let mut c = ClientSession::new_qr(
        ClientConfig::default(),
        RequestHint::GetAssertion,
        0,
        &mut rng(1),
        t0,
    );
    drain_client(&mut c);
    c.handle(t0, ClientInput::Advert(&adv)).unwrap();
    c.handle(t0, ClientInput::TunnelUp).unwrap();
    assert_eq!(
        c.handle(t0, ClientInput::TunnelData(&[0u8; 80])),
        Err(Error::Handshake(HandshakeProblem::WrongLength(80)))
    );
    assert_eq!(
        c.handle(t0, ClientInput::TunnelData(&[0u8; 81])),
        Err(Error::Handshake(HandshakeProblem::WrongLength(80)))
    );
    assert_eq!(
        c.handle(t0, ClientInput::CtapRequest(&[])),
        Err(Error::Handshake(HandshakeProblem::WrongLength(80)))
    );
}

#[test]
fn client_empty_request_is_not_fatal() {
    let t0 = Instant::now();
    let mut c = ClientSession::new_qr(
        ClientConfig::default(),
        RequestHint::GetAssertion,
        0,
        &mut rng(1),
        t0,
    );
    assert_eq!(
        c.handle(t0, ClientInput::CtapRequest(&[])),
        Err(Error::Session(SessionProblem::EmptyRequest))
    );
    assert!(c.error().is_none());
}

#[test]
fn phone_rejects_shutdown_misuse_and_times_out() {
    let t0 = Instant::now();
    let qr = ClientQr::generate(&mut rng(1), RequestHint::GetAssertion, 0);
    let mut p = PhoneSession::new(
        qr.payload().clone(),
        PhoneConfig::new(GET_INFO.to_vec()),
        &mut rng(2),
        t0,
    )
    .unwrap();
    let dl = p.next_deadline().unwrap();
    assert_eq!(
        p.handle(dl, PhoneInput::Tick),
        Err(Error::Timeout(Phase::Tunnel))
    );
    let mut p = PhoneSession::new(
        qr.payload().clone(),
        PhoneConfig::new(GET_INFO.to_vec()),
        &mut rng(2),
        t0,
    )
    .unwrap();
    assert_eq!(
        p.handle(t0, PhoneInput::CtapResponse(&[0])),
        Err(Error::Session(SessionProblem::UnexpectedInput))
    );
}

#[test]
fn custom_base_maps_every_domain() {
    let base = TunnelBase::Custom("ws://127.0.0.1:8080".into());
    let tid = QrSecret::from_bytes([0; 16]).tunnel_id();
    for d in [0u16, 1, 2, 255, 256, 0xffff] {
        assert!(
            base.new_tunnel_url(DomainId(d), &tid)
                .unwrap()
                .starts_with("ws://127.0.0.1:8080/cable/new/")
        );
    }
}
