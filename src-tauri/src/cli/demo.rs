//! `passbridge demo`: relay, desktop client and virtual phone in one process on loopback.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use hybrid::io::driver::{ClientOutcome, ClientStep};
use hybrid::io::phone::{Behaviour, CtapPhone};
use hybrid::io::relay::{Relay, RelayConfig};
use hybrid::qr::RequestHint;

use super::air::Air;
use super::client::{ClientOpts, Start, Steps, client_round, explain};
use super::phone::{PhoneStart, phone_ceremony, phone_engine_config};
use super::{fail, random_bytes, runtime, verify_failure};
use crate::system::{SystemClock, SystemRng};
use crate::webauthn::{self, ClientData};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Site to register and sign in to.
    #[arg(long, default_value = "demo.passbridge.example")]
    rp_id: String,
    /// Account name.
    #[arg(long, default_value = "alice")]
    user: String,
}

/// Runs `passbridge demo`: a relay, the desktop client and the virtual phone in this process
/// on loopback; a registration, then a sign-in, each verified.
pub fn run_demo(args: DemoArgs) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(demo(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

async fn demo(args: &DemoArgs) -> Result<(), String> {
    let relay = Relay::bind(([127, 0, 0, 1], 0).into(), RelayConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let relay_addr = relay.local_addr().map_err(|e| e.to_string())?;
    let relay_url = format!("ws://{relay_addr}");
    let relay_task = tokio::spawn(relay.run());
    // Reserve a free loopback port for the air.
    let air_addr = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map_err(|e| e.to_string())?;
    println!("Passbridge demo: relay on {relay_url}, loopback air on udp://{air_addr}");
    println!("A virtual phone (the ctap engine, in memory) plays the phone's part.\n");

    let engine = ctap::Authenticator::new(
        ctap::MemoryStore::new(),
        SystemClock,
        SystemRng::default(),
        phone_engine_config(),
    )
    .map_err(|e| e.to_string())?;
    let phone = CtapPhone::new(engine, Behaviour::Answer);
    let opts = ClientOpts {
        relay: Some(relay_url.clone()),
        air: Some(format!("udp://{air_addr}")),
        timeout: 30,
        json: false,
        profile: None,
        profile_opts: crate::profile::cli::CommonOpts::default(),
    };

    println!("1. Registration: {} at {}", args.user, args.rp_id);
    let client_data = ClientData::new(
        "webauthn.create",
        &random_bytes::<32>(),
        &format!("https://{}", args.rp_id),
    );
    let request = webauthn::make_credential_request(
        &client_data.hash,
        &args.rp_id,
        &random_bytes::<16>(),
        &args.user,
    )
    .map_err(|e| e.to_string())?;
    let (outcome, phone) = demo_round(
        phone,
        &opts,
        &relay_url,
        air_addr,
        RequestHint::MakeCredential,
        &request,
    )
    .await?;
    let registration =
        webauthn::verify_registration(&outcome.response, &args.rp_id, &client_data.hash)
            .map_err(|e| verify_failure(&e))?;
    println!(
        "   registered credential {} ({}; attestation signature verified: {})\n",
        hex::encode(&registration.credential_id),
        webauthn::describe_flags(registration.flags),
        registration.attestation_signature_verified
    );

    println!("2. Sign-in at {}", args.rp_id);
    let client_data = ClientData::new(
        "webauthn.get",
        &random_bytes::<32>(),
        &format!("https://{}", args.rp_id),
    );
    let request = webauthn::get_assertion_request(&client_data.hash, &args.rp_id, &[])
        .map_err(|e| e.to_string())?;
    let (outcome, _phone) = demo_round(
        phone,
        &opts,
        &relay_url,
        air_addr,
        RequestHint::GetAssertion,
        &request,
    )
    .await?;
    let assertion = webauthn::verify_assertion(
        &outcome.response,
        &args.rp_id,
        &client_data.hash,
        &[registration],
    )
    .map_err(|e| verify_failure(&e))?;
    println!(
        "   signed in with credential {} ({}, sign count {}); signature verified\n",
        hex::encode(&assertion.credential_id),
        webauthn::describe_flags(assertion.flags),
        assertion.sign_count
    );
    relay_task.abort();
    println!("Demo finished: registration and sign-in both verified.");
    Ok(())
}

type DemoPhone = CtapPhone<ctap::MemoryStore, SystemClock, SystemRng>;

/// One ceremony: the client runs here; the phone runs as a task once the QR is "scanned".
async fn demo_round(
    phone: DemoPhone,
    opts: &ClientOpts,
    relay_url: &str,
    air: SocketAddr,
    hint: RequestHint,
    request: &[u8],
) -> Result<(ClientOutcome, DemoPhone), String> {
    let (qr_tx, qr_rx) = tokio::sync::oneshot::channel::<String>();
    let relay_url = relay_url.to_owned();
    let phone_task = tokio::spawn(async move {
        let mut phone = phone;
        let result = match qr_rx.await {
            Ok(qr) => {
                phone_ceremony(
                    &mut phone,
                    PhoneStart::Qr(&qr),
                    None,
                    &relay_url,
                    &Air::Udp(air),
                    Duration::from_secs(30),
                    false,
                )
                .await
            }
            Err(_) => Err("the desktop never showed a QR code".to_owned()),
        };
        (phone, result)
    });
    let mut steps = Steps::new("   ");
    let mut qr_tx = Some(qr_tx);
    let mut on_step = |step: ClientStep| {
        if let (ClientStep::QrShown(url), Some(tx)) = (&step, qr_tx.take()) {
            // The demo's "camera": hand the QR text to the phone instead of drawing it.
            eprintln!("   (the virtual phone scans the QR code: {url})");
            let _ = tx.send(url.clone());
            steps.record("qr_shown", "QR code shown");
            return;
        }
        steps.on_step(step);
    };
    let outcome = client_round(
        opts,
        Start::Qr,
        hint,
        request,
        &mut on_step,
        std::future::pending(),
    )
    .await
    .map_err(|error| explain(&error, opts));
    let (phone, phone_result) = phone_task
        .await
        .map_err(|e| format!("the virtual phone crashed: {e}"))?;
    let outcome = outcome?;
    phone_result?;
    Ok((outcome, phone))
}
