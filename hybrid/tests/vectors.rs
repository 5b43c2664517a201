//! Known-answer tests: every fixed vector of `docs/hybrid.md` §10 (which names their sources).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    clippy::as_conversions,
    clippy::redundant_clone
)]

use hybrid::advert::{Eid, LengthPolicy};
use hybrid::error::{AdvertProblem, HandshakeProblem, QrProblem};
use hybrid::frame::{Message, PostHandshake, Revision};
use hybrid::keys::{KeyPurpose, PrivateKey, PublicKey, QrSecret, RoutingId, derive};
use hybrid::noise::{Construction, Crypter, InitiatorStart};
use hybrid::qr::{ClientQr, QrKey6, QrPayload, RequestHint, bytes_to_digits, digits_to_bytes};
use hybrid::tunnel_url::{DomainId, TunnelBase, decode_domain};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap()
}
fn a<const N: usize>(s: &str) -> [u8; N] {
    h(s).try_into().unwrap()
}

// ---- §10.1 digits and domains ----

#[test]
fn digits_known_answers() {
    assert_eq!(bytes_to_digits(&[0x61, 0x62, 0xff]), "16736865");
    assert_eq!(digits_to_bytes("16736865").unwrap(), [0x61, 0x62, 0xff]);
    assert_eq!(
        bytes_to_digits(b"hello world"),
        "335311851610699281684828783"
    );
    assert_eq!(
        digits_to_bytes("335311851610699281684828783").unwrap(),
        b"hello world"
    );
    assert_eq!(digits_to_bytes("999"), Err(QrProblem::ValueOverflow));
}

#[test]
fn domain_known_answers() {
    assert_eq!(decode_domain(0).unwrap(), "cable.ua5v.com");
    assert_eq!(decode_domain(1).unwrap(), "cable.auth.com");
    assert!(decode_domain(2).is_err());
    assert!(decode_domain(255).is_err());
    assert_eq!(decode_domain(266).unwrap(), "cable.wufkweyy3uaxb.com");
    assert_eq!(decode_domain(0xF980).unwrap(), "cable.my4kstlhndi4c.net");
    assert_eq!(decode_domain(256).unwrap(), "cable.qz2ekwmnd332c.info");
    assert_eq!(decode_domain(257).unwrap(), "cable.4a6bwmj6hiyyd.net");
    assert_eq!(decode_domain(0xFFFF).unwrap(), "cable.lw6vahpb5pldb.net");
    for id in 256..=u16::MAX {
        assert!(decode_domain(id).is_ok());
    }
}

// ---- §10.2 HKDF and tunnel IDs ----

#[test]
fn hkdf_known_answers() {
    let secret = h("00112233445566778899aabbccddeeff");
    let mut out = [0u8; 64];
    derive(&secret, &[], KeyPurpose::EidKey, &mut out);
    assert_eq!(
        out.to_vec(),
        h(
            "efafab5b2c84a11c80e3ad0770353138b414a859ccd3afcc99e3d3250dba65084ede8e38e75432617c0ccae1ffe5d8143df0db0cd6d296f489419cd6411ee505"
        )
    );
    derive(
        &secret,
        &h("ffeeddccbbaa998877665544332211"),
        KeyPurpose::EidKey,
        &mut out,
    );
    assert_eq!(
        out.to_vec(),
        h(
            "168cf3dd220a7907f8bac30f559be92a3b6d937fe5594beeaf1e50e35976b7d654dd550e22ae4c801b9d1cdbf0d2b1472daa1328661eb889acae3023b7ffa509"
        )
    );
}

