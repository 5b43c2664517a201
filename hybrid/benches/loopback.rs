//! End-to-end latency of a whole hybrid ceremony on loopback: a real relay (WebSockets over
//! TCP on 127.0.0.1), the client and phone drivers with their sans-IO sessions, the phone's
//! ctap engine answering a getAssertion. Advert delivery is excluded: the "air" is an
//! in-process channel, so what is measured is QR keys → tunnel → handshake → CTAP round trip
//! → shutdown.
//!
//! `cargo bench -p hybrid --features io --bench loopback` prints p50/p99 over 1,000
//! ceremonies (a custom harness: criterion's statistics want many cheap iterations, and a
//! tail percentile is the number that matters here).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    clippy::as_conversions,
    missing_docs,
    reason = "benchmark harness: real time is the point, failing loudly is fine"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ctap::cbor::{self, Value, int_map};
use ctap::{Authenticator, Config, MemoryStore};
use hybrid::io::air::{AirError, BleAdvertiser, BleScanner, ServiceData};
use hybrid::io::driver::{ClientStep, Io, run_client, run_phone};
use hybrid::io::phone::{Behaviour, CtapPhone, VerifiedUser};
use hybrid::io::relay::{Relay, RelayConfig};
use hybrid::io::tunnel::WsConnector;
use hybrid::qr::{QrPayload, RequestHint};
use hybrid::session::{ClientConfig, ClientSession, PhoneConfig, PhoneSession};
use hybrid::tunnel_url::TunnelBase;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tokio::sync::{Mutex, mpsc};

const CEREMONIES: usize = 1_000;

#[derive(Clone, Copy)]
struct RealClock;

impl ctap::Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn unix_time(&self) -> u64 {
        1_700_000_000
    }
}

struct ChannelScanner(mpsc::UnboundedReceiver<Vec<u8>>);

impl BleScanner for ChannelScanner {
    async fn next_advert(&mut self) -> Result<ServiceData, AirError> {
        match self.0.recv().await {
            Some(data) => Ok(ServiceData { uuid: 0xFFF9, data }),
            None => std::future::pending().await,
        }
    }
}

struct ChannelAdvertiser(mpsc::UnboundedSender<Vec<u8>>);

impl BleAdvertiser for ChannelAdvertiser {
    async fn start(&mut self, payload: [u8; 20]) -> Result<(), AirError> {
        let _ = self.0.send(payload.to_vec());
        Ok(())
    }

    fn stop(&mut self) {}
}

type Phone = CtapPhone<MemoryStore, RealClock, ChaCha20Rng>;

