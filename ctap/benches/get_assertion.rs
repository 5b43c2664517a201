//! getAssertion in-process next to a bare `ring` P-256 signature in the same run. Goal:
//! getAssertion ≤ 1.5 × the bare signature.

#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "benchmark setup: failing loudly is the point"
)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use ctap::cbor::{self, Value, int_map};
use ctap::testing::{ManualClock, MemoryStore, ScriptedPrompt, seeded_rng};
use ctap::{Authenticator, Config, Step};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

fn bench(c: &mut Criterion) {
    let clock = ManualClock::new();
    let mut auth = Authenticator::new(
        MemoryStore::new(),
        clock.clone(),
        seeded_rng(1),
        Config::default(),
    )
    .expect("authenticator");
    let mc = int_map([
        (1, Some(Value::Bytes(vec![0; 32]))),
        (2, Some(Value::Map(vec![(t("id"), t("example.com"))]))),
        (3, Some(Value::Map(vec![(t("id"), Value::Bytes(vec![1]))]))),
        (
            4,
            Some(Value::Array(vec![Value::Map(vec![
                (t("alg"), Value::Integer((-7).into())),
                (t("type"), t("public-key")),
            ])])),
        ),
    ]);
    let msg = [vec![0x01], cbor::encode(&mc).expect("encode")].concat();
    let resp = auth.handle_with_prompt(&msg, &mut ScriptedPrompt::always_approve());
    assert_eq!(resp[0], 0);
    let Value::Map(m) = cbor::decode(&resp[1..]).expect("decode") else {
        panic!()
    };
    let Some(Value::Bytes(ad)) = cbor::map_get_int(&m, 2) else {
        panic!()
    };
    let len = usize::from(u16::from_be_bytes([ad[53], ad[54]]));
    let cred_id = ad[55..55 + len].to_vec();

    // up=false: no prompt, so the measurement is the authenticator's own work.
    let ga = int_map([
        (1, Some(t("example.com"))),
        (2, Some(Value::Bytes(vec![7; 32]))),
        (
            3,
            Some(Value::Array(vec![Value::Map(vec![
                (t("id"), Value::Bytes(cred_id)),
                (t("type"), t("public-key")),
            ])])),
        ),
        (5, Some(Value::Map(vec![(t("up"), Value::Bool(false))]))),
    ]);
    let ga_msg = [vec![0x02], cbor::encode(&ga).expect("encode")].concat();
    let now = ctap::Clock::now(&clock);

    let mut group = c.benchmark_group("p256");
    group.bench_function("getAssertion (in-process)", |b| {
        b.iter(|| match auth.process(black_box(&ga_msg), now) {
            Step::Done(r) => {
                assert_eq!(r[0], 0);
                r
            }
            Step::NeedUser(_) => panic!("unexpected prompt"),
        })
    });

    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("gen");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
        .expect("pair");
    let message = [0u8; 69];
    group.bench_function("ring sign (bare)", |b| {
        b.iter(|| pair.sign(&rng, black_box(&message)).expect("sign"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
