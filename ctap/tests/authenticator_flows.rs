//! End-to-end command flows against the software authenticator, checked with an independent
//! client (p256 signature verification, our own CBOR parsing of every response).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "tests: failing loudly is the point"
)]

mod common;

use common::*;
use ctap::cbor::{Value, int_map, map_get_int, map_get_text};
use ctap::crypto::{self, PinProtocol};
use ctap::testing::ScriptedPrompt;
use ctap::{
    AAGUID, Attestation, Config, CredentialStore, PromptOutcome, PromptReason, StatusCode, Step,
};
use std::time::Duration;

const RP: &str = "example.com";
const CDH: [u8; 32] = [0x11; 32];
const CDH2: [u8; 32] = [0x22; 32];

fn make(h: &mut Harness, rp: &str, user: &[u8], rk: bool) -> Created {
    let p = with(mc_params(rp, user, &CDH), 7, options(&[("rk", rk)]));
    created(h.ok(0x01, Some(p)))
}

#[test]
fn get_info_reports_truthful_options() {
    let mut h = Harness::new();
    let info = h.info();
    let versions = map_get_int(&info, 1).unwrap();
    assert!(matches!(versions, Value::Array(v) if v.contains(&t("FIDO_2_1"))));
    assert_eq!(bytes(map_get_int(&info, 3).unwrap()), AAGUID);
    assert_eq!(
        hex::encode(AAGUID),
        "8b1e6ad60a7c4f599c3b2a6f5e8d41a7",
        "project AAGUID byte order"
    );
    let opts = map(map_get_int(&info, 4).unwrap().clone());
    assert_eq!(map_get_text(&opts, "clientPin"), Some(&Value::Bool(false)));
    assert_eq!(map_get_text(&opts, "rk"), Some(&Value::Bool(true)));
    assert_eq!(map_get_text(&opts, "up"), Some(&Value::Bool(true)));
    assert_eq!(map_get_text(&opts, "credMgmt"), Some(&Value::Bool(true)));
    assert_eq!(
        map_get_text(&opts, "pinUvAuthToken"),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        map_get_text(&opts, "makeCredUvNotRqd"),
        Some(&Value::Bool(true))
    );
    assert_eq!(
        map_get_text(&opts, "uv"),
        None,
        "no uv key without built-in UV"
    );
    assert_eq!(h.set_pin_status(PinProtocol::V2, "1234"), 0);
    let opts = map(map_get_int(&h.info(), 4).unwrap().clone());
    assert_eq!(map_get_text(&opts, "clientPin"), Some(&Value::Bool(true)));

    let prompt = ScriptedPrompt::always_verify();
    let mut h = Harness::with(Config::for_prompt(&prompt), prompt);
    let opts = map(map_get_int(&h.info(), 4).unwrap().clone());
    assert_eq!(map_get_text(&opts, "uv"), Some(&Value::Bool(true)));
}

#[test]
fn make_then_get_non_discoverable() {
    let mut h = Harness::new();
    let c = make(&mut h, RP, b"user-1", false);
    let ad = parse_auth_data(&c.auth_data);
    assert_eq!(ad.rp_id_hash, crypto::sha256(RP.as_bytes()));
    assert_eq!(ad.flags & 0x45, 0x41, "UP and AT, no UV");
    assert_eq!(ad.aaguid, Some(AAGUID));
    assert_eq!(
        map_get_int(&c.response, 3),
        Some(&Value::Map(vec![])),
        "empty attStmt"
    );
    assert!(
        h.auth.store().credentials().unwrap().is_empty(),
        "nothing stored"
    );
    assert_eq!(
        h.prompt.asked.last().unwrap().reason,
        PromptReason::Register
    );
    assert_eq!(
        h.prompt.asked.last().unwrap().user_name.as_deref(),
        Some("alice")
    );

    let mut last = ad.sign_count;
    for cdh in [CDH, CDH2] {
        let p = with(ga_params(RP, &cdh), 3, allow(&[&c.id]));
        let (ad, m) = verify_assertion(h.ok(0x02, Some(p)), &c.key, &cdh);
        assert_eq!(ad.flags & 0x05, 0x01, "UP without UV");
        assert!(ad.sign_count > last, "counter increases");
        last = ad.sign_count;
        assert_eq!(assertion_cred_id(&m), c.id);
        assert_eq!(map_get_int(&m, 4), None, "no user for non-discoverable");
    }
    // The credential is bound to its RP.
    let p = with(ga_params("other.example", &CDH), 3, allow(&[&c.id]));
    assert_eq!(h.call(0x02, Some(p)).0, StatusCode::NoCredentials.code());
    // Tampered credential IDs are rejected.
    let mut bad = c.id;
    bad[20] ^= 1;
    let p = with(ga_params(RP, &CDH), 3, allow(&[&bad]));
    assert_eq!(h.call(0x02, Some(p)).0, StatusCode::NoCredentials.code());
    // Counter state is persisted through the store.
    assert_eq!(h.auth.store().state().unwrap().global_sign_count, last);
}

