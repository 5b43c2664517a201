//! The cross-device commands: `passbridge relay` (the self-hostable tunnel relay),
//! `passbridge hybrid register|sign-in` (the desktop client), `passbridge phone` (the virtual
//! phone) and `passbridge demo` (all three in one process on loopback).
//!
//! Steps and the QR code go to stderr, each with its elapsed time; with `--json` the result is
//! the only thing on stdout, so scripts can parse it.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ctap::Clock as _;
use hybrid::error::{Error as HybridError, Phase};
use hybrid::io::air::{AirError, UdpAdvertiser, UdpScanner, parse_air};
use hybrid::io::driver::{
    ClientOutcome, ClientStep, ContactListener, DriveError, run_client, run_phone,
};
use hybrid::io::phone::{Behaviour, CtapPhone};
use hybrid::io::relay::{Relay, RelayConfig};
use hybrid::io::tunnel::TunnelError;
use hybrid::qr::{QrPayload, RequestHint};
use hybrid::session::{
    ClientConfig, ClientSession, PhoneConfig, PhoneLinking, PhoneSession, StoredLink, Timeouts,
};
use hybrid::tunnel_url::TunnelBase;
use serde::Serialize;

use crate::linked;
use crate::profile::Vault;
use crate::system::{SystemClock, SystemRng};
use crate::webauthn::{self, ClientData, Registration, VerifyError};

/// Options for `passbridge relay`.
#[derive(Debug, Clone, clap::Args)]
pub struct RelayArgs {
    /// Address to listen on (plain WebSocket; keep it on loopback until TLS lands).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Routing ID of this relay instance, 6 hex digits.
    #[arg(long, default_value = "000001")]
    pub routing_id: String,
    /// Maximum concurrent tunnels.
    #[arg(long, default_value_t = 1024)]
    pub max_tunnels: usize,
    /// Maximum message size in bytes.
    #[arg(long, default_value_t = 65536)]
    pub max_message_size: usize,
    /// Maximum messages each peer may send per tunnel.
    #[arg(long, default_value_t = 256)]
    pub max_messages: u64,
    /// Tunnel lifetime in seconds.
    #[arg(long, default_value_t = 300)]
    pub lifetime_secs: u64,
    /// Idle timeout in seconds.
    #[arg(long, default_value_t = 60)]
    pub idle_secs: u64,
}

fn parse_routing_id(text: &str) -> Option<[u8; 3]> {
    let bytes = hex::decode(text).ok()?;
    <[u8; 3]>::try_from(bytes).ok()
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| fail(&format!("could not start the async runtime: {error}")))
}

fn fail(message: &str) -> ExitCode {
    eprintln!("passbridge: {message}");
    ExitCode::FAILURE
}

/// Runs the relay until interrupted (Ctrl-C).
pub fn run_relay(args: RelayArgs) -> ExitCode {
    let Some(routing_id) = parse_routing_id(&args.routing_id) else {
        return fail("--routing-id must be 6 hex digits (3 bytes)");
    };
    let config = RelayConfig {
        routing_id,
        max_tunnels: args.max_tunnels,
        max_message_size: args.max_message_size,
        max_messages_per_peer: args.max_messages,
        tunnel_lifetime: Duration::from_secs(args.lifetime_secs),
        idle_timeout: Duration::from_secs(args.idle_secs),
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let relay = match Relay::bind(args.listen, config).await {
            Ok(relay) => relay,
            Err(error) => return fail(&error.to_string()),
        };
        match relay.local_addr() {
            Ok(addr) => {
                println!(
                    "relay listening on ws://{addr} (routing ID {})",
                    args.routing_id
                );
                println!("metrics at http://{addr}/metrics");
                let _ = std::io::stdout().flush();
            }
            Err(error) => return fail(&error.to_string()),
        }
        tokio::select! {
            result = relay.run() => match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&format!("relay stopped: {error}")),
            },
            _ = tokio::signal::ctrl_c() => {
                println!("relay stopped");
                ExitCode::SUCCESS
            }
        }
    })
}

