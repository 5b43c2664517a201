//! `passbridge demo`: relay, desktop client and virtual phone in one process on loopback.

use std::process::ExitCode;
use std::time::Duration;

use hybrid::io::driver::ClientStep;
use hybrid::io::phone::Behaviour;
use hybrid::io::relay::{Relay, RelayConfig};
use hybrid::io::tunnel::TunnelConfig;
use passbridge_core::phone::Air;
use passbridge_core::phone::ceremony::{self, CeremonyOptions, Start};
use passbridge_core::phone::virtual_phone::{self, MemoryPhone, PhoneOptions, QrRound};
use passbridge_core::system::Env;
use passbridge_core::webauthn;

use super::steps::Steps;
use super::{fail, runtime, words};

/// How long each part of the demo may wait for the other.
const DEMO_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub(super) struct DemoArgs {
    /// Site to register and sign in to.
    #[arg(long, default_value = "demo.passbridge.example")]
    rp_id: String,
    /// Account name.
    #[arg(long, default_value = "alice")]
    user: String,
}

/// Runs `passbridge demo`: a relay, the desktop client and the virtual phone in this process
/// on loopback; a registration, then a sign-in, each verified.
pub(super) fn run(args: &DemoArgs) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(demo(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

async fn demo(args: &DemoArgs) -> Result<(), String> {
    let env = Env::system();
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

    let phone = virtual_phone::memory_phone(&env, Behaviour::Answer).map_err(|e| e.to_string())?;
    // Loopback only: no proxy, whatever the environment says.
    let tunnel = TunnelConfig::default();
    let opts = CeremonyOptions {
        relay: Some(relay_url.clone()),
        air: Air::Udp(air_addr),
        timeout: DEMO_TIMEOUT,
        tunnel: tunnel.clone(),
    };
    let phone_opts = PhoneOptions {
        relay: relay_url,
        air: Air::Udp(air_addr),
        timeout: DEMO_TIMEOUT,
        wrong_psk_for_testing: false,
        tunnel,
    };

    println!("1. Registration: {} at {}", args.user, args.rp_id);
    let mut round = PhoneRound::start(phone, &phone_opts, &env);
    let mut steps = Steps::new(env.clock.clone(), "   ");
    let mut on_step = |step| round.on_step(&mut steps, step);
    let registered = ceremony::register(
        &opts,
        &env,
        Start::Qr,
        &args.rp_id,
        &args.user,
        &mut on_step,
        std::future::pending(),
    )
    .await;
    let phone = round.finish().await;
    // The desktop's own failure says more than the phone's consequence of it.
    let registration = registered
        .map_err(|failure| words::phone_failure(&failure))?
        .result;
    let phone = phone?;
    println!(
        "   registered credential {} ({}; attestation signature verified: {})\n",
        hex::encode(&registration.credential_id),
        webauthn::describe_flags(registration.flags),
        registration.attestation_signature_verified
    );

    println!("2. Sign-in at {}", args.rp_id);
    let known = [registration];
    let mut round = PhoneRound::start(phone, &phone_opts, &env);
    let mut steps = Steps::new(env.clock.clone(), "   ");
    let mut on_step = |step| round.on_step(&mut steps, step);
    let signed_in = ceremony::sign_in(
        &opts,
        &env,
        Start::Qr,
        &args.rp_id,
        &known,
        &mut on_step,
        std::future::pending(),
    )
    .await;
    let phone = round.finish().await;
    let assertion = signed_in
        .map_err(|failure| words::phone_failure(&failure))?
        .result;
    phone?;
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

/// The phone's half of one ceremony ([`QrRound`]), with the QR code the client shows handed
/// to it instead of drawn.
struct PhoneRound {
    qr: Option<tokio::sync::oneshot::Sender<String>>,
    round: QrRound,
}

impl PhoneRound {
    fn start(phone: MemoryPhone, opts: &PhoneOptions, env: &Env) -> Self {
        let (round, qr) = QrRound::start(phone, opts, env);
        Self {
            qr: Some(qr),
            round,
        }
    }

    /// Prints the client's step; the QR code goes to the phone instead of being drawn.
    fn on_step(&mut self, steps: &mut Steps, step: ClientStep) {
        if let (ClientStep::QrShown(url), Some(tx)) = (&step, self.qr.take()) {
            eprintln!("   (the virtual phone scans the QR code: {url})");
            let _ = tx.send(url.clone());
            steps.record("qr_shown", "QR code shown");
            return;
        }
        steps.on_step(step);
    }

    /// Waits for the phone to finish; its engine (and passkeys) for the next round.
    async fn finish(self) -> Result<MemoryPhone, String> {
        drop(self.qr);
        let (phone, result) = self
            .round
            .finish()
            .await
            .map_err(|e| format!("the virtual phone crashed: {e}"))?;
        result.map_err(|e| format!("the virtual phone failed: {e}"))?;
        Ok(phone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole demo, as `./dev run` runs it without a display: both ceremonies verify.
    #[test]
    fn the_demo_registers_and_signs_in() {
        let code = run(&DemoArgs {
            rp_id: "demo.test".to_owned(),
            user: "alice".to_owned(),
        });
        assert_eq!(code, ExitCode::SUCCESS);
    }
}