#[test]
fn discoverable_credential_and_replacement() {
    let mut h = Harness::new();
    let first = make(&mut h, RP, b"user-1", true);
    let second = make(&mut h, RP, b"user-1", true);
    assert_ne!(first.id, second.id);
    assert_eq!(
        h.auth.store().credentials().unwrap().len(),
        1,
        "same rp+user replaces"
    );
    let (ad, m) = verify_assertion(
        h.ok(0x02, Some(int_map(ga_params(RP, &CDH)))),
        &second.key,
        &CDH,
    );
    assert_eq!(ad.sign_count, 1);
    let user = map(map_get_int(&m, 4).unwrap().clone());
    assert_eq!(bytes(map_get_text(&user, "id").unwrap()), b"user-1");
    assert_eq!(map_get_text(&user, "name"), None, "no PII without UV");
    assert_eq!(
        map_get_int(&m, 5),
        None,
        "single credential: no numberOfCredentials"
    );
    let (ad2, _) = verify_assertion(
        h.ok(0x02, Some(int_map(ga_params(RP, &CDH)))),
        &second.key,
        &CDH,
    );
    assert_eq!(ad2.sign_count, 2);
}

#[test]
fn exclude_list_yields_credential_excluded_after_touch() {
    let mut h = Harness::new();
    let c = make(&mut h, RP, b"u", false);
    let p = with(mc_params(RP, b"u2", &CDH), 5, allow(&[b"unknown", &c.id]));
    assert_eq!(
        h.call(0x01, Some(p)).0,
        StatusCode::CredentialExcluded.code()
    );
    assert_eq!(
        h.prompt.asked.last().unwrap().reason,
        PromptReason::Excluded
    );
    // Another RP's exclude list does not match.
    let p = with(mc_params("other.example", b"u2", &CDH), 5, allow(&[&c.id]));
    assert_eq!(h.call(0x01, Some(p)).0, 0);
}

#[test]
fn option_and_parameter_errors() {
    let mut h = Harness::new();
    let up_false = with(mc_params(RP, b"u", &CDH), 7, options(&[("up", false)]));
    assert_eq!(
        h.call(0x01, Some(up_false)).0,
        StatusCode::InvalidOption.code()
    );
    let uv_true = with(mc_params(RP, b"u", &CDH), 7, options(&[("uv", true)]));
    assert_eq!(
        h.call(0x01, Some(uv_true)).0,
        StatusCode::InvalidOption.code()
    );
    let rs256 = with(
        mc_params(RP, b"u", &CDH),
        4,
        Value::Array(vec![Value::Map(vec![
            (t("alg"), i(-257)),
            (t("type"), t("public-key")),
        ])]),
    );
    assert_eq!(
        h.call(0x01, Some(rs256)).0,
        StatusCode::UnsupportedAlgorithm.code()
    );
    let rk_ga = with(ga_params(RP, &CDH), 5, options(&[("rk", true)]));
    assert_eq!(
        h.call(0x02, Some(rk_ga)).0,
        StatusCode::UnsupportedOption.code()
    );
    let uv_ga = with(ga_params(RP, &CDH), 5, options(&[("uv", true)]));
    assert_eq!(
        h.call(0x02, Some(uv_ga)).0,
        StatusCode::InvalidOption.code()
    );
    let no_proto = with(mc_params(RP, b"u", &CDH), 8, b(&[1; 16]));
    assert_eq!(
        h.call(0x01, Some(no_proto)).0,
        StatusCode::MissingParameter.code()
    );
    let mut p = mc_params(RP, b"u", &CDH);
    p.push((8, Some(b(&[1; 32]))));
    let bad_proto = with(p, 9, i(3));
    assert_eq!(
        h.call(0x01, Some(bad_proto)).0,
        StatusCode::InvalidParameter.code()
    );
    assert_eq!(
        h.call(0x02, Some(int_map(ga_params(RP, &CDH)))).0,
        StatusCode::NoCredentials.code()
    );
    assert_eq!(h.call(0x08, None).0, StatusCode::NotAllowed.code());
    assert_eq!(h.call(0x42, None).0, StatusCode::InvalidCommand.code());
}

#[test]
fn prompt_outcomes_map_to_status_codes() {
    for (outcome, code) in [
        (PromptOutcome::Denied, StatusCode::OperationDenied),
        (PromptOutcome::Cancelled, StatusCode::KeepaliveCancel),
        (PromptOutcome::TimedOut, StatusCode::UserActionTimeout),
    ] {
        let mut h = Harness::with(Config::default(), ScriptedPrompt::new([outcome]));
        let p = int_map(mc_params(RP, b"u", &CDH));
        assert_eq!(h.call(0x01, Some(p)).0, code.code());
        assert!(h.auth.store().credentials().unwrap().is_empty());
    }
    // An approval that arrives after the deadline is a timeout.
    let mut h = Harness::new();
    let now = ctap::Clock::now(&h.clock);
    let step = h.auth.process(&[&[0x0B][..]].concat(), now);
    let Step::NeedUser(pending) = step else {
        panic!("selection needs the user")
    };
    assert_eq!(pending.request().reason, PromptReason::Selection);
    let late = pending.deadline() + Duration::from_secs(1);
    let Step::Done(r) = h.auth.resume(pending, PromptOutcome::approved(), late) else {
        panic!()
    };
    assert_eq!(r, vec![StatusCode::UserActionTimeout.code()]);
    assert_eq!(h.call(0x0B, None).0, 0, "selection approved");
}

