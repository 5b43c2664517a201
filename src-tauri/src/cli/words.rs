//! The command line's sentences for the core's typed failures: what happened and what to do,
//! in terms of this command line (its flags, its environment variables, its other commands).
//! The window says the same things its own way (`desktop::words`).

use passbridge_core::phone::{PhoneFailure, PhoneRefusal};
use passbridge_core::profile::Error as ProfileError;

/// The relay named in a sentence: the one the settings name, or the phone's own service.
fn relay_name(relay: Option<&str>) -> &str {
    relay.unwrap_or("the phone's tunnel service")
}

/// What a phone's CTAP error means for the person at the desktop.
pub(super) fn refusal(refusal: PhoneRefusal) -> &'static str {
    match refusal {
        PhoneRefusal::Declined => "the request was declined on the phone",
        PhoneRefusal::NoPasskey => "the phone has no passkey for this site",
        PhoneRefusal::AlreadyRegistered => "the phone already has a passkey for this account",
        PhoneRefusal::NotApprovedInTime => "nobody approved the request on the phone in time",
        PhoneRefusal::CancelledOnPhone => "the request was cancelled on the phone",
        PhoneRefusal::UnsupportedAlgorithm => {
            "the phone cannot make a passkey of the kind this site asks for"
        }
        PhoneRefusal::Full => "the phone has no room for another passkey",
        _ => "the phone could not complete the request",
    }
}

