//! `passbridge profile …`, and what every command that opens a profile shares: the data
//! directory, the PIN from the environment or stdin, and the words for profile errors.
//!
//! PINs and passphrases come from `PASSBRIDGE_PIN` or, with `--pin-stdin`, the first line of
//! stdin; never from an argument (visible to every user in `ps`). The core's `profile` module
//! docs say what "unlocked" means between invocations.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use passbridge_core::profile::{
    DeletionReport, Error, NewProtection, ProfileManager, Protection, Secret, Vault,
};

use super::words;

/// Environment variable carrying the PIN or passphrase for scripts.
pub(super) const PIN_ENV: &str = "PASSBRIDGE_PIN";

/// Options shared by the profile and passkey commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub(super) struct CommonOpts {
    /// Data directory (default: $XDG_DATA_HOME/passbridge or ~/.local/share/passbridge).
    #[arg(long, env = "PASSBRIDGE_DATA_DIR", global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Read the PIN or passphrase from the first line of stdin instead of PASSBRIDGE_PIN.
    #[arg(long, global = true)]
    pin_stdin: bool,
}

/// `passbridge profile`.
#[derive(Debug, clap::Args)]
pub(super) struct ProfileArgs {
    #[command(flatten)]
    opts: CommonOpts,
    #[command(subcommand)]
    command: ProfileCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ProfileCommand {
    /// Create a profile with its own vault key in the OS keychain.
    Create {
        /// Display name.
        name: String,
        /// Also protect the vault key with a PIN (from PASSBRIDGE_PIN or --pin-stdin).
        #[arg(long, conflicts_with = "passphrase_only")]
        pin: bool,
        /// No keychain: protect the vault key only with a passphrase (policy must allow it).
        #[arg(long)]
        passphrase_only: bool,
    },
    /// List profiles: name, lock state, protection, and passkey count when unlocked.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make sure a PIN profile is locked (removes an old version's unlock session).
    Lock {
        /// Profile name.
        name: String,
    },
    /// Check a PIN profile's PIN (commands need it each time; only the window stays unlocked).
    Unlock {
        /// Profile name.
        name: String,
    },
    /// Delete a profile and destroy its keys (crypto-shredding).
    Delete {
        /// Profile name.
        name: String,
        /// Confirm: the profile's passkeys cannot be recovered afterwards.
        #[arg(long)]
        yes: bool,
    },
    /// Take a profile's files as they are after Passbridge refused them as not the last saved
    /// ones (you restored them from a backup on purpose).
    AcceptFiles {
        /// Profile name.
        name: String,
    },
    /// Rename a profile.
    Rename {
        /// Current name.
        name: String,
        /// New name.
        new_name: String,
    },
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum CliError {
    #[error(transparent)]
    Profile(#[from] Error),
    #[error("{0}")]
    Usage(String),
    #[error("cannot read the PIN from stdin")]
    Stdin(#[source] std::io::Error),
}

/// Prints a failed command's error, its causes and what to do; the command's exit code.
pub(super) fn report(result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("passbridge: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            if let CliError::Profile(profile_error) = &error
                && let Some(hint) = words::profile_hint(profile_error)
            {
                eprintln!("  hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

impl CommonOpts {
    pub(super) fn manager(&self) -> Result<ProfileManager, CliError> {
        Ok(ProfileManager::system(self.data_dir.as_deref())?)
    }

    /// The PIN/passphrase if one was supplied.
    pub(super) fn secret(&self) -> Result<Option<Secret>, CliError> {
        if self.pin_stdin {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(CliError::Stdin)?;
            let secret = Secret::new(line.trim_end_matches(['\n', '\r']).to_owned());
            zeroize::Zeroize::zeroize(&mut line);
            return Ok(Some(secret));
        }
        Ok(std::env::var(PIN_ENV)
            .ok()
            .filter(|pin| !pin.is_empty())
            .map(Secret::new))
    }

    fn required_secret(&self, what: &str) -> Result<Secret, CliError> {
        self.secret()?.ok_or_else(|| {
            CliError::Usage(format!(
                "{what}: supply it in {PIN_ENV} or on stdin with --pin-stdin"
            ))
        })
    }
}

/// Opens a profile's vault for a long-running command (the authenticator, the virtual phone).
/// On failure it prints the same plain-language error and hints as the profile commands and
/// returns the exit code to end with.
///
/// # Errors
/// The exit code after the message is printed.
pub(super) fn open_vault(opts: &CommonOpts, profile: &str) -> Result<Vault, ExitCode> {
    let open = || -> Result<Vault, CliError> {
        let manager = opts.manager()?;
        let secret = opts.secret()?;
        let vault = manager.open(profile, secret.as_ref())?;
        for problem in vault.problems()? {
            eprintln!("warning: {problem}; the other passkeys are unaffected");
        }
        Ok(vault)
    };
    open().map_err(|error| report(Err(error)))
}

/// Runs `passbridge profile …`.
pub(super) fn run(args: &ProfileArgs) -> ExitCode {
    report(profile_command(args))
}

fn profile_command(args: &ProfileArgs) -> Result<(), CliError> {
    let manager = args.opts.manager()?;
    match &args.command {
        ProfileCommand::Create {
            name,
            pin,
            passphrase_only,
        } => {
            let protection = if *passphrase_only {
                NewProtection::PassphraseOnly(args.opts.required_secret("a passphrase is needed")?)
            } else if *pin {
                NewProtection::KeychainPin(args.opts.required_secret("a PIN is needed")?)
            } else {
                NewProtection::Keychain
            };
            let summary = manager.create(name, protection)?;
            println!(
                "Created profile '{}' ({}).",
                summary.name, summary.protection
            );
            if summary.protection == Protection::PassphraseOnly {
                println!(
                    "Its vault key is protected only by your passphrase (no OS keychain). \
                     Commands for this profile need the passphrase each time."
                );
            }
        }
        ProfileCommand::List { json } => {
            let profiles = manager.list()?;
            if *json {
                let text = serde_json::to_string_pretty(&profiles).map_err(Error::Encode)?;
                println!("{text}");
            } else if profiles.is_empty() {
                println!("No profiles. Create one with `passbridge profile create NAME`.");
            } else {
                let rows: Vec<[String; 4]> = profiles
                    .iter()
                    .map(|p| {
                        [
                            p.name.clone(),
                            p.state.to_string(),
                            p.protection.to_string(),
                            p.passkey_count
                                .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                        ]
                    })
                    .collect();
                print_table(&["NAME", "STATE", "PROTECTION", "PASSKEYS"], &rows);
            }
        }
        ProfileCommand::Lock { name } => {
            if manager.lock(name)? {
                println!(
                    "Locked profile '{name}': removed the unlock session an older Passbridge \
                     had left in the OS keychain."
                );
            } else {
                println!(
                    "Profile '{name}' is locked: only a running Passbridge window holds a \
                     profile unlocked (its Lock button locks it there), and each command here \
                     asks for the PIN."
                );
            }
        }
        ProfileCommand::AcceptFiles { name } => {
            let secret = args.opts.secret()?;
            let vault = manager.accept_files(name, secret.as_ref())?;
            let count = vault.passkeys()?.len();
            vault.lock();
            println!(
                "Profile '{name}' now opens with the files it has ({count} passkeys). Passkeys \
                 and PIN retries are as those files say."
            );
        }
        ProfileCommand::Unlock { name } => {
            if manager.protection(name)? == Protection::Keychain {
                println!(
                    "Profile '{name}' has no PIN: it is unlocked whenever your OS keychain is."
                );
                return Ok(());
            }
            let secret = args
                .opts
                .required_secret("the profile's PIN or passphrase is needed")?;
            let vault = manager.unlock(name, &secret)?;
            let count = vault.passkeys()?.len();
            vault.lock();
            println!(
                "The PIN for '{name}' is correct ({count} passkeys). The profile stays locked \
                 outside this command: an unlocked key is never left where another program in \
                 your account could read it, so each command takes the PIN (in {PIN_ENV} or \
                 with --pin-stdin)."
            );
        }
        ProfileCommand::Delete { name, yes } => {
            if !yes {
                return Err(CliError::Usage(format!(
                    "deleting '{name}' destroys its keys and its passkeys for good; re-run with \
                     --yes to confirm"
                )));
            }
            println!("{}", deletion(&manager.delete(name)?));
        }
        ProfileCommand::Rename { name, new_name } => {
            manager.rename(name, new_name)?;
            println!("Renamed profile '{name}' to '{new_name}'.");
        }
    }
    Ok(())
}

/// What deleting a profile destroyed, in words.
fn deletion(report: &DeletionReport) -> String {
    let name = &report.name;
    match report.protection {
        Protection::Keychain | Protection::KeychainPin => format!(
            "Deleted profile '{name}'. Its vault key was destroyed in the OS keychain ({} \
             entr{} removed): the {} encrypted passkey record(s), and any copies of them, can no \
             longer be decrypted (crypto-shredded).",
            report.keychain_entries_destroyed,
            if report.keychain_entries_destroyed == 1 {
                "y"
            } else {
                "ies"
            },
            report.records_removed
        ),
        Protection::PassphraseOnly => format!(
            "Deleted profile '{name}'. Its passphrase-wrapped vault key was overwritten and \
             removed, and {} encrypted passkey record(s) were removed (crypto-shredded). \
             Journaling or copy-on-write file systems and SSDs may keep old blocks, but those \
             hold only the key sealed under the passphrase.",
            report.records_removed
        ),
    }
}

/// Prints rows under a header, each column as wide as its widest cell.
pub(super) fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

pub(super) use crate::doctor_words::format_time;