#[test]
fn cred_protect_levels_are_enforced() {
    let mut h = Harness::new();
    assert_eq!(h.set_pin_status(PinProtocol::V2, "1234"), 0);
    let mut ids = Vec::new();
    for level in 1..=3i64 {
        let (_, token) = h.pin_token(PinProtocol::V2, "1234", 0x01, Some(RP));
        let token = token.unwrap();
        let user = [level as u8];
        let mut p = mc_params(RP, &user, &CDH);
        p.push((6, Some(Value::Map(vec![(t("credProtect"), i(level))]))));
        p.push((7, Some(options(&[("rk", true)]))));
        p.push((8, Some(b(&PinProtocol::V2.authenticate(&token, &[&CDH])))));
        p.push((9, Some(i(2))));
        let c = created(h.ok(0x01, Some(int_map(p))));
        let ext = parse_auth_data(&c.auth_data).extensions.unwrap();
        assert_eq!(map_get_text(&map(ext), "credProtect"), Some(&i(level)));
        ids.push(c);
        h.clock.advance(Duration::from_secs(2));
    }
    // Without UV and without allowList only level 1 is discoverable.
    let (_, m) = verify_assertion(
        h.ok(0x02, Some(int_map(ga_params(RP, &CDH)))),
        &ids[0].key,
        &CDH,
    );
    assert_eq!(assertion_cred_id(&m), ids[0].id);
    assert_eq!(map_get_int(&m, 5), None);
    // Level 2 is usable with an allowList, level 3 is not.
    let p = with(ga_params(RP, &CDH), 3, allow(&[&ids[1].id]));
    verify_assertion(h.ok(0x02, Some(p)), &ids[1].key, &CDH);
    let p = with(ga_params(RP, &CDH), 3, allow(&[&ids[2].id]));
    assert_eq!(h.call(0x02, Some(p)).0, StatusCode::NoCredentials.code());
    // With UV (PIN token) all three are found.
    let (_, token) = h.pin_token(PinProtocol::V1, "1234", 0x02, Some(RP));
    let token = token.unwrap();
    let mut p = ga_params(RP, &CDH);
    p.push((6, Some(b(&PinProtocol::V1.authenticate(&token, &[&CDH])))));
    p.push((7, Some(i(1))));
    let (ad, m) = verify_assertion(h.ok(0x02, Some(int_map(p))), &ids[2].key, &CDH);
    assert_eq!(ad.flags & 0x04, 0x04, "UV flag");
    assert_eq!(map_get_int(&m, 5), Some(&i(3)));
    // Non-discoverable level 3: excluded from exclude-list matching without UV too.
    let mut p = mc_params(RP, b"nd", &CDH);
    let (_, token) = h.pin_token(PinProtocol::V2, "1234", 0x01, Some(RP));
    let token = token.unwrap();
    p.push((6, Some(Value::Map(vec![(t("credProtect"), i(3))]))));
    p.push((8, Some(b(&PinProtocol::V2.authenticate(&token, &[&CDH])))));
    p.push((9, Some(i(2))));
    let nd = created(h.ok(0x01, Some(int_map(p))));
    let p = with(ga_params(RP, &CDH), 3, allow(&[&nd.id]));
    assert_eq!(h.call(0x02, Some(p)).0, StatusCode::NoCredentials.code());
}

#[test]
fn pin_set_change_token_and_blocking() {
    let mut h = Harness::new();
    assert_eq!(
        h.set_pin_status(PinProtocol::V1, "12"),
        StatusCode::PinPolicyViolation.code()
    );
    assert_eq!(h.set_pin_status(PinProtocol::V1, "1234"), 0);
    assert_eq!(
        h.set_pin_status(PinProtocol::V1, "5678"),
        StatusCode::NotAllowed.code()
    );
    let stored = h.auth.store().state().unwrap().pin_hash.unwrap();
    assert_eq!(stored, crypto::sha256(b"1234")[..16]);
    assert_eq!(h.retries(), 8);
    assert_eq!(h.change_pin_status(PinProtocol::V2, "1234", "abcdé"), 0);
    assert_eq!(
        h.pin_token(PinProtocol::V2, "1234", 0x03, None).0,
        StatusCode::PinInvalid.code()
    );
    assert_eq!(h.retries(), 7);
    assert_eq!(h.pin_token(PinProtocol::V2, "abcdé", 0x03, None).0, 0);
    assert_eq!(h.retries(), 8, "correct PIN restores retries");

    // Unsupported / zero permissions.
    assert_eq!(
        h.pin_token(PinProtocol::V2, "abcdé", 0x08, None).0,
        StatusCode::UnauthorizedPermission.code()
    );
    assert_eq!(
        h.pin_token(PinProtocol::V2, "abcdé", 0, None).0,
        StatusCode::InvalidParameter.code()
    );

    // Three mismatches per boot → PIN_AUTH_BLOCKED until power cycle.
    for expected in [
        StatusCode::PinInvalid,
        StatusCode::PinInvalid,
        StatusCode::PinAuthBlocked,
    ] {
        assert_eq!(
            h.pin_token(PinProtocol::V2, "0000", 0x03, None).0,
            expected.code()
        );
    }
    assert_eq!(
        h.pin_token(PinProtocol::V2, "abcdé", 0x03, None).0,
        StatusCode::PinAuthBlocked.code()
    );
    assert_eq!(h.retries(), 5);
    h.auth.power_cycle(ctap::Clock::now(&h.clock));
    assert_eq!(
        h.pin_token(PinProtocol::V2, "0000", 0x03, None).0,
        StatusCode::PinInvalid.code()
    );
    assert_eq!(
        h.pin_token(PinProtocol::V2, "0000", 0x03, None).0,
        StatusCode::PinInvalid.code()
    );
    assert_eq!(
        h.pin_token(PinProtocol::V2, "0000", 0x03, None).0,
        StatusCode::PinAuthBlocked.code()
    );
    h.auth.power_cycle(ctap::Clock::now(&h.clock));
    assert_eq!(
        h.pin_token(PinProtocol::V2, "0000", 0x03, None).0,
        StatusCode::PinInvalid.code()
    );
    assert_eq!(h.retries(), 1);
    assert_eq!(
        h.pin_token(PinProtocol::V2, "0000", 0x03, None).0,
        StatusCode::PinBlocked.code()
    );
    assert_eq!(
        h.pin_token(PinProtocol::V2, "abcdé", 0x03, None).0,
        StatusCode::PinBlocked.code()
    );
    assert_eq!(
        h.auth.store().state().unwrap().pin_retries,
        0,
        "retries persisted"
    );
}

