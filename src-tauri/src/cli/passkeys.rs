//! `passbridge passkeys …`: a profile's passkeys, listed, deleted and renamed.

use std::process::ExitCode;

use passbridge_core::profile::{Error, PasskeyInfo};

use super::profile::{CliError, CommonOpts, format_time, print_table, report};

/// `passbridge passkeys`.
#[derive(Debug, clap::Args)]
pub(super) struct PasskeysArgs {
    #[command(flatten)]
    opts: CommonOpts,
    #[command(subcommand)]
    command: PasskeysCommand,
}

#[derive(Debug, clap::Args)]
struct ProfileSelector {
    /// Profile whose passkeys to use.
    #[arg(long, env = "PASSBRIDGE_PROFILE")]
    profile: String,
}

#[derive(Debug, clap::Subcommand)]
enum PasskeysCommand {
    /// List a profile's passkeys.
    List {
        #[command(flatten)]
        selector: ProfileSelector,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a passkey (by credential ID in hex, or a unique prefix of it).
    Delete {
        #[command(flatten)]
        selector: ProfileSelector,
        /// Credential ID (hex) or unique prefix.
        credential_id: String,
    },
    /// Change the user name or display name shown for a passkey.
    Rename {
        #[command(flatten)]
        selector: ProfileSelector,
        /// Credential ID (hex) or unique prefix.
        credential_id: String,
        /// New display name.
        #[arg(long)]
        display_name: Option<String>,
        /// New user name.
        #[arg(long)]
        user_name: Option<String>,
    },
}

/// Runs `passbridge passkeys …`.
pub(super) fn run(args: &PasskeysArgs) -> ExitCode {
    report(passkeys_command(args))
}

fn passkeys_command(args: &PasskeysArgs) -> Result<(), CliError> {
    let manager = args.opts.manager()?;
    let secret = args.opts.secret()?;
    let open = |selector: &ProfileSelector| manager.open(&selector.profile, secret.as_ref());
    match &args.command {
        PasskeysCommand::List { selector, json } => {
            let vault = open(selector)?;
            for problem in vault.problems()? {
                eprintln!("warning: {problem}; the other passkeys are unaffected");
            }
            let passkeys = vault.passkeys()?;
            if *json {
                let text = serde_json::to_string_pretty(&passkeys).map_err(Error::Encode)?;
                println!("{text}");
            } else if passkeys.is_empty() {
                println!("Profile '{}' has no passkeys.", selector.profile);
            } else {
                let rows: Vec<[String; 9]> = passkeys.iter().map(passkey_row).collect();
                print_table(
                    &[
                        "ID",
                        "RP",
                        "USER",
                        "DISPLAY NAME",
                        "CREATED",
                        "LAST USED",
                        "USES",
                        "TYPE",
                        "BACKUP",
                    ],
                    &rows,
                );
            }
        }
        PasskeysCommand::Delete {
            selector,
            credential_id,
        } => {
            let vault = open(selector)?;
            let id = resolve_id(&vault.passkeys()?, credential_id)?;
            vault.delete_passkey(&id)?;
            println!(
                "Deleted passkey {} from profile '{}'.",
                hex::encode(&id),
                selector.profile
            );
        }
        PasskeysCommand::Rename {
            selector,
            credential_id,
            display_name,
            user_name,
        } => {
            if display_name.is_none() && user_name.is_none() {
                return Err(CliError::Usage(
                    "nothing to change: give --display-name and/or --user-name".to_owned(),
                ));
            }
            let vault = open(selector)?;
            let id = resolve_id(&vault.passkeys()?, credential_id)?;
            vault.rename_passkey(&id, user_name.clone(), display_name.clone())?;
            println!(
                "Updated passkey {} in profile '{}'.",
                hex::encode(&id),
                selector.profile
            );
        }
    }
    Ok(())
}

/// Finds the one passkey whose hex ID starts with `prefix`.
fn resolve_id(passkeys: &[PasskeyInfo], prefix: &str) -> Result<Vec<u8>, CliError> {
    let prefix = prefix.to_ascii_lowercase();
    let matches: Vec<&PasskeyInfo> = passkeys
        .iter()
        .filter(|p| hex::encode(&p.credential_id).starts_with(&prefix))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.credential_id.clone()),
        [] => Err(CliError::Usage(format!("no passkey with ID {prefix}"))),
        _ => Err(CliError::Usage(format!(
            "ID prefix {prefix} matches several passkeys"
        ))),
    }
}

fn passkey_row(p: &PasskeyInfo) -> [String; 9] {
    let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    let id = hex::encode(&p.credential_id);
    let backup = match (p.backup_eligible, p.backup_state) {
        (false, _) => "no",
        (true, false) => "eligible",
        (true, true) => "backed up",
    };
    [
        id.get(..16).unwrap_or(&id).to_owned(),
        p.rp_name
            .as_ref()
            .map_or_else(|| p.rp_id.clone(), |name| format!("{} ({name})", p.rp_id)),
        or_dash(&p.user_name),
        or_dash(&p.user_display_name),
        format_time(p.created_at),
        p.last_used.map_or_else(|| "never".to_owned(), format_time),
        p.use_count.to_string(),
        if p.discoverable {
            "discoverable"
        } else {
            "server-side"
        }
        .to_owned(),
        backup.to_owned(),
    ]
}
