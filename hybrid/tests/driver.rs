//! The async drivers without sockets or radios: a client ceremony against the virtual phone
//! over the in-memory relay and air (`hybrid::testing`), and the driver's answer to each
//! fault a test double can stage — a refusing relay, a relay that is down, a phone that never
//! answers, a phone that answers an error, and a cancel.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "tests: the drivers' deadlines run on the real monotonic clock"
)]

use std::time::{Duration, Instant};

use ctap::testing::MemoryStore;
use hybrid::error::{Error, Phase};
use hybrid::io::driver::{ClientOutcome, ClientStep, DriveError, Io, run_client, run_phone};
use hybrid::io::phone::{Behaviour, CtapPhone};
use hybrid::io::tunnel::TunnelError;
use hybrid::qr::{QrPayload, RequestHint};
use hybrid::session::{ClientConfig, ClientSession, PhoneConfig, PhoneSession, Timeouts};
use hybrid::testing::{MEMORY_RELAY_BASE, MemoryAir, MemoryRelay, RelayMode};
use hybrid::tunnel_url::TunnelBase;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

/// The real monotonic clock (the drivers sleep on tokio timers until its deadlines).
struct RealClock;

impl ctap::Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn unix_time(&self) -> u64 {
        1_700_000_000
    }
}

type Phone = CtapPhone<MemoryStore, RealClock, ChaCha20Rng>;

fn phone(behaviour: Behaviour) -> Phone {
    let engine = ctap::Authenticator::new(
        MemoryStore::new(),
        RealClock,
        ChaCha20Rng::seed_from_u64(7),
        ctap::Config {
            built_in_uv: true,
            ..ctap::Config::default()
        },
    )
    .unwrap();
    CtapPhone::new(engine, behaviour)
}

fn timeouts(limit: Duration) -> Timeouts {
    Timeouts {
        advert: limit,
        tunnel: limit,
        handshake: limit,
        response: limit,
        request: limit,
        shutdown: Duration::from_millis(200),
        ..Timeouts::default()
    }
}

/// makeCredential for a discoverable ES256 passkey at example.com.
fn make_credential() -> Vec<u8> {
    use ctap::cbor::{Value, int_map};
    let t = |s: &str| Value::Text(s.to_owned());
    let request = int_map([
        (1, Some(Value::Bytes(vec![9; 32]))),
        (2, Some(Value::Map(vec![(t("id"), t("example.com"))]))),
        (
            3,
            Some(Value::Map(vec![
                (t("id"), Value::Bytes(vec![1; 8])),
                (t("name"), t("ana")),
            ])),
        ),
        (
            4,
            Some(Value::Array(vec![Value::Map(vec![
                (t("alg"), Value::Integer((-7).into())),
                (t("type"), t("public-key")),
            ])])),
        ),
    ]);
    [
        vec![ctap::types::command::MAKE_CREDENTIAL],
        ctap::cbor::encode(&request).unwrap(),
    ]
    .concat()
}

/// Runs one QR ceremony: the client here, the phone as a task that "scans" the QR code when
/// the client shows it. Returns the client's result and every step it reported.
async fn ceremony(
    relay: &MemoryRelay,
    behaviour: Behaviour,
    limit: Duration,
    cancel_after: Option<Duration>,
) -> (Result<ClientOutcome, DriveError>, Vec<ClientStep>) {
    let air = MemoryAir::default();
    let mut scanner = air.scanner();
    let (qr_tx, qr_rx) = tokio::sync::oneshot::channel::<String>();
    let phone_relay = relay.clone();
    let phone_air = air.clone();
    let phone_task = tokio::spawn(async move {
        let Ok(qr) = qr_rx.await else { return };
        let mut phone = phone(behaviour);
        let mut config = PhoneConfig::new(phone.get_info());
        config.tunnel_base = TunnelBase::Custom(MEMORY_RELAY_BASE.to_owned());
        config.timeouts = timeouts(limit);
        let payload = QrPayload::from_url(&qr).unwrap();
        let session = PhoneSession::new(
            payload,
            config,
            &mut ChaCha20Rng::seed_from_u64(2),
            Instant::now(),
        )
        .unwrap();
        let mut advertiser = phone_air.advertiser();
        let io = Io {
            air: &mut advertiser,
            connector: &phone_relay,
            clock: &RealClock,
        };
        let _ = run_phone(session, &mut phone, io, std::future::pending()).await;
    });
    let config = ClientConfig {
        tunnel_base: TunnelBase::Custom(MEMORY_RELAY_BASE.to_owned()),
        timeouts: timeouts(limit),
        ..ClientConfig::default()
    };
    let session = ClientSession::new_qr(
        config,
        RequestHint::MakeCredential,
        1_700_000_000,
        &mut ChaCha20Rng::seed_from_u64(1),
        Instant::now(),
    );
    let mut steps = Vec::new();
    let mut qr_tx = Some(qr_tx);
    let mut on_step = |step: ClientStep| {
        if let (ClientStep::QrShown(url), Some(tx)) = (&step, qr_tx.take()) {
            let _ = tx.send(url.clone());
        }
        steps.push(step);
    };
    let cancel = async move {
        match cancel_after {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
    };
    let io = Io {
        air: &mut scanner,
        connector: relay,
        clock: &RealClock,
    };
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        run_client(session, &make_credential(), io, &mut on_step, cancel),
    )
    .await
    .expect("the driver ends by itself");
    phone_task.abort();
    (result, steps)
}