#[test]
fn pin_protected_rules_for_make_credential() {
    let mut h = Harness::new();
    assert_eq!(h.set_pin_status(PinProtocol::V2, "1234"), 0);
    // Discoverable without a token: PUAT_REQUIRED; non-discoverable is fine (makeCredUvNotRqd).
    let p = with(mc_params(RP, b"u", &CDH), 7, options(&[("rk", true)]));
    assert_eq!(h.call(0x01, Some(p)).0, StatusCode::PuatRequired.code());
    let c = make(&mut h, RP, b"u", false);
    assert_eq!(parse_auth_data(&c.auth_data).flags & 0x04, 0);

    // Token bound to RP, with mc permission.
    let (_, token) = h.pin_token(PinProtocol::V2, "1234", 0x01, Some(RP));
    let token = token.unwrap();
    let mut p = mc_params(RP, b"u", &CDH);
    p.push((8, Some(b(&PinProtocol::V2.authenticate(&token, &[&CDH])))));
    p.push((9, Some(i(2))));
    let c = created(h.ok(0x01, Some(int_map(p.clone()))));
    assert_eq!(
        parse_auth_data(&c.auth_data).flags & 0x05,
        0x05,
        "UP and UV"
    );
    // Wrong clientDataHash → PIN_AUTH_INVALID.
    let mut bad = mc_params(RP, b"u", &CDH2);
    bad.push((8, Some(b(&PinProtocol::V2.authenticate(&token, &[&CDH])))));
    bad.push((9, Some(i(2))));
    assert_eq!(
        h.call(0x01, Some(int_map(bad))).0,
        StatusCode::PinAuthInvalid.code()
    );
    // Other RP → PIN_AUTH_INVALID.
    let mut other = mc_params("other.example", b"u", &CDH);
    other.push((8, Some(b(&PinProtocol::V2.authenticate(&token, &[&CDH])))));
    other.push((9, Some(i(2))));
    assert_eq!(
        h.call(0x01, Some(int_map(other))).0,
        StatusCode::PinAuthInvalid.code()
    );
    // ga-only token cannot make credentials.
    let (_, token) = h.pin_token(PinProtocol::V2, "1234", 0x02, None);
    let token = token.unwrap();
    let mut p = mc_params(RP, b"u", &CDH);
    p.push((8, Some(b(&PinProtocol::V2.authenticate(&token, &[&CDH])))));
    p.push((9, Some(i(2))));
    assert_eq!(
        h.call(0x01, Some(int_map(p))).0,
        StatusCode::PinAuthInvalid.code()
    );
    // Power cycle drops the token.
    let (_, token) = h.pin_token(PinProtocol::V2, "1234", 0x01, None);
    let token = token.unwrap();
    h.auth.power_cycle(ctap::Clock::now(&h.clock));
    let mut p = mc_params(RP, b"u", &CDH);
    p.push((8, Some(b(&PinProtocol::V2.authenticate(&token, &[&CDH])))));
    p.push((9, Some(i(2))));
    assert_eq!(
        h.call(0x01, Some(int_map(p))).0,
        StatusCode::PinAuthInvalid.code()
    );
}

#[test]
fn zero_length_pin_uv_auth_param_probe() {
    let mut h = Harness::new();
    let mut p = mc_params(RP, b"u", &CDH);
    p.push((8, Some(b(&[]))));
    p.push((9, Some(i(1))));
    assert_eq!(
        h.call(0x01, Some(int_map(p.clone()))).0,
        StatusCode::PinNotSet.code()
    );
    assert_eq!(
        h.prompt.asked.last().unwrap().reason,
        PromptReason::Selection
    );
    assert_eq!(h.set_pin_status(PinProtocol::V1, "1234"), 0);
    assert_eq!(
        h.call(0x01, Some(int_map(p))).0,
        StatusCode::PinInvalid.code()
    );
    let mut g = ga_params(RP, &CDH);
    g.push((6, Some(b(&[]))));
    g.push((7, Some(i(2))));
    assert_eq!(
        h.call(0x02, Some(int_map(g))).0,
        StatusCode::PinInvalid.code()
    );
}

#[test]
fn reset_only_within_window_and_wipes() {
    let mut h = Harness::new();
    make(&mut h, RP, b"u", true);
    assert_eq!(h.set_pin_status(PinProtocol::V2, "1234"), 0);
    h.clock.advance(Duration::from_secs(11));
    assert_eq!(h.call(0x07, None).0, StatusCode::NotAllowed.code());
    h.auth.power_cycle(ctap::Clock::now(&h.clock));
    // Needs user presence.
    h.prompt.push(PromptOutcome::Denied);
    assert_eq!(h.call(0x07, None).0, StatusCode::OperationDenied.code());
    assert_eq!(h.call(0x07, None).0, 0);
    assert_eq!(h.prompt.asked.last().unwrap().reason, PromptReason::Reset);
    assert!(h.auth.store().credentials().unwrap().is_empty());
    let opts = map(map_get_int(&h.info(), 4).unwrap().clone());
    assert_eq!(map_get_text(&opts, "clientPin"), Some(&Value::Bool(false)));
}