/// How the client reaches the phone.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientOpts {
    /// Send every tunnel to this relay (self-hosted or local), e.g. ws://127.0.0.1:8787.
    /// Default: the tunnel service the phone names in its advert.
    #[arg(long, env = "PASSBRIDGE_RELAY", value_name = "URL")]
    relay: Option<String>,
    /// Listen for the phone's advert on the loopback air (udp://127.0.0.1:PORT, for tests and
    /// demos) instead of Bluetooth.
    #[arg(long, value_name = "udp://HOST:PORT")]
    air: Option<String>,
    /// Seconds to wait for the phone: for its advert after the QR code is shown, and for its
    /// answer once connected.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    timeout: u64,
    /// Print the result as JSON on stdout (steps still go to stderr).
    #[arg(long)]
    json: bool,
    /// Profile to remember a linked phone in (a phone that offers linking is stored there,
    /// so the next sign-in needs no QR code), and whose linked phones `--phone` picks from.
    #[arg(long, env = "PASSBRIDGE_PROFILE", value_name = "NAME")]
    profile: Option<String>,
    #[command(flatten)]
    profile_opts: crate::profile::cli::CommonOpts,
}

/// How a client ceremony finds the phone.
enum Start {
    /// Show a QR code.
    Qr,
    /// Contact a linked phone through the relay: no QR code.
    Linked(Box<StoredLink>),
}

/// `passbridge hybrid …`.
#[derive(Debug, clap::Args)]
pub struct HybridArgs {
    #[command(subcommand)]
    command: HybridCommand,
}

#[derive(Debug, clap::Subcommand)]
enum HybridCommand {
    /// Create a passkey on your phone for a site: shows a QR code to scan with the phone.
    Register {
        /// The site (relying party ID), e.g. example.com; the origin is https://ID.
        #[arg(long)]
        rp_id: String,
        /// The account name to register.
        #[arg(long)]
        user: String,
        /// Save the new passkey's public part here, for `sign-in --credential FILE`.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
        #[command(flatten)]
        opts: ClientOpts,
    },
    /// Sign in to a site with a passkey on your phone: shows a QR code to scan with the phone.
    SignIn {
        /// The site (relying party ID); the origin is https://ID.
        #[arg(long)]
        rp_id: String,
        /// A passkey saved by `register --save`: its public key verifies the phone's signature.
        /// Several may be given; without any, the signature cannot be checked and the command
        /// fails.
        #[arg(long, value_name = "FILE")]
        credential: Vec<PathBuf>,
        /// Use this linked phone (see `hybrid phones`) instead of a QR code.
        #[arg(long, value_name = "NAME", requires = "profile")]
        phone: Option<String>,
        #[command(flatten)]
        opts: ClientOpts,
    },
    /// List the phones linked to a profile (no secrets are shown).
    Phones {
        /// Profile whose linked phones to list.
        #[arg(long, env = "PASSBRIDGE_PROFILE", value_name = "NAME")]
        profile: String,
        #[command(flatten)]
        profile_opts: crate::profile::cli::CommonOpts,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget a linked phone.
    Unlink {
        /// Profile the phone is linked to.
        #[arg(long, env = "PASSBRIDGE_PROFILE", value_name = "NAME")]
        profile: String,
        #[command(flatten)]
        profile_opts: crate::profile::cli::CommonOpts,
        /// The phone's name.
        phone: String,
    },
}

/// Records when each step happened and prints it.
struct Steps {
    started: Instant,
    clock: SystemClock,
    timings: Vec<(&'static str, f64)>,
    prefix: &'static str,
}

impl Steps {
    fn new(prefix: &'static str) -> Self {
        let clock = SystemClock;
        Self {
            started: clock.now(),
            clock,
            timings: Vec::new(),
            prefix,
        }
    }

    fn elapsed_ms(&self) -> f64 {
        self.clock
            .now()
            .saturating_duration_since(self.started)
            .as_secs_f64()
            * 1000.0
    }

    fn record(&mut self, key: &'static str, text: &str) {
        let ms = self.elapsed_ms();
        self.timings.push((key, ms));
        eprintln!("{}[{:>8.1} ms] {text}", self.prefix, ms);
    }

