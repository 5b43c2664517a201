//! Across the crates, with nothing real in between: the desktop's hybrid client (`hybrid`)
//! talks to the `ctap` engine playing the phone over the in-memory relay and air, with the
//! requests built and the answers checked by the app core's relying-party half
//! (`passbridge_core::webauthn`) — a registration, two sign-ins with the counter moving, and a
//! reply for another site refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "tests: the drivers' deadlines run on the real monotonic clock"
)]

use std::time::{Duration, Instant};

use ctap::CredentialStore as _;
use ctap::testing::MemoryStore;
use hybrid::io::driver::{ClientStep, Io, run_client, run_phone};
use hybrid::io::phone::{Behaviour, CtapPhone};
use hybrid::qr::{QrPayload, RequestHint};
use hybrid::session::{ClientConfig, ClientSession, PhoneConfig, PhoneSession};
use hybrid::testing::{MEMORY_RELAY_BASE, MemoryAir, MemoryRelay};
use hybrid::tunnel_url::TunnelBase;
use passbridge_core::testing::seeded_rng;
use passbridge_core::webauthn::{self, ClientData, Registration, VerifyError};

struct RealClock;

impl ctap::Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn unix_time(&self) -> u64 {
        1_700_000_000
    }
}

type Phone = CtapPhone<MemoryStore, RealClock, passbridge_core::system::SharedRng>;

/// One ceremony: `request` from the desktop, answered by `phone` after it "scans" the QR code.
async fn ceremony(phone: &mut Phone, hint: RequestHint, request: &[u8], seed: u64) -> Vec<u8> {
    let relay = MemoryRelay::default();
    let air = MemoryAir::default();
    let mut scanner = air.scanner();
    let (qr_tx, qr_rx) = tokio::sync::oneshot::channel::<String>();
    let base = TunnelBase::Custom(MEMORY_RELAY_BASE.to_owned());
    let client = async {
        let config = ClientConfig {
            tunnel_base: base.clone(),
            ..ClientConfig::default()
        };
        let session = ClientSession::new_qr(
            config,
            hint,
            1_700_000_000,
            &mut seeded_rng(seed),
            Instant::now(),
        );
        let mut qr_tx = Some(qr_tx);
        let mut on_step = |step: ClientStep| {
            if let (ClientStep::QrShown(url), Some(tx)) = (step, qr_tx.take()) {
                tx.send(url).unwrap();
            }
        };
        let io = Io {
            air: &mut scanner,
            connector: &relay,
            clock: &RealClock,
        };
        run_client(session, request, io, &mut on_step, std::future::pending())
            .await
            .unwrap()
    };
    let phone_side = async {
        let qr = qr_rx.await.unwrap();
        let mut config = PhoneConfig::new(phone.get_info());
        config.tunnel_base = base.clone();
        let session = PhoneSession::new(
            QrPayload::from_url(&qr).unwrap(),
            config,
            &mut seeded_rng(seed + 1),
            Instant::now(),
        )
        .unwrap();
        let mut advertiser = air.advertiser();
        let io = Io {
            air: &mut advertiser,
            connector: &relay,
            clock: &RealClock,
        };
        run_phone(session, phone, io, std::future::pending())
            .await
            .unwrap();
    };
    let (outcome, ()) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(client, phone_side)
    })
    .await
    .expect("a loopback ceremony ends by itself");
    outcome.response
}

fn phone() -> Phone {
    let engine = ctap::Authenticator::new(
        MemoryStore::new(),
        RealClock,
        seeded_rng(40),
        passbridge_core::phone::virtual_phone::engine_config(),
    )
    .unwrap();
    CtapPhone::new(engine, Behaviour::Answer)
}

fn sign_in_request(rp_id: &str, known: &Registration, challenge: u8) -> (ClientData, Vec<u8>) {
    let data = ClientData::new(
        "webauthn.get",
        &[challenge; 32],
        &format!("https://{rp_id}"),
    );
    let request = webauthn::get_assertion_request(
        &data.hash,
        rp_id,
        std::slice::from_ref(&known.credential_id),
    )
    .unwrap();
    (data, request)
}

#[tokio::test]
async fn a_phone_passkey_registers_and_signs_in_across_the_crates() {
    let mut phone = phone();
    let create = ClientData::new("webauthn.create", &[1; 32], "https://example.com");
    let request =
        webauthn::make_credential_request(&create.hash, "example.com", b"ana-id", "ana").unwrap();
    let reply = ceremony(&mut phone, RequestHint::MakeCredential, &request, 1).await;
    let registration = webauthn::verify_registration(&reply, "example.com", &create.hash).unwrap();
    assert!(registration.attestation_signature_verified);
    assert_eq!(
        phone.authenticator().store().credentials().unwrap().len(),
        1
    );

    let mut counts = Vec::new();
    for (challenge, seed) in [(2u8, 10u64), (3, 20)] {
        let (data, request) = sign_in_request("example.com", &registration, challenge);
        let reply = ceremony(&mut phone, RequestHint::GetAssertion, &request, seed).await;
        let assertion = webauthn::verify_assertion(
            &reply,
            "example.com",
            &data.hash,
            std::slice::from_ref(&registration),
        )
        .unwrap();
        assert_eq!(assertion.credential_id, registration.credential_id);
        counts.push(assertion.sign_count);
    }
    assert!(counts[1] > counts[0], "the counter moves: {counts:?}");

    // The phone's answer for one site does not pass as another's.
    let (data, request) = sign_in_request("example.com", &registration, 4);
    let reply = ceremony(&mut phone, RequestHint::GetAssertion, &request, 30).await;
    assert_eq!(
        webauthn::verify_assertion(
            &reply,
            "example.org",
            &data.hash,
            std::slice::from_ref(&registration)
        ),
        Err(VerifyError::WrongRp)
    );
}
