//! CTAPHID framing and the HidDevice glue: INIT, fragmentation, sequence errors, timeouts,
//! busy channels, cancel during a prompt and keepalive cadence.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions,
    reason = "tests: failing loudly is the point"
)]

use std::time::{Duration, Instant};

use ctap::cbor::{self, Value, int_map, map_get_int};
use ctap::ctaphid::{BROADCAST_CID, CtapHid, HidEvent, Report, Request, cmd, err, fragment};
use ctap::device::{HidDevice, REBOOT_MAGIC};
use ctap::testing::{ManualClock, MemoryStore, seeded_rng};
use ctap::{Authenticator, Clock, Config, PromptOutcome, PromptReason, StatusCode};
use rand_chacha::ChaCha20Rng;

fn init_report(cid: u32, command: u8, total: u16, data: &[u8]) -> Vec<u8> {
    let mut r = vec![0u8; 64];
    r[..4].copy_from_slice(&cid.to_be_bytes());
    r[4] = command | 0x80;
    r[5..7].copy_from_slice(&total.to_be_bytes());
    r[7..7 + data.len()].copy_from_slice(data);
    r
}

fn cont_report(cid: u32, seq: u8, data: &[u8]) -> Vec<u8> {
    let mut r = vec![0u8; 64];
    r[..4].copy_from_slice(&cid.to_be_bytes());
    r[4] = seq;
    r[5..5 + data.len()].copy_from_slice(data);
    r
}