    fn on_step(&mut self, step: ClientStep) {
        match step {
            ClientStep::QrShown(url) => {
                eprintln!("{}", render_qr(&url));
                eprintln!("{url}");
                self.record(
                    "qr_shown",
                    "QR code shown: scan it with your phone's camera",
                );
            }
            ClientStep::ContactingPhone => {
                self.record("contacting_phone", "contacting the linked phone")
            }
            ClientStep::AdvertMatched => self.record(
                "advert_matched",
                "phone nearby (its Bluetooth advert matched)",
            ),
            ClientStep::TunnelOpen => self.record("tunnel_open", "connected to the tunnel relay"),
            ClientStep::HandshakeDone => self.record(
                "handshake_done",
                "secure channel established (Noise handshake done)",
            ),
            ClientStep::PhoneAnswered => self.record("phone_answered", "the phone answered"),
            _ => {}
        }
    }
}

/// The QR code as terminal text (two rows per character line).
fn render_qr(url: &str) -> String {
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
        Err(error) => format!("(cannot draw the QR code: {error})"),
    }
}

/// Plain-language reasons for a failed ceremony, with what to do.
fn explain(error: &DriveError, opts: &ClientOpts) -> String {
    let relay = opts
        .relay
        .as_deref()
        .unwrap_or("the phone's tunnel service");
    match error {
        DriveError::Session(HybridError::Timeout(Phase::Advert)) => format!(
            "no phone advert was seen within {} s: check that Bluetooth is on at both ends, and \
             that the phone scanned this QR code (or, for a linked phone, that it is nearby)",
            opts.timeout
        ),
        DriveError::Session(HybridError::Timeout(Phase::Tunnel)) => {
            format!("the tunnel relay ({relay}) did not connect the phone in time")
        }
        DriveError::Session(HybridError::Timeout(Phase::Handshake | Phase::PostHandshake)) => {
            "the phone stopped answering during the secure handshake".to_owned()
        }
        DriveError::Session(HybridError::Timeout(_)) => format!(
            "the phone did not answer within {} s: approve the request on the phone, or try again",
            opts.timeout
        ),
        DriveError::Session(HybridError::Handshake(problem)) => format!(
            "the secure handshake with the phone failed ({problem}): the phone may have scanned \
             another QR code; try again"
        ),
        DriveError::Session(HybridError::Cancelled) => "cancelled".to_owned(),
        DriveError::Session(other) => format!("the phone session failed: {other}"),
        DriveError::Tunnel(TunnelError::Refused(404)) => format!(
            "the tunnel relay ({relay}) does not know this tunnel or phone (HTTP 404); a linked \
             phone has to be connected to the relay (open Passbridge on it), a QR code may have \
             expired"
        ),
        DriveError::Tunnel(TunnelError::Refused(status)) => {
            format!("the tunnel relay ({relay}) refused the connection (HTTP {status})")
        }
        DriveError::Tunnel(TunnelError::WebSocket(cause)) => {
            format!("cannot reach the tunnel relay ({relay}): {cause}")
        }
        DriveError::Tunnel(TunnelError::Proxy { proxy, problem }) => format!(
            "cannot reach the tunnel relay ({relay}) through the proxy {proxy}: {problem} \
             (set NO_PROXY to bypass it)"
        ),
        DriveError::Tunnel(other) => format!("tunnel relay ({relay}): {other}"),
        DriveError::Air(cause) => format!("cannot scan for the phone: {cause}"),
        DriveError::RelayLimit(close) => format!(
            "the tunnel relay ({relay}) ended the connection: {} (close code {})",
            close.reason, close.code
        ),
        DriveError::TunnelClosed {
            phase: Some(Phase::Handshake),
        } => "the phone hung up during the secure handshake: its keys did not match this QR \
              code (did it scan an older one?); try again"
            .to_owned(),
        DriveError::TunnelClosed { .. } => {
            format!("the tunnel relay ({relay}) closed the connection before the phone answered")
        }
        _ => error.to_string(),
    }
}

/// Runs one client ceremony from the command line: QR, advert, tunnel, handshake, request,
/// reply; Ctrl-C cancels.
async fn client_ceremony(
    opts: &ClientOpts,
    start: Start,
    hint: RequestHint,
    request: &[u8],
    steps: &mut Steps,
) -> Result<ClientOutcome, DriveError> {
    if opts.air.is_none() {
        return Err(DriveError::Air(AirError::BadAddress(
            "(none: scanning Bluetooth is not built into this version yet; pass --air \
             udp://127.0.0.1:PORT to use the loopback air)"
                .to_owned(),
        )));
    }
    let mut on_step = |step: ClientStep| steps.on_step(step);
    let cancel = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    client_round(opts, start, hint, request, &mut on_step, cancel).await
}

#[derive(Serialize)]
struct JsonResult<'a, T: Serialize> {
    ok: bool,
    ceremony: &'a str,
    rp_id: &'a str,
    #[serde(flatten)]
    result: &'a T,
    flags_text: String,
    timings_ms: serde_json::Map<String, serde_json::Value>,
}

fn timings_json(steps: &Steps) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    for (key, ms) in &steps.timings {
        map.insert(
            (*key).to_owned(),
            serde_json::json!((ms * 10.0).round() / 10.0),
        );
    }
    map.insert(
        "total".to_owned(),
        serde_json::json!((steps.elapsed_ms() * 10.0).round() / 10.0),
    );
    map
}

