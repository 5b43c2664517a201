//! `passbridge phone`: the virtual phone (the ctap engine behind the authenticator role).

use std::process::ExitCode;
use std::time::Duration;

use ctap::Clock as _;
use hybrid::io::driver::{ContactListener, DriveError, run_phone};
use hybrid::io::phone::{Behaviour, CtapPhone};
use hybrid::io::tunnel::TunnelError;
use hybrid::qr::QrPayload;
use hybrid::session::{PhoneConfig, PhoneLinking, PhoneSession, Timeouts};
use hybrid::tunnel_url::TunnelBase;

use super::air::{AIR_FORMS, Air};
use super::{fail, runtime};
use crate::linked;
use crate::system::{SystemClock, SystemRng};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("start").required(true).args(["qr", "listen", "unlink"])))]
pub struct PhoneArgs {
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
    /// The tunnel relay to open the tunnel on, e.g. ws://127.0.0.1:8787.
    #[arg(long, env = "PASSBRIDGE_RELAY", value_name = "URL")]
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
    profile_opts: crate::profile::cli::CommonOpts,
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

fn phone_config(relay: &str, get_info: Vec<u8>, timeout: Duration) -> PhoneConfig {
    let mut config = PhoneConfig::new(get_info);
    config.tunnel_base = TunnelBase::Custom(relay.to_owned());
    config.timeouts = Timeouts {
        tunnel: timeout,
        handshake: timeout,
        request: timeout,
        shutdown: Duration::from_secs(2),
        ..Timeouts::default()
    };
    config
}

pub(crate) fn phone_engine_config() -> ctap::Config {
    ctap::Config {
        // A phone verifies its user (biometric) and self-attests, so the desktop can check
        // the registration signature too.
        built_in_uv: true,
        attestation: ctap::Attestation::PackedSelf,
        ..ctap::Config::default()
    }
}

/// How the virtual phone's ceremony begins.
pub(crate) enum PhoneStart<'a> {
    /// The desktop showed this QR code.
    Qr(&'a str),
    /// A linked desktop contacts the phone through the relay.
    Listen,
}

fn relay_error(relay: &str, error: DriveError) -> String {
    match error {
        DriveError::Tunnel(TunnelError::Refused(status)) => {
            format!("the relay {relay} refused the phone's connection (HTTP {status})")
        }
        DriveError::Tunnel(TunnelError::WebSocket(cause)) => {
            format!("cannot reach the relay {relay}: {cause}")
        }
        other => format!("phone session failed: {other}"),
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn phone_ceremony<S, C, R>(
    phone: &mut CtapPhone<S, C, R>,
    start: PhoneStart<'_>,
    linking: Option<PhoneLinking>,
    relay: &str,
    air: &Air,
    timeout: Duration,
    wrong_psk_for_testing: bool,
) -> Result<(), String>
where
    S: ctap::CredentialStore,
    C: ctap::Clock,
    R: ctap::platform::Rng,
{
    let clock = SystemClock;
    let mut rng = SystemRng::default();
    let mut config = phone_config(relay, phone.get_info(), timeout);
    config.wrong_psk_for_testing_only = wrong_psk_for_testing;
    let contact_id = linking.as_ref().map(|l| l.contact_id.clone());
    config.linking = linking;
    let session = match start {
        PhoneStart::Qr(qr) => {
            let payload = QrPayload::from_url(qr)
                .map_err(|e| format!("that is not a usable QR code: {e}"))?;
            PhoneSession::new(payload, config, &mut rng, clock.now()).map_err(|e| e.to_string())?
        }
        PhoneStart::Listen => {
            let contact_id = contact_id.unwrap_or_default();
            let mut listener =
                tokio::time::timeout(timeout, ContactListener::connect(relay, &contact_id))
                    .await
                    .map_err(|_| {
                        format!(
                            "the relay {relay} did not answer within {} s",
                            timeout.as_secs()
                        )
                    })?
                    .map_err(|e| relay_error(relay, e.into()))?;
            eprintln!("phone: listening for linked desktops at {relay}");
            let push = tokio::time::timeout(timeout, listener.next_contact())
                .await
                .map_err(|_| format!("no desktop made contact within {} s", timeout.as_secs()))?
                .map_err(|e| relay_error(relay, e))?;
            eprintln!("phone: a linked desktop made contact");
            PhoneSession::new_linked(&push, config, &mut rng, clock.now())
                .map_err(|e| format!("cannot answer that contact: {e}"))?
        }
    };
    let mut advertiser = air
        .advertiser()
        .await
        .map_err(|e| format!("cannot advertise: {e}"))?;
    let cancel = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    run_phone(session, phone, &mut advertiser, &clock, cancel)
        .await
        .map_err(|e| relay_error(relay, e))
}

/// One virtual-phone ceremony with the ctap engine on `store`.
fn phone_on_store<S: ctap::CredentialStore>(
    runtime: &tokio::runtime::Runtime,
    store: S,
    linking: Option<PhoneLinking>,
    args: &PhoneArgs,
    air: &Air,
) -> Result<(), String> {
    let behaviour = match (args.answer_error, args.stall) {
        (Some(status), _) => Behaviour::Error(status),
        (None, true) => Behaviour::Stall,
        (None, false) => Behaviour::Answer,
    };
    let engine = ctap::Authenticator::new(
        store,
        SystemClock,
        SystemRng::default(),
        phone_engine_config(),
    )
    .map_err(|error| format!("the phone's store failed: {error}"))?;
    let mut phone = CtapPhone::new(engine, behaviour);
    let start = match &args.qr {
        Some(qr) => PhoneStart::Qr(qr),
        None => PhoneStart::Listen,
    };
    runtime.block_on(phone_ceremony(
        &mut phone,
        start,
        linking,
        &args.relay,
        air,
        Duration::from_secs(args.timeout),
        args.wrong_psk_for_testing,
    ))
}

/// Runs `passbridge phone`.
pub fn run_phone_command(args: PhoneArgs) -> ExitCode {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let vault = match &args.profile {
        Some(name) => match crate::profile::cli::open_vault(&args.profile_opts, name) {
            Ok(vault) => Some(vault),
            Err(code) => return code,
        },
        None => None,
    };
    let linking = match &vault {
        Some(vault) => match linked::phone_identity(vault, &args.name, &mut SystemRng::default()) {
            Ok(linking) => Some(linking),
            Err(error) => return fail(&format!("the phone's linking identity: {error}")),
        },
        None => None,
    };
    if args.unlink {
        let contact_id = linking.map(|l| l.contact_id).unwrap_or_default();
        return match runtime.block_on(ContactListener::revoke(&args.relay, &contact_id)) {
            Ok(()) => {
                println!("Unlinked: desktops that contact this phone will forget it.");
                ExitCode::SUCCESS
            }
            Err(error) => fail(&relay_error(&args.relay, error.into())),
        };
    }
    let air = match Air::parse(args.air.as_deref()) {
        Ok(air) => air,
        Err(error) => return fail(&format!("--air: {error} (use {AIR_FORMS})")),
    };
    let result = match vault {
        Some(vault) => phone_on_store(&runtime, vault, linking, &args, &air),
        None => phone_on_store(&runtime, ctap::MemoryStore::new(), None, &args, &air),
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
