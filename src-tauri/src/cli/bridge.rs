//! `passbridge bridge`: the virtual FIDO security key over `/dev/uhid`, asking on this
//! terminal, and with `--phone` sending every registration and sign-in to the phone.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hybrid::io::tunnel::TunnelConfig;
use passbridge_core::phone::forward::{ForwardEvent, ForwardReport, PhoneForwarder};
use passbridge_core::phone::{Air, CeremonyOptions};
use passbridge_core::system::Env;

use super::profile::CommonOpts;
use super::steps::Steps;
use super::{AttestationArg, fail, words};

/// How the bridge reaches phones.
#[derive(Debug, Clone, clap::Args)]
struct PhoneOpts {
    /// Send every tunnel to this relay, e.g. ws://127.0.0.1:8787 (default: the service the
    /// phone names).
    #[arg(long = "phone-relay", value_name = "URL", value_parser = super::words::relay_url)]
    relay: Option<String>,
    /// Where to listen for the phone's advert: `ble`, `ble:hci0` or `udp://127.0.0.1:PORT`.
    #[arg(long = "phone-air", value_name = "AIR")]
    air: Option<String>,
    /// Seconds to wait for the phone's advert, and for its answer.
    #[arg(long = "phone-timeout", default_value_t = 120, value_name = "SECS")]
    timeout: u64,
}

/// `passbridge bridge`.
#[derive(Debug, clap::Args)]
pub(super) struct BridgeArgs {
    /// Answer from this profile's passkeys (its vault must be unlocked to start). Without it
    /// the passkeys live in memory and are forgotten when the bridge stops.
    #[arg(long, env = "PASSBRIDGE_PROFILE", value_name = "NAME")]
    profile: Option<String>,
    #[command(flatten)]
    profile_opts: CommonOpts,
    /// FOR TESTING ONLY: grant user presence to every request without asking. Never grants
    /// user verification. (For named sites, prefer the policy's `silent_presence_rps`.)
    #[arg(long)]
    auto_approve_for_testing: bool,
    /// Attestation for new credentials: "packed-self" (default: signed by the new credential's
    /// own key, so it identifies nobody, and clients such as fido2-cred that expect a
    /// signature accept it) or "none".
    #[arg(long, value_enum, default_value_t = AttestationArg::PackedSelf)]
    attestation: AttestationArg,
    /// Send every registration and sign-in to your phone (FIDO hybrid: a QR code on this
    /// terminal, then the phone over Bluetooth and the tunnel relay) instead of answering from
    /// this computer. getInfo, PIN and credential management stay local.
    #[arg(long)]
    phone: bool,
    #[command(flatten)]
    phone_opts: PhoneOpts,
    /// The uhid device to use when the helper is not installed.
    #[arg(long, default_value = "/dev/uhid", hide = true)]
    uhid: PathBuf,
    /// The privileged helper's socket (`passbridge setup-bridge` installs it).
    #[arg(long, default_value = "/run/passbridge-uhid.sock", hide = true)]
    helper: PathBuf,
}

/// The forwarder behind `--phone`: the QR code and every step on this terminal.
fn terminal_forwarder(opts: &PhoneOpts, env: &Env) -> Result<PhoneForwarder, String> {
    let air = Air::parse(opts.air.as_deref()).map_err(|error| {
        words::phone_failure(&passbridge_core::phone::PhoneFailure::from_air(error))
    })?;
    let ceremony = CeremonyOptions {
        relay: opts.relay.clone(),
        air,
        timeout: Duration::from_secs(opts.timeout),
        tunnel: TunnelConfig::from_env(),
    };
    let clock = env.clock.clone();
    let steps = Mutex::new(Steps::new(clock.clone(), "phone: "));
    let report: ForwardReport = Arc::new(move |_forward, event| match event {
        ForwardEvent::Started { .. } => {
            eprintln!("phone: a site asks to use a passkey on your phone");
            if let Ok(mut steps) = steps.lock() {
                *steps = Steps::new(clock.clone(), "phone: ");
            }
        }
        ForwardEvent::Step(step) => {
            if let Ok(mut steps) = steps.lock() {
                steps.on_step(step);
            }
        }
        ForwardEvent::Cancelled => eprintln!("phone: cancelled; the phone session ended"),
        ForwardEvent::Failed(failure) => eprintln!("phone: {}", words::phone_failure(&failure)),
        _ => {}
    });
    PhoneForwarder::new(env.clone(), Arc::new(move || ceremony.clone()), report)
        .map_err(|error| format!("cannot start the phone client: {error}"))
}