fn print_json<T: Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand_core::RngCore::fill_bytes(&mut SystemRng::default(), &mut out);
    out
}

fn load_credentials(paths: &[PathBuf]) -> Result<Vec<Registration>, String> {
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a saved passkey: {e}", path.display()))
        })
        .collect()
}

fn save_credential(path: &Path, registration: &Registration) -> Result<(), String> {
    let text = serde_json::to_string_pretty(registration).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn verify_failure(error: &VerifyError) -> String {
    match error {
        VerifyError::Status(status) => {
            format!(
                "the phone answered with an error: {} ({status})",
                status_meaning(*status)
            )
        }
        other => format!("the phone's answer was rejected: {other}"),
    }
}

/// What a phone's CTAP error means for the person at the desktop.
fn status_meaning(status: ctap::StatusCode) -> &'static str {
    use ctap::StatusCode as S;
    match status {
        S::OperationDenied => "the request was declined on the phone",
        S::NoCredentials => "the phone has no passkey for this site",
        S::CredentialExcluded => "the phone already has a passkey for this account",
        S::UserActionTimeout => "nobody approved the request on the phone in time",
        S::KeepaliveCancel => "the request was cancelled on the phone",
        S::UnsupportedAlgorithm => "the phone cannot make a passkey of the kind this site asks for",
        S::KeyStoreFull => "the phone has no room for another passkey",
        _ => "the phone could not complete the request",
    }
}

/// Opens the profile named in `opts`, if any, printing the usual errors on failure.
fn client_vault(opts: &ClientOpts) -> Result<Option<Vault>, ExitCode> {
    opts.profile
        .as_deref()
        .map(|name| crate::profile::cli::open_vault(&opts.profile_opts, name))
        .transpose()
}

