//! `passbridge phone`: the virtual phone (the ctap engine playing the phone's part).

use std::process::ExitCode;
use std::time::Duration;

use hybrid::io::phone::{Behaviour, CtapPhone};
use hybrid::io::tunnel::TunnelConfig;
use hybrid::session::PhoneLinking;
use passbridge_core::phone::air::AIR_FORMS;
use passbridge_core::phone::virtual_phone::{
    self, PhoneError, PhoneEvent, PhoneOptions, PhoneStart,
};
use passbridge_core::phone::{Air, PhoneFailure, linked};
use passbridge_core::system::Env;

use super::profile::{CommonOpts, open_vault};
use super::{ctrl_c, fail, runtime, words};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("start").required(true).args(["qr", "listen", "unlink"])))]
pub(super) struct PhoneArgs {
    /// The `FIDO:/…` text of the QR code the desktop shows.
    #[arg(long, value_name = "FIDO:/…")]
    qr: Option<String>,
    /// Wait at the relay for a linked desktop to make contact (no QR code); needs --profile.
    #[arg(long, requires = "profile")]
    listen: bool,
    /// Unlink this phone at the relay: desktops that contact it get 410 Gone and forget it.
    #[arg(long, requires = "profile")]
    unlink: bool,
    /// The name desktops show for this phone when they link it.
    #[arg(long, default_value = "Passbridge virtual phone")]
    name: String,
    /// The tunnel relay to open the tunnel on, e.g. ws://127.0.0.1:8787 (plain ws:// only to
    /// this machine; elsewhere wss://, a private CA via PASSBRIDGE_CA_FILE).
    #[arg(long, env = "PASSBRIDGE_RELAY", value_name = "URL", value_parser = super::words::relay_url)]
    relay: String,
    /// Where to broadcast the advert: the loopback air `udp://127.0.0.1:PORT`, or Bluetooth
    /// through BlueZ (`ble`, or `ble:hci1` for one adapter; Linux only).
    #[arg(long, value_name = "AIR", required_unless_present = "unlink")]
    air: Option<String>,
    /// Keep the phone's passkeys and linking identity in this profile's vault (so a later
    /// sign-in finds them, and desktops can link it). Without it they live in memory for this
    /// one ceremony and the phone offers no linking.
    #[arg(long, env = "PASSBRIDGE_PHONE_PROFILE", value_name = "NAME")]
    profile: Option<String>,
    #[command(flatten)]
    profile_opts: CommonOpts,
    /// FOR TESTING: answer every request with this CTAP status (e.g. 0x27, operation denied).
    #[arg(long, value_name = "STATUS", value_parser = parse_status, conflicts_with = "stall")]
    answer_error: Option<u8>,
    /// FOR TESTING: never answer the request (the desktop must time out).
    #[arg(long)]
    stall: bool,
    /// FOR TESTING: use a wrong Noise pre-shared key (the desktop must refuse the handshake).
    #[arg(long)]
    wrong_psk_for_testing: bool,
    /// Seconds to wait for the desktop at each step.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    timeout: u64,
}

fn parse_status(text: &str) -> Result<u8, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16),
        None => text.parse(),
    };
    match parsed {
        Ok(0) => Err("0 is success, not an error status".to_owned()),
        Ok(status) => Ok(status),
        Err(_) => Err(format!("{text:?} is not a status byte (e.g. 0x27)")),
    }
}

/// What went wrong at the relay or in the ceremony, as this command line says it.
fn phone_error(relay: &str, error: &PhoneError) -> String {
    match error {
        PhoneError::Failed(PhoneFailure::RelayRefused { status, .. }) => {
            format!("the relay {relay} refused the phone's connection (HTTP {status})")
        }
        PhoneError::Failed(PhoneFailure::RelayUnreachable { cause, .. }) => {
            format!("cannot reach the relay {relay}: {cause}")
        }
        PhoneError::Advertise(failure) => {
            format!("cannot advertise: {}", words::phone_failure(failure))
        }
        PhoneError::Failed(failure) => {
            format!("phone session failed: {}", words::phone_failure(failure))
        }
        PhoneError::BadQr(problem) => format!("that is not a usable QR code: {problem}"),
        PhoneError::RelaySilent { waited } => format!(
            "the relay {relay} did not answer within {} s",
            waited.as_secs()
        ),
        other => other.to_string(),
    }
}