#[test]
fn tunnel_id_and_urls_zero_secret() {
    let secret = QrSecret::from_bytes([0; 16]);
    let tid = secret.tunnel_id();
    assert_eq!(tid.0.to_vec(), h("3EEF97097986413B059EAA2A30D653D4"));
    let base = TunnelBase::Default;
    let routing = RoutingId([9, 10, 11]);
    assert_eq!(
        base.connect_url(DomainId(0), &routing, &tid).unwrap(),
        "wss://cable.ua5v.com/cable/connect/090A0B/3EEF97097986413B059EAA2A30D653D4"
    );
    assert_eq!(
        base.connect_url(DomainId(1), &routing, &tid).unwrap(),
        "wss://cable.auth.com/cable/connect/090A0B/3EEF97097986413B059EAA2A30D653D4"
    );
    assert_eq!(
        base.new_tunnel_url(DomainId(0xF980), &tid).unwrap(),
        "wss://cable.my4kstlhndi4c.net/cable/new/3EEF97097986413B059EAA2A30D653D4"
    );
    let custom = TunnelBase::Custom("ws://127.0.0.1:8080/".into());
    assert_eq!(
        custom.new_tunnel_url(DomainId(7), &tid).unwrap(),
        "ws://127.0.0.1:8080/cable/new/3EEF97097986413B059EAA2A30D653D4"
    );
    assert_eq!(
        custom
            .contact_url(DomainId(0), &[0xfb, 0xff, 0x01])
            .unwrap(),
        "ws://127.0.0.1:8080/cable/contact/-_8B"
    );
}

// ---- §10.3 advert decryption ----

#[test]
fn advert_known_answer_wrs() {
    let secret = QrSecret::from_bytes(a("01fea6f7c4807493dc256f9eacf756c9"));
    assert_eq!(
        secret.tunnel_id().0.to_vec(),
        h("367CBBF5F5085DF4098476AFE4B9B1D2")
    );
    let key = secret.eid_key();
    let advert = h("027d84ed6076b55e247c830f82955e4d126e7f43");
    let d = key.decrypt(&advert, 2).unwrap();
    assert_eq!(d.plaintext.to_vec(), h("008bb5c5c9a44d913a5eb20265550000"));
    assert_eq!(d.eid.nonce.to_vec(), h("8bb5c5c9a44d913a5eb2"));
    assert_eq!(d.eid.routing_id, RoutingId([0x02, 0x65, 0x55]));
    assert_eq!(d.eid.domain, DomainId(0));
    assert_eq!(
        TunnelBase::Default
            .connect_url(d.eid.domain, &d.eid.routing_id, &secret.tunnel_id())
            .unwrap(),
        "wss://cable.ua5v.com/cable/connect/026555/367CBBF5F5085DF4098476AFE4B9B1D2"
    );
    assert_eq!(
        secret.psk(&d.plaintext).expose_secret().to_vec(),
        h("839f4fa0f797563fc485031e4bec7e60b0f07fbc58fcda6815c8e9b1eec698bb")
    );
    // Re-encrypting the plaintext reproduces the advert.
    assert_eq!(key.encrypt(&d.eid).to_vec(), advert);
}

#[test]
fn eid_from_bytes_known_answer_and_negatives() {
    let p: [u8; 16] = a("00098b736b36a98cb9a42f090a0bff01");
    let eid = Eid::from_bytes(&p, 2).unwrap();
    assert_eq!(eid.nonce.to_vec(), h("098b736b36a98cb9a42f"));
    assert_eq!(eid.routing_id, RoutingId([9, 10, 11]));
    assert_eq!(eid.domain, DomainId(0x01FF));
    assert_eq!(eid.to_bytes(), p);
    let mut bad = p;
    bad[0] = 1;
    assert_eq!(Eid::from_bytes(&bad, 2), Err(AdvertProblem::ReservedByte));
    let mut bad = p;
    bad[15] = 0;
    assert_eq!(
        Eid::from_bytes(&bad, 2),
        Err(AdvertProblem::UnknownDomain(255))
    );
}

// ---- §10.4 real QR codes ----

const CHROME_QR: &str = "FIDO:/162870791865632382552704231438327900152302540348097243854039966655366469794954476199158014113179232779520163209900691930075274801398564434658077048963842109321447142660";
const SAFARI_QR: &str = "FIDO:/089962132878132862898875319509818655951233947060166026934941652203853844930597225184066237811614893181300344014421205790072080843938838513707157859599106109321447142404";

