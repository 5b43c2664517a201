//! The whole CPU path of one QR ceremony: QR keys → advert encrypt/decrypt → both handshake
//! sides → post-handshake message → one encrypted CTAP round trip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use hybrid::advert::Eid;
use hybrid::keys::RoutingId;
use hybrid::noise::{InitiatorStart, ResponderStart};
use hybrid::qr::{ClientQr, QrPayload, RequestHint};
use hybrid::tunnel_url::DomainId;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fn cpu_path(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    c.bench_function("cpu_path", |b| {
        b.iter(|| {
            let qr = ClientQr::generate(&mut rng, RequestHint::GetAssertion, 0);
            let payload = QrPayload::from_url(&qr.url()).unwrap();
            let eid = Eid::generate(&mut rng, RoutingId([1, 2, 3]), DomainId(0));
            let advert = payload.secret.eid_key().encrypt(&eid);
            let found = qr.payload().secret.eid_key().decrypt(&advert, 2).unwrap();
            let psk_c = qr.payload().secret.psk(&found.plaintext);
            let psk_p = payload.secret.psk(&eid.to_bytes());
            let (sent, m1) = InitiatorStart::qr(&psk_c, qr.identity(), &mut rng)
                .unwrap()
                .write_message()
                .unwrap();
            let (mut p, m2) = ResponderStart::qr(&psk_p, &payload.identity_key, &mut rng)
                .unwrap()
                .read_message(&m1)
                .unwrap()
                .write_message()
                .unwrap();
            let mut cl = sent.read_message(&m2).unwrap();
            let req = cl.crypter.encrypt(&[0x01; 200]).unwrap();
            let got = p.crypter.decrypt(&req).unwrap();
            let resp = p.crypter.encrypt(&got).unwrap();
            cl.crypter.decrypt(&resp).unwrap()
        })
    });
}

/// One P-256 ECDH (the operation the handshake does four times) on the assembly-backed path
/// the crate uses (aws-lc-rs) beside the pure-Rust `p256` crate it replaced, so the before and
/// after figures come from the same run.
fn ecdh(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let ours = hybrid::keys::PrivateKey::generate(&mut rng);
    let peer = hybrid::keys::PrivateKey::generate(&mut rng);
    let peer_public = peer.public_key().clone();
    let mut group = c.benchmark_group("p256_ecdh");
    group.bench_function("aws-lc-rs (hybrid::keys)", |b| {
        b.iter(|| ours.ecdh_x(&peer_public))
    });
    let secret = p256::SecretKey::from_bytes(&(*ours.expose_secret()).into()).unwrap();
    let point = p256::PublicKey::from_sec1_bytes(peer_public.uncompressed()).unwrap();
    group.bench_function("p256 crate (pure Rust)", |b| {
        b.iter(|| {
            p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), point.as_affine())
                .raw_secret_bytes()
                .to_owned()
        })
    });
    group.finish();
}

criterion_group!(benches, cpu_path, ecdh);
criterion_main!(benches);
