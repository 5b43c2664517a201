//! Property tests: nothing a peer sends can panic the command parser, the authenticator or the
//! CTAPHID layer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "tests: failing loudly is the point"
)]

use std::time::Duration;

use ctap::cbor::{self, Value};
use ctap::ctaphid::CtapHid;
use ctap::device::HidDevice;
use ctap::testing::{ManualClock, MemoryStore, ScriptedPrompt, seeded_rng};
use ctap::types::Command;
use ctap::{Authenticator, Clock, Config};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|i| Value::Integer(i.into())),
        proptest::collection::vec(any::<u8>(), 0..70).prop_map(Value::Bytes),
        "[a-z-]{0,12}".prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        (-3i64..12).prop_map(|i| Value::Integer(i.into())),
                        prop_oneof![
                            Just("id"),
                            Just("type"),
                            Just("alg"),
                            Just("rk"),
                            Just("up"),
                            Just("uv"),
                            Just("hmac-secret"),
                            Just("credProtect"),
                            Just("name")
                        ]
                        .prop_map(|s| Value::Text(s.into())),
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(Value::Map),
        ]
    })
}

fn authenticator(uv: bool) -> Authenticator<MemoryStore, ManualClock, rand_chacha::ChaCha20Rng> {
    let config = Config {
        built_in_uv: uv,
        ..Config::default()
    };
    Authenticator::new(
        MemoryStore::new(),
        ManualClock::new(),
        seeded_rng(1),
        config,
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn raw_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Command::parse(&bytes);
        let mut a = authenticator(false);
        let resp = a.handle_with_prompt(&bytes, &mut ScriptedPrompt::always_approve());
        prop_assert!(!resp.is_empty());
    }

    #[test]
    fn structured_commands_never_panic(cmd in prop_oneof![Just(1u8), Just(2), Just(6), Just(0x0A), Just(0x41)],
                                       params in value(), uv in any::<bool>()) {
        let mut msg = vec![cmd];
        msg.extend(cbor::encode(&params).unwrap());
        let mut a = authenticator(uv);
        let mut prompt = if uv { ScriptedPrompt::always_verify() } else { ScriptedPrompt::always_approve() };
        let resp = a.handle_with_prompt(&msg, &mut prompt);
        prop_assert!(!resp.is_empty());
    }

    #[test]
    fn ctaphid_reports_never_panic(reports in proptest::collection::vec(
        (proptest::collection::vec(any::<u8>(), 0..80), 0u64..700), 0..40)) {
        let clock = ManualClock::new();
        let mut hid = CtapHid::new(seeded_rng(2));
        let mut dev = HidDevice::new(authenticator(false), seeded_rng(3));
        for (r, ms) in &reports {
            clock.advance(Duration::from_millis(*ms));
            let _ = hid.handle_report(r, clock.now());
            let _ = hid.on_timeout(clock.now());
            for out in dev.handle_report(r, clock.now()) {
                prop_assert_eq!(out.len(), 64);
            }
            let _ = dev.poll(clock.now());
        }
    }

    #[test]
    fn ctaphid_reports_on_live_channel_never_panic(
        tails in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..60), 0..30)) {
        // Allocate a channel first so the fuzzed reports reach reassembly.
        let clock = ManualClock::new();
        let mut hid = CtapHid::new(seeded_rng(2));
        let mut init = vec![0xFF; 4];
        init.extend_from_slice(&[0x86, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
        let ev = hid.handle_report(&init, clock.now());
        let ctap::ctaphid::HidEvent::Send(r) = &ev[0] else { panic!("no INIT reply") };
        let cid = r[15..19].to_vec();
        for tail in tails {
            let report = [cid.as_slice(), &tail].concat();
            let _ = hid.handle_report(&report, clock.now());
            clock.advance(Duration::from_millis(50));
        }
    }
}