/// Why a ceremony with a phone failed, and what to do, as this command line says it.
pub(super) fn phone_failure(failure: &PhoneFailure) -> String {
    match failure {
        PhoneFailure::NoAdapter { name: Some(name) } => format!(
            "cannot look for the phone over Bluetooth: there is no Bluetooth adapter called \
             {name} (see `bluetoothctl list`, or leave out --air)"
        ),
        PhoneFailure::NoAdapter { name: None } => "cannot look for the phone over Bluetooth: \
             this computer has no Bluetooth adapter; plug one in, or use another computer"
            .to_owned(),
        PhoneFailure::BluetoothOff {
            adapter: Some(adapter),
        } => format!(
            "cannot look for the phone over Bluetooth: Bluetooth is off ({adapter}): turn it on \
             in Settings"
        ),
        PhoneFailure::BluetoothOff { adapter: None } => {
            "Bluetooth was turned off: turn it on in Settings and try again".to_owned()
        }
        PhoneFailure::NoPermission => "cannot look for the phone over Bluetooth: no permission \
             to scan for Bluetooth devices: allow Passbridge to use Bluetooth in the system \
             settings"
            .to_owned(),
        PhoneFailure::BluetoothUnavailable(cause) => format!(
            "cannot look for the phone over Bluetooth: the Bluetooth service cannot be reached \
             (is bluetoothd running?): {cause}"
        ),
        PhoneFailure::Bluetooth(problem) => {
            format!("cannot look for the phone over Bluetooth: {problem}")
        }
        PhoneFailure::BadAir(text) => format!(
            "--air {text} is not understood: use {}",
            passbridge_core::phone::air::AIR_FORMS
        ),
        PhoneFailure::AirSocket(cause) => format!("cannot scan for the phone: {cause}"),
        PhoneFailure::NoAdvert { waited } => format!(
            "no phone advert was seen within {} s: check that Bluetooth is on at both ends, and \
             that the phone scanned this QR code (or, for a linked phone, that it is nearby)",
            waited.as_secs()
        ),
        PhoneFailure::RelayUnreachable { relay, cause } => format!(
            "cannot reach the tunnel relay ({}): {cause}",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::RelayRefused { relay, status: 404 } => format!(
            "the tunnel relay ({}) does not know this tunnel or phone (HTTP 404); a linked \
             phone has to be connected to the relay (open Passbridge on it), a QR code may have \
             expired",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::RelayRefused { relay, status } => format!(
            "the tunnel relay ({}) refused the connection (HTTP {status})",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::RelayTls { relay, detail } => format!(
            "cannot set up a secure (TLS) connection to the tunnel relay ({}): {detail}; a \
             self-hosted relay with its own CA needs that CA's PEM file in PASSBRIDGE_CA_FILE",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::RelayLimit {
            relay,
            code,
            reason,
        } => format!(
            "the tunnel relay ({}) ended the connection: {reason} (close code {code})",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::RelayTimeout { relay } => format!(
            "the tunnel relay ({}) did not connect the phone in time",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::RelayClosed { relay } => format!(
            "the tunnel relay ({}) closed the connection before the phone answered",
            relay_name(relay.as_deref())
        ),
        PhoneFailure::Proxy { proxy, problem } => format!(
            "cannot reach the tunnel relay through the proxy {proxy}: {problem} (set NO_PROXY \
             to bypass it)"
        ),
        PhoneFailure::PhoneHungUp => "the phone hung up during the secure handshake: its keys \
             did not match this QR code (did it scan an older one?); try again"
            .to_owned(),
        PhoneFailure::Handshake(problem) => format!(
            "the secure handshake with the phone failed ({problem}): the phone may have scanned \
             another QR code; try again"
        ),
        PhoneFailure::HandshakeStalled => {
            "the phone stopped answering during the secure handshake".to_owned()
        }
        PhoneFailure::Timeout { waited } => format!(
            "the phone did not answer within {} s: approve the request on the phone, or try \
             again",
            waited.as_secs()
        ),
        PhoneFailure::PhoneError(status) => format!(
            "the phone answered with an error: {} ({status})",
            refusal(PhoneRefusal::of(*status))
        ),
        PhoneFailure::BadAnswer(problem) => format!("the phone's answer was rejected: {problem}"),
        PhoneFailure::Unlinked { phone } => format!(
            "the phone '{phone}' has unlinked itself (the relay answered 410 Gone), so it was \
             removed from this profile; sign in with a QR code to link it again"
        ),
        PhoneFailure::Cancelled => "cancelled".to_owned(),
        other => other.to_string(),
    }
}

/// What to do about a profile error on this command line, if there is something to say.
pub(super) fn profile_hint(error: &ProfileError) -> Option<String> {
    match error {
        ProfileError::Locked { profile } => Some(format!(
            "'{profile}' has a PIN: pass it in {} or on stdin with --pin-stdin",
            super::profile::PIN_ENV
        )),
        ProfileError::KeychainUnavailable {
            fallback_allowed: true,
            ..
        } => Some(
            "Passbridge keeps vault keys in the OS keychain and will not store them in plain \
             files. Start and unlock the keychain, or create a passphrase-only profile \
             (`passbridge profile create NAME --passphrase-only`), whose vault key is protected \
             only by its passphrase."
                .to_owned(),
        ),
        ProfileError::KeychainUnavailable {
            fallback_allowed: false,
            ..
        } => Some(
            "Passbridge keeps vault keys in the OS keychain and will not store them in plain \
             files. Start and unlock the keychain; the passphrase-only fallback is disabled by \
             policy (allow_passphrase_only = false)."
                .to_owned(),
        ),
        ProfileError::NotLockable { .. } => Some(
            "it is unlocked whenever your OS keyring is; create it with --pin to lock it \
             separately"
                .to_owned(),
        ),
        ProfileError::PassphraseOnlyNotAllowed => Some(
            "ask your administrator to set allow_passphrase_only = true, or use the OS keychain"
                .to_owned(),
        ),
        ProfileError::NoDataDir => Some("pass --data-dir DIR".to_owned()),
        ProfileError::DiskFull { .. } => Some(
            "free some space on that disk and run the command again; what was saved before is \
             safe"
                .to_owned(),
        ),
        ProfileError::RolledBack { profile, .. } => Some(format!(
            "nothing was changed. If you restored these files yourself (from a backup), take \
             them as they are with `passbridge profile accept-files '{profile}'`; otherwise \
             another program changed them: restore the newest copy you have"
        )),
        ProfileError::WrongSecret {
            attempts_left: 0, ..
        } => Some("that was the last attempt: the profile is now blocked".to_owned()),
        ProfileError::PinWait { .. } => Some(
            "each wrong PIN after the third makes the next attempt wait longer (30 s, doubling, \
             at most an hour)"
                .to_owned(),
        ),
        ProfileError::PinBlocked { id, .. } => Some(format!(
            "an administrator can lift the block with `sudo install -d -m 755 {dir} && sudo \
             touch {dir}/{id}`; otherwise delete the profile (`passbridge profile delete NAME`)",
            dir = passbridge_core::profile::attempts::UNBLOCK_DIR
        )),
        _ => None,
    }
}

/// Checks a `--relay` URL as the tunnel client will (clap value parser): `wss://`, or `ws://`
/// to this machine only.
pub(super) fn relay_url(text: &str) -> Result<String, String> {
    use hybrid::io::tunnel::{TunnelError, check_relay_url};
    match check_relay_url(text) {
        Ok(()) => Ok(text.to_owned()),
        Err(TunnelError::Insecure { host }) => Err(format!(
            "plain ws:// is only for this machine (127.0.0.1, ::1, localhost): tunnel traffic \
             to {host} would cross the network unencrypted. Use wss://{host}/…; if the relay's \
             certificate comes from your organisation's own CA, set {}=/path/to/ca.pem",
            hybrid::io::tls::CA_FILE_VAR
        )),
        Err(_) => Err(format!(
            "{text:?} is not a relay URL (wss://host[:port], or ws://127.0.0.1:PORT)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn phone_failures_say_what_to_do_in_this_command_lines_terms() {
        let said = phone_failure(&PhoneFailure::BadAir("wifi".to_owned()));
        assert!(said.contains("--air wifi") && said.contains("udp://127.0.0.1:PORT"));
        let said = phone_failure(&PhoneFailure::PhoneError(ctap::StatusCode::OperationDenied));
        assert!(
            said.contains("declined on the phone") && said.contains("0x27"),
            "{said}"
        );
        let said = phone_failure(&PhoneFailure::NoAdvert {
            waited: Duration::from_secs(7),
        });
        assert!(said.contains("within 7 s"), "{said}");
        let said = phone_failure(&PhoneFailure::RelayRefused {
            relay: None,
            status: 503,
        });
        assert!(said.contains("phone's tunnel service") && said.contains("HTTP 503"));
        let said = phone_failure(&PhoneFailure::NoAdapter {
            name: Some("hci7".to_owned()),
        });
        assert!(
            said.contains("there is no Bluetooth adapter called hci7"),
            "{said}"
        );
    }

    #[test]
    fn profile_hints_name_this_command_lines_ways_out() {
        let hint = profile_hint(&ProfileError::Locked {
            profile: "Ana".to_owned(),
        })
        .unwrap();
        assert!(hint.contains("--pin-stdin") && hint.contains("'Ana' has a PIN"));
        assert!(
            profile_hint(&ProfileError::NoDataDir)
                .unwrap()
                .contains("--data-dir")
        );
        assert_eq!(profile_hint(&ProfileError::Crypto), None);
    }
}
