//! The sentences of `doctor`'s findings, for both faces: the command line prints them and the
//! window's Diagnostics page shows them, so an administrator reads the same words in each.

use passbridge_core::diagnostics::{
    Area, Finding, NetProblem, NetStep, ProbeFacts, SKEW_FAIL_SECS, Status, TunnelRole,
};
use passbridge_core::phone::cross_device::{CeremonyKind, TestPhase};
use passbridge_core::profile::{LockState, Protection};
use passbridge_core::webauthn::{AttestationFacts, AttestationKind};

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
        Area::Bluetooth => "bluetooth",
        Area::Policy => "policy",
        Area::Keychain => "keychain",
        Area::Profiles => "profiles",
        Area::SecurityKey => "security key",
        Area::Network => "network",
        Area::Clock => "clock",
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
        Finding::KeychainLocked { backend } => format!(
            "the OS keychain ({backend}) answers but is locked: profiles kept in it cannot open; \
             unlock it (log in to the desktop session, or unlock the \"Login\" keyring in \
             Passwords and Keys) and run doctor again"
        ),
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
        Finding::TestAir { air } => format!(
            "phones are looked for on {air} (a loopback test air), not over Bluetooth; clear \
             the air setting for real phones"
        ),
        Finding::BluetoothReady { adapter, adapters } => {
            let others = adapters.len().saturating_sub(1);
            let others = match others {
                0 => String::new(),
                n => format!(" ({n} other adapter(s) present)"),
            };
            format!("adapter {adapter} is on{others}")
        }
        Finding::BluetoothUnavailable { detail } => format!(
            "the Bluetooth service cannot be reached ({detail}): phone sign-ins cannot work \
             here; start bluetoothd (`systemctl start bluetooth`) or add a Bluetooth adapter"
        ),
        Finding::NoBluetoothAdapter { wanted: Some(name) } => format!(
            "there is no Bluetooth adapter called {name}; fix the air setting (ble:ADAPTER) \
             or plug the adapter in"
        ),
        Finding::NoBluetoothAdapter { wanted: None } => {
            "this computer has no Bluetooth adapter: phone sign-ins need one to prove the \
             phone is near; add a USB Bluetooth adapter, or use a security key instead"
                .to_owned()
        }
        Finding::BluetoothOff { adapter } if adapter.is_empty() => {
            "Bluetooth was turned off during the scan; turn it on and run doctor again".to_owned()
        }
        Finding::BluetoothOff { adapter } => format!(
            "Bluetooth is off ({adapter}): phone sign-ins cannot work until it is on; turn it \
             on in the system settings or with `bluetoothctl power on`"
        ),
        Finding::BluetoothNoPermission => "this program may not scan for Bluetooth devices: \
             phone sign-ins cannot work; allow Passbridge to use Bluetooth (on Linux, run \
             it in a session BlueZ's policy lets scan)"
            .to_owned(),
        Finding::BluetoothFailed { detail } => format!("Bluetooth failed: {detail}"),
        Finding::AdvertsHeard { seconds, adverts } => format!(
            "in {seconds} s this computer heard {}; adverts of 20 bytes and longer (newer \
             phones may add a suffix) are matched, nothing was decrypted",
            advert_list(adverts)
        ),
        Finding::AdvertsUnusable { seconds, adverts } => format!(
            "in {seconds} s this computer heard {}, but none of 20 bytes or more: they are \
             not caBLE v2 phone adverts this app can match; update the phone's system",
            advert_list(adverts)
        ),
        Finding::NoAdverts { seconds } => format!(
            "in {seconds} s no FIDO advert (0xFFF9, 0xFDE2) reached this computer: scan the QR \
             code with the phone during the scan, keep it within a few metres, and check that \
             the phone's Bluetooth is on"
        ),
        Finding::TunnelReachable { role, probe } => {
            format!("{}: reachable ({})", service(*role, probe), timings(probe))
        }
        Finding::TunnelCertificateExpiring {
            role,
            probe,
            days_left,
        } => format!(
            "{}: reachable, but its certificate expires in {days_left} day(s) ({}); the \
             relay's operator must renew it before then",
            service(*role, probe),
            probe
                .certificate
                .as_ref()
                .map_or_else(String::new, |c| format_time(c.not_after))
        ),
        Finding::TunnelInspected { role, probe } => format!(
            "{}: reachable, but its certificate was issued by {}, not by a public CA: \
             something on this network (a TLS-inspecting proxy) replaces the tunnel \
             service's certificate; ask the network's administrator to exempt cable.* hosts \
             from inspection, since phones cannot be expected to trust that CA",
            service(*role, probe),
            issuer(probe)
        ),
        Finding::TunnelUnreachable {
            role,
            probe,
            step,
            problem,
        } => format!(
            "{}: {} failed: {}",
            service(*role, probe),
            step_word(*step),
            problem_words(*role, probe, problem)
        ),
        Finding::ClockSkew { host, skew_secs } => clock_message(host, *skew_secs),
        _ => "a check this version cannot describe".to_owned(),
    }
}