#[test]
fn non_discoverable_ids_die_with_reset() {
    let mut h = Harness::new();
    let c = make(&mut h, RP, b"u", false);
    assert_eq!(h.call(0x07, None).0, 0);
    let p = with(ga_params(RP, &CDH), 3, allow(&[&c.id]));
    assert_eq!(h.call(0x02, Some(p)).0, StatusCode::NoCredentials.code());
}

fn cm(
    h: &mut Harness,
    token: &[u8],
    sub: u8,
    params: Option<Value>,
    cmd: u8,
) -> (u8, Option<Value>) {
    let enc = params
        .as_ref()
        .map(|p| ctap::cbor::encode(p).unwrap())
        .unwrap_or_default();
    let auth = PinProtocol::V2.authenticate(token, &[&[sub], &enc]);
    h.call(
        cmd,
        Some(int_map([
            (1, Some(i(sub.into()))),
            (2, params),
            (3, Some(i(2))),
            (4, Some(b(&auth))),
        ])),
    )
}

#[test]
fn credential_management_enumerate_delete_update() {
    let mut h = Harness::new();
    assert_eq!(h.set_pin_status(PinProtocol::V2, "1234"), 0);
    let mut made = Vec::new();
    for (rp, user) in [
        ("a.example", b"u1"),
        ("b.example", b"u2"),
        ("b.example", b"u3"),
    ] {
        let (_, token) = h.pin_token(PinProtocol::V2, "1234", 0x01, Some(rp));
        let token = token.unwrap();
        let mut p = with(mc_params(rp, user, &CDH), 7, options(&[("rk", true)]));
        let Value::Map(ref mut m) = p else {
            unreachable!()
        };
        m.push((i(8), b(&PinProtocol::V2.authenticate(&token, &[&CDH]))));
        m.push((i(9), i(2)));
        made.push(created(h.ok(0x01, Some(p))));
        h.clock.advance(Duration::from_secs(1));
    }
    // No token → PUAT_REQUIRED.
    assert_eq!(
        h.call(0x0A, Some(int_map([(1, Some(i(1)))]))).0,
        StatusCode::PuatRequired.code()
    );
    // Token without cm → PIN_AUTH_INVALID.
    let (_, t_ga) = h.pin_token(PinProtocol::V2, "1234", 0x02, None);
    assert_eq!(
        cm(&mut h, &t_ga.unwrap(), 1, None, 0x0A).0,
        StatusCode::PinAuthInvalid.code()
    );

    // A legacy getPinToken token (2.1-PRE clients, e.g. ctap-hid-fido2's default) works with
    // the prototype command 0x41 only; 0x0A wants the cm permission.
    let (_, legacy) = h.legacy_pin_token(PinProtocol::V2, "1234");
    let legacy = legacy.unwrap();
    assert_eq!(
        cm(&mut h, &legacy, 1, None, 0x0A).0,
        StatusCode::PinAuthInvalid.code()
    );
    let (_, legacy) = h.legacy_pin_token(PinProtocol::V2, "1234");
    assert_eq!(cm(&mut h, &legacy.unwrap(), 1, None, 0x41).0, 0);

    let (_, token) = h.pin_token(PinProtocol::V2, "1234", 0x04, None);
    let token = token.unwrap();
    for cmd in [0x0A, 0x41] {
        let (s, v) = cm(&mut h, &token, 1, None, cmd);
        assert_eq!(s, 0);
        let m = map(v.unwrap());
        assert_eq!(uint(map_get_int(&m, 1).unwrap()), 3);
    }
    // Enumerate RPs.
    let (s, v) = cm(&mut h, &token, 2, None, 0x0A);
    assert_eq!(s, 0);
    let m = map(v.unwrap());
    assert_eq!(uint(map_get_int(&m, 5).unwrap()), 2);
    let rp = map(map_get_int(&m, 3).unwrap().clone());
    assert_eq!(text_of(map_get_text(&rp, "id").unwrap()), "a.example");
    assert_eq!(
        bytes(map_get_int(&m, 4).unwrap()),
        crypto::sha256(b"a.example")
    );
    let v = h.ok(0x0A, Some(int_map([(1, Some(i(3)))])));
    let rp = map(map_get_int(&map(v), 3).unwrap().clone());
    assert_eq!(text_of(map_get_text(&rp, "id").unwrap()), "b.example");
    assert_eq!(
        h.call(0x0A, Some(int_map([(1, Some(i(3)))]))).0,
        StatusCode::NotAllowed.code()
    );

    // Enumerate credentials of b.example.
    let params = int_map([(1, Some(b(&crypto::sha256(b"b.example"))))]);
    let (s, v) = cm(&mut h, &token, 4, Some(params), 0x0A);
    assert_eq!(s, 0);
    let m = map(v.unwrap());
    assert_eq!(uint(map_get_int(&m, 9).unwrap()), 2);
    assert_eq!(
        uint(map_get_int(&m, 0x0A).unwrap()),
        1,
        "credProtect reported"
    );
    let user = map(map_get_int(&m, 6).unwrap().clone());
    assert_eq!(bytes(map_get_text(&user, "id").unwrap()), b"u2");
    let v = h.ok(0x0A, Some(int_map([(1, Some(i(5)))])));
    let m2 = map(v);
    let desc = map(map_get_int(&m2, 7).unwrap().clone());
    assert_eq!(bytes(map_get_text(&desc, "id").unwrap()), made[2].id);
    // Public key in credMgmt matches the attested one.
    let cose = map(map_get_int(&m2, 8).unwrap().clone());
    let x = bytes(map_get_int(&cose, -2).unwrap());
    assert_eq!(
        &made[2].key.to_encoded_point(false).as_bytes()[1..33],
        x.as_slice()
    );

    // Update user information.
    let desc = Value::Map(vec![
        (t("id"), b(&made[1].id)),
        (t("type"), t("public-key")),
    ]);
    let new_user = Value::Map(vec![(t("id"), b(b"u2")), (t("name"), t("bob"))]);
    let params = int_map([(2, Some(desc.clone())), (3, Some(new_user))]);
    assert_eq!(cm(&mut h, &token, 7, Some(params), 0x0A).0, 0);
    let stored = h.auth.store().credential(&made[1].id).unwrap().unwrap();
    assert_eq!(stored.user_name.as_deref(), Some("bob"));
    assert_eq!(stored.user_display_name, None);
    let wrong_user = Value::Map(vec![(t("id"), b(b"zz"))]);
    let params = int_map([(2, Some(desc.clone())), (3, Some(wrong_user))]);
    assert_eq!(
        cm(&mut h, &token, 7, Some(params), 0x0A).0,
        StatusCode::InvalidParameter.code()
    );

    // Delete.
    let params = int_map([(2, Some(desc))]);
    assert_eq!(cm(&mut h, &token, 6, Some(params.clone()), 0x0A).0, 0);
    assert_eq!(
        cm(&mut h, &token, 6, Some(params), 0x0A).0,
        StatusCode::NoCredentials.code()
    );
    assert_eq!(h.auth.store().credentials().unwrap().len(), 2);

    // A token bound to another RP cannot touch a.example's credential.
    let (_, bound) = h.pin_token(PinProtocol::V2, "1234", 0x04, Some("b.example"));
    let bound = bound.unwrap();
    let desc = Value::Map(vec![
        (t("id"), b(&made[0].id)),
        (t("type"), t("public-key")),
    ]);
    let params = int_map([(2, Some(desc))]);
    assert_eq!(
        cm(&mut h, &bound, 6, Some(params), 0x0A).0,
        StatusCode::PinAuthInvalid.code()
    );
    assert_eq!(
        cm(&mut h, &bound, 1, None, 0x0A).0,
        StatusCode::PinAuthInvalid.code()
    );
    assert_eq!(
        cm(&mut h, &token, 9, None, 0x0A).0,
        StatusCode::InvalidSubcommand.code()
    );
}