/// Runs the bridge until the process is stopped.
#[cfg(target_os = "linux")]
pub(super) fn run(args: &BridgeArgs) -> ExitCode {
    use std::sync::atomic::AtomicBool;

    use passbridge_core::authenticator::hid_loop::{self, Forwarder};
    use passbridge_core::authenticator::prompt::{AutoApproveForTesting, PolicyGate, PromptSource};
    use passbridge_core::authenticator::uhid::{
        DEVICE_NAME, PRODUCT_ID, UhidError, VENDOR_ID, open_key_at,
    };
    use passbridge_core::policy::Policy;

    use super::profile::open_vault;
    use super::prompt::TerminalPrompt;

    let env = Env::system();
    let policy = match Policy::load() {
        Ok(policy) => policy,
        Err(error) => return fail(&error.to_string()),
    };
    let inner: Box<dyn PromptSource> = if args.auto_approve_for_testing {
        tracing::warn!("user presence is granted automatically (--auto-approve-for-testing)");
        Box::new(AutoApproveForTesting)
    } else {
        Box::new(TerminalPrompt::new())
    };
    let mut prompt = PolicyGate::new(inner, &policy, env.clock.clone());
    let vault = match &args.profile {
        Some(name) => match open_vault(&args.profile_opts, name) {
            Ok(vault) => Some(vault),
            Err(code) => return code,
        },
        None => None,
    };
    let serial = env.rng.clone().bytes::<8>();
    let gate = || passbridge_core::authenticator::seat::for_uhid(env.clock.clone());
    // Through the helper where it is installed: then no user needs raw /dev/uhid.
    let opened = open_key_at(&args.helper, &args.uhid, &hex::encode(serial), &gate);
    let mut key = match opened {
        Ok(key) => key,
        Err(error @ UhidError::Helper(_)) => {
            return fail(&format!(
                "{error}: check `systemctl status passbridge-uhid.socket` (installed by \
                 `sudo passbridge setup-bridge`)"
            ));
        }
        Err(error @ UhidError::Missing) => {
            return fail(&format!(
                "{error}: load it with `sudo modprobe uhid` (or run `passbridge setup-bridge`)"
            ));
        }
        Err(error @ UhidError::Permission) => {
            return fail(&format!(
                "{error}: run `sudo passbridge setup-bridge` once to let the desktop user \
                 create the virtual key"
            ));
        }
        Err(error) => return fail(&error.to_string()),
    };
    println!(
        "virtual security key \"{DEVICE_NAME}\" ({VENDOR_ID:04x}:{PRODUCT_ID:04x}) is ready; \
         browsers and other FIDO clients can use it now"
    );
    match &args.profile {
        Some(name) => println!("answering from profile '{name}'"),
        None => println!("no --profile: passkeys live in memory and are forgotten when this exits"),
    }
    if !policy.silent_presence_rps.is_empty() {
        println!(
            "policy: presence is granted without a prompt for {}",
            policy.silent_presence_rps.join(", ")
        );
    }
    let mut forwarder = if args.phone {
        match terminal_forwarder(&args.phone_opts, &env) {
            Ok(forwarder) => {
                println!("registrations and sign-ins go to your phone (a QR code appears here)");
                Some(forwarder)
            }
            Err(message) => return fail(&message),
        }
    } else {
        None
    };
    let _ = std::io::stdout().flush();
    let stop = Arc::new(AtomicBool::new(false));
    let config = ctap::Config {
        attestation: args.attestation.into(),
        ..ctap::Config::default()
    };
    let forwarding = forwarder.is_some();
    let forwarder: Option<&mut dyn Forwarder> = match forwarder.as_mut() {
        Some(forwarder) => Some(forwarder),
        None => None,
    };
    let served = match &vault {
        Some(vault) => hid_loop::device(vault, config, &env).map(|mut device| {
            device.set_forwarding(forwarding);
            hid_loop::serve(&mut device, key.as_mut(), &mut prompt, forwarder, &stop)
        }),
        None => hid_loop::device(ctap::MemoryStore::new(), config, &env).map(|mut device| {
            device.set_forwarding(forwarding);
            hid_loop::serve(&mut device, key.as_mut(), &mut prompt, forwarder, &stop)
        }),
    };
    match served {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => fail(&format!("the virtual key stopped: {error}")),
        Err(error) => fail(&format!("the credential store failed: {error}")),
    }
}

/// The bridge needs Linux's uhid.
#[cfg(not(target_os = "linux"))]
pub(super) fn run(_args: &BridgeArgs) -> ExitCode {
    fail("the virtual security key needs Linux's /dev/uhid; on this system use the app instead")
}
