//! The window's sentences for the core's typed failures and endings: what happened and what
//! the person can do in the window (Settings, the QR code, the phone). The command line says
//! the same things in its own terms (`cli::words`).

use passbridge_core::app::SecurityKeyError;
use passbridge_core::app::types::FlowEnd;
use passbridge_core::phone::{PhoneFailure, PhoneRefusal};
use passbridge_core::profile::Error as ProfileError;

/// The sentence for a fault in Passbridge itself.
pub const INTERNAL: &str = "Passbridge hit an internal problem; the log has the details.";

fn relay_name(relay: Option<&str>) -> &str {
    relay.unwrap_or("the phone's tunnel service")
}

/// What a phone's CTAP error means.
fn refusal(refusal: PhoneRefusal) -> &'static str {
    match refusal {
        PhoneRefusal::Declined => "The request was declined on the phone.",
        PhoneRefusal::NoPasskey => "The phone has no passkey for this site.",
        PhoneRefusal::AlreadyRegistered => "The phone already has a passkey for this account.",
        PhoneRefusal::NotApprovedInTime => "Nobody approved the request on the phone in time.",
        PhoneRefusal::CancelledOnPhone => "The request was cancelled on the phone.",
        PhoneRefusal::UnsupportedAlgorithm => {
            "The phone cannot make a passkey of the kind this site asks for."
        }
        PhoneRefusal::Full => "The phone has no room for another passkey.",
        _ => "The phone could not complete the request.",
    }
}