fn advert_list(adverts: &[passbridge_core::diagnostics::AdvertView]) -> String {
    adverts
        .iter()
        .map(|a| {
            let lengths = a
                .lengths
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("/");
            let rssi = a.rssi.map_or_else(String::new, |r| format!(", {r} dBm"));
            format!(
                "{} report(s) of 0x{:04X} from {} ({lengths} bytes{rssi})",
                a.count, a.uuid, a.device
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A network step, in words.
pub fn step_word(step: NetStep) -> &'static str {
    match step {
        NetStep::Dns => "name lookup",
        NetStep::Tcp => "connection",
        NetStep::Proxy => "proxy",
        NetStep::Tls => "TLS",
        NetStep::Upgrade => "WebSocket upgrade",
    }
}

fn service(role: TunnelRole, probe: &ProbeFacts) -> String {
    let kind = match role {
        TunnelRole::Assigned => "tunnel service",
        TunnelRole::Hashed => "hashed tunnel domain",
        TunnelRole::Relay => "relay",
    };
    let port = if probe.port == 443 {
        String::new()
    } else {
        format!(":{}", probe.port)
    };
    let via = probe
        .proxy
        .as_ref()
        .map_or_else(String::new, |proxy| format!(" via proxy {proxy}"));
    format!("{kind} {}{port}{via}", probe.host)
}

fn timings(probe: &ProbeFacts) -> String {
    probe
        .timings
        .iter()
        .map(|t| format!("{} {}", step_word(t.step), millis(t.micros)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn millis(micros: u64) -> String {
    let tenths = micros / 100;
    format!("{}.{} ms", tenths / 10, tenths % 10)
}

fn issuer(probe: &ProbeFacts) -> String {
    probe.certificate.as_ref().map_or_else(
        || "an unknown issuer".to_owned(),
        |c| format!("\"{}\"", c.issuer_name),
    )
}

fn problem_words(role: TunnelRole, probe: &ProbeFacts, problem: &NetProblem) -> String {
    let firewall = "allow it through the firewall (`passbridge doctor --firewall-list FILE` \
                    lists every host a phone may need)";
    match problem {
        NetProblem::BadUrl { detail } => format!("{detail}; fix the relay setting"),
        NetProblem::NoSuchName { detail } => format!(
            "{} does not resolve ({detail}); check this machine's DNS, or {firewall}",
            probe.host
        ),
        NetProblem::NoConnection { detail } => match role {
            TunnelRole::Relay => format!(
                "nothing answers ({detail}); check that the relay runs and listens on port \
                 {}, or that the firewall lets this machine reach it",
                probe.port
            ),
            _ => format!("no connection ({detail}); {firewall}"),
        },
        NetProblem::ProxyRefused { target, status } => format!(
            "the proxy refused to connect to {target} (HTTP {status}); ask its \
             administrator to allow {target}, or set NO_PROXY for it"
        ),
        NetProblem::ProxyUnreachable { detail } => format!(
            "the proxy cannot be reached ({detail}); check HTTPS_PROXY / ALL_PROXY or the \
             proxy setting"
        ),
        NetProblem::ProxyUnusable { detail } => {
            format!("the proxy cannot be used: {detail}; check the proxy setting")
        }
        NetProblem::UntrustedCertificate if probe.host.starts_with("cable.") => format!(
            "the certificate was issued by {}, which this machine does not trust: a \
             TLS-inspecting proxy on this network replaces the tunnel service's \
             certificate; ask the network's administrator to exempt cable.* hosts",
            issuer(probe)
        ),
        NetProblem::UntrustedCertificate => format!(
            "the certificate was issued by {}, which this machine does not trust; for a \
             relay with a private CA, point PASSBRIDGE_CA_FILE at the CA's PEM file",
            issuer(probe)
        ),
        NetProblem::ExpiredCertificate => format!(
            "the certificate expired{}; the relay's operator must renew it (or this \
             machine's clock is wrong)",
            probe
                .certificate
                .as_ref()
                .map_or_else(String::new, |c| format!(" on {}", format_time(c.not_after)))
        ),
        NetProblem::FutureCertificate => "the certificate is not valid yet: this machine's \
             clock is probably behind; set it right (NTP)"
            .to_owned(),
        NetProblem::CertificateForAnotherName => format!(
            "the certificate is not for {} (it names {}); fix the relay's certificate or the \
             relay URL",
            probe.host,
            probe
                .certificate
                .as_ref()
                .map_or("another name", |c| c.subject.as_str())
        ),
        NetProblem::TlsSetup { detail } => format!("TLS cannot be set up here: {detail}"),
        NetProblem::TlsFailed { detail } => detail.clone(),
        NetProblem::UpgradeRefused { status } => match role {
            TunnelRole::Relay => format!(
                "the server answered HTTP {status} instead of opening a tunnel; check that \
                 the URL names a caBLE relay (`passbridge relay`) and its path"
            ),
            _ => format!(
                "the server answered HTTP {status} instead of opening a tunnel; a proxy or \
                 filter in between may be answering for it"
            ),
        },
        NetProblem::NotATunnelService => "the server speaks WebSocket but not the \
             fido.cable protocol: it is not a caBLE tunnel service; check the URL"
            .to_owned(),
        NetProblem::UpgradeFailed { detail } => {
            format!("{detail}; a proxy or filter may be cutting WebSocket connections")
        }
        NetProblem::TimedOut { limit_secs } => format!(
            "no answer within {limit_secs} s; a firewall may be dropping the traffic: \
             {firewall}"
        ),
        _ => "a failure this version cannot describe".to_owned(),
    }
}

fn clock_message(host: &str, skew_secs: i64) -> String {
    let off = skew_secs.unsigned_abs();
    let direction = if skew_secs > 0 { "behind" } else { "ahead of" };
    if off < 2 {
        return format!("this machine's clock agrees with {host}'s");
    }
    let amount = if off < 120 {
        format!("{off} s")
    } else {
        format!("{} min", off / 60)
    };
    if off >= SKEW_FAIL_SECS {
        format!(
            "this machine's clock is {amount} {direction} {host}'s: certificates and sign-in \
             times will look wrong; set the clock right (turn on NTP: `timedatectl \
             set-ntp true`)"
        )
    } else {
        format!("this machine's clock is {amount} {direction} {host}'s")
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

/// `YYYY-MM-DD HH:MMZ` from Unix seconds (UTC), without a date library.
pub fn format_time(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days, on unsigned values (dates after 1970).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// A phase of the cross-device test, as both faces and the report name it.
pub fn phase_word(phase: TestPhase) -> &'static str {
    match phase {
        TestPhase::QrShown => "QR code shown",
        TestPhase::AdvertHeard => "first advert heard",
        TestPhase::AdvertDecrypted => "advert decrypted (the phone is nearby)",
        TestPhase::TunnelConnected => "tunnel connected",
        TestPhase::HandshakeDone => "handshake done",
        TestPhase::PostHandshake => "post-handshake message (the phone's getInfo)",
        TestPhase::RequestSent => "request sent",
        TestPhase::PhoneAnswered => "phone answered",
        TestPhase::Verified => "verified",
    }
}

/// A ceremony of the cross-device test.
pub fn ceremony_word(kind: CeremonyKind) -> &'static str {
    match kind {
        CeremonyKind::Registration => "registration",
        CeremonyKind::SignIn => "sign-in",
    }
}

/// What the phone side of Chromium logs at `phase`: its status on reaching it and the errors
/// it reports when the ceremony breaks on the way there.
pub fn chromium_words(phase: TestPhase) -> String {
    let names = phase.chromium();
    let errors = names.errors.join(", ");
    match (names.status, errors.is_empty()) {
        (Some(status), false) => format!("phone status {status}; phone errors {errors}"),
        (Some(status), true) => format!("phone status {status}"),
        (None, false) => format!("phone errors {errors}"),
        (None, true) => String::new(),
    }
}

/// What a registration's attestation established, in a few words.
pub fn attestation_words(format: &str, facts: &AttestationFacts) -> String {
    match facts.kind {
        AttestationKind::None => {
            format!("\"{format}\": the phone attests nothing (phones' usual answer)")
        }
        AttestationKind::SelfAttestation => {
            "packed self-attestation: signature verified with the new passkey's own key".to_owned()
        }
        AttestationKind::Certificate => {
            let leaf = facts
                .chain
                .first()
                .map_or_else(String::new, |cert| cert.subject.clone());
            let issuer = facts
                .chain
                .last()
                .map_or_else(String::new, |cert| cert.issuer.clone());
            format!(
                "packed with a certificate chain of {}: signature verified under {leaf}, FIDO \
                 certificate requirements met, AAGUID {}; chain issued by {issuer} (not checked \
                 against the FIDO Metadata Service)",
                facts.chain.len(),
                if facts.aaguid_in_certificate {
                    "in the certificate matches"
                } else {
                    "not in the certificate"
                }
            )
        }
        _ => format!("\"{format}\": a format Passbridge does not check"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00Z");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00Z");
        assert_eq!(format_time(1_700_000_000), "2023-11-14 22:13Z");
    }

    #[test]
    fn clock_words_say_which_way_and_how_far() {
        assert_eq!(
            clock_message("relay", 1),
            "this machine's clock agrees with relay's"
        );
        assert_eq!(
            clock_message("relay", 90),
            "this machine's clock is 90 s behind relay's"
        );
        assert!(
            clock_message("relay", -900)
                .starts_with("this machine's clock is 15 min ahead of relay's: ")
        );
        assert_eq!(millis(1_234), "1.2 ms");
    }
}