fn hmac_ga(
    h: &mut Harness,
    protocol: PinProtocol,
    id: &[u8],
    salts: &[u8],
    token: Option<&[u8]>,
) -> (Vec<u8>, u8) {
    let (ka, shared) = h.key_agreement(protocol);
    let salt_enc = shared
        .encrypt(&mut ctap::testing::seeded_rng(5), salts)
        .unwrap();
    let salt_auth = shared.authenticate(&[&salt_enc]);
    let ext = Value::Map(vec![(
        t("hmac-secret"),
        int_map([
            (1, Some(ka)),
            (2, Some(b(&salt_enc))),
            (3, Some(b(&salt_auth))),
            (4, Some(i(protocol.number().into()))),
        ]),
    )]);
    let mut p = ga_params(RP, &CDH);
    p.push((3, Some(allow(&[id]))));
    p.push((4, Some(ext)));
    if let Some(token) = token {
        p.push((6, Some(b(&protocol.authenticate(token, &[&CDH])))));
        p.push((7, Some(i(protocol.number().into()))));
    }
    let v = h.ok(0x02, Some(int_map(p)));
    let ad = parse_auth_data(&bytes(map_get_int(&map(v), 2).unwrap()));
    let out = bytes(map_get_text(&map(ad.extensions.unwrap()), "hmac-secret").unwrap());
    (shared.decrypt(&out).unwrap().to_vec(), ad.flags)
}

#[test]
fn hmac_secret_stable_per_salt_and_uv_dependent() {
    for rk in [false, true] {
        let mut h = Harness::new();
        let mut p = mc_params(RP, b"u", &CDH);
        p.push((
            6,
            Some(Value::Map(vec![(t("hmac-secret"), Value::Bool(true))])),
        ));
        p.push((7, Some(options(&[("rk", rk)]))));
        let c = created(h.ok(0x01, Some(int_map(p))));
        let ext = parse_auth_data(&c.auth_data).extensions.unwrap();
        assert_eq!(
            map_get_text(&map(ext), "hmac-secret"),
            Some(&Value::Bool(true))
        );
        let salt1 = [1u8; 32];
        let salt2 = [2u8; 32];
        let (a1, _) = hmac_ga(&mut h, PinProtocol::V1, &c.id, &salt1, None);
        let (a2, _) = hmac_ga(&mut h, PinProtocol::V2, &c.id, &salt1, None);
        assert_eq!(a1.len(), 32);
        assert_eq!(a1, a2, "same salt, same output across protocols");
        let (both, _) = hmac_ga(
            &mut h,
            PinProtocol::V2,
            &c.id,
            &[salt1, salt2].concat(),
            None,
        );
        assert_eq!(both.len(), 64);
        assert_eq!(&both[..32], a1.as_slice());
        assert_ne!(&both[32..], a1.as_slice());
        // With UV (PIN token) the output differs.
        assert_eq!(h.set_pin_status(PinProtocol::V2, "1234"), 0);
        let (_, token) = h.pin_token(PinProtocol::V2, "1234", 0x02, Some(RP));
        let (uv_out, flags) = hmac_ga(&mut h, PinProtocol::V2, &c.id, &salt1, token.as_deref());
        assert_eq!(flags & 0x04, 0x04);
        assert_ne!(uv_out, a1);
        let (uv_out2, _) = hmac_ga(&mut h, PinProtocol::V2, &c.id, &salt1, token.as_deref());
        assert_eq!(uv_out, uv_out2);
    }
}

