//! The `passbridge` command line. One parser for every build; subcommands that need the window
//! exist only in the desktop build.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::{Parser, Subcommand};

use crate::{about, telemetry};

/// Passbridge: passkeys kept in the OS keychain, and your phone's passkeys on this computer.
#[derive(Debug, Parser)]
#[command(name = "passbridge", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version and how this binary was built.
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the platform authenticator for CTAP clients.
    Authenticator {
        #[command(subcommand)]
        command: AuthenticatorCommand,
    },
    /// Open the Passbridge window (the default when a display is available).
    #[cfg(feature = "desktop")]
    Gui,
    /// Manage profiles: create, list, lock, unlock, delete, rename.
    Profile(crate::profile::cli::ProfileArgs),
    /// Manage a profile's passkeys: list, delete, rename.
    Passkeys(crate::profile::cli::PasskeysArgs),
    /// Run a self-hostable caBLE tunnel relay (plain WebSocket, loopback by default).
    Relay(crate::hybrid_cli::RelayArgs),
    /// Use a passkey on your phone (FIDO hybrid transport): register or sign in.
    Hybrid(crate::hybrid_cli::HybridArgs),
    /// Play the phone's part of a hybrid ceremony (a virtual phone, for tests and demos).
    Phone(crate::hybrid_cli::PhoneArgs),
    /// Run a whole cross-device ceremony on loopback: relay, desktop and virtual phone.
    Demo(crate::hybrid_cli::DemoArgs),
    /// Appear as a USB security key (Linux, /dev/uhid) so browsers and other FIDO clients
    /// use Passbridge's passkeys.
    Bridge(crate::bridge_cli::BridgeArgs),
    /// One-time system set-up for `bridge`: a udev rule and the uhid module (needs root).
    SetupBridge(crate::bridge_cli::SetupBridgeArgs),
}

#[derive(Debug, Subcommand)]
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
        profile_opts: crate::profile::cli::CommonOpts,
    },
}

/// `--attestation`: what new credentials' attestation statement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum AttestationArg {
    None,
    PackedSelf,
}

impl From<AttestationArg> for ctap::Attestation {
    fn from(arg: AttestationArg) -> Self {
        match arg {
            AttestationArg::None => Self::None,
            AttestationArg::PackedSelf => Self::PackedSelf,
        }
    }
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    telemetry::init();
    run(Cli::parse())
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Some(Command::Info { json }) => {
            let info = about::app_info();
            if json {
                match serde_json::to_string_pretty(&info) {
                    Ok(text) => println!("{text}"),
                    Err(error) => {
                        eprintln!("passbridge: could not encode build info: {error}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                let flavour = if info.desktop { "desktop" } else { "headless" };
                println!(
                    "{} {} ({flavour} build, {})",
                    info.name, info.version, info.os
                );
            }
            ExitCode::SUCCESS
        }
        #[cfg(feature = "desktop")]
        Some(Command::Gui) => crate::desktop::run(),
        Some(Command::Authenticator { command }) => run_authenticator(command),
        Some(Command::Profile(args)) => crate::profile::cli::run_profile(args),
        Some(Command::Passkeys(args)) => crate::profile::cli::run_passkeys(args),
        Some(Command::Relay(args)) => crate::hybrid_cli::run_relay(args),
        Some(Command::Hybrid(args)) => crate::hybrid_cli::run_hybrid(args),
        Some(Command::Phone(args)) => crate::hybrid_cli::run_phone_command(args),
        Some(Command::Demo(args)) => crate::hybrid_cli::run_demo(args),
        Some(Command::Bridge(args)) => crate::bridge_cli::run_bridge(args),
        Some(Command::SetupBridge(args)) => crate::bridge_cli::run_setup_bridge(args),
        None => default_action(),
    }
}

fn run_authenticator(command: AuthenticatorCommand) -> ExitCode {
    use crate::authenticator::prompt::{AutoApproveForTesting, PromptSource, TerminalPrompt};
    use crate::authenticator::udp::{self, UdpOptions};

    let AuthenticatorCommand::Serve {
        udp: _,
        listen,
        reply_to,
        attestation,
        auto_approve_for_testing,
        profile,
        profile_opts,
    } = command;
    let attestation = ctap::Attestation::from(attestation);
    let mut prompt: Box<dyn PromptSource> = if auto_approve_for_testing {
        tracing::warn!("user presence is granted automatically (--auto-approve-for-testing)");
        Box::new(AutoApproveForTesting)
    } else {
        Box::new(TerminalPrompt::new())
    };
    let stop = Arc::new(AtomicBool::new(false));
    let options = UdpOptions {
        listen,
        reply_to,
        attestation,
    };
    let served = if let Some(name) = profile {
        let vault = match crate::profile::cli::open_vault(&profile_opts, &name) {
            Ok(vault) => vault,
            Err(code) => return code,
        };
        eprintln!("passkeys are stored in profile '{name}'");
        udp::serve(vault, options, prompt.as_mut(), &stop)
    } else {
        eprintln!("no --profile: passkeys live in memory and are forgotten when this exits");
        udp::serve(ctap::MemoryStore::new(), options, prompt.as_mut(), &stop)
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("passbridge: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "desktop")]
fn default_action() -> ExitCode {
    crate::desktop::run()
}

#[cfg(not(feature = "desktop"))]
fn default_action() -> ExitCode {
    // A headless build has no window to open: show what it can do instead.
    let mut command = <Cli as clap::CommandFactory>::command();
    if let Err(error) = command.print_help() {
        eprintln!("passbridge: {error}");
        return ExitCode::FAILURE;
    }
    println!(
        "\nThis is the headless build (no window). Rebuild with the `desktop` feature for the app."
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn parser_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn info_subcommand_parses_json_flag() {
        let cli = Cli::try_parse_from(["passbridge", "info", "--json"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Info { json: true })));
    }

    #[test]
    fn unknown_subcommand_is_an_error() {
        let error = Cli::try_parse_from(["passbridge", "frobnicate"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::InvalidSubcommand);
    }
}