#[tokio::test]
async fn a_qr_ceremony_runs_over_the_memory_relay_and_air() {
    let relay = MemoryRelay::default();
    let (result, steps) = ceremony(&relay, Behaviour::Answer, Duration::from_secs(5), None).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.response.first(), Some(&0), "CTAP2_OK");
    assert!(outcome.get_info.is_some());
    let kinds: Vec<&str> = steps
        .iter()
        .map(|step| match step {
            ClientStep::QrShown(_) => "qr",
            ClientStep::AdvertHeard => "heard",
            ClientStep::AdvertMatched => "advert",
            ClientStep::Connecting(_) => "connecting",
            ClientStep::TunnelOpen => "tunnel",
            ClientStep::HandshakeDone => "handshake",
            ClientStep::PostHandshake => "post-handshake",
            ClientStep::RequestSent => "request",
            ClientStep::PhoneAnswered => "answered",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "qr",
            "heard",
            "advert",
            "connecting",
            "tunnel",
            "handshake",
            "post-handshake",
            "request",
            "answered"
        ]
    );
    // Only the relay's origin is shown: the path carries the tunnel's IDs.
    let connecting = steps.iter().find_map(|step| match step {
        ClientStep::Connecting(origin) => Some(origin.clone()),
        _ => None,
    });
    let origin = connecting.unwrap();
    assert!(!origin.contains("/cable"), "{origin}");
    assert_eq!(relay.requests(), ["new", "connect"]);
}

#[tokio::test]
async fn a_refusing_relay_is_the_tunnels_error_with_its_status() {
    let relay = MemoryRelay::new(RelayMode::Refuse(503));
    let (result, steps) = ceremony(&relay, Behaviour::Answer, Duration::from_secs(2), None).await;
    // The phone's /cable/new is refused, so it never advertises: the client times out
    // waiting for the advert after showing its QR code.
    assert!(
        matches!(
            result,
            Err(DriveError::Session(Error::Timeout(Phase::Advert)))
        ),
        "{result:?}"
    );
    assert!(matches!(steps.as_slice(), [ClientStep::QrShown(_)]));

    // With the phone's tunnel up, a relay that refuses the client is reported as such.
    let relay = MemoryRelay::for_clients(RelayMode::Refuse(429));
    let (result, _) = ceremony(&relay, Behaviour::Answer, Duration::from_secs(2), None).await;
    assert!(
        matches!(result, Err(DriveError::Tunnel(TunnelError::Refused(429)))),
        "{result:?}"
    );
    assert_eq!(relay.requests(), ["new", "connect"]);
}

#[tokio::test]
async fn a_relay_that_is_down_is_unreachable() {
    let relay = MemoryRelay::for_clients(RelayMode::Down);
    let (result, _) = ceremony(&relay, Behaviour::Answer, Duration::from_secs(2), None).await;
    assert!(
        matches!(result, Err(DriveError::Tunnel(TunnelError::Unreachable(_)))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_phone_that_never_answers_times_out_waiting_for_the_response() {
    let relay = MemoryRelay::default();
    let started = Instant::now();
    let (result, steps) =
        ceremony(&relay, Behaviour::Stall, Duration::from_millis(600), None).await;
    assert!(
        matches!(
            result,
            Err(DriveError::Session(Error::Timeout(Phase::Response)))
        ),
        "{result:?}"
    );
    assert!(steps.contains(&ClientStep::HandshakeDone));
    assert!(started.elapsed() >= Duration::from_millis(600));
}

#[tokio::test]
async fn a_phone_error_arrives_as_its_status_byte() {
    let relay = MemoryRelay::default();
    let (result, _) = ceremony(&relay, Behaviour::Error(0x27), Duration::from_secs(5), None).await;
    assert_eq!(result.unwrap().response, vec![0x27]);
}

#[tokio::test]
async fn a_cancel_ends_the_ceremony_at_any_step() {
    let relay = MemoryRelay::default();
    // Cancelled while the phone thinks (it never answers).
    let (result, steps) = ceremony(
        &relay,
        Behaviour::Stall,
        Duration::from_secs(10),
        Some(Duration::from_millis(300)),
    )
    .await;
    assert!(
        matches!(result, Err(DriveError::Session(Error::Cancelled))),
        "{result:?}"
    );
    assert!(steps.contains(&ClientStep::HandshakeDone));
}