/// Runs `passbridge hybrid …`.
pub fn run_hybrid(args: HybridArgs) -> ExitCode {
    let result = match args.command {
        HybridCommand::Phones {
            profile,
            profile_opts,
            json,
        } => return list_phones(&profile, &profile_opts, json),
        HybridCommand::Unlink {
            profile,
            profile_opts,
            phone,
        } => return unlink_phone(&profile, &profile_opts, &phone),
        HybridCommand::Register {
            rp_id,
            user,
            save,
            opts,
        } => {
            let vault = match client_vault(&opts) {
                Ok(vault) => vault,
                Err(code) => return code,
            };
            let runtime = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            runtime.block_on(register(
                &rp_id,
                &user,
                save.as_deref(),
                &opts,
                vault.as_ref(),
            ))
        }
        HybridCommand::SignIn {
            rp_id,
            credential,
            phone,
            opts,
        } => {
            let vault = match client_vault(&opts) {
                Ok(vault) => vault,
                Err(code) => return code,
            };
            let runtime = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            runtime.block_on(sign_in(
                &rp_id,
                &credential,
                phone.as_deref(),
                &opts,
                vault.as_ref(),
            ))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn list_phones(profile: &str, opts: &crate::profile::cli::CommonOpts, json: bool) -> ExitCode {
    let vault = match crate::profile::cli::open_vault(opts, profile) {
        Ok(vault) => vault,
        Err(code) => return code,
    };
    let phones = match linked::list(&vault) {
        Ok(phones) => phones,
        Err(error) => return fail(&error.to_string()),
    };
    if json {
        return match print_json(&phones) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => fail(&message),
        };
    }
    if phones.is_empty() {
        println!(
            "No phones are linked to profile '{profile}'. Sign in once with a QR code and \
             --profile '{profile}' to link one."
        );
    }
    for phone in &phones {
        println!("{}", phone.name);
    }
    ExitCode::SUCCESS
}

fn unlink_phone(profile: &str, opts: &crate::profile::cli::CommonOpts, phone: &str) -> ExitCode {
    let vault = match crate::profile::cli::open_vault(opts, profile) {
        Ok(vault) => vault,
        Err(code) => return code,
    };
    match linked::forget(&vault, phone) {
        Ok(true) => {
            println!("Unlinked phone '{phone}' from profile '{profile}'.");
            ExitCode::SUCCESS
        }
        Ok(false) => fail(&format!(
            "no phone named '{phone}' is linked to profile '{profile}'"
        )),
        Err(error) => fail(&error.to_string()),
    }
}

/// Stores the links a ceremony produced, and says so.
fn remember_links(outcome: &ClientOutcome, opts: &ClientOpts, vault: Option<&Vault>) {
    let (Some(vault), Some(profile)) = (vault, opts.profile.as_deref()) else {
        return;
    };
    for link in &outcome.links {
        match linked::remember(vault, link, SystemClock.unix_time()) {
            Ok(()) => eprintln!(
                "Remembered phone '{}' in profile '{profile}': next time sign in with \
                 --phone '{}' and no QR code.",
                link.linking.name, link.linking.name
            ),
            Err(error) => eprintln!("warning: could not remember the phone: {error}"),
        }
    }
}

async fn register(
    rp_id: &str,
    user: &str,
    save: Option<&Path>,
    opts: &ClientOpts,
    vault: Option<&Vault>,
) -> Result<(), String> {
    let mut steps = Steps::new("");
    let client_data = ClientData::new(
        "webauthn.create",
        &random_bytes::<32>(),
        &format!("https://{rp_id}"),
    );
    let user_id = random_bytes::<16>();
    let request = webauthn::make_credential_request(&client_data.hash, rp_id, &user_id, user)
        .map_err(|e| e.to_string())?;
    let outcome = client_ceremony(
        opts,
        Start::Qr,
        RequestHint::MakeCredential,
        &request,
        &mut steps,
    )
    .await
    .map_err(|error| explain(&error, opts))?;
    let registration = webauthn::verify_registration(&outcome.response, rp_id, &client_data.hash)
        .map_err(|e| verify_failure(&e))?;
    remember_links(&outcome, opts, vault);
    if let Some(path) = save {
        save_credential(path, &registration)?;
    }
    if opts.json {
        print_json(&JsonResult {
            ok: true,
            ceremony: "register",
            rp_id,
            result: &registration,
            flags_text: webauthn::describe_flags(registration.flags),
            timings_ms: timings_json(&steps),
        })?;
    } else {
        println!(
            "Registered a passkey for {user} at {rp_id} on the phone.\n  credential ID  {}\n  flags          {}\n  attestation    {}{}",
            hex::encode(&registration.credential_id),
            webauthn::describe_flags(registration.flags),
            registration.attestation_format,
            if registration.attestation_signature_verified {
                " (signature verified)"
            } else {
                ""
            },
        );
        if let Some(path) = save {
            println!("  saved to       {}", path.display());
        }
    }
    Ok(())
}

async fn sign_in(
    rp_id: &str,
    credentials: &[PathBuf],
    phone: Option<&str>,
    opts: &ClientOpts,
    vault: Option<&Vault>,
) -> Result<(), String> {
    let known = load_credentials(credentials)?;
    let start = match (phone, vault) {
        (Some(name), Some(vault)) => match linked::find(vault, name).map_err(|e| e.to_string())? {
            Some(link) => Start::Linked(Box::new(link)),
            None => {
                return Err(format!(
                    "no phone named '{name}' is linked to this profile (see `hybrid phones`)"
                ));
            }
        },
        _ => Start::Qr,
    };
    if known.is_empty() {
        return Err(
            "pass --credential FILE (saved by `hybrid register --save FILE`): without the \
             passkey's public key the phone's signature cannot be verified"
                .to_owned(),
        );
    }
    let mut steps = Steps::new("");
    let client_data = ClientData::new(
        "webauthn.get",
        &random_bytes::<32>(),
        &format!("https://{rp_id}"),
    );
    let allow: Vec<Vec<u8>> = known
        .iter()
        .filter(|c| c.rp_id == rp_id)
        .map(|c| c.credential_id.clone())
        .collect();
    let request = webauthn::get_assertion_request(&client_data.hash, rp_id, &allow)
        .map_err(|e| e.to_string())?;
    let outcome =
        match client_ceremony(opts, start, RequestHint::GetAssertion, &request, &mut steps).await {
            Ok(outcome) => outcome,
            Err(DriveError::Tunnel(TunnelError::Refused(410))) => {
                // The relay says the phone unlinked itself: the link is dead for good.
                if let (Some(name), Some(vault)) = (phone, vault) {
                    let _ = linked::forget(vault, name);
                }
                return Err(format!(
                    "the phone '{}' has unlinked itself (the relay answered 410 Gone), so it was \
                     removed from this profile; sign in with a QR code to link it again",
                    phone.unwrap_or_default()
                ));
            }
            Err(error) => return Err(explain(&error, opts)),
        };
    remember_links(&outcome, opts, vault);
    let assertion = webauthn::verify_assertion(&outcome.response, rp_id, &client_data.hash, &known)
        .map_err(|e| verify_failure(&e))?;
    if opts.json {
        print_json(&JsonResult {
            ok: true,
            ceremony: "sign-in",
            rp_id,
            result: &assertion,
            flags_text: webauthn::describe_flags(assertion.flags),
            timings_ms: timings_json(&steps),
        })?;
    } else {
        println!(
            "Signed in to {rp_id} with the phone; signature verified.\n  credential ID  {}\n  flags          {}\n  sign count     {}",
            hex::encode(&assertion.credential_id),
            webauthn::describe_flags(assertion.flags),
            assertion.sign_count,
        );
    }
    Ok(())
}

/// `passbridge phone`: the virtual phone.
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
    /// Where to "broadcast" the advert: the loopback air, udp://127.0.0.1:PORT.
    #[arg(
        long,
        value_name = "udp://HOST:PORT",
        required_unless_present = "unlink"
    )]
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