fn sends(events: Vec<HidEvent>) -> Vec<Report> {
    events
        .into_iter()
        .filter_map(|e| match e {
            HidEvent::Send(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// Reassembles reports into (cid, cmd, payload).
fn reassemble(reports: &[Report]) -> (u32, u8, Vec<u8>) {
    let first = &reports[0];
    let cid = u32::from_be_bytes(first[..4].try_into().unwrap());
    assert!(first[4] & 0x80 != 0, "starts with an init packet");
    let len = usize::from(u16::from_be_bytes([first[5], first[6]]));
    let mut data = first[7..].to_vec();
    for (seq, r) in reports[1..].iter().enumerate() {
        assert_eq!(u32::from_be_bytes(r[..4].try_into().unwrap()), cid);
        assert_eq!(usize::from(r[4]), seq, "sequence numbers in order");
        data.extend_from_slice(&r[5..]);
    }
    data.truncate(len);
    (cid, first[4] & 0x7F, data)
}

fn is_error(r: &Report, cid: u32, code: u8) -> bool {
    r[..4] == cid.to_be_bytes() && r[4] == 0x80 | cmd::ERROR && r[5..7] == [0, 1] && r[7] == code
}

fn hid() -> CtapHid<ChaCha20Rng> {
    CtapHid::new(seeded_rng(3))
}

fn allocate(h: &mut CtapHid<ChaCha20Rng>, now: Instant) -> u32 {
    let nonce = [1, 2, 3, 4, 5, 6, 7, 8];
    let out = sends(h.handle_report(&init_report(BROADCAST_CID, cmd::INIT, 8, &nonce), now));
    let (cid, c, data) = reassemble(&out);
    assert_eq!((cid, c), (BROADCAST_CID, cmd::INIT));
    assert_eq!(data.len(), 17);
    assert_eq!(&data[..8], &nonce);
    u32::from_be_bytes(data[8..12].try_into().unwrap())
}

#[test]
fn init_allocates_channel_and_reports_capabilities() {
    let now = ManualClock::new().now();
    let mut h = hid();
    let out = sends(h.handle_report(&init_report(BROADCAST_CID, cmd::INIT, 8, &[9; 8]), now));
    let (_, _, data) = reassemble(&out);
    let cid = u32::from_be_bytes(data[8..12].try_into().unwrap());
    assert_ne!(cid, 0);
    assert_ne!(cid, BROADCAST_CID);
    assert_eq!(data[12], 2, "CTAPHID protocol version");
    assert_eq!(data[16], 0x01 | 0x04 | 0x08, "WINK | CBOR | NMSG");
    let cid2 = allocate(&mut h, now);
    assert_ne!(cid, cid2, "fresh channel each time");
    // INIT on an allocated channel answers on that channel with the same CID.
    let out = sends(h.handle_report(&init_report(cid, cmd::INIT, 8, &[7; 8]), now));
    let (c, _, data) = reassemble(&out);
    assert_eq!(c, cid);
    assert_eq!(&data[8..12], &cid.to_be_bytes());
    // Bad INIT length.
    let out = sends(h.handle_report(&init_report(BROADCAST_CID, cmd::INIT, 7, &[0; 7]), now));
    assert!(is_error(&out[0], BROADCAST_CID, err::INVALID_LEN));
}

#[test]
fn fragmented_ping_round_trips() {
    let now = ManualClock::new().now();
    let mut h = hid();
    let cid = allocate(&mut h, now);
    let payload: Vec<u8> = (0..300u16).map(|i| (i % 251) as u8).collect();
    let reports = fragment(cid, cmd::PING, &payload);
    assert_eq!(reports.len(), 1 + (300 - 57usize).div_ceil(59));
    let mut out = Vec::new();
    for r in &reports {
        out.extend(sends(h.handle_report(r, now)));
    }
    let (c, command, data) = reassemble(&out);
    assert_eq!((c, command), (cid, cmd::PING));
    assert_eq!(data, payload);
}

#[test]
fn cbor_request_is_reassembled_and_response_fragmented() {
    let now = ManualClock::new().now();
    let mut h = hid();
    let cid = allocate(&mut h, now);
    let payload = vec![0xAB; 1000];
    let mut events = Vec::new();
    for r in fragment(cid, cmd::CBOR, &payload) {
        events.extend(h.handle_report(&r, now));
    }
    assert_eq!(
        events,
        vec![HidEvent::Request(Request {
            cid,
            cmd: cmd::CBOR,
            payload
        })]
    );
    assert_eq!(h.busy_channel(), Some(cid));
    let resp = h.respond(cid, cmd::CBOR, &[0; 200]);
    assert_eq!(reassemble(&resp).2, vec![0; 200]);
    assert_eq!(h.busy_channel(), None);
}

#[test]
fn wrong_sequence_is_invalid_seq() {
    let now = ManualClock::new().now();
    let mut h = hid();
    let cid = allocate(&mut h, now);
    h.handle_report(&init_report(cid, cmd::PING, 100, &[1; 57]), now);
    let out = sends(h.handle_report(&cont_report(cid, 1, &[1; 43]), now));
    assert!(is_error(&out[0], cid, err::INVALID_SEQ));
    // The channel is usable again afterwards.
    let out = sends(h.handle_report(&init_report(cid, cmd::PING, 1, &[5]), now));
    assert_eq!(reassemble(&out).2, vec![5]);
}

#[test]
fn incomplete_message_times_out() {
    let clock = ManualClock::new();
    let mut h = hid();
    let cid = allocate(&mut h, clock.now());
    h.handle_report(&init_report(cid, cmd::CBOR, 100, &[1; 57]), clock.now());
    let deadline = h.next_deadline().unwrap();
    assert_eq!(deadline, clock.now() + Duration::from_millis(500));
    clock.advance(Duration::from_millis(499));
    assert!(h.on_timeout(clock.now()).is_empty());
    clock.advance(Duration::from_millis(1));
    let out = sends(h.on_timeout(clock.now()));
    assert!(is_error(&out[0], cid, err::MSG_TIMEOUT));
    assert_eq!(h.next_deadline(), None);
}

#[test]
fn other_channel_is_busy_during_a_transaction() {
    let now = ManualClock::new().now();
    let mut h = hid();
    let a = allocate(&mut h, now);
    let b = allocate(&mut h, now);
    h.handle_report(&init_report(a, cmd::CBOR, 100, &[1; 57]), now);
    let out = sends(h.handle_report(&init_report(b, cmd::PING, 1, &[1]), now));
    assert!(is_error(&out[0], b, err::CHANNEL_BUSY));
    let out = sends(h.handle_report(&cont_report(b, 0, &[1]), now));
    assert!(is_error(&out[0], b, err::CHANNEL_BUSY));
    // Complete A's message; B is still refused while A's request is processed.
    let ev = h.handle_report(&cont_report(a, 0, &[1; 43]), now);
    assert!(matches!(ev.as_slice(), [HidEvent::Request(_)]));
    let out = sends(h.handle_report(&init_report(b, cmd::PING, 1, &[1]), now));
    assert!(is_error(&out[0], b, err::CHANNEL_BUSY));
    // CANCEL on A surfaces as an event.
    let ev = h.handle_report(&init_report(a, cmd::CANCEL, 0, &[]), now);
    assert_eq!(ev, vec![HidEvent::Cancel { cid: a }]);
}

#[test]
fn channel_and_length_errors() {
    let now = ManualClock::new().now();
    let mut h = hid();
    let out = sends(h.handle_report(&init_report(0x1234_5678, cmd::PING, 1, &[1]), now));
    assert!(is_error(&out[0], 0x1234_5678, err::INVALID_CHANNEL));
    let out = sends(h.handle_report(&init_report(BROADCAST_CID, cmd::PING, 1, &[1]), now));
    assert!(is_error(&out[0], BROADCAST_CID, err::INVALID_CHANNEL));
    let cid = allocate(&mut h, now);
    let out = sends(h.handle_report(&init_report(cid, cmd::CBOR, 7610, &[1; 57]), now));
    assert!(is_error(&out[0], cid, err::INVALID_LEN));
    let out = sends(h.handle_report(&init_report(cid, 0x55, 1, &[1]), now));
    assert!(is_error(&out[0], cid, err::INVALID_CMD));
    let out = sends(h.handle_report(&init_report(cid, cmd::WINK, 0, &[]), now));
    assert_eq!(reassemble(&out).1, cmd::WINK);
}

// ----- HidDevice -----

type Dev = HidDevice<MemoryStore, ManualClock, ChaCha20Rng, ChaCha20Rng>;

fn device() -> (Dev, ManualClock) {
    let clock = ManualClock::new();
    let auth = Authenticator::new(
        MemoryStore::new(),
        clock.clone(),
        seeded_rng(1),
        Config::default(),
    )
    .unwrap();
    (HidDevice::new(auth, seeded_rng(2)), clock)
}

fn dev_allocate(d: &mut Dev, now: Instant) -> u32 {
    let out = d.handle_report(&init_report(BROADCAST_CID, cmd::INIT, 8, &[0; 8]), now);
    u32::from_be_bytes(reassemble(&out).2[8..12].try_into().unwrap())
}

fn send_cbor(d: &mut Dev, cid: u32, msg: &[u8], now: Instant) -> Vec<Report> {
    let mut out = Vec::new();
    for r in fragment(cid, cmd::CBOR, msg) {
        out.extend(d.handle_report(&r, now));
    }
    out
}

fn make_credential_msg() -> Vec<u8> {
    let t = |s: &str| Value::Text(s.into());
    let params = int_map([
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
    [vec![0x01], cbor::encode(&params).unwrap()].concat()
}

fn is_keepalive(r: &Report, cid: u32) -> bool {
    r[..4] == cid.to_be_bytes() && r[4] == 0x80 | cmd::KEEPALIVE && r[7] == 2
}

#[test]
fn device_get_info_over_cbor() {
    let (mut d, clock) = device();
    let cid = dev_allocate(&mut d, clock.now());
    let out = send_cbor(&mut d, cid, &[0x04], clock.now());
    let (c, command, data) = reassemble(&out);
    assert_eq!((c, command, data[0]), (cid, cmd::CBOR, 0));
    let info = cbor::decode(&data[1..]).unwrap();
    let Value::Map(m) = info else { panic!() };
    assert_eq!(
        map_get_int(&m, 3),
        Some(&Value::Bytes(ctap::AAGUID.to_vec()))
    );
    // CTAPHID_MSG answers SW_INS_NOT_SUPPORTED.
    let out = d.handle_report(&init_report(cid, cmd::MSG, 4, &[0, 1, 0, 0]), clock.now());
    assert_eq!(reassemble(&out).2, vec![0x6D, 0x00]);
}

#[test]
fn device_prompt_keepalives_then_approval() {
    let (mut d, clock) = device();
    let cid = dev_allocate(&mut d, clock.now());
    let out = send_cbor(&mut d, cid, &make_credential_msg(), clock.now());
    assert_eq!(out.len(), 1);
    assert!(is_keepalive(&out[0], cid), "immediate UPNEEDED keepalive");
    assert_eq!(d.prompt().unwrap().reason, PromptReason::Register);
    // Keepalive cadence: never more than 100 ms apart when polled at the deadline.
    let mut last = clock.now();
    for _ in 0..20 {
        let next = d.next_deadline().unwrap();
        assert!(next - last <= Duration::from_millis(100));
        clock.advance(next - clock.now());
        let out = d.poll(clock.now());
        assert_eq!(out.len(), 1);
        assert!(is_keepalive(&out[0], cid));
        last = clock.now();
    }
    // Another channel is told the device is busy.
    let other = dev_allocate(&mut d, clock.now());
    let out = send_cbor(&mut d, other, &[0x04], clock.now());
    assert!(is_error(&out[0], other, err::CHANNEL_BUSY));
    let out = d.resolve_prompt(PromptOutcome::approved(), clock.now());
    let (_, _, data) = reassemble(&out);
    assert_eq!(data[0], 0);
    assert!(d.prompt().is_none());
    assert_eq!(d.next_deadline(), None);
}

#[test]
fn device_cancel_during_prompt() {
    let (mut d, clock) = device();
    let cid = dev_allocate(&mut d, clock.now());
    send_cbor(&mut d, cid, &make_credential_msg(), clock.now());
    let out = d.handle_report(&init_report(cid, cmd::CANCEL, 0, &[]), clock.now());
    let (_, command, data) = reassemble(&out);
    assert_eq!(
        (command, data),
        (cmd::CBOR, vec![StatusCode::KeepaliveCancel.code()])
    );
    assert!(d.prompt().is_none());
}

#[test]
fn device_prompt_times_out() {
    let (mut d, clock) = device();
    let cid = dev_allocate(&mut d, clock.now());
    send_cbor(&mut d, cid, &make_credential_msg(), clock.now());
    clock.advance(Duration::from_secs(31));
    let out = d.poll(clock.now());
    let (_, _, data) = reassemble(&out);
    assert_eq!(data, vec![StatusCode::UserActionTimeout.code()]);
}

#[test]
fn device_reboot_datagram_power_cycles_only_where_allowed() {
    let (mut d, clock) = device();
    // Not allowed (the uhid transport): an ordinary report, so the channel and the closed
    // reset window survive it.
    let cid = dev_allocate(&mut d, clock.now());
    clock.advance(Duration::from_secs(20));
    d.handle_report(&REBOOT_MAGIC, clock.now());
    let out = send_cbor(&mut d, cid, &[0x07], clock.now());
    assert_eq!(
        reassemble(&out).2,
        vec![StatusCode::NotAllowed.code()],
        "the reboot datagram reopened the reset window on a real transport"
    );

    let (mut d, clock) = device();
    d.allow_simulation_reboot(true);
    let cid = dev_allocate(&mut d, clock.now());
    clock.advance(Duration::from_secs(20));
    let out = send_cbor(&mut d, cid, &[0x07], clock.now());
    assert_eq!(reassemble(&out).2, vec![StatusCode::NotAllowed.code()]);
    assert!(
        d.handle_report(&REBOOT_MAGIC, clock.now()).is_empty(),
        "no reply"
    );
    let out = send_cbor(&mut d, cid, &[0x04], clock.now());
    assert!(
        is_error(&out[0], cid, err::INVALID_CHANNEL),
        "channels forgotten"
    );
    let cid = dev_allocate(&mut d, clock.now());
    let out = send_cbor(&mut d, cid, &[0x07], clock.now());
    assert!(is_keepalive(&out[0], cid), "reset window reopened");
    let out = d.resolve_prompt(PromptOutcome::approved(), clock.now());
    assert_eq!(reassemble(&out).2, vec![0]);
}

/// The owner's session is switched away: every CTAP message is refused without reaching the
/// authenticator, a waiting request ends, and once the owner is back all works again.
#[test]
fn a_refusing_device_answers_not_allowed_and_ends_what_waits() {
    let (mut d, clock) = device();
    let cid = dev_allocate(&mut d, clock.now());
    send_cbor(&mut d, cid, &make_credential_msg(), clock.now());
    assert!(d.prompt().is_some());
    let out = d.set_refusing(true, clock.now());
    assert_eq!(
        reassemble(&out).2,
        vec![StatusCode::OperationDenied.code()],
        "the open request was not ended"
    );
    assert!(
        d.prompt().is_none(),
        "the prompt stays up for the next user"
    );
    for msg in [vec![0x04], make_credential_msg()] {
        let (c, _, data) = reassemble(&send_cbor(&mut d, cid, &msg, clock.now()));
        assert_eq!((c, data), (cid, vec![StatusCode::NotAllowed.code()]));
        assert!(d.prompt().is_none());
    }
    // A new channel can still be opened, as on any key.
    let other = dev_allocate(&mut d, clock.now());
    assert_ne!(other, cid);
    assert!(d.set_refusing(false, clock.now()).is_empty());
    let (_, _, data) = reassemble(&send_cbor(&mut d, cid, &[0x04], clock.now()));
    assert_eq!(data[0], 0, "getInfo after the owner came back");
}

// ----- forwarding (the bridge's "use my phone") -----

#[test]
fn forwarded_requests_wait_with_keepalives_and_carry_the_phones_answer() {
    let (mut d, clock) = device();
    d.set_forwarding(true);
    let cid = dev_allocate(&mut d, clock.now());
    // getInfo stays local.
    let (_, _, data) = reassemble(&send_cbor(&mut d, cid, &[0x04], clock.now()));
    assert_eq!(data[0], 0);
    assert!(d.forward().is_none());
    // makeCredential is handed over unchanged, the client told to wait.
    let request = make_credential_msg();
    let out = send_cbor(&mut d, cid, &request, clock.now());
    assert_eq!(out.len(), 1);
    assert!(is_keepalive(&out[0], cid));
    let forward = d.forward().unwrap().clone();
    assert_eq!(forward.request, request);
    assert!(
        d.prompt().is_none(),
        "the local authenticator was not asked"
    );
    for _ in 0..5 {
        clock.advance(d.next_deadline().unwrap() - clock.now());
        let out = d.poll(clock.now());
        assert!(is_keepalive(&out[0], cid));
    }
    // A stale answer is ignored; the right one reaches the client byte for byte.
    assert!(d.resolve_forward(forward.id + 1, &[0, 0xa0]).is_empty());
    let phone_answer = [0x00, 0xa1, 0x01, 0x64, b'n', b'o', b'n', b'e'];
    let (c, command, data) = reassemble(&d.resolve_forward(forward.id, &phone_answer));
    assert_eq!((c, command, data), (cid, cmd::CBOR, phone_answer.to_vec()));
    assert!(d.forward().is_none());
    assert_eq!(d.next_deadline(), None);
}

#[test]
fn a_cancelled_or_expired_forward_answers_the_client_and_goes_away() {
    let (mut d, clock) = device();
    d.set_forwarding(true);
    let cid = dev_allocate(&mut d, clock.now());
    send_cbor(&mut d, cid, &make_credential_msg(), clock.now());
    let id = d.forward().unwrap().id;
    let out = d.handle_report(&init_report(cid, cmd::CANCEL, 0, &[]), clock.now());
    assert_eq!(reassemble(&out).2, vec![StatusCode::KeepaliveCancel.code()]);
    assert!(d.forward().is_none());
    // The phone's late answer finds nobody waiting.
    assert!(d.resolve_forward(id, &[0]).is_empty());

    send_cbor(&mut d, cid, &make_credential_msg(), clock.now());
    clock.advance(ctap::device::FORWARD_TIMEOUT + Duration::from_millis(1));
    let out = d.poll(clock.now());
    assert_eq!(
        reassemble(&out).2,
        vec![StatusCode::UserActionTimeout.code()]
    );
    assert!(d.forward().is_none());
}

#[test]
fn silent_probes_stay_local_and_their_lists_reach_the_phone() {
    let (mut d, clock) = device();
    d.set_forwarding(true);
    let cid = dev_allocate(&mut d, clock.now());
    let t = |s: &str| Value::Text(s.into());
    let descriptor = |id: u8| {
        Value::Map(vec![
            (t("id"), Value::Bytes(vec![id; 16])),
            (t("type"), t("public-key")),
        ])
    };
    let get_assertion = |allow: Vec<Value>, up: bool| {
        let params = int_map([
            (1, Some(t("example.com"))),
            (2, Some(Value::Bytes(vec![0; 32]))),
            (3, Some(Value::Array(allow))),
            (5, Some(Value::Map(vec![(t("up"), Value::Bool(up))]))),
        ]);
        [vec![0x02], cbor::encode(&params).unwrap()].concat()
    };
    // A client probes its list one credential at a time; every probe is answered locally.
    for id in [7, 8] {
        let out = send_cbor(
            &mut d,
            cid,
            &get_assertion(vec![descriptor(id)], false),
            clock.now(),
        );
        assert_eq!(reassemble(&out).2, vec![StatusCode::NoCredentials.code()]);
        assert!(d.forward().is_none(), "a probe never reaches the phone");
    }
    // The real request (with the dummy ID python-fido2 sends after misses) reaches the phone
    // with every probed credential.
    send_cbor(
        &mut d,
        cid,
        &get_assertion(vec![descriptor(0)], true),
        clock.now(),
    );
    let forward = d.forward().unwrap().clone();
    let Value::Map(m) = cbor::decode(&forward.request[1..]).unwrap() else {
        panic!()
    };
    let Some(Value::Array(list)) = map_get_int(&m, 3) else {
        panic!()
    };
    let ids: Vec<u8> = list
        .iter()
        .map(|d| match d {
            Value::Map(d) => match cbor::map_get_text(d, "id") {
                Some(Value::Bytes(id)) => id[0],
                _ => panic!(),
            },
            _ => panic!(),
        })
        .collect();
    assert_eq!(ids, vec![0, 7, 8]);
    d.resolve_forward(forward.id, &[0]);
    // Memory is per request: the next one goes as the client sent it.
    send_cbor(
        &mut d,
        cid,
        &get_assertion(vec![descriptor(9)], true),
        clock.now(),
    );
    let forward = d.forward().unwrap().clone();
    assert_eq!(forward.request, get_assertion(vec![descriptor(9)], true));
    d.resolve_forward(forward.id, &[0]);
    // Without forwarding the local authenticator answers probes as before.
    d.set_forwarding(false);
    let (_, _, data) = reassemble(&send_cbor(
        &mut d,
        cid,
        &get_assertion(vec![descriptor(7)], false),
        clock.now(),
    ));
    assert_eq!(data, vec![StatusCode::NoCredentials.code()]);
}

#[test]
fn the_user_can_send_a_prompted_request_to_the_phone_instead() {
    let (mut d, clock) = device();
    let cid = dev_allocate(&mut d, clock.now());
    let request = make_credential_msg();
    let out = send_cbor(&mut d, cid, &request, clock.now());
    assert!(is_keepalive(&out[0], cid));
    assert!(d.prompt().is_some(), "answered locally: the user is asked");
    assert!(d.forward().is_none());
    // "Use a phone instead": the client's request, unchanged, becomes a forward.
    assert!(
        d.resolve_prompt(PromptOutcome::Forward, clock.now())
            .is_empty()
    );
    assert!(d.prompt().is_none());
    let forward = d.forward().unwrap().clone();
    assert_eq!(forward.request, request);
    // The client keeps hearing "user presence needed" while the phone works.
    let out = d.poll(clock.now());
    assert!(is_keepalive(&out[0], cid));
    let phone_answer = [0x00, 0xa1, 0x01, 0x64, b'n', b'o', b'n', b'e'];
    let (c, _, data) = reassemble(&d.resolve_forward(forward.id, &phone_answer));
    assert_eq!((c, data), (cid, phone_answer.to_vec()));

    // A prompt that is not a makeCredential/getAssertion (here: none pending) cannot be
    // forwarded; Forward then means "denied".
    let out = send_cbor(&mut d, cid, &request, clock.now());
    assert!(is_keepalive(&out[0], cid));
    d.power_cycle(clock.now());
    assert!(
        d.resolve_prompt(PromptOutcome::Forward, clock.now())
            .is_empty()
    );
    assert!(d.forward().is_none());
}

#[test]
fn replacing_the_authenticator_keeps_channels_and_denies_what_was_pending() {
    let (mut d, clock) = device();
    let cid = dev_allocate(&mut d, clock.now());
    send_cbor(&mut d, cid, &make_credential_msg(), clock.now());
    assert!(d.prompt().is_some());
    let auth = Authenticator::new(
        MemoryStore::new(),
        clock.clone(),
        seeded_rng(9),
        Config::default(),
    )
    .unwrap();
    let out = d.replace_authenticator(auth);
    assert_eq!(reassemble(&out).2, vec![StatusCode::OperationDenied.code()]);
    assert!(d.prompt().is_none());
    // The channel still works with the new authenticator.
    let (c, _, data) = reassemble(&send_cbor(&mut d, cid, &[0x04], clock.now()));
    assert_eq!((c, data[0]), (cid, 0));
    // No power cycle happened: the reset window, closed by now, stays closed.
    clock.advance(Duration::from_secs(20));
    let auth = Authenticator::new(
        MemoryStore::new(),
        clock.clone(),
        seeded_rng(10),
        Config::default(),
    )
    .unwrap();
    d.replace_authenticator(auth);
    let out = send_cbor(&mut d, cid, &[0x07], clock.now());
    assert_eq!(reassemble(&out).2, vec![StatusCode::NotAllowed.code()]);
}