/// Why a ceremony with a phone failed, and what to do, as the window says it.
pub fn phone(failure: &PhoneFailure) -> String {
    match failure {
        PhoneFailure::NoAdapter { name: Some(name) } => format!(
            "There is no Bluetooth adapter called {name}: pick another under \"Where to look \
             for the phone\" in Settings."
        ),
        PhoneFailure::NoAdapter { name: None } => {
            "This computer has no Bluetooth adapter: plug one in to use a phone nearby.".to_owned()
        }
        PhoneFailure::BluetoothOff { .. } => {
            "Bluetooth is off: turn it on in the system settings, then try again.".to_owned()
        }
        PhoneFailure::NoPermission => {
            "Passbridge may not use Bluetooth: allow it in the system settings.".to_owned()
        }
        PhoneFailure::BluetoothUnavailable(_) => {
            "The system's Bluetooth service is not running: start it, then try again.".to_owned()
        }
        PhoneFailure::Bluetooth(problem) => format!("Bluetooth failed: {problem}."),
        PhoneFailure::BadAir(text) => {
            format!("\"{text}\" is not a place to look for the phone: correct it in Settings.")
        }
        PhoneFailure::AirSocket(cause) => format!("Cannot look for the phone: {cause}."),
        PhoneFailure::NoAdvert { waited } => format!(
            "No phone was seen nearby within {} s: check that Bluetooth is on at both ends, and \
             that the phone scanned this QR code (a linked phone must be nearby).",
            waited.as_secs()
        ),
        PhoneFailure::RelayUnreachable { relay, cause } => format!(
            "Cannot reach the tunnel relay ({}): {cause}. Check the relay in Settings and the \
             network.",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::RelayRefused { relay, status: 404 } => format!(
            "The tunnel relay ({}) does not know this phone: open Passbridge on the linked \
             phone so it is connected, or use the QR code.",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::RelayRefused { relay, status } => format!(
            "The tunnel relay ({}) refused the connection (HTTP {status}).",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::RelayTls { relay, detail } => format!(
            "Cannot set up a secure connection to the tunnel relay ({}): {detail}. A relay \
             with a certificate of your organisation's own needs that certificate authority \
             installed: ask your administrator.",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::RelayLimit { relay, reason, .. } => format!(
            "The tunnel relay ({}) ended the connection: {reason}.",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::RelayTimeout { relay } => format!(
            "The tunnel relay ({}) did not connect the phone in time.",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::RelayClosed { relay } => format!(
            "The tunnel relay ({}) closed the connection before the phone answered.",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::Proxy { proxy, problem } => {
            format!("The proxy {proxy} could not be used: {problem}. Check the proxy in Settings.")
        }
        PhoneFailure::PhoneHungUp => "The phone hung up during the secure handshake: it may \
             have scanned an older QR code. Try again."
            .to_owned(),
        PhoneFailure::Handshake(problem) => format!(
            "The secure handshake with the phone failed ({problem}): the phone may have scanned \
             another QR code. Try again."
        ),
        PhoneFailure::HandshakeStalled => {
            "The phone stopped answering during the secure handshake. Try again.".to_owned()
        }
        PhoneFailure::Timeout { waited } => format!(
            "The phone did not answer within {} s: approve the request on the phone, or try \
             again.",
            waited.as_secs()
        ),
        PhoneFailure::PhoneError(status) => {
            format!("{} ({status})", refusal(PhoneRefusal::of(*status)))
        }
        PhoneFailure::BadAnswer(problem) => {
            format!("The phone's answer did not check out ({problem}), so it was not used.")
        }
        PhoneFailure::Unlinked { phone } => format!(
            "The phone '{phone}' has unlinked itself, so it was removed from this profile; use \
             the QR code to link it again."
        ),
        PhoneFailure::Cancelled => "Cancelled.".to_owned(),
        other => format!("The phone session failed: {other}."),
    }
}

/// A profile error: the core's sentence, and what to do where the window can say it.
pub fn profile_error(error: &ProfileError) -> String {
    match error {
        ProfileError::Io { source, .. } => format!("{error}: {source}"),
        ProfileError::DiskFull { .. } => "The disk is full, so nothing was saved. Free some \
             space and try again; what was saved before is safe."
            .to_owned(),
        ProfileError::Locked { profile } => {
            format!("profile '{profile}' is locked: unlock it with its PIN")
        }
        ProfileError::WrongSecret {
            attempts_left: 0, ..
        } => "Wrong PIN. That was the last attempt: the profile is now blocked.".to_owned(),
        ProfileError::WrongSecret { attempts_left, .. } => {
            format!("Wrong PIN. {attempts_left} attempts left before the profile is blocked.")
        }
        ProfileError::RolledBack {
            profile,
            differences,
        } => format!(
            "Profile '{profile}' was not opened: its files are not the ones Passbridge last \
             saved ({differences}). An older copy was restored, or files were deleted or \
             added. Nothing was changed. If you restored them on purpose, run `passbridge \
             profile accept-files '{profile}'`."
        ),
        ProfileError::PinWait { seconds, .. } => format!(
            "Too many wrong PINs. Wait {} before trying again.",
            duration(*seconds)
        ),
        ProfileError::PinBlocked { profile, id } => format!(
            "Profile '{profile}' is blocked after too many wrong PINs. An administrator can \
             unblock it (sudo touch {}/{id}), or delete the profile and its passkeys.",
            passbridge_core::profile::attempts::UNBLOCK_DIR
        ),
        ProfileError::KeychainUnavailable { .. } => "cannot reach the OS keychain: start and \
             unlock it (Passbridge keeps vault keys there and never in plain files)"
            .to_owned(),
        ProfileError::NotLockable { profile } => format!(
            "profile '{profile}' is protected by the OS keychain alone (no PIN), so it is \
             unlocked whenever you are logged in; create a profile with a PIN to lock it \
             separately"
        ),
        ProfileError::PassphraseOnlyNotAllowed => "profiles without the OS keychain are \
             disabled by your administrator's policy"
            .to_owned(),
        other => other.to_string(),
    }
}

/// "45 seconds", "2 minutes", "1 hour": a wait in words.
fn duration(seconds: u64) -> String {
    let (count, unit) = match seconds {
        0..60 => (seconds, "second"),
        60..3600 => (seconds.div_ceil(60), "minute"),
        _ => (seconds.div_ceil(3600), "hour"),
    };
    format!("{count} {unit}{}", if count == 1 { "" } else { "s" })
}

/// The security key could not start.
pub fn security_key(problem: &SecurityKeyError) -> String {
    format!(
        "the security key is off: {problem}. For the USB key, run `sudo passbridge \
         setup-bridge` once, then log out and in again"
    )
}

/// How a phone flow ended, for the last step's line (`None`: the command's error says it).
pub fn flow_end(end: &FlowEnd) -> Option<String> {
    Some(match end {
        FlowEnd::Registered { rp_id } => format!("Passkey created on the phone for {rp_id}."),
        FlowEnd::SignedIn {
            rp_id,
            counter_regression: None,
        } => format!("Signed in to {rp_id} with the phone; signature verified."),
        FlowEnd::SignedIn {
            rp_id,
            counter_regression: Some(regression),
        } => format!(
            "Signed in to {rp_id} with the phone; signature verified. Warning: the passkey's \
             signature counter did not go up ({} after {}), so it may have been copied to \
             another device. If you did not copy it, tell your administrator.",
            regression.reported, regression.stored
        ),
        FlowEnd::SiteAnswered => "The phone answered; the site has its passkey.".to_owned(),
        FlowEnd::Cancelled => "Cancelled.".to_owned(),
        FlowEnd::SiteToldNo => "Cancelled: the site was told no.".to_owned(),
        FlowEnd::Failed(Some(failure)) => phone(failure),
        FlowEnd::Failed(None) => return None,
        _ => return None,
    })
}