#[test]
fn get_next_assertion_order_and_account_chooser() {
    let mut h = Harness::new();
    let mut made = Vec::new();
    for user in [b"u1", b"u2", b"u3"] {
        made.push(make(&mut h, RP, user, true));
        h.clock.advance(Duration::from_secs(5));
    }
    let (_, m) = verify_assertion(
        h.ok(0x02, Some(int_map(ga_params(RP, &CDH)))),
        &made[2].key,
        &CDH,
    );
    assert_eq!(map_get_int(&m, 5), Some(&i(3)), "numberOfCredentials");
    assert_eq!(h.prompt.asked.last().unwrap().candidates.len(), 3);
    let (_, m) = verify_assertion(h.ok(0x08, None), &made[1].key, &CDH);
    assert_eq!(map_get_int(&m, 5), None);
    verify_assertion(h.ok(0x08, None), &made[0].key, &CDH);
    assert_eq!(h.call(0x08, None).0, StatusCode::NotAllowed.code());

    // Timer: GetNextAssertion after 30 s fails.
    h.ok(0x02, Some(int_map(ga_params(RP, &CDH))));
    h.clock.advance(Duration::from_secs(31));
    assert_eq!(h.call(0x08, None).0, StatusCode::NotAllowed.code());
    // Any other command in between cancels the sequence.
    h.ok(0x02, Some(int_map(ga_params(RP, &CDH))));
    h.info();
    assert_eq!(h.call(0x08, None).0, StatusCode::NotAllowed.code());

    // The chooser picks one: it alone is returned, with userSelected.
    h.prompt.push(PromptOutcome::Approved {
        user_verified: false,
        chosen_credential: Some(made[0].id.clone()),
    });
    let (_, m) = verify_assertion(
        h.ok(0x02, Some(int_map(ga_params(RP, &CDH)))),
        &made[0].key,
        &CDH,
    );
    assert_eq!(map_get_int(&m, 6), Some(&Value::Bool(true)));
    assert_eq!(map_get_int(&m, 5), None);
}

#[test]
fn silent_assertion_without_user_presence() {
    let mut h = Harness::new();
    let c = make(&mut h, RP, b"u", false);
    let asked = h.prompt.asked.len();
    let mut p = ga_params(RP, &CDH);
    p.push((3, Some(allow(&[&c.id]))));
    p.push((5, Some(options(&[("up", false)]))));
    let (ad, _) = verify_assertion(h.ok(0x02, Some(int_map(p))), &c.key, &CDH);
    assert_eq!(ad.flags & 0x01, 0, "no UP flag");
    assert_eq!(h.prompt.asked.len(), asked, "no prompt");
}

#[test]
fn built_in_uv_flows() {
    let prompt = ScriptedPrompt::always_verify();
    let mut h = Harness::with(Config::for_prompt(&prompt), prompt);
    let p = with(
        mc_params(RP, b"u", &CDH),
        7,
        options(&[("rk", true), ("uv", true)]),
    );
    let c = created(h.ok(0x01, Some(p)));
    assert_eq!(parse_auth_data(&c.auth_data).flags & 0x05, 0x05);
    assert!(h.prompt.asked.last().unwrap().need_uv);
    let p = with(ga_params(RP, &CDH), 5, options(&[("uv", true)]));
    let (ad, m) = verify_assertion(h.ok(0x02, Some(p)), &c.key, &CDH);
    assert_eq!(ad.flags & 0x04, 0x04);
    let user = map(map_get_int(&m, 4).unwrap().clone());
    assert_eq!(
        text_of(map_get_text(&user, "name").unwrap()),
        "alice",
        "PII after UV"
    );
    // A prompt that approves without verifying → UV_INVALID, retries decrease.
    h.prompt.push(PromptOutcome::approved());
    let p = with(ga_params(RP, &CDH), 5, options(&[("uv", true)]));
    assert_eq!(h.call(0x02, Some(p)).0, StatusCode::UvInvalid.code());
    let v = h.ok(0x06, Some(int_map([(1, Some(i(2))), (2, Some(i(7)))])));
    assert_eq!(uint(map_get_int(&map(v), 5).unwrap()), 7);
}