/// One virtual-phone ceremony with the ctap engine on `store`.
fn phone_on_store<S: ctap::CredentialStore>(
    runtime: &tokio::runtime::Runtime,
    store: S,
    linking: Option<PhoneLinking>,
    args: &PhoneArgs,
    opts: &PhoneOptions,
    env: &Env,
) -> Result<(), String> {
    let behaviour = match (args.answer_error, args.stall) {
        (Some(status), _) => Behaviour::Error(status),
        (None, true) => Behaviour::Stall,
        (None, false) => Behaviour::Answer,
    };
    let engine = ctap::Authenticator::new(
        store,
        env.clock.clone(),
        env.rng.clone(),
        virtual_phone::engine_config(),
    )
    .map_err(|error| format!("the phone's store failed: {error}"))?;
    let mut phone = CtapPhone::new(engine, behaviour);
    let start = match &args.qr {
        Some(qr) => PhoneStart::Qr(qr),
        None => PhoneStart::Listen,
    };
    let relay = &opts.relay;
    let mut on_event = |event| match event {
        PhoneEvent::Listening => eprintln!("phone: listening for linked desktops at {relay}"),
        PhoneEvent::Contacted => eprintln!("phone: a linked desktop made contact"),
    };
    runtime
        .block_on(virtual_phone::run(
            &mut phone,
            env,
            start,
            linking,
            opts,
            &mut on_event,
            ctrl_c(),
        ))
        .map_err(|error| phone_error(relay, &error))
}

/// Runs `passbridge phone`.
pub(super) fn run(args: &PhoneArgs) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let env = Env::system();
    let vault = match &args.profile {
        Some(name) => match open_vault(&args.profile_opts, name) {
            Ok(vault) => Some(vault),
            Err(code) => return code,
        },
        None => None,
    };
    let linking = match &vault {
        Some(vault) => match linked::phone_identity(vault, &args.name, &mut env.rng.clone()) {
            Ok(linking) => Some(linking),
            Err(error) => return fail(&format!("the phone's linking identity: {error}")),
        },
        None => None,
    };
    let air = match Air::parse(args.air.as_deref()) {
        Ok(air) => air,
        Err(error) if !args.unlink => {
            return fail(&format!("--air: {error} (use {AIR_FORMS})"));
        }
        Err(_) => Air::default(),
    };
    let opts = PhoneOptions {
        relay: args.relay.clone(),
        air,
        timeout: Duration::from_secs(args.timeout),
        wrong_psk_for_testing: args.wrong_psk_for_testing,
        tunnel: TunnelConfig::from_env(),
    };
    if args.unlink {
        let Some(linking) = linking else {
            return fail("--unlink needs the phone's profile (--profile NAME)");
        };
        return match runtime.block_on(virtual_phone::unlink(&opts, &linking)) {
            Ok(()) => {
                println!("Unlinked: desktops that contact this phone will forget it.");
                ExitCode::SUCCESS
            }
            Err(failure) => fail(&phone_error(&args.relay, &PhoneError::Failed(failure))),
        };
    }
    let result = match &vault {
        Some(vault) => phone_on_store(&runtime, vault, linking, args, &opts, &env),
        None => phone_on_store(&runtime, ctap::MemoryStore::new(), None, args, &opts, &env),
    };
    match result {
        Ok(()) => {
            eprintln!("phone: session finished");
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bytes_parse_in_hex_or_decimal() {
        assert_eq!(parse_status("0x27"), Ok(0x27));
        assert_eq!(parse_status("39"), Ok(39));
        assert!(parse_status("0").is_err());
        assert!(parse_status("0x100").is_err());
        assert!(parse_status("denied").is_err());
    }
}