#[test]
fn chrome_qr_parses_and_reencodes_identically() {
    let q = QrPayload::from_url(CHROME_QR).unwrap();
    assert_eq!(
        q.secret.expose_secret().to_vec(),
        h("871bcec9c1227f91ccb86c9ffacd9eac")
    );
    assert_eq!(q.known_domains, 2);
    assert_eq!(q.timestamp, Some(1666589051));
    assert_eq!(q.supports_linking, Some(true));
    assert_eq!(q.hint, RequestHint::MakeCredential);
    assert_eq!(q.key6, None);
    let cbor = digits_to_bytes(CHROME_QR.strip_prefix("FIDO:/").unwrap()).unwrap();
    assert_eq!(cbor.len(), 69);
    assert_eq!(q.to_cbor(), cbor);
    assert_eq!(q.to_url(), CHROME_QR);
    // Case-insensitive prefix.
    assert_eq!(
        QrPayload::from_url(&CHROME_QR.replace("FIDO", "fido")).unwrap(),
        q
    );
}

#[test]
fn safari_qr_parses() {
    let q = QrPayload::from_url(SAFARI_QR).unwrap();
    assert_eq!(q.identity_key.compressed()[0], 0x02);
    assert_eq!(
        q.secret.expose_secret().to_vec(),
        h("f052eb83c3ff0421b46ae118fb4a928f")
    );
    assert_eq!(q.timestamp, Some(1670820400));
    assert_eq!(q.supports_linking, Some(false));
    assert_eq!(q.hint, RequestHint::MakeCredential);
    assert_eq!(q.to_url(), SAFARI_QR);
}

fn qr_map(entries: Vec<(i64, ciborium::Value)>) -> Vec<u8> {
    let v = ciborium::Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (ciborium::Value::Integer(k.into()), v))
            .collect(),
    );
    ctap::cbor::encode(&v).unwrap()
}

const KNOWN_POINT: &str = "03364C15EEC34331D2865757421D497E569E1EBA6CFF9A69D32E90F19E7F6FD15E";

fn base_entries() -> Vec<(i64, ciborium::Value)> {
    use ciborium::Value::*;
    vec![(0, Bytes(h(KNOWN_POINT))), (1, Bytes(vec![0; 16]))]
}

#[test]
fn chromium_known_qrs() {
    use ciborium::Value::*;
    let ok = QrPayload::from_cbor(&qr_map(base_entries())).unwrap();
    assert_eq!(ok.hint, RequestHint::GetAssertion);
    assert_eq!(ok.known_domains, 0);
    // Point with last byte ^ 3 is not on the curve.
    let mut bad_point = h(KNOWN_POINT);
    *bad_point.last_mut().unwrap() ^= 3;
    let mut e = base_entries();
    e[0].1 = Bytes(bad_point);
    assert_eq!(
        QrPayload::from_cbor(&qr_map(e)),
        Err(QrProblem::BadIdentityKey)
    );
    let mut e = base_entries();
    e[0].1 = Text("x".into());
    assert_eq!(
        QrPayload::from_cbor(&qr_map(e)),
        Err(QrProblem::WrongType(0))
    );
    for (k, v, want) in [
        (2, Text("2".into()), QrProblem::WrongType(2)),
        (4, Integer(1.into()), QrProblem::WrongType(4)),
        (5, Integer(1.into()), QrProblem::WrongType(5)),
    ] {
        let mut e = base_entries();
        e.push((k, v));
        assert_eq!(QrPayload::from_cbor(&qr_map(e)), Err(want), "key {k}");
    }
    let mut e = base_entries();
    e.push((1000, Text("ignored".into())));
    e.push((5, Text("XX".into())));
    let q = QrPayload::from_cbor(&qr_map(e)).unwrap();
    assert_eq!(q.hint, RequestHint::GetAssertion);
    let mut e = base_entries();
    e[1].1 = Bytes(vec![0; 15]);
    assert_eq!(
        QrPayload::from_cbor(&qr_map(e)),
        Err(QrProblem::SecretLength)
    );
    let e = vec![(1, Bytes(vec![0; 16]))];
    assert_eq!(
        QrPayload::from_cbor(&qr_map(e)),
        Err(QrProblem::MissingKey(0))
    );
    let e = vec![(0, Bytes(h(KNOWN_POINT)))];
    assert_eq!(
        QrPayload::from_cbor(&qr_map(e)),
        Err(QrProblem::MissingKey(1))
    );
    // Key 6 in both meanings; other types ignored.
    let mut e = base_entries();
    e.push((6, Array(vec![Integer(0.into()), Integer(1.into())])));
    assert_eq!(
        QrPayload::from_cbor(&qr_map(e)).unwrap().key6,
        Some(QrKey6::Channels(vec![0, 1]))
    );
    let mut e = base_entries();
    e.push((6, Bool(true)));
    assert_eq!(
        QrPayload::from_cbor(&qr_map(e)).unwrap().key6,
        Some(QrKey6::NonDiscoverableMakeCredential(true))
    );
    let mut e = base_entries();
    e.push((6, Text("?".into())));
    assert_eq!(QrPayload::from_cbor(&qr_map(e)).unwrap().key6, None);
}