/// The app rebuilds the engine on every profile switch; that must not be a free power cycle.
#[test]
fn an_engine_that_takes_over_keeps_the_mismatch_count_and_the_closed_reset_window() {
    let mut h = Harness::new();
    assert_eq!(h.set_pin_status(PinProtocol::V2, "abcdé"), 0);
    for _ in 0..3 {
        h.pin_token(PinProtocol::V2, "0000", 0x03, None);
    }
    h.clock.advance(Duration::from_secs(20));
    let mut next = ctap::Authenticator::new(
        h.auth.store().clone(),
        h.clock.clone(),
        ctap::testing::seeded_rng(8),
        Config::default(),
    )
    .unwrap();
    next.continue_power_cycle_of(&h.auth);
    h.auth = next;
    assert_eq!(
        h.pin_token(PinProtocol::V2, "abcdé", 0x03, None).0,
        StatusCode::PinAuthBlocked.code(),
        "the new engine forgot the mismatches"
    );
    assert_eq!(h.call(0x07, None).0, StatusCode::NotAllowed.code());
    // A real power cycle still clears both.
    h.auth.power_cycle(ctap::Clock::now(&h.clock));
    assert_eq!(h.pin_token(PinProtocol::V2, "abcdé", 0x03, None).0, 0);
}

#[test]
fn a_platform_that_counts_its_own_uv_attempts_is_reported_and_obeyed() {
    let prompt = ScriptedPrompt::always_verify();
    let mut h = Harness::with(Config::for_prompt(&prompt), prompt);
    let get_uv_retries = int_map([(1, Some(i(2))), (2, Some(i(7)))]);
    // The verifier outside the engine (a profile PIN) has 4 attempts left: that is uvRetries.
    h.auth.store_mut().platform_uv_retries = Some(4);
    let v = h.ok(0x06, Some(get_uv_retries.clone()));
    assert_eq!(uint(map_get_int(&map(v), 5).unwrap()), 4);
    let c = created(h.ok(
        0x01,
        Some(with(
            mc_params(RP, b"u", &CDH),
            7,
            options(&[("rk", true), ("uv", true)]),
        )),
    ));
    assert_eq!(parse_auth_data(&c.auth_data).flags & 0x05, 0x05);
    // At zero the engine refuses UV without asking anyone.
    h.auth.store_mut().platform_uv_retries = Some(0);
    let asked = h.prompt.asked.len();
    let p = with(ga_params(RP, &CDH), 5, options(&[("uv", true)]));
    assert_eq!(h.call(0x02, Some(p)).0, StatusCode::UvBlocked.code());
    let v = h.ok(0x06, Some(get_uv_retries));
    assert_eq!(uint(map_get_int(&map(v), 5).unwrap()), 0);
    assert_eq!(h.prompt.asked.len(), asked, "no prompt once blocked");
}

#[test]
fn uv_token_flow() {
    let prompt = ScriptedPrompt::always_verify();
    let mut h = Harness::with(Config::for_prompt(&prompt), prompt);
    let (ka, shared) = h.key_agreement(PinProtocol::V2);
    let v = h.ok(
        0x06,
        Some(int_map([
            (1, Some(i(2))),
            (2, Some(i(6))),
            (3, Some(ka)),
            (9, Some(i(1))),
            (0x0A, Some(t(RP))),
        ])),
    );
    let token = shared
        .decrypt(&bytes(map_get_int(&map(v), 2).unwrap()))
        .unwrap()
        .to_vec();
    assert_eq!(token.len(), 32);
    let mut p = mc_params(RP, b"u", &CDH);
    p.push((8, Some(b(&PinProtocol::V2.authenticate(&token, &[&CDH])))));
    p.push((9, Some(i(2))));
    let c = created(h.ok(0x01, Some(int_map(p))));
    assert_eq!(parse_auth_data(&c.auth_data).flags & 0x04, 0x04);
}

#[test]
fn packed_self_attestation_verifies() {
    use p256::ecdsa::signature::Verifier;
    let config = Config {
        attestation: Attestation::PackedSelf,
        ..Config::default()
    };
    let mut h = Harness::with(config, ScriptedPrompt::always_approve());
    let v = h.ok(0x01, Some(int_map(mc_params(RP, b"u", &CDH))));
    let m = map(v);
    assert_eq!(text_of(map_get_int(&m, 1).unwrap()), "packed");
    let ad = bytes(map_get_int(&m, 2).unwrap());
    let key = parse_auth_data(&ad).public_key.unwrap();
    let stmt = map(map_get_int(&m, 3).unwrap().clone());
    assert_eq!(map_get_text(&stmt, "alg"), Some(&i(-7)));
    assert_eq!(map_get_text(&stmt, "x5c"), None);
    let sig =
        p256::ecdsa::Signature::from_der(&bytes(map_get_text(&stmt, "sig").unwrap())).unwrap();
    key.verify(&[ad.as_slice(), &CDH].concat(), &sig).unwrap();
}

#[test]
fn state_survives_restart_through_the_store() {
    let mut h = Harness::new();
    let c = make(&mut h, RP, b"u", false);
    assert_eq!(h.set_pin_status(PinProtocol::V2, "1234"), 0);
    let store = h.auth.store().clone();
    let mut auth2 = ctap::Authenticator::new(
        store,
        h.clock.clone(),
        ctap::testing::seeded_rng(8),
        Config::default(),
    )
    .unwrap();
    let p = with(ga_params(RP, &CDH), 3, allow(&[&c.id]));
    let msg = [vec![0x02], ctap::cbor::encode(&p).unwrap()].concat();
    let resp = auth2.handle_with_prompt(&msg, &mut ScriptedPrompt::always_approve());
    assert_eq!(resp[0], 0, "wrapping key persisted");
    let (ad, _) = verify_assertion(ctap::cbor::decode(&resp[1..]).unwrap(), &c.key, &CDH);
    assert!(ad.sign_count >= 2);
}
