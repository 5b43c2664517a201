//! `passbridge hybrid …`: the desktop client (QR code or linked phone, then a verified
//! result), and the profile's linked phones.
//!
//! Steps and the QR code go to stderr, each with its elapsed time; with `--json` the result is
//! the only thing on stdout, so scripts can parse it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use hybrid::io::driver::ClientStep;
use hybrid::io::tunnel::TunnelConfig;
use passbridge_core::phone::ceremony::{self, CeremonyOptions, Start, Verified};
use passbridge_core::phone::{Air, linked};
use passbridge_core::profile::Vault;
use passbridge_core::system::Env;
use passbridge_core::webauthn::{self, Registration};
use serde::Serialize;

use super::profile::{CommonOpts, open_vault};
use super::steps::Steps;
use super::{ctrl_c, fail, print_json, runtime, words};

/// How the desktop reaches the phone, and how it reports: every command that runs a ceremony
/// with a phone takes these (`register`, `sign-in`, `test`).
#[derive(Debug, Clone, clap::Args)]
pub(super) struct ReachOpts {
    /// Send every tunnel to this relay (self-hosted or local), e.g. ws://127.0.0.1:8787.
    /// Default: the tunnel service the phone names in its advert. Plain ws:// only to this
    /// machine; anything else needs wss:// (a private CA: PASSBRIDGE_CA_FILE).
    #[arg(long, env = "PASSBRIDGE_RELAY", value_name = "URL", value_parser = super::words::relay_url)]
    pub(super) relay: Option<String>,
    /// Where to listen for the phone's advert: Bluetooth (the default: `ble`, or `ble:hci0` for
    /// one adapter), or the loopback air `udp://127.0.0.1:PORT` for tests and demos.
    #[arg(long, value_name = "AIR")]
    pub(super) air: Option<String>,
    /// Seconds to wait for the phone: for its advert after the QR code is shown, and for its
    /// answer once connected.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    pub(super) timeout: u64,
    /// Print the result as JSON on stdout (steps still go to stderr).
    #[arg(long)]
    pub(super) json: bool,
}

/// How the client reaches the phone, and the profile it remembers phones in.
#[derive(Debug, Clone, clap::Args)]
struct ClientOpts {
    #[command(flatten)]
    reach: ReachOpts,
    /// Profile to remember a linked phone in (a phone that offers linking is stored there,
    /// so the next sign-in needs no QR code), and whose linked phones `--phone` picks from.
    #[arg(long, env = "PASSBRIDGE_PROFILE", value_name = "NAME")]
    profile: Option<String>,
    #[command(flatten)]
    profile_opts: CommonOpts,
}

impl ClientOpts {
    /// The core's options: the air parsed, the environment's proxy and CA file.
    fn ceremony(&self) -> Result<CeremonyOptions, String> {
        let air = Air::parse(self.reach.air.as_deref()).map_err(|error| {
            words::phone_failure(&passbridge_core::phone::PhoneFailure::from_air(error))
        })?;
        Ok(CeremonyOptions {
            relay: self.reach.relay.clone(),
            air,
            timeout: Duration::from_secs(self.reach.timeout),
            tunnel: TunnelConfig::from_env(),
        })
    }
}

/// `passbridge hybrid …`.
#[derive(Debug, clap::Args)]
pub(super) struct HybridArgs {
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
    /// Test phone sign-in on this machine: a registration and a sign-in at a built-in test
    /// site, with your phone (scan two QR codes) or --virtual-phone, every phase timed; with
    /// --report DIR, a report to share.
    Test(super::cross_device::TestArgs),
    /// List the phones linked to a profile (no secrets are shown).
    Phones {
        /// Profile whose linked phones to list.
        #[arg(long, env = "PASSBRIDGE_PROFILE", value_name = "NAME")]
        profile: String,
        #[command(flatten)]
        profile_opts: CommonOpts,
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
        profile_opts: CommonOpts,
        /// The phone's name.
        phone: String,
    },
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
    if opts.reach.json {
        print_json(json)
    } else {
        println!("{}", text());
        Ok(())
    }
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

/// What a ceremony needs before it starts: the profile's vault (if named) and a runtime.
fn vault_and_runtime(
    opts: &ClientOpts,
) -> Result<(Option<Vault>, tokio::runtime::Runtime), ExitCode> {
    let vault = opts
        .profile
        .as_deref()
        .map(|name| open_vault(&opts.profile_opts, name))
        .transpose()?;
    Ok((vault, runtime()?))
}

/// Runs `passbridge hybrid …`.
pub(super) fn run(args: HybridArgs) -> ExitCode {
    let result = match args.command {
        HybridCommand::Test(test) => return super::cross_device::run(&test),
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

fn list_phones(profile: &str, opts: &CommonOpts, json: bool) -> ExitCode {
    let vault = match open_vault(opts, profile) {
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

fn unlink_phone(profile: &str, opts: &CommonOpts, phone: &str) -> ExitCode {
    let vault = match open_vault(opts, profile) {
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
fn remember_links<T>(verified: &Verified<T>, opts: &ClientOpts, vault: Option<&Vault>, env: &Env) {
    let (Some(vault), Some(profile)) = (vault, opts.profile.as_deref()) else {
        return;
    };
    for link in &verified.links {
        match linked::remember(vault, link, env.unix_time()) {
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
    let env = Env::system();
    let ceremony_opts = opts.ceremony()?;
    let mut steps = Steps::new(env.clock.clone(), "");
    let mut on_step = |step: ClientStep| steps.on_step(step);
    let verified = ceremony::register(
        &ceremony_opts,
        &env,
        Start::Qr,
        rp_id,
        user,
        &mut on_step,
        ctrl_c(),
    )
    .await
    .map_err(|failure| words::phone_failure(&failure))?;
    remember_links(&verified, opts, vault, &env);
    let registration = &verified.result;
    if let Some(path) = save {
        save_credential(path, registration)?;
    }
    report(
        opts,
        &JsonResult {
            ok: true,
            ceremony: "register",
            rp_id: None,
            result: registration,
            flags_text: webauthn::describe_flags(registration.flags),
            timings_ms: steps.timings_json(),
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
        (Some(name), Some(vault)) => Start::linked(vault, name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!("no phone named '{name}' is linked to this profile (see `hybrid phones`)")
            })?,
        _ => Start::Qr,
    };
    if known.is_empty() {
        return Err(
            "pass --credential FILE (saved by `hybrid register --save FILE`): without the \
             passkey's public key the phone's signature cannot be verified"
                .to_owned(),
        );
    }
    let env = Env::system();
    let ceremony_opts = opts.ceremony()?;
    let mut steps = Steps::new(env.clock.clone(), "");
    let mut on_step = |step: ClientStep| steps.on_step(step);
    let verified = ceremony::sign_in(
        &ceremony_opts,
        &env,
        start,
        rp_id,
        &known,
        &mut on_step,
        ctrl_c(),
    )
    .await
    .map_err(|failure| words::phone_failure(&ceremony::forget_if_unlinked(vault, failure)))?;
    remember_links(&verified, opts, vault, &env);
    let assertion = &verified.result;
    if assertion.counter_went_back() {
        eprintln!(
            "warning: the passkey's signature counter did not go up ({} after {}): it may have \
             been copied to another device",
            assertion.sign_count, assertion.previous_sign_count
        );
    }
    report(
        opts,
        &JsonResult {
            ok: true,
            ceremony: "sign-in",
            rp_id: Some(rp_id),
            result: assertion,
            flags_text: webauthn::describe_flags(assertion.flags),
            timings_ms: steps.timings_json(),
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