// ---- §10.5 transport cipher (WRS) ----

#[test]
fn wrs_transport_cipher() {
    let write: [u8; 32] = a("1fba3cce17622c68268d9f75b5a8a3351b517f096fb5e294941af7e3a6a8d6e1");
    let read: [u8; 32] = a("e34f1aa3747238c04d3bd25e07ef1b35fef359000d755615cd85be27cfc807d1");
    let mut c = Crypter::new(read, write, Construction::Current);
    // Only prefix/suffix of the 224-byte plaintext were published, so check framing
    // properties here: a 224-byte message pads to 256 and encrypts to 272.
    let ct = c.encrypt(&[0x01; 224]).unwrap();
    assert_eq!(ct.len(), 272);
    assert_eq!(Message::Shutdown.encode(), [0x00]);
    assert!(Message::parse(&h("0201020304")).is_err()); // update body must be CBOR
}

// ---- §10.6 the iPhone session, end to end ----

const IPHONE_PRIV: &str = "b85bd584301fd9d938307a0a7d63608ce6272671052023c2e85dad1efc90707f";
const IPHONE_QR_SECRET: &str = "97aa809b276911764f20b2921b6c7539";
const IPHONE_QR_CBOR: &str = "a7005821021bbbd2af0fab1596103e86e66aa242b0e6d935c8982229fe106aecdef3542049015097aa809b276911764f20b2921b6c75390202031a6a19e8600562676106810019ffff00";
const IPHONE_ADVERT: &str = "9f4bc7c7ed77b8a021ba504084f19c55ab2a9e89";
const IPHONE_EPH: &str = "9b4d1b8f9de3f44af2c3e9b41377fa23deb7e9582f3cbab6d9dbd3ac4c66cb16";
const IPHONE_MSG1: &str = "0469361c21990613e68103b62480f865b2fac4e9101a7bc83a0aa6bbb7d17988ccae1833a49ae91cca2200ed650d0ee1ac0030e7eabb1b7128bb0884362da2236653f8f93344c8213dd9e0e6c67c29139e";
const IPHONE_MSG2: &str = "043e506f57ca06d713b770fb99560f6db4d9ff8cff7c55f96220f48dbe635ced8dd95cae1a8c6d8f273a297e7c00ac6872badfa377f872dc8c076c21679ce19b5605d73235109111433fade982b0918e17";
const IPHONE_POST: &str = "d63919aa1962f73b948ae3a558d4b2d8a3bf069fe74a722647cea87fc0ef23794985ec6f70158ce4dc6965280bc14bc6ec6e59fa9648d74598abe564a5dbc13b651f1bb68aef38d85c9e75e4f4719295aee837d864630d4e76974d1db9251ae3d0947a209e3d03a845bbb3f9542d83f770e5e194d6dfa33b3eb219f99a40e57d8364d0f7020cb65bf506087965d5efd2";
const IPHONE_POST_PLAIN: &str = "a2015861a50182684649444f5f325f30684649444f5f325f310282696c61726765426c6f62637072660350f24a8e70d0d3f82c293732523cc4de5a04a362726bf5627576f56c6a736f6e4d65737361676573f5098268696e7465726e616c6668796272696403826463746170626463";
const IPHONE_REQUEST: &str = "0102a3016b6578616d706c652e636f6d025820c6d10de1fc2d9bcffe91bd86800f1901760338fd70ca09c9e0c5b163a6ef0fdd05a1627576f5";
const IPHONE_REQUEST_CT: &str = "235220c6e1ef1d414abf8a7ce43032f65fabe42c59911018c5ab1a8f71a853a07aa6560bfb50f483e27d8335537e8d2a531e599cd7d8ab9ad279218ab442f5996be8dec747bf3b87613a321481fc26cd";
const IPHONE_REPLY_CT: &str = "860cb6a01646c8d16c644add796b3d80f7d6e2f32f1f7bc866c48725aefab396f5d92b22970e831425e7ed6a5b3b8c878bf4431bde119a8bf0b06261526892d07ac40a70be983ee705ec7216035a60911e85d4d99c842c50977072f2dd03cb6ba4fad021464627056094856fa98323bc71b0bad68607aef0972c5ae6d776cb19e96a9bf1880f2e08e2c2b5f7425551f3e7f71a6781da28008a44e961d958323d96aa9abd5ca58089641731189f905d6fd2e15bfc97c5891b94ba59738dda2117265386f58e756293825cb7c1156cb24e59a80004b19aaed89724fe1f3710ce5a67caf8ac4a4cda6289dd1f403c2bbf83fd9b582969a22cb217b44996350a06da4b7eadfd8d026fe804f01c452b285645";
const IPHONE_REPLY_BODY: &str = "00a501a262696458366f5cd22b68bfcc3b29cd1ee9187d73316b222047cc9d6e75e34d54a3721dc717adba227a54096c31e3e6d2fd83740d468ccfb2dc11ba64747970656a7075626c69632d6b6579025825a379a6f6eeafb9a55e378c118034e2751e682fab9f2d30ab13d2125586ce19471d0000000003584830460221009fade36a5db2bc861bb1e7387fa79362cd8140983eabcb7386b60480c5272d610221009ca697ca15a2b4fbd7dacc7560022de97a148f456f9b6ad3b5580f21d9b8e3a504a362696458208f417f87ef436e26721795a92a22233e9c5a20ca858115db9bcc2d49c3c97982646e616d65606b646973706c61794e616d656006f5";

