//! `passbridge hybrid …`: the desktop client (QR or linked phone, then a verified result).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ctap::Clock as _;
use hybrid::error::{Error as HybridError, Phase};
use hybrid::io::air::AirError;
use hybrid::io::driver::{ClientOutcome, ClientStep, DriveError, run_client};
use hybrid::io::tunnel::TunnelError;
use hybrid::qr::RequestHint;
use hybrid::session::{ClientConfig, ClientSession, StoredLink, Timeouts};
use hybrid::tunnel_url::TunnelBase;
use serde::Serialize;

use super::air::{AIR_FORMS, Air};
use super::{fail, print_json, random_bytes, runtime, verify_failure};
use crate::linked;
use crate::profile::Vault;
use crate::system::{SystemClock, SystemRng};
use crate::webauthn::{self, ClientData, Registration};

/// How the client reaches the phone.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ClientOpts {
    /// Send every tunnel to this relay (self-hosted or local), e.g. ws://127.0.0.1:8787.
    /// Default: the tunnel service the phone names in its advert.
    #[arg(long, env = "PASSBRIDGE_RELAY", value_name = "URL")]
    pub(crate) relay: Option<String>,
    /// Where to listen for the phone's advert: Bluetooth (the default: `ble`, or `ble:hci0` for
    /// one adapter), or the loopback air `udp://127.0.0.1:PORT` for tests and demos.
    #[arg(long, value_name = "AIR")]
    pub(crate) air: Option<String>,
    /// Seconds to wait for the phone: for its advert after the QR code is shown, and for its
    /// answer once connected.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    pub(crate) timeout: u64,
    /// Print the result as JSON on stdout (steps still go to stderr).
    #[arg(long)]
    pub(crate) json: bool,
    /// Profile to remember a linked phone in (a phone that offers linking is stored there,
    /// so the next sign-in needs no QR code), and whose linked phones `--phone` picks from.
    #[arg(long, env = "PASSBRIDGE_PROFILE", value_name = "NAME")]
    pub(crate) profile: Option<String>,
    #[command(flatten)]
    pub(crate) profile_opts: crate::profile::cli::CommonOpts,
}

/// How a client ceremony finds the phone.
pub(crate) enum Start {
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
pub(super) struct Steps {
    started: Instant,
    clock: SystemClock,
    timings: Vec<(&'static str, f64)>,
    prefix: &'static str,
}

impl Steps {
    pub(super) fn new(prefix: &'static str) -> Self {
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

    pub(super) fn record(&mut self, key: &'static str, text: &str) {
        let ms = self.elapsed_ms();
        self.timings.push((key, ms));
        eprintln!("{}[{:>8.1} ms] {text}", self.prefix, ms);
    }

    pub(super) fn on_step(&mut self, step: ClientStep) {
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
pub(crate) fn explain(error: &DriveError, opts: &ClientOpts) -> String {
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
        DriveError::Tunnel(TunnelError::Tls(problem)) => format!(
            "cannot set up a secure (TLS) connection to the tunnel relay ({relay}): {problem}; \
             a self-hosted relay with its own CA needs that CA's PEM file in PASSBRIDGE_CA_FILE"
        ),
        DriveError::Tunnel(TunnelError::Proxy { proxy, problem }) => format!(
            "cannot reach the tunnel relay ({relay}) through the proxy {proxy}: {problem} \
             (set NO_PROXY to bypass it)"
        ),
        DriveError::Tunnel(other) => format!("tunnel relay ({relay}): {other}"),
        DriveError::Air(AirError::Bluetooth(problem)) => {
            format!("cannot look for the phone over Bluetooth: {problem}")
        }
        DriveError::Air(AirError::BadAddress(text)) => {
            format!("--air {text} is not understood: use {AIR_FORMS}")
        }
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
    /// Only where the result does not carry it already (a registration does).
    #[serde(skip_serializing_if = "Option::is_none")]
    rp_id: Option<&'a str>,
    #[serde(flatten)]
    result: &'a T,
    flags_text: String,
    timings_ms: serde_json::Map<String, serde_json::Value>,
}

/// Prints a ceremony's result: the JSON document with `--json`, else `text()`.
fn report<T: Serialize>(
    opts: &ClientOpts,
    json: &JsonResult<'_, T>,
    text: impl FnOnce() -> String,
) -> Result<(), String> {
    if opts.json {
        print_json(json)
    } else {
        println!("{}", text());
        Ok(())
    }
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

/// Opens the profile named in `opts`, if any, printing the usual errors on failure.
fn client_vault(opts: &ClientOpts) -> Result<Option<Vault>, ExitCode> {
    opts.profile
        .as_deref()
        .map(|name| crate::profile::cli::open_vault(&opts.profile_opts, name))
        .transpose()
}

/// What a ceremony needs before it starts: the profile's vault (if named) and a runtime.
fn vault_and_runtime(
    opts: &ClientOpts,
) -> Result<(Option<Vault>, tokio::runtime::Runtime), ExitCode> {
    Ok((client_vault(opts)?, runtime()?))
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
            let (vault, runtime) = match vault_and_runtime(&opts) {
                Ok(pair) => pair,
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
            let (vault, runtime) = match vault_and_runtime(&opts) {
                Ok(pair) => pair,
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
    report(
        opts,
        &JsonResult {
            ok: true,
            ceremony: "register",
            rp_id: None,
            result: &registration,
            flags_text: webauthn::describe_flags(registration.flags),
            timings_ms: timings_json(&steps),
        },
        || {
            let saved = save.map_or(String::new(), |path| {
                format!("\n  saved to       {}", path.display())
            });
            format!(
                "Registered a passkey for {user} at {rp_id} on the phone.\n  credential ID  {}\n  flags          {}\n  attestation    {}{}{saved}",
                hex::encode(&registration.credential_id),
                webauthn::describe_flags(registration.flags),
                registration.attestation_format,
                if registration.attestation_signature_verified {
                    " (signature verified)"
                } else {
                    ""
                },
            )
        },
    )
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
    report(
        opts,
        &JsonResult {
            ok: true,
            ceremony: "sign-in",
            rp_id: Some(rp_id),
            result: &assertion,
            flags_text: webauthn::describe_flags(assertion.flags),
            timings_ms: timings_json(&steps),
        },
        || {
            format!(
                "Signed in to {rp_id} with the phone; signature verified.\n  credential ID  {}\n  flags          {}\n  sign count     {}",
                hex::encode(&assertion.credential_id),
                webauthn::describe_flags(assertion.flags),
                assertion.sign_count,
            )
        },
    )
}

pub(crate) async fn client_round(
    opts: &ClientOpts,
    start: Start,
    hint: RequestHint,
    request: &[u8],
    on_step: &mut (dyn FnMut(ClientStep) + Send),
    cancel: impl Future<Output = ()>,
) -> Result<ClientOutcome, DriveError> {
    let mut scanner = Air::parse(opts.air.as_deref())?.scanner().await?;
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
    fn qr_renders_as_terminal_blocks() {
        let text = render_qr("FIDO:/1234567890");
        assert!(text.lines().count() > 10);
        assert!(text.contains('█') || text.contains('▀') || text.contains('▄'));
    }
}