fn t(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// A phone with one passkey for example.com; returns it and a getAssertion for that passkey.
fn phone() -> (Phone, Vec<u8>) {
    let config = Config {
        built_in_uv: true,
        ..Config::default()
    };
    let mut engine = Authenticator::new(
        MemoryStore::new(),
        RealClock,
        ChaCha20Rng::seed_from_u64(1),
        config,
    )
    .unwrap();
    let make = int_map([
        (1, Some(Value::Bytes(vec![0; 32]))),
        (2, Some(Value::Map(vec![(t("id"), t("example.com"))]))),
        (
            3,
            Some(Value::Map(vec![
                (t("id"), Value::Bytes(vec![1])),
                (t("name"), t("alice")),
            ])),
        ),
        (
            4,
            Some(Value::Array(vec![Value::Map(vec![
                (t("alg"), Value::Integer((-7).into())),
                (t("type"), t("public-key")),
            ])])),
        ),
        (7, Some(Value::Map(vec![(t("rk"), Value::Bool(true))]))),
    ]);
    let reply = engine.handle_with_prompt(
        &[vec![0x01], cbor::encode(&make).unwrap()].concat(),
        &mut VerifiedUser,
    );
    assert_eq!(reply[0], 0, "registration failed");
    let get = int_map([
        (1, Some(t("example.com"))),
        (2, Some(Value::Bytes(vec![7; 32]))),
        (5, Some(Value::Map(vec![(t("uv"), Value::Bool(true))]))),
    ]);
    let request = [vec![0x02], cbor::encode(&get).unwrap()].concat();
    (CtapPhone::new(engine, Behaviour::Answer), request)
}

async fn ceremony(
    relay: &str,
    phone: &Arc<Mutex<Phone>>,
    get_info: &[u8],
    request: &[u8],
    rng: &mut ChaCha20Rng,
) -> Duration {
    let clock = RealClock;
    let started = Instant::now();
    let (air_tx, air_rx) = mpsc::unbounded_channel();
    let (qr_tx, mut qr_rx) = mpsc::unbounded_channel::<String>();
    let client_config = ClientConfig {
        tunnel_base: TunnelBase::Custom(relay.to_owned()),
        ..ClientConfig::default()
    };
    let session = ClientSession::new_qr(
        client_config,
        RequestHint::GetAssertion,
        1_700_000_000,
        rng,
        started,
    );
    let mut phone_config = PhoneConfig::new(get_info.to_vec());
    phone_config.tunnel_base = TunnelBase::Custom(relay.to_owned());
    let mut phone_rng = ChaCha20Rng::from_rng(&mut *rng).unwrap();
    let phone = Arc::clone(phone);
    let phone_task = tokio::spawn(async move {
        let qr = qr_rx.recv().await.unwrap();
        let payload = QrPayload::from_url(&qr).unwrap();
        let session =
            PhoneSession::new(payload, phone_config, &mut phone_rng, Instant::now()).unwrap();
        let mut phone = phone.lock_owned().await;
        let mut advertiser = ChannelAdvertiser(air_tx);
        let io = Io {
            air: &mut advertiser,
            connector: &WsConnector::default(),
            clock: &RealClock,
        };
        run_phone(session, &mut *phone, io, std::future::pending())
            .await
            .unwrap();
    });
    let mut scanner = ChannelScanner(air_rx);
    let mut on_step = |step: ClientStep| {
        if let ClientStep::QrShown(url) = step {
            let _ = qr_tx.send(url);
        }
    };
    let io = Io {
        air: &mut scanner,
        connector: &WsConnector::default(),
        clock: &clock,
    };
    let outcome = run_client(session, request, io, &mut on_step, std::future::pending())
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(outcome.response.first(), Some(&0), "phone refused");
    phone_task.await.unwrap();
    elapsed
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let index = (sorted.len() * p / 100).min(sorted.len() - 1);
    sorted[index]
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful: run a few
    // ceremonies then, so the harness itself is checked without the full run.
    let full = std::env::args().any(|a| a == "--bench");
    let count = if full { CEREMONIES } else { 10 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let relay = Relay::bind(([127, 0, 0, 1], 0).into(), RelayConfig::default())
            .await
            .unwrap();
        let relay_url = format!("ws://{}", relay.local_addr().unwrap());
        tokio::spawn(relay.run());
        let (mut phone, request) = phone();
        let get_info = phone.get_info();
        let phone = Arc::new(Mutex::new(phone));
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        // Warm-up: connection set-up paths, allocator, caches.
        for _ in 0..20 {
            ceremony(&relay_url, &phone, &get_info, &request, &mut rng).await;
        }
        let mut times = Vec::with_capacity(count);
        for _ in 0..count {
            times.push(ceremony(&relay_url, &phone, &get_info, &request, &mut rng).await);
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / count as u32;
        println!(
            "loopback ceremony (relay + client + phone + getAssertion, advert excluded): \
             n={count} p50={:.3} ms p99={:.3} ms mean={:.3} ms max={:.3} ms",
            percentile(&times, 50).as_secs_f64() * 1e3,
            percentile(&times, 99).as_secs_f64() * 1e3,
            mean.as_secs_f64() * 1e3,
            times[count - 1].as_secs_f64() * 1e3,
        );
    });
}
