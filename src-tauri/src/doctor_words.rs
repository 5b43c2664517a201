//! The sentences of `doctor`'s findings, for both faces: the command line prints them and the
//! window's Diagnostics page shows them, so an administrator reads the same words in each.

use passbridge_core::diagnostics::{Area, Finding, Status};
use passbridge_core::profile::{LockState, Protection};

/// "PASS", "WARN" or "FAIL".
pub fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Warn => "WARN",
        Status::Fail => "FAIL",
    }
}

/// What a check is about, in a word or two.
pub fn area_word(area: Area) -> &'static str {
    match area {
        Area::Policy => "policy",
        Area::Keychain => "keychain",
        Area::Profiles => "profiles",
        Area::SecurityKey => "security key",
    }
}

/// The sentence for a finding: what was measured, and what to do when something is wrong.
pub fn message(finding: &Finding) -> String {
    match finding {
        Finding::PolicyDefaults => {
            "no policy file: the built-in defaults apply (an administrator may write \
             /etc/passbridge/policy.toml)"
                .to_owned()
        }
        Finding::PolicyLoaded { path } => format!("policy read from {}", path.display()),
        Finding::PolicyInvalid { problem } => {
            format!("{problem}; Passbridge will not start until the file is fixed or removed")
        }
        Finding::KeychainReady { backend } => format!("the OS keychain ({backend}) answers"),
        Finding::KeychainUnavailable { backend, detail } => format!(
            "the OS keychain ({backend}) cannot be used: {detail}; log in to a desktop \
             session (or start gnome-keyring and unlock it) and run doctor again"
        ),
        Finding::NoProfiles => {
            "no profile yet: create one in the window or with `passbridge profile create NAME`"
                .to_owned()
        }
        Finding::ProfilesUnreadable { problem } => format!(
            "the profiles cannot be listed: {problem}; check the data directory's permissions"
        ),
        Finding::Profile {
            name,
            state,
            protection,
        } => profile_message(name, *state, *protection),
        Finding::UhidOpen { path } => format!(
            "{} can be opened: the USB security key can start",
            path.display()
        ),
        Finding::UhidHelper { socket } => format!(
            "the uhid helper listens at {}: the USB security key starts through it",
            socket.display()
        ),
        Finding::UhidNoAccess { device, socket } => match device {
            Some(device) => format!(
                "{} cannot be opened and no helper listens at {}: browsers cannot use \
                 Passbridge as a security key until an administrator runs `sudo passbridge \
                 setup-bridge`",
                device.display(),
                socket.display()
            ),
            None => format!(
                "no /dev/uhid (the uhid module is not loaded) and no helper at {}: run \
                 `sudo passbridge setup-bridge` to use Passbridge as a security key",
                socket.display()
            ),
        },
        Finding::UdevRule { path } => format!("{} lets browsers open the key", path.display()),
        Finding::UdevRuleMissing { path } => format!(
            "{} is missing: browsers may not be allowed to open the key; run `sudo \
             passbridge setup-bridge`",
            path.display()
        ),
        _ => "a check this version cannot describe".to_owned(),
    }
}

fn profile_message(name: &str, state: LockState, protection: Protection) -> String {
    let kind = match protection {
        Protection::Keychain => "keychain",
        Protection::KeychainPin => "keychain and PIN",
        Protection::PassphraseOnly => "passphrase only",
    };
    match (state, protection) {
        (LockState::Unlocked, _) => format!("\"{name}\" ({kind}): ready"),
        (LockState::Locked, Protection::Keychain) => format!(
            "\"{name}\" ({kind}): its key is not in this keychain (another login's keychain, \
             or the keychain was reset); its passkeys cannot be opened here"
        ),
        (LockState::Locked, _) => format!("\"{name}\" ({kind}): locked, opens with its PIN"),
        (LockState::KeychainUnavailable, _) => {
            format!("\"{name}\" ({kind}): cannot be opened while the keychain is unavailable")
        }
    }
}