#[test]
fn iphone_session_replayed_end_to_end() {
    // QR
    let identity = PrivateKey::from_bytes(&a(IPHONE_PRIV)).unwrap();
    assert_eq!(
        identity.public_key().compressed().to_vec(),
        h("021bbbd2af0fab1596103e86e66aa242b0e6d935c8982229fe106aecdef3542049")
    );
    let q = QrPayload::from_cbor(&h(IPHONE_QR_CBOR)).unwrap();
    assert_eq!(&q.identity_key, identity.public_key());
    assert_eq!(q.secret.expose_secret().to_vec(), h(IPHONE_QR_SECRET));
    assert_eq!(q.hint, RequestHint::GetAssertion);
    assert_eq!(q.key6, Some(QrKey6::Channels(vec![0])));
    assert_eq!(q.supports_linking, None);
    // Our canonical re-encoding drops only the unknown GREASE key 0xFFFF.
    let digits = bytes_to_digits(&h(IPHONE_QR_CBOR));
    assert!(digits.starts_with("52665516608192679"));
    assert_eq!(QrPayload::from_url(&format!("FIDO:/{digits}")).unwrap(), q);

    // Advert
    let secret = QrSecret::from_bytes(a(IPHONE_QR_SECRET));
    let d = secret.eid_key().decrypt(&h(IPHONE_ADVERT), 2).unwrap();
    assert_eq!(d.plaintext.to_vec(), h("006832febb84eab2ff632c4d58880100"));
    assert_eq!(d.eid.routing_id, RoutingId([0x4d, 0x58, 0x88]));
    assert_eq!(d.eid.domain, DomainId::APPLE);
    let tid = secret.tunnel_id();
    assert_eq!(tid.0.to_vec(), h("95074c89b06c2eb6bd4d79566d38dbf0"));
    let url = TunnelBase::Default
        .connect_url(d.eid.domain, &d.eid.routing_id, &tid)
        .unwrap();
    assert!(url.eq_ignore_ascii_case(
        "wss://cable.auth.com/cable/connect/4d5888/95074c89b06c2eb6bd4d79566d38dbf0"
    ));

    // PSK and handshake
    let psk = secret.psk(&d.plaintext);
    assert_eq!(
        psk.expose_secret().to_vec(),
        h("02107b404f528704e706c5741557494b9c14433afbab9da4a6e26c7990933272")
    );
    let eph = PrivateKey::from_bytes(&a(IPHONE_EPH)).unwrap();
    let (sent, msg1) = InitiatorStart::qr_for_testing(&psk, &identity, &eph)
        .unwrap()
        .write_message()
        .unwrap();
    assert_eq!(msg1.to_vec(), h(IPHONE_MSG1));
    let est = sent.read_message(&h(IPHONE_MSG2)).unwrap();
    assert_eq!(
        est.handshake_hash.to_vec(),
        h("ef1b9a7051799152481d997056ca47ee660e987a273321ce927772c5f65fa7ce")
    );
    let mut crypter = est.crypter;

    // Post-handshake getInfo (phone seq 0)
    let post = crypter.decrypt(&h(IPHONE_POST)).unwrap();
    assert_eq!(post, h(IPHONE_POST_PLAIN));
    assert_eq!(crypter.construction(), Construction::Current);
    let ph = PostHandshake::parse(&post).unwrap();
    assert_eq!(ph.revision, Revision::One);
    assert_eq!(ph.features, Some(vec!["ctap".to_owned(), "dc".to_owned()]));
    assert!(ph.linking.is_none());
    assert_eq!(ph.get_info.as_ref().unwrap().len(), 97);
    assert_eq!(ph.encode(), post);

    // Request (client seq 0) reproduces the captured ciphertext.
    let ct = crypter.encrypt(&h(IPHONE_REQUEST)).unwrap();
    assert_eq!(ct, h(IPHONE_REQUEST_CT));

    // Reply (phone seq 1).
    let reply = crypter.decrypt(&h(IPHONE_REPLY_CT)).unwrap();
    match Message::parse(&reply).unwrap() {
        Message::Ctap(body) => assert_eq!(body, h(IPHONE_REPLY_BODY)),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn iphone_traffic_keys_match_reference() {
    // The trace gives the raw split keys; a crypter built from them must decrypt the
    // phone's first message and reproduce the request ciphertext.
    let write: [u8; 32] = a("4150dee373e0081421218d893c6461d29cc2020c358d6a086ebe5a47b6fc707c");
    let read: [u8; 32] = a("ef5ebf8c696baf3d38ffb1b5cb5f6957b46ca48e3f0025397a1f8d5195085bec");
    let mut c = Crypter::new(read, write, Construction::Negotiate);
    assert_eq!(c.decrypt(&h(IPHONE_POST)).unwrap(), h(IPHONE_POST_PLAIN));
    assert_eq!(c.encrypt(&h(IPHONE_REQUEST)).unwrap(), h(IPHONE_REQUEST_CT));
}

#[test]
fn iphone_msg2_rejected_under_wrong_psk() {
    let identity = PrivateKey::from_bytes(&a(IPHONE_PRIV)).unwrap();
    let eph = PrivateKey::from_bytes(&a(IPHONE_EPH)).unwrap();
    let psk = QrSecret::from_bytes(a(IPHONE_QR_SECRET)).psk(&[0u8; 16]);
    let (sent, _) = InitiatorStart::qr_for_testing(&psk, &identity, &eph)
        .unwrap()
        .write_message()
        .unwrap();
    assert_eq!(
        sent.read_message(&h(IPHONE_MSG2)).unwrap_err(),
        HandshakeProblem::Decrypt
    );
}

#[test]
fn generated_qr_has_chromium_shape() {
    use rand_chacha::rand_core::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let qr = ClientQr::generate(&mut rng, RequestHint::MakeCredential, 1_700_000_000);
    let cbor = qr.payload().to_cbor();
    // {0: bstr33, 1: bstr16, 2: 2, 3: uint32, 4: true, 5: "mc"} = 69 bytes → 168 digits.
    assert_eq!(cbor.len(), 69);
    assert_eq!(cbor[0], 0xa6);
    assert_eq!(
        &cbor[cbor.len() - 6..],
        &[0x04, 0xf5, 0x05, 0x62, b'm', b'c']
    );
    assert_eq!(qr.url().len(), 6 + 168);
    let parsed = QrPayload::from_url(&qr.url()).unwrap();
    assert_eq!(&parsed, qr.payload());
    let _: &PublicKey = &parsed.identity_key;
    assert_eq!(LengthPolicy::default(), LengthPolicy::Exact);
}
