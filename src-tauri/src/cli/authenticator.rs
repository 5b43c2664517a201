//! `passbridge authenticator serve --udp`: the platform authenticator for CTAP clients over
//! loopback UDP, asking on this terminal.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use passbridge_core::authenticator::prompt::{AutoApproveForTesting, PromptSource};
use passbridge_core::authenticator::udp::{self, UdpPipe};
use passbridge_core::system::Env;

use super::profile::{CommonOpts, open_vault};
use super::prompt::TerminalPrompt;
use super::{AttestationArg, fail};

/// `passbridge authenticator`.
#[derive(Debug, clap::Args)]
pub(super) struct AuthenticatorArgs {
    #[command(subcommand)]
    command: AuthenticatorCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuthenticatorCommand {
    /// Serve CTAPHID to local CTAP clients until interrupted.
    Serve {
        /// Transport: CTAPHID reports as UDP datagrams (SoloKeys simulation convention).
        #[arg(long, required = true)]
        udp: bool,
        /// Where OUT reports arrive (loopback only).
        #[arg(long, default_value = "127.0.0.1:8111")]
        listen: SocketAddr,
        /// Where IN reports are sent (loopback only).
        #[arg(long, default_value = "127.0.0.1:7112")]
        reply_to: SocketAddr,
        /// Attestation statement for new credentials: "none" (default, nothing to track the
        /// user by) or "packed-self" (self-attestation signed by the credential key).
        #[arg(long, value_enum, default_value_t = AttestationArg::None)]
        attestation: AttestationArg,
        /// FOR TESTING ONLY: grant user presence to every request without asking anyone.
        /// Never grants user verification.
        #[arg(long)]
        auto_approve_for_testing: bool,
        /// Keep passkeys in this profile's vault (OS keychain). Without it the store is in
        /// memory and forgotten when the process exits.
        #[arg(long, env = "PASSBRIDGE_PROFILE", value_name = "NAME")]
        profile: Option<String>,
        #[command(flatten)]
        profile_opts: CommonOpts,
    },
}

pub(super) fn run(args: AuthenticatorArgs) -> ExitCode {
    let AuthenticatorCommand::Serve {
        udp: _,
        listen,
        reply_to,
        attestation,
        auto_approve_for_testing,
        profile,
        profile_opts,
    } = args.command;
    let mut prompt: Box<dyn PromptSource> = if auto_approve_for_testing {
        tracing::warn!("user presence is granted automatically (--auto-approve-for-testing)");
        Box::new(AutoApproveForTesting)
    } else {
        Box::new(TerminalPrompt::new())
    };
    let vault = match profile
        .as_deref()
        .map(|name| open_vault(&profile_opts, name))
    {
        Some(Ok(vault)) => Some(vault),
        Some(Err(code)) => return code,
        None => None,
    };
    let pipe = match UdpPipe::bind(listen, reply_to) {
        Ok(pipe) => pipe,
        Err(error) => return fail(&error.to_string()),
    };
    // Test harnesses wait for this line before they start.
    println!("listening on {listen} (CTAPHID over UDP), replies to {reply_to}");
    let _ = std::io::stdout().flush();
    let stop = Arc::new(AtomicBool::new(false));
    let env = Env::system();
    let attestation = ctap::Attestation::from(attestation);
    let served = match (&vault, profile.as_deref()) {
        (Some(vault), Some(name)) => {
            eprintln!("passkeys are stored in profile '{name}'");
            udp::serve(pipe, vault, attestation, prompt.as_mut(), &stop, &env)
        }
        _ => {
            eprintln!("no --profile: passkeys live in memory and are forgotten when this exits");
            let store = ctap::MemoryStore::new();
            udp::serve(pipe, store, attestation, prompt.as_mut(), &stop, &env)
        }
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error.to_string()),
    }
}
