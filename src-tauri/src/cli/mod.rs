//! The `passbridge` command line: one parser for every build, one module per command, and
//! every line the command line prints. The work itself is the core's (`passbridge_core`).

mod authenticator;
mod bridge;
mod cross_device;
mod demo;
mod doctor;
mod hybrid;
mod info;
mod passkeys;
mod phone;
mod profile;
mod prompt;
mod relay;
mod setup_bridge;
mod steps;
#[cfg(target_os = "linux")]
mod uhid_helper;
mod words;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

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
    Info(info::InfoArgs),
    /// Check this machine for what passkeys and the security key need: policy, keychain,
    /// profiles, /dev/uhid; and write the firewall list a phone sign-in needs.
    Doctor(doctor::DoctorArgs),
    /// Run the platform authenticator for CTAP clients.
    Authenticator(authenticator::AuthenticatorArgs),
    /// Open the Passbridge window (the default when a display is available).
    #[cfg(feature = "desktop")]
    Gui(GuiArgs),
    /// Manage profiles: create, list, lock, unlock, delete, rename.
    Profile(profile::ProfileArgs),
    /// Manage a profile's passkeys: list, delete, rename.
    Passkeys(passkeys::PasskeysArgs),
    /// Run a self-hostable caBLE tunnel relay (plain WebSocket, loopback by default).
    Relay(relay::RelayArgs),
    /// Use a passkey on your phone (FIDO hybrid transport): register or sign in.
    Hybrid(hybrid::HybridArgs),
    /// Play the phone's part of a hybrid ceremony (a virtual phone, for tests and demos).
    Phone(phone::PhoneArgs),
    /// Run a whole cross-device ceremony on loopback: relay, desktop and virtual phone.
    Demo(demo::DemoArgs),
    /// Appear as a USB security key (Linux, /dev/uhid) so browsers and other FIDO clients
    /// use Passbridge's passkeys.
    Bridge(bridge::BridgeArgs),
    /// One-time system set-up for `bridge`: a udev rule and the uhid module (needs root).
    SetupBridge(setup_bridge::SetupBridgeArgs),
    /// The privileged half of `bridge`: creates the FIDO key for the user who connects
    /// (started by systemd's passbridge-uhid.socket).
    #[cfg(target_os = "linux")]
    #[command(hide = true)]
    UhidHelper(uhid_helper::UhidHelperArgs),
}

/// `passbridge gui`.
#[cfg(feature = "desktop")]
#[derive(Debug, Default, clap::Args)]
pub struct GuiArgs {
    /// Start in the background: the tray icon and the security key, no window until a site
    /// asks or you open it from the tray (what starting at login does).
    #[arg(long)]
    pub background: bool,
}

/// What `main` does after the command line ran.
#[derive(Debug)]
pub enum Next {
    /// Exit with this code.
    Exit(ExitCode),
    /// Open the window (`passbridge gui`, or no command in a desktop build).
    #[cfg(feature = "desktop")]
    OpenWindow(GuiArgs),
}

/// Entry point used by `main.rs`: logging, then the parsed command line.
pub fn main() -> Next {
    passbridge_core::telemetry::init();
    run(Cli::parse())
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Next {
    let code = match cli.command {
        Some(Command::Info(args)) => info::run(&args),
        Some(Command::Doctor(args)) => doctor::run(&args),
        #[cfg(feature = "desktop")]
        Some(Command::Gui(args)) => return Next::OpenWindow(args),
        #[cfg(feature = "desktop")]
        None => return Next::OpenWindow(GuiArgs::default()),
        Some(Command::Authenticator(args)) => authenticator::run(args),
        Some(Command::Profile(args)) => profile::run(&args),
        Some(Command::Passkeys(args)) => passkeys::run(&args),
        Some(Command::Relay(args)) => relay::run(args),
        Some(Command::Hybrid(args)) => hybrid::run(args),
        Some(Command::Phone(args)) => phone::run(&args),
        Some(Command::Demo(args)) => demo::run(&args),
        Some(Command::Bridge(args)) => bridge::run(&args),
        Some(Command::SetupBridge(args)) => setup_bridge::run(&args),
        #[cfg(target_os = "linux")]
        Some(Command::UhidHelper(args)) => uhid_helper::run(&args),
        #[cfg(not(feature = "desktop"))]
        None => headless_help(),
    };
    Next::Exit(code)
}

/// A headless build has no window to open: show what it can do instead.
#[cfg(not(feature = "desktop"))]
fn headless_help() -> ExitCode {
    let mut command = <Cli as clap::CommandFactory>::command();
    if let Err(error) = command.print_help() {
        return fail(&error.to_string());
    }
    println!(
        "\nThis is the headless build (no window). Rebuild with the `desktop` feature for the app."
    );
    ExitCode::SUCCESS
}

/// Prints `passbridge: MESSAGE` on stderr; the exit code of a failed command.
fn fail(message: &str) -> ExitCode {
    eprintln!("passbridge: {message}");
    ExitCode::FAILURE
}

/// Prints `value` as pretty JSON on stdout.
fn print_json<T: Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

/// The async runtime the network commands run on.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| fail(&format!("could not start the async runtime: {error}")))
}

/// Resolves when the person presses Ctrl-C (the command line's cancel).
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling here: nothing can cancel, so wait for the ceremony's own end.
        std::future::pending::<()>().await;
    }
}

/// `--attestation`: what new credentials' attestation statement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AttestationArg {
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
        assert!(matches!(
            cli.command,
            Some(Command::Info(info::InfoArgs { json: true }))
        ));
    }

    #[test]
    fn unknown_subcommand_is_an_error() {
        let error = Cli::try_parse_from(["passbridge", "frobnicate"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::InvalidSubcommand);
    }
}