fn phone_engine_config() -> ctap::Config {
    ctap::Config {
        // A phone verifies its user (biometric) and self-attests, so the desktop can check
        // the registration signature too.
        built_in_uv: true,
        attestation: ctap::Attestation::PackedSelf,
        ..ctap::Config::default()
    }
}

/// How the virtual phone's ceremony begins.
enum PhoneStart<'a> {
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
async fn phone_ceremony<S, C, R>(
    phone: &mut CtapPhone<S, C, R>,
    start: PhoneStart<'_>,
    linking: Option<PhoneLinking>,
    relay: &str,
    air: SocketAddr,
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
    let mut advertiser = UdpAdvertiser::new(air);
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
    air: SocketAddr,
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
    let air = match parse_air(args.air.as_deref().unwrap_or_default()) {
        Ok(addr) => addr,
        Err(error) => return fail(&error.to_string()),
    };
    let result = match vault {
        Some(vault) => phone_on_store(&runtime, vault, linking, &args, air),
        None => phone_on_store(&runtime, ctap::MemoryStore::new(), None, &args, air),
    };
    match result {
        Ok(()) => {
            eprintln!("phone: session finished");
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message),
    }
}

/// `passbridge demo`.
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
                    air,
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

async fn client_round(
    opts: &ClientOpts,
    start: Start,
    hint: RequestHint,
    request: &[u8],
    on_step: &mut (dyn FnMut(ClientStep) + Send),
    cancel: impl Future<Output = ()>,
) -> Result<ClientOutcome, DriveError> {
    let air = opts.air.as_deref().unwrap_or_default();
    let addr = parse_air(air)?;
    let mut scanner = UdpScanner::bind(addr).await?;
    let timeout = Duration::from_secs(opts.timeout);
    let config = ClientConfig {
        tunnel_base: opts
            .relay
            .clone()
            .map_or(TunnelBase::Default, TunnelBase::Custom),
        timeouts: Timeouts {
            advert: timeout,
            response: timeout,
            // After the reply, a phone that does not close promptly is not worth waiting for.
            shutdown: Duration::from_secs(2),
            ..Timeouts::default()
        },
        ..ClientConfig::default()
    };
    let clock = SystemClock;
    let mut rng = SystemRng::default();
    let session = match start {
        Start::Qr => ClientSession::new_qr(config, hint, clock.unix_time(), &mut rng, clock.now()),
        Start::Linked(link) => {
            ClientSession::new_linked(config, *link, hint, &mut rng, clock.now())?
        }
    };
    run_client(session, request, &mut scanner, &clock, on_step, cancel).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_id_parses_three_bytes_only() {
        assert_eq!(parse_routing_id("0a0B0c"), Some([0x0a, 0x0b, 0x0c]));
        assert_eq!(parse_routing_id("0a0b"), None);
        assert_eq!(parse_routing_id("zzzzzz"), None);
    }

    #[test]
    fn status_bytes_parse_in_hex_or_decimal() {
        assert_eq!(parse_status("0x27"), Ok(0x27));
        assert_eq!(parse_status("39"), Ok(39));
        assert!(parse_status("0").is_err());
        assert!(parse_status("0x100").is_err());
        assert!(parse_status("denied").is_err());
    }

    #[test]
    fn qr_renders_as_terminal_blocks() {
        let text = render_qr("FIDO:/1234567890");
        assert!(text.lines().count() > 10);
        assert!(text.contains('█') || text.contains('▀') || text.contains('▄'));
    }
}
