//! `doctor`: what an administrator checks when passkeys or "use a phone" fail on one machine.
//! This module runs the machine's checks (the policy, the keychain, each profile, what the
//! security key needs), the network checks (each tunnel service a phone may name, and the
//! configured relay, step by step; this machine's clock against the services' `Date`), and
//! lists every host a phone sign-in may need, for a firewall. It returns typed findings; each
//! face says them in its own words.
//!
//! The Bluetooth checks look at the adapter (present, powered) and, when asked, scan for FIDO
//! adverts without decrypting any, so an administrator can tell "the phone advertises but we
//! do not match" from "nothing reaches this machine".
//!
//! Not here yet: the cross-device test.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hybrid::advert::{ADVERT_LEN, LengthPolicy};
use hybrid::io::air::BluetoothProblem;
use hybrid::io::ble::BleSurvey;
use hybrid::io::probe::{Probe, ProbeFailure, ProbeOptions, Step, TlsFailure, UpgradeFailure};
use hybrid::io::tunnel::TunnelConfig;
use hybrid::proxy::ProxyProblem;

use serde::Serialize;
use ts_rs::TS;

use crate::policy::{Policy, PolicyError};
use crate::profile::keychain::{KeyStore, KeychainError};
use crate::profile::{LockState, ProfileManager, Protection};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Fine.
    Pass,
    /// Works, but something a person may trip over.
    Warn,
    /// Broken: what depends on it cannot work.
    Fail,
}

/// What a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    /// Bluetooth, which a phone sign-in needs to prove the phone is near.
    Bluetooth,
    /// The administrator's policy file.
    Policy,
    /// The OS keychain.
    Keychain,
    /// One profile, or the list of them.
    Profiles,
    /// What the USB security key (the uhid bridge) needs.
    SecurityKey,
    /// The tunnel services and the relay, over the network.
    Network,
    /// This machine's clock, against a tunnel service's.
    Clock,
}

/// What a check found, with the measured facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Finding {
    /// No policy file: the built-in defaults apply.
    PolicyDefaults,
    /// The policy file was read.
    PolicyLoaded {
        /// The file.
        path: PathBuf,
    },
    /// The policy file cannot be used (the app refuses to start).
    PolicyInvalid {
        /// What is wrong, as the policy loader says it.
        problem: String,
    },
    /// The keychain answers.
    KeychainReady {
        /// Which keychain.
        backend: String,
    },
    /// The keychain answers but is locked: nothing in it can be read until it is unlocked.
    KeychainLocked {
        /// Which keychain.
        backend: String,
    },
    /// The keychain cannot be used.
    KeychainUnavailable {
        /// Which keychain.
        backend: String,
        /// Why, as far as it said.
        detail: String,
    },
    /// There is no profile yet.
    NoProfiles,
    /// The profiles cannot be listed.
    ProfilesUnreadable {
        /// Why.
        problem: String,
    },
    /// One profile and its state.
    Profile {
        /// Its name.
        name: String,
        /// Its state now.
        state: LockState,
        /// How its key is kept.
        protection: Protection,
    },
    /// This user may open `/dev/uhid`: the key can start without the helper.
    UhidOpen {
        /// The device.
        path: PathBuf,
    },
    /// The privileged helper's socket is there: the key starts through it.
    UhidHelper {
        /// The socket.
        socket: PathBuf,
    },
    /// Neither `/dev/uhid` nor the helper can be used: the key cannot start.
    UhidNoAccess {
        /// The device, if it exists.
        device: Option<PathBuf>,
        /// The helper's socket.
        socket: PathBuf,
    },
    /// The udev rule that lets browsers open the key is installed.
    UdevRule {
        /// The rule file.
        path: PathBuf,
    },
    /// The udev rule is missing: browsers may not be allowed to open the key.
    UdevRuleMissing {
        /// Where it belongs.
        path: PathBuf,
    },
    /// Phones are looked for on a loopback test air, not Bluetooth (the air setting).
    TestAir {
        /// The setting.
        air: String,
    },
    /// The Bluetooth adapter is there and on.
    BluetoothReady {
        /// The adapter looked at.
        adapter: String,
        /// Every adapter's description.
        adapters: Vec<String>,
    },
    /// The system's Bluetooth service cannot be reached (no bluetoothd, no system bus).
    BluetoothUnavailable {
        /// Why, as the stack said it.
        detail: String,
    },
    /// No Bluetooth adapter (or none by the name the air setting gives).
    NoBluetoothAdapter {
        /// The adapter asked for, if one was.
        wanted: Option<String>,
    },
    /// The adapter is switched off.
    BluetoothOff {
        /// The adapter.
        adapter: String,
    },
    /// This program may not scan.
    BluetoothNoPermission,
    /// Bluetooth failed otherwise.
    BluetoothFailed {
        /// What failed, as the stack said it.
        detail: String,
    },
    /// A scan heard FIDO adverts (none decrypted).
    AdvertsHeard {
        /// How long it scanned.
        seconds: u64,
        /// What it heard.
        adverts: Vec<AdvertView>,
    },
    /// A scan heard FIDO adverts, but none this app can match (shorter than 20 bytes).
    AdvertsUnusable {
        /// How long it scanned.
        seconds: u64,
        /// What it heard.
        adverts: Vec<AdvertView>,
    },
    /// A scan heard no FIDO advert at all.
    NoAdverts {
        /// How long it scanned.
        seconds: u64,
    },
    /// A tunnel service (or the relay) can be reached: every step passed.
    TunnelReachable {
        /// Which service.
        role: TunnelRole,
        /// What the probe measured.
        probe: ProbeFacts,
    },
    /// Reachable, but its certificate expires within [`EXPIRY_WARN_DAYS`].
    TunnelCertificateExpiring {
        /// Which service.
        role: TunnelRole,
        /// What the probe measured.
        probe: ProbeFacts,
        /// Whole days left.
        days_left: u64,
    },
    /// Reachable, but a public tunnel service showed a certificate from a CA outside the
    /// public web's list: something on this network (a TLS-inspecting proxy) replaces the
    /// service's certificate.
    TunnelInspected {
        /// Which service.
        role: TunnelRole,
        /// What the probe measured.
        probe: ProbeFacts,
    },
    /// A tunnel service (or the relay) cannot be reached: the first step that failed.
    TunnelUnreachable {
        /// Which service.
        role: TunnelRole,
        /// What the probe measured up to the failure.
        probe: ProbeFacts,
        /// The step that failed.
        step: NetStep,
        /// Why.
        #[serde(flatten)]
        problem: NetProblem,
    },
    /// This machine's clock against a server's `Date` header (positive: the server is ahead).
    ClockSkew {
        /// The server compared with.
        host: String,
        /// The server's time minus this machine's, in seconds.
        skew_secs: i64,
    },
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What it is about.
    pub area: Area,
    /// How it came out.
    pub status: Status,
    /// What it found.
    #[serde(flatten)]
    pub finding: Finding,
}

impl Check {
    fn new(area: Area, status: Status, finding: Finding) -> Self {
        Self {
            area,
            status,
            finding,
        }
    }
}

/// One device's FIDO adverts heard by a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdvertView {
    /// The device's address (phones use random ones that change).
    pub device: String,
    /// The service UUID (0xFFF9 FIDO, 0xFDE2 Google's older one).
    pub uuid: u16,
    /// Every service-data length heard.
    pub lengths: Vec<usize>,
    /// The strongest signal heard, in dBm.
    pub rssi: Option<i16>,
    /// How many reports arrived.
    pub count: u32,
    /// Whether this app would try to match it: 20 bytes of service data or longer
    /// ([`crate::phone::ceremony::ADVERT_LENGTH`]).
    pub usable: bool,
}

/// The Bluetooth checks from a look at the adapter (`hybrid::io::ble::survey`); `scan_secs`
/// when it scanned.
pub fn bluetooth_checks(
    survey: Result<BleSurvey, BluetoothProblem>,
    scan_secs: Option<u64>,
) -> Vec<Check> {
    let survey = match survey {
        Ok(survey) => survey,
        Err(problem) => {
            let (status, finding) = match problem {
                BluetoothProblem::ServiceUnavailable(detail) => {
                    (Status::Warn, Finding::BluetoothUnavailable { detail })
                }
                BluetoothProblem::NoAdapter(wanted) => {
                    (Status::Warn, Finding::NoBluetoothAdapter { wanted })
                }
                BluetoothProblem::PoweredOff { adapter } => {
                    (Status::Warn, Finding::BluetoothOff { adapter })
                }
                BluetoothProblem::TurnedOff => (
                    Status::Warn,
                    Finding::BluetoothOff {
                        adapter: String::new(),
                    },
                ),
                BluetoothProblem::PermissionDenied => {
                    (Status::Fail, Finding::BluetoothNoPermission)
                }
                other => (
                    Status::Warn,
                    Finding::BluetoothFailed {
                        detail: other.to_string(),
                    },
                ),
            };
            return vec![Check::new(Area::Bluetooth, status, finding)];
        }
    };
    let mut checks = vec![Check::new(
        Area::Bluetooth,
        Status::Pass,
        Finding::BluetoothReady {
            adapter: survey.adapter,
            adapters: survey.adapters,
        },
    )];
    if let Some(seconds) = scan_secs {
        let usable = |len: usize| match crate::phone::ceremony::ADVERT_LENGTH {
            LengthPolicy::Exact => len == ADVERT_LEN,
            _ => len >= ADVERT_LEN,
        };
        let adverts: Vec<AdvertView> = survey
            .adverts
            .into_iter()
            .map(|seen| AdvertView {
                usable: seen.lengths.iter().any(|&len| usable(len)),
                device: seen.device,
                uuid: seen.uuid,
                lengths: seen.lengths,
                rssi: seen.rssi,
                count: seen.count,
            })
            .collect();
        let (status, finding) = if adverts.is_empty() {
            (Status::Warn, Finding::NoAdverts { seconds })
        } else if adverts.iter().any(|a| a.usable) {
            (Status::Pass, Finding::AdvertsHeard { seconds, adverts })
        } else {
            (Status::Warn, Finding::AdvertsUnusable { seconds, adverts })
        };
        checks.push(Check::new(Area::Bluetooth, status, finding));
    }
    checks
}

/// Looks at Bluetooth as the air setting `air` names it: the loopback test air is said as
/// such; otherwise the adapter, and a scan of `scan` when given. Bounded by `limit`.
pub async fn air_checks(
    air: &crate::phone::Air,
    scan: Option<Duration>,
    limit: Duration,
) -> Vec<Check> {
    let adapter = match air {
        crate::phone::Air::Udp(addr) => {
            return vec![Check::new(
                Area::Bluetooth,
                Status::Pass,
                Finding::TestAir {
                    air: format!("udp://{addr}"),
                },
            )];
        }
        crate::phone::Air::Bluetooth(adapter) => adapter.clone(),
    };
    let bound = limit.saturating_add(scan.unwrap_or_default());
    let survey = tokio::time::timeout(bound, hybrid::io::ble::survey(adapter.as_deref(), scan))
        .await
        .unwrap_or_else(|_| {
            Err(BluetoothProblem::Failed {
                what: "asking the Bluetooth service",
                cause: format!("no answer within {} s", bound.as_secs()),
            })
        });
    bluetooth_checks(survey, scan.map(|s| s.as_secs()))
}

/// Which tunnel service a network check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum TunnelRole {
    /// One of the two assigned services (`cable.ua5v.com`, `cable.auth.com`), which today's
    /// phones name.
    Assigned,
    /// A sample of the hashed domains (`cable.<base32>.{com,org,net,info}`) a phone may name.
    Hashed,
    /// The relay this machine is configured to use.
    Relay,
}

/// A step of reaching a tunnel service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum NetStep {
    /// The name lookup (of the proxy, when there is one).
    Dns,
    /// The TCP connection.
    Tcp,
    /// The proxy's CONNECT.
    Proxy,
    /// TLS and the certificate check.
    Tls,
    /// The WebSocket upgrade with `fido.cable`.
    Upgrade,
}

impl From<Step> for NetStep {
    fn from(step: Step) -> Self {
        match step {
            Step::Dns => Self::Dns,
            Step::Tcp => Self::Tcp,
            Step::Proxy => Self::Proxy,
            Step::Tls => Self::Tls,
            Step::Upgrade => Self::Upgrade,
        }
    }
}

/// How long one step took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepTime {
    /// The step.
    pub step: NetStep,
    /// Its duration in microseconds.
    pub micros: u64,
}

/// The server's certificate as the probe read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateView {
    /// The name it is for.
    pub subject: String,
    /// Its issuer's distinguished name.
    pub issuer: String,
    /// Its issuer's organisation (or common name).
    pub issuer_name: String,
    /// When it expires, in seconds since 1970.
    pub not_after: u64,
    /// How many certificates the server sent.
    pub chain_len: usize,
    /// Whether the chain ends outside the public web's list of CAs.
    pub private_ca: bool,
}

/// What one probe measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeFacts {
    /// The host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The proxy used, if any.
    pub proxy: Option<String>,
    /// The addresses the name resolved to (the proxy's with a proxy).
    pub addresses: Vec<String>,
    /// Each step that finished, with its time.
    pub timings: Vec<StepTime>,
    /// The certificate, when TLS got that far.
    pub certificate: Option<CertificateView>,
    /// The routing ID the service gave (tunnel services give one to phones).
    pub routing_id: Option<String>,
}

/// Why a step failed, by kind, so each face can say what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NetProblem {
    /// The URL cannot be used.
    BadUrl {
        /// Why.
        detail: String,
    },
    /// The name does not resolve.
    NoSuchName {
        /// The resolver's words.
        detail: String,
    },
    /// No TCP connection.
    NoConnection {
        /// The system's words.
        detail: String,
    },
    /// The proxy refused the CONNECT.
    ProxyRefused {
        /// What it was asked for.
        target: String,
        /// Its HTTP status.
        status: u16,
    },
    /// The proxy cannot be reached.
    ProxyUnreachable {
        /// The system's words.
        detail: String,
    },
    /// The proxy setting or the proxy's answer cannot be used.
    ProxyUnusable {
        /// What is wrong.
        detail: String,
    },
    /// The certificate leads to no CA this machine trusts.
    UntrustedCertificate,
    /// The certificate has expired.
    ExpiredCertificate,
    /// The certificate is not valid yet.
    FutureCertificate,
    /// The certificate is for another name.
    CertificateForAnotherName,
    /// TLS cannot be set up on this machine.
    TlsSetup {
        /// What is wrong.
        detail: String,
    },
    /// TLS failed otherwise.
    TlsFailed {
        /// rustls's words.
        detail: String,
    },
    /// The server answered the upgrade with an HTTP status.
    UpgradeRefused {
        /// The status.
        status: u16,
    },
    /// The server upgraded but is no caBLE tunnel service (no `fido.cable`).
    NotATunnelService,
    /// The upgrade broke off.
    UpgradeFailed {
        /// The words it broke off with.
        detail: String,
    },
    /// The step took longer than the limit.
    TimedOut {
        /// The limit, in seconds.
        limit_secs: u64,
    },
}

/// A certificate that expires within this many days is a warning.
pub const EXPIRY_WARN_DAYS: u64 = 14;

/// A clock this far off (seconds, either way) is a warning: TLS and the phone's own checks
/// still work, but it is drifting.
pub const SKEW_WARN_SECS: u64 = 60;

/// A clock this far off (seconds, either way) fails: certificates start to look expired or
/// not yet valid, and sign-in timestamps are wrong.
pub const SKEW_FAIL_SECS: u64 = 600;

/// The hashed domain IDs probed as a sample (the first and the middle of the range).
pub const HASHED_SAMPLE: [u16; 2] = [256, 32_768];

/// One service to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    /// Which service.
    pub role: TunnelRole,
    /// The URL probed: the path a phone opens, with a random tunnel ID.
    pub url: String,
}

/// The services the network checks probe: the two assigned services and [`HASHED_SAMPLE`]
/// (unless `only_relay`), then `relay`. Each URL is the path a phone opens to start a tunnel
/// (`/cable/new/<tunnel ID>`) with a fresh random ID.
pub fn probe_targets(
    relay: Option<&str>,
    only_relay: bool,
    rng: &mut crate::system::SharedRng,
) -> Vec<ProbeTarget> {
    use hybrid::keys::TunnelId;
    use hybrid::tunnel_url::{DomainId, TunnelBase};
    let mut targets = Vec::new();
    let mut add = |role, base: &TunnelBase, domain: DomainId| {
        if let Ok(url) = base.new_tunnel_url(domain, &TunnelId(rng.bytes())) {
            targets.push(ProbeTarget { role, url });
        }
    };
    if !only_relay {
        add(TunnelRole::Assigned, &TunnelBase::Default, DomainId::GOOGLE);
        add(TunnelRole::Assigned, &TunnelBase::Default, DomainId::APPLE);
        for id in HASHED_SAMPLE {
            add(TunnelRole::Hashed, &TunnelBase::Default, DomainId(id));
        }
    }
    if let Some(relay) = relay {
        add(
            TunnelRole::Relay,
            &TunnelBase::Custom(relay.to_owned()),
            DomainId::GOOGLE,
        );
    }
    targets
}

/// Whether `host` is one of the public tunnel services (assigned or hashed), whose certificates
/// come from public CAs.
pub fn is_public_tunnel_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    hybrid::tunnel_url::ASSIGNED_DOMAINS.contains(&host.as_str())
        || (host.starts_with("cable.")
            && host.matches('.').count() == 2
            && [".com", ".org", ".net", ".info"]
                .iter()
                .any(|tld| host.ends_with(tld)))
}

/// Hears each network step as it starts, with the host: the faces' live progress.
pub type NetProgress = Arc<dyn Fn(&str, NetStep) + Send + Sync>;

/// Probes every target at once, each step bounded by `options.step_limit`, and turns what
/// each found into checks, in the targets' order, followed by the clock check (against the
/// relay's `Date` when it answered, else the first service's). `progress` hears each step
/// as it starts, with the host.
pub async fn network_checks(
    targets: Vec<ProbeTarget>,
    tunnel: &TunnelConfig,
    options: &ProbeOptions,
    clock: &crate::system::SharedClock,
    progress: NetProgress,
) -> Vec<Check> {
    let mut running = tokio::task::JoinSet::new();
    for (index, target) in targets.iter().enumerate() {
        let (url, tunnel, options, progress) = (
            target.url.clone(),
            tunnel.clone(),
            options.clone(),
            Arc::clone(&progress),
        );
        running.spawn(async move {
            let probe = hybrid::io::probe::probe(&url, &tunnel, &options, |step| {
                let host = url_host(&url);
                progress(host, step.into());
            })
            .await;
            (index, probe)
        });
    }
    let mut probes: Vec<Option<Probe>> = vec![None; targets.len()];
    while let Some(done) = running.join_next().await {
        if let Ok((index, probe)) = done
            && let Some(slot) = probes.get_mut(index)
        {
            *slot = Some(probe);
        }
    }
    let now = clock.unix_time();
    let mut checks = Vec::new();
    let mut dates: Vec<(TunnelRole, String, SystemTime)> = Vec::new();
    for (target, probe) in targets.iter().zip(probes) {
        let Some(probe) = probe else { continue };
        if let Some(date) = probe.server_date {
            dates.push((target.role, probe.host.clone(), date));
        }
        checks.push(tunnel_check(target.role, &probe, options.step_limit, now));
    }
    let compared = dates
        .iter()
        .find(|(role, ..)| *role == TunnelRole::Relay)
        .or_else(|| dates.first());
    if let Some((_, host, date)) = compared {
        let server = date
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let skew_secs = i64::try_from(server)
            .unwrap_or(i64::MAX)
            .saturating_sub(i64::try_from(now).unwrap_or(i64::MAX));
        let status = match skew_secs.unsigned_abs() {
            off if off >= SKEW_FAIL_SECS => Status::Fail,
            off if off >= SKEW_WARN_SECS => Status::Warn,
            _ => Status::Pass,
        };
        checks.push(Check::new(
            Area::Clock,
            status,
            Finding::ClockSkew {
                host: host.clone(),
                skew_secs,
            },
        ));
    }
    checks
}

/// The host of a `ws://` or `wss://` URL, for progress lines.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    if rest.starts_with('[') {
        return rest.split_inclusive(']').next().unwrap_or(rest);
    }
    rest.split(['/', ':']).next().unwrap_or(rest)
}

fn tunnel_check(role: TunnelRole, probe: &Probe, limit: Duration, now: u64) -> Check {
    let facts = probe_facts(probe);
    let Some(failure) = &probe.failure else {
        let public = is_public_tunnel_host(&probe.host);
        let expires = facts.certificate.as_ref().map(|c| c.not_after);
        return match (&facts.certificate, expires) {
            (Some(cert), _) if public && cert.private_ca => Check::new(
                Area::Network,
                Status::Warn,
                Finding::TunnelInspected { role, probe: facts },
            ),
            (_, Some(not_after)) if not_after.saturating_sub(now) < EXPIRY_WARN_DAYS * 86_400 => {
                Check::new(
                    Area::Network,
                    Status::Warn,
                    Finding::TunnelCertificateExpiring {
                        role,
                        probe: facts,
                        days_left: not_after.saturating_sub(now) / 86_400,
                    },
                )
            }
            _ => Check::new(
                Area::Network,
                Status::Pass,
                Finding::TunnelReachable { role, probe: facts },
            ),
        };
    };
    // A phone may name a hashed domain, but today's phones name the assigned ones: a hashed
    // domain blocked is a warning, anything else a failure.
    let status = if role == TunnelRole::Hashed {
        Status::Warn
    } else {
        Status::Fail
    };
    Check::new(
        Area::Network,
        status,
        Finding::TunnelUnreachable {
            role,
            probe: facts,
            step: failure.step().into(),
            problem: net_problem(failure, limit),
        },
    )
}

fn probe_facts(probe: &Probe) -> ProbeFacts {
    ProbeFacts {
        host: probe.host.clone(),
        port: probe.port,
        proxy: probe.proxy.clone(),
        addresses: probe.addresses.iter().map(ToString::to_string).collect(),
        timings: probe
            .timings
            .iter()
            .map(|(step, took)| StepTime {
                step: (*step).into(),
                micros: u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            })
            .collect(),
        certificate: probe.certificate.as_ref().map(|cert| CertificateView {
            subject: cert.subject.clone(),
            issuer: cert.issuer.clone(),
            issuer_name: cert.issuer_name.clone(),
            not_after: cert
                .not_after
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            chain_len: cert.chain_len,
            private_ca: cert.private_ca,
        }),
        routing_id: probe.routing_id.map(|id| hex::encode_upper(id.0)),
    }
}

fn net_problem(failure: &ProbeFailure, limit: Duration) -> NetProblem {
    match failure {
        ProbeFailure::Url(detail) => NetProblem::BadUrl {
            detail: detail.clone(),
        },
        ProbeFailure::Dns(detail) => NetProblem::NoSuchName {
            detail: detail.clone(),
        },
        ProbeFailure::Tcp(detail) => NetProblem::NoConnection {
            detail: detail.clone(),
        },
        ProbeFailure::Proxy(ProxyProblem::Refused { target, status }) => NetProblem::ProxyRefused {
            target: target.clone(),
            status: *status,
        },
        ProbeFailure::Proxy(ProxyProblem::Unreachable(detail)) => NetProblem::ProxyUnreachable {
            detail: detail.clone(),
        },
        ProbeFailure::Proxy(other) => NetProblem::ProxyUnusable {
            detail: other.to_string(),
        },
        ProbeFailure::Tls(TlsFailure::UnknownIssuer) => NetProblem::UntrustedCertificate,
        ProbeFailure::Tls(TlsFailure::Expired) => NetProblem::ExpiredCertificate,
        ProbeFailure::Tls(TlsFailure::NotYetValid) => NetProblem::FutureCertificate,
        ProbeFailure::Tls(TlsFailure::WrongName) => NetProblem::CertificateForAnotherName,
        ProbeFailure::Tls(TlsFailure::Setup(detail)) => NetProblem::TlsSetup {
            detail: detail.clone(),
        },
        ProbeFailure::Tls(TlsFailure::Other(detail)) => NetProblem::TlsFailed {
            detail: detail.clone(),
        },
        ProbeFailure::Upgrade(UpgradeFailure::Status(status)) => {
            NetProblem::UpgradeRefused { status: *status }
        }
        ProbeFailure::Upgrade(UpgradeFailure::NoSubprotocol) => NetProblem::NotATunnelService,
        ProbeFailure::Upgrade(UpgradeFailure::Other(detail)) => NetProblem::UpgradeFailed {
            detail: detail.clone(),
        },
        ProbeFailure::TimedOut(_) => NetProblem::TimedOut {
            limit_secs: limit.as_secs(),
        },
        other => NetProblem::TlsFailed {
            detail: format!("{other:?}"),
        },
    }
}

/// Where the security key's system parts live (tests point them elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePaths {
    /// The kernel's uhid device.
    pub uhid: PathBuf,
    /// The privileged helper's socket.
    pub helper_socket: PathBuf,
    /// The udev rule `setup-bridge` installs.
    pub udev_rule: PathBuf,
}

impl DevicePaths {
    /// This system's.
    pub fn system() -> Self {
        Self {
            uhid: PathBuf::from("/dev/uhid"),
            helper_socket: PathBuf::from(crate::authenticator::uhid_helper::HELPER_SOCKET),
            udev_rule: Path::new("/").join(crate::bridge_setup::UDEV_RULE_PATH),
        }
    }
}

/// What the machine checks look at.
pub struct MachineSetup {
    /// The profiles' directory.
    pub data_dir: PathBuf,
    /// The keychain.
    pub keychain: Arc<dyn KeyStore>,
    /// The policy as loaded, with the file it came from.
    pub policy: Result<(Policy, Option<PathBuf>), PolicyError>,
    /// The security key's system parts.
    pub devices: DevicePaths,
    /// Profiles this process holds unlocked (a PIN profile is unlocked only in the process
    /// that checked its PIN): the app's own view; empty for the command line.
    pub unlocked_here: Vec<String>,
}

impl MachineSetup {
    /// This machine: the data directory given (or the default one), the OS keychain, the
    /// policy as the app would load it, the system's device paths.
    ///
    /// # Errors
    /// No data directory can be named (no `HOME`).
    pub fn system(data_dir: Option<&Path>) -> Result<Self, crate::profile::Error> {
        let data_dir = match data_dir {
            Some(dir) => dir.to_path_buf(),
            None => crate::profile::default_data_dir()?,
        };
        Ok(Self {
            data_dir,
            keychain: Arc::new(crate::profile::keychain::OsKeychain::new()),
            policy: Policy::load().map(|policy| (policy, Policy::source_path())),
            devices: DevicePaths::system(),
            unlocked_here: Vec::new(),
        })
    }
}

/// Runs the machine's checks, in order: policy, keychain, profiles, security key. Each is
/// bounded by the call it makes (the keychain's D-Bus call has its own timeout).
pub fn machine_checks(setup: &MachineSetup) -> Vec<Check> {
    let mut checks = Vec::new();
    let policy = match &setup.policy {
        Ok((policy, None)) => {
            checks.push(Check::new(
                Area::Policy,
                Status::Pass,
                Finding::PolicyDefaults,
            ));
            policy.clone()
        }
        Ok((policy, Some(path))) => {
            checks.push(Check::new(
                Area::Policy,
                Status::Pass,
                Finding::PolicyLoaded { path: path.clone() },
            ));
            policy.clone()
        }
        Err(error) => {
            checks.push(Check::new(
                Area::Policy,
                Status::Fail,
                Finding::PolicyInvalid {
                    problem: error_chain(error),
                },
            ));
            Policy::default()
        }
    };
    let backend = setup.keychain.backend_name().to_owned();
    let keychain_ok = match setup.keychain.probe() {
        Ok(()) if setup.keychain.is_locked() == Some(true) => {
            checks.push(Check::new(
                Area::Keychain,
                Status::Fail,
                Finding::KeychainLocked { backend },
            ));
            false
        }
        Ok(()) => {
            checks.push(Check::new(
                Area::Keychain,
                Status::Pass,
                Finding::KeychainReady { backend },
            ));
            true
        }
        Err(error) => {
            let detail = match &error {
                KeychainError::Unavailable { detail, .. } if !detail.is_empty() => detail.clone(),
                other => error_chain(other),
            };
            checks.push(Check::new(
                Area::Keychain,
                Status::Fail,
                Finding::KeychainUnavailable { backend, detail },
            ));
            false
        }
    };
    let manager = ProfileManager::new(&setup.data_dir, policy, Arc::clone(&setup.keychain));
    match manager.list() {
        Ok(list) if list.is_empty() => {
            checks.push(Check::new(
                Area::Profiles,
                Status::Warn,
                Finding::NoProfiles,
            ));
        }
        Ok(list) => {
            for mut profile in list {
                if setup.unlocked_here.contains(&profile.name) {
                    profile.state = LockState::Unlocked;
                }
                let status = match profile.state {
                    LockState::KeychainUnavailable => Status::Fail,
                    // A keychain-only profile without its key in a reachable keychain has
                    // lost it (another login's keychain, a reset).
                    LockState::Locked
                        if profile.protection == Protection::Keychain && keychain_ok =>
                    {
                        Status::Fail
                    }
                    _ => Status::Pass,
                };
                checks.push(Check::new(
                    Area::Profiles,
                    status,
                    Finding::Profile {
                        name: profile.name,
                        state: profile.state,
                        protection: profile.protection,
                    },
                ));
            }
        }
        Err(error) => checks.push(Check::new(
            Area::Profiles,
            Status::Fail,
            Finding::ProfilesUnreadable {
                problem: error_chain(&error),
            },
        )),
    }
    checks.extend(security_key_checks(&setup.devices));
    checks
}

fn security_key_checks(paths: &DevicePaths) -> Vec<Check> {
    let mut checks = Vec::new();
    let opens = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&paths.uhid)
        .is_ok();
    if opens {
        checks.push(Check::new(
            Area::SecurityKey,
            Status::Pass,
            Finding::UhidOpen {
                path: paths.uhid.clone(),
            },
        ));
    } else if is_socket(&paths.helper_socket) {
        checks.push(Check::new(
            Area::SecurityKey,
            Status::Pass,
            Finding::UhidHelper {
                socket: paths.helper_socket.clone(),
            },
        ));
    } else {
        checks.push(Check::new(
            Area::SecurityKey,
            Status::Warn,
            Finding::UhidNoAccess {
                device: paths.uhid.exists().then(|| paths.uhid.clone()),
                socket: paths.helper_socket.clone(),
            },
        ));
    }
    let rule = if paths.udev_rule.is_file() {
        Check::new(
            Area::SecurityKey,
            Status::Pass,
            Finding::UdevRule {
                path: paths.udev_rule.clone(),
            },
        )
    } else {
        Check::new(
            Area::SecurityKey,
            Status::Warn,
            Finding::UdevRuleMissing {
                path: paths.udev_rule.clone(),
            },
        )
    };
    checks.push(rule);
    checks
}

fn is_socket(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// An error and its sources, one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The worst status among `checks` (`Pass` for none).
pub fn worst(checks: &[Check]) -> Status {
    checks
        .iter()
        .map(|c| c.status)
        .max()
        .unwrap_or(Status::Pass)
}

/// Every host a phone sign-in may need through a firewall, with its port: the two assigned
/// tunnel services, then every hashed domain a phone may name (domain IDs 256 to 65535,
/// caBLE v2's encoding, derived by the same code the tunnel uses), then the configured relay
/// if it is another host. All are WebSocket over TLS on port 443 unless the relay says
/// otherwise.
pub fn firewall_hosts(relay: Option<&str>) -> Vec<(String, u16)> {
    let mut hosts: Vec<(String, u16)> = hybrid::tunnel_url::ASSIGNED_DOMAINS
        .iter()
        .map(|host| ((*host).to_owned(), 443))
        .collect();
    hosts.extend(
        (256..=u16::MAX)
            .filter_map(|id| hybrid::tunnel_url::decode_domain(id).ok())
            .map(|host| (host, 443)),
    );
    if let Some((host, port)) = relay.and_then(relay_host)
        && !hosts.iter().any(|(h, p)| *h == host && *p == port)
    {
        hosts.push((host, port));
    }
    hosts
}

/// The host and port of a `ws://` or `wss://` relay URL.
fn relay_host(url: &str) -> Option<(String, u16)> {
    let (rest, default_port) = if let Some(rest) = url.strip_prefix("wss://") {
        (rest, 443)
    } else if let Some(rest) = url.strip_prefix("ws://") {
        (rest, 80)
    } else {
        return None;
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = after
            .strip_prefix(':')
            .map_or(Some(default_port), |p| p.parse().ok())?;
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None if !authority.is_empty() => Some((authority.to_owned(), default_port)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::NewProtection;
    use crate::profile::keychain::MemoryKeychain;

    struct Broken;

    impl KeyStore for Broken {
        fn get(&self, _: &str) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, KeychainError> {
            Err(KeychainError::Unavailable {
                backend: "test keychain",
                detail: "no session bus".into(),
                source: keyring::Error::NoStorageAccess(Box::new(std::io::Error::other("no bus"))),
            })
        }
        fn set(&self, account: &str, _: &[u8]) -> Result<(), KeychainError> {
            self.get(account).map(|_| ())
        }
        fn delete(&self, account: &str) -> Result<bool, KeychainError> {
            self.get(account).map(|_| false)
        }
        fn backend_name(&self) -> &'static str {
            "test keychain"
        }
    }

    fn devices(dir: &Path) -> DevicePaths {
        DevicePaths {
            uhid: dir.join("uhid"),
            helper_socket: dir.join("helper.sock"),
            udev_rule: dir.join("70-passbridge.rules"),
        }
    }

    fn fast_policy() -> Policy {
        Policy {
            argon2_memory_kib: 8,
            argon2_iterations: 1,
            ..Policy::default()
        }
    }

    #[test]
    fn a_healthy_machine_passes_and_names_what_it_measured() {
        let dir = tempfile::tempdir().unwrap();
        let keychain: Arc<dyn KeyStore> = Arc::new(MemoryKeychain::new());
        let manager = ProfileManager::new(
            &dir.path().join("data"),
            fast_policy(),
            Arc::clone(&keychain),
        );
        manager.create("Ana", NewProtection::Keychain).unwrap();
        std::fs::write(dir.path().join("uhid"), b"").unwrap();
        std::fs::write(dir.path().join("70-passbridge.rules"), b"").unwrap();
        let checks = machine_checks(&MachineSetup {
            data_dir: dir.path().join("data"),
            keychain,
            policy: Ok((fast_policy(), Some(dir.path().join("policy.toml")))),
            devices: devices(dir.path()),
            unlocked_here: Vec::new(),
        });
        let findings: Vec<&Finding> = checks.iter().map(|c| &c.finding).collect();
        assert!(
            matches!(findings[0], Finding::PolicyLoaded { path } if path.ends_with("policy.toml"))
        );
        assert!(matches!(findings[1], Finding::KeychainReady { .. }));
        assert!(
            matches!(findings[2], Finding::Profile { name, state: LockState::Unlocked, .. } if name == "Ana")
        );
        assert!(matches!(findings[3], Finding::UhidOpen { .. }));
        assert!(matches!(findings[4], Finding::UdevRule { .. }));
        assert_eq!(worst(&checks), Status::Pass, "{checks:#?}");
        let json = serde_json::to_value(&checks[2]).unwrap();
        assert_eq!(json["area"], "profiles");
        assert_eq!(json["status"], "pass");
        assert_eq!(json["finding"], "profile");
        assert_eq!(json["name"], "Ana");
    }

    #[test]
    fn each_fault_has_its_own_finding() {
        let dir = tempfile::tempdir().unwrap();
        let bad_policy = Policy::from_path(&dir.path().join("missing.toml")).unwrap_err();
        let checks = machine_checks(&MachineSetup {
            data_dir: dir.path().join("data"),
            keychain: Arc::new(Broken),
            policy: Err(bad_policy),
            devices: devices(dir.path()),
            unlocked_here: Vec::new(),
        });
        assert_eq!(worst(&checks), Status::Fail);
        assert!(
            matches!(&checks[0], Check { status: Status::Fail, finding: Finding::PolicyInvalid { problem }, .. } if problem.contains("missing.toml")),
            "{checks:#?}"
        );
        assert!(
            matches!(&checks[1], Check { status: Status::Fail, finding: Finding::KeychainUnavailable { detail, .. }, .. } if detail == "no session bus")
        );
        assert!(matches!(
            &checks[2],
            Check {
                status: Status::Warn,
                finding: Finding::NoProfiles,
                ..
            }
        ));
        assert!(matches!(
            &checks[3],
            Check {
                status: Status::Warn,
                finding: Finding::UhidNoAccess { device: None, .. },
                ..
            }
        ));
        assert!(matches!(
            &checks[4],
            Check {
                status: Status::Warn,
                finding: Finding::UdevRuleMissing { .. },
                ..
            }
        ));
    }

    #[test]
    fn a_keychain_profile_whose_key_is_gone_fails_and_the_helper_counts_as_access() {
        let dir = tempfile::tempdir().unwrap();
        let keychain = Arc::new(MemoryKeychain::new());
        let store: Arc<dyn KeyStore> = keychain.clone();
        let manager =
            ProfileManager::new(&dir.path().join("data"), fast_policy(), Arc::clone(&store));
        manager.create("Ana", NewProtection::Keychain).unwrap();
        // Another login's keychain: the entry is not in this one.
        for account in keychain.accounts() {
            store.delete(&account).unwrap();
        }
        let _socket =
            std::os::unix::net::UnixListener::bind(dir.path().join("helper.sock")).unwrap();
        let checks = machine_checks(&MachineSetup {
            data_dir: dir.path().join("data"),
            keychain: store,
            policy: Ok((fast_policy(), None)),
            devices: devices(dir.path()),
            unlocked_here: Vec::new(),
        });
        assert!(matches!(&checks[0].finding, Finding::PolicyDefaults));
        assert!(
            matches!(
                &checks[2],
                Check {
                    status: Status::Fail,
                    finding: Finding::Profile {
                        state: LockState::Locked,
                        ..
                    },
                    ..
                }
            ),
            "{checks:#?}"
        );
        assert!(matches!(
            &checks[3],
            Check {
                status: Status::Pass,
                finding: Finding::UhidHelper { .. },
                ..
            }
        ));
    }

    /// 30 s ahead of the test clock (`ManualClock`'s Unix time 1,700,000,000).
    fn relay_clock_close() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_030)
    }

    /// 15 minutes behind the test clock.
    fn relay_clock_far() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 - 900)
    }

    async fn tls_relay(files: &crate::testing::CaFiles, wall_clock: fn() -> SystemTime) -> u16 {
        let config = hybrid::io::relay::RelayConfig {
            tls: Some(hybrid::io::tls::server_config(&files.cert, &files.key).unwrap()),
            wall_clock,
            ..hybrid::io::relay::RelayConfig::default()
        };
        let relay =
            hybrid::io::relay::Relay::bind((std::net::Ipv4Addr::LOCALHOST, 0).into(), config)
                .await
                .unwrap();
        let port = relay.local_addr().unwrap().port();
        tokio::spawn(relay.run());
        port
    }

    fn tunnel_trusting(files: &crate::testing::CaFiles) -> TunnelConfig {
        TunnelConfig::new(hybrid::io::tls::ClientTls::new(Some(files.ca.clone())))
    }

    fn options(connect_to: Option<u16>) -> ProbeOptions {
        ProbeOptions {
            step_limit: Duration::from_secs(5),
            connect_to: connect_to.map(|port| (std::net::Ipv4Addr::LOCALHOST, port).into()),
        }
    }

    #[tokio::test]
    async fn a_reachable_relay_passes_and_its_date_checks_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        let files = crate::testing::private_ca(dir.path());
        let port = tls_relay(&files, relay_clock_close).await;
        let clock = crate::testing::ManualClock::new();
        let env = crate::testing::env(&clock, 7);
        let mut rng = env.rng.clone();
        let relay = format!("wss://localhost:{port}");
        let targets = probe_targets(Some(&relay), true, &mut rng);
        assert_eq!(targets.len(), 1);
        assert!(targets[0].url.starts_with(&format!("{relay}/cable/new/")));
        let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = Arc::clone(&heard);
        let checks = network_checks(
            targets,
            &tunnel_trusting(&files),
            &options(None),
            &env.clock,
            Arc::new(move |host: &str, step| log.lock().unwrap().push((host.to_owned(), step))),
        )
        .await;
        assert_eq!(worst(&checks), Status::Pass, "{checks:#?}");
        let Finding::TunnelReachable { role, probe } = &checks[0].finding else {
            panic!("{checks:#?}");
        };
        assert_eq!(*role, TunnelRole::Relay);
        assert_eq!(probe.port, port);
        let steps: Vec<NetStep> = probe.timings.iter().map(|t| t.step).collect();
        assert_eq!(
            steps,
            [NetStep::Dns, NetStep::Tcp, NetStep::Tls, NetStep::Upgrade]
        );
        assert_eq!(probe.routing_id.as_deref(), Some("000001"));
        assert!(probe.certificate.as_ref().unwrap().private_ca);
        assert_eq!(
            checks[1].finding,
            Finding::ClockSkew {
                host: "localhost".to_owned(),
                skew_secs: 30
            }
        );
        let heard = heard.lock().unwrap();
        assert_eq!(heard.len(), 4);
        assert!(heard.iter().all(|(host, _)| host == "localhost"));
    }

    #[tokio::test]
    async fn inspection_a_dead_relay_and_a_far_clock_each_get_their_finding() {
        let dir = tempfile::tempdir().unwrap();
        let files = crate::testing::private_ca(dir.path());
        let port = tls_relay(&files, relay_clock_far).await;
        let clock = crate::testing::ManualClock::new();
        let env = crate::testing::env(&clock, 7);
        // The public service's name, answered by a certificate from a private CA this machine
        // was told to trust: what a TLS-inspecting proxy looks like.
        let targets = vec![ProbeTarget {
            role: TunnelRole::Assigned,
            url: "wss://cable.ua5v.com/cable/new/00112233445566778899AABBCCDDEEFF".to_owned(),
        }];
        let checks = network_checks(
            targets,
            &tunnel_trusting(&files),
            &options(Some(port)),
            &env.clock,
            Arc::new(|_: &str, _| {}),
        )
        .await;
        assert!(
            matches!(&checks[0], Check { status: Status::Warn, finding: Finding::TunnelInspected { probe, .. }, .. }
                if probe.certificate.as_ref().unwrap().issuer_name == "Passbridge test CA"),
            "{checks:#?}"
        );
        assert!(matches!(
            &checks[1],
            Check {
                status: Status::Fail,
                finding: Finding::ClockSkew {
                    skew_secs: -900,
                    ..
                },
                ..
            }
        ));

        let closed = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let targets = vec![
            ProbeTarget {
                role: TunnelRole::Relay,
                url: format!("ws://127.0.0.1:{closed}/cable/new/00"),
            },
            ProbeTarget {
                role: TunnelRole::Hashed,
                url: format!("ws://127.0.0.1:{closed}/cable/new/01"),
            },
        ];
        let checks = network_checks(
            targets,
            &TunnelConfig::default(),
            &options(None),
            &env.clock,
            Arc::new(|_: &str, _| {}),
        )
        .await;
        assert_eq!(checks.len(), 2, "no date, no clock check: {checks:#?}");
        assert!(matches!(
            &checks[0],
            Check {
                status: Status::Fail,
                finding: Finding::TunnelUnreachable {
                    role: TunnelRole::Relay,
                    step: NetStep::Tcp,
                    problem: NetProblem::NoConnection { .. },
                    ..
                },
                ..
            }
        ));
        assert_eq!(checks[1].status, Status::Warn, "a hashed domain only warns");
        let json = serde_json::to_value(&checks[0]).unwrap();
        assert_eq!(json["finding"], "tunnel-unreachable");
        assert_eq!(json["step"], "tcp");
        assert_eq!(json["problem"], "no-connection");
    }

    #[test]
    fn the_default_targets_are_the_assigned_services_a_hashed_sample_and_the_relay() {
        let mut rng = crate::testing::seeded_rng(1);
        let targets = probe_targets(Some("wss://relay.example"), false, &mut rng);
        let roles: Vec<TunnelRole> = targets.iter().map(|t| t.role).collect();
        assert_eq!(
            roles,
            [
                TunnelRole::Assigned,
                TunnelRole::Assigned,
                TunnelRole::Hashed,
                TunnelRole::Hashed,
                TunnelRole::Relay
            ]
        );
        assert!(
            targets[0]
                .url
                .starts_with("wss://cable.ua5v.com/cable/new/")
        );
        assert!(
            targets[1]
                .url
                .starts_with("wss://cable.auth.com/cable/new/")
        );
        let hashed = hybrid::tunnel_url::decode_domain(HASHED_SAMPLE[1]).unwrap();
        assert!(targets[3].url.starts_with(&format!("wss://{hashed}/")));
        assert_ne!(targets[0].url, targets[1].url.replace("auth", "ua5v"));
        assert!(is_public_tunnel_host(&hashed));
        assert!(is_public_tunnel_host("CABLE.AUTH.COM."));
        assert!(!is_public_tunnel_host("relay.example"));
        assert!(!is_public_tunnel_host("cable.relay.corp.example.com"));
        assert_eq!(url_host("wss://[::1]:9/x"), "[::1]");
        assert_eq!(
            url_host("wss://cable.auth.com/cable/new/00"),
            "cable.auth.com"
        );
    }

    fn seen(uuid: u16, lengths: &[usize]) -> hybrid::io::ble::AdvertSeen {
        hybrid::io::ble::AdvertSeen {
            device: "4C:11:22:33:44:55".to_owned(),
            uuid,
            lengths: lengths.to_vec(),
            rssi: Some(-61),
            count: 9,
        }
    }

    fn survey(adverts: Vec<hybrid::io::ble::AdvertSeen>) -> Result<BleSurvey, BluetoothProblem> {
        Ok(BleSurvey {
            adapters: vec!["hci0 (usb:v1D6B)".to_owned()],
            adapter: "hci0 (usb:v1D6B)".to_owned(),
            adverts,
        })
    }

    #[test]
    fn bluetooth_faults_and_scans_each_get_their_finding() {
        let off = bluetooth_checks(
            Err(BluetoothProblem::PoweredOff {
                adapter: "hci0".to_owned(),
            }),
            Some(5),
        );
        assert!(matches!(
            &off[..],
            [Check { status: Status::Warn, finding: Finding::BluetoothOff { adapter }, .. }] if adapter == "hci0"
        ));
        let none = bluetooth_checks(Err(BluetoothProblem::NoAdapter(None)), None);
        assert_eq!(
            none[0].finding,
            Finding::NoBluetoothAdapter { wanted: None }
        );
        let denied = bluetooth_checks(Err(BluetoothProblem::PermissionDenied), None);
        assert_eq!(denied[0].status, Status::Fail);

        // Without a scan: only the adapter.
        let ready = bluetooth_checks(survey(vec![]), None);
        assert_eq!(ready.len(), 1);
        assert!(matches!(ready[0].finding, Finding::BluetoothReady { .. }));
        // A scan that heard nothing: nothing reaches this machine.
        let silent = bluetooth_checks(survey(vec![]), Some(10));
        assert_eq!(silent[1].finding, Finding::NoAdverts { seconds: 10 });
        assert_eq!(silent[1].status, Status::Warn);
        // 20 bytes and longer (a CTAP 2.3 suffix) are matched; shorter ones are not caBLE v2.
        let heard = bluetooth_checks(
            survey(vec![seen(0xFFF9, &[20]), seen(0xFDE2, &[26])]),
            Some(10),
        );
        let Finding::AdvertsHeard { adverts, .. } = &heard[1].finding else {
            panic!("{heard:#?}");
        };
        assert!(adverts.iter().all(|a| a.usable), "{adverts:#?}");
        let short = bluetooth_checks(survey(vec![seen(0xFFF9, &[17])]), Some(10));
        assert!(
            matches!(&short[1], Check { status: Status::Warn, finding: Finding::AdvertsUnusable { adverts, .. }, .. } if !adverts[0].usable),
            "{short:#?}"
        );
        let json = serde_json::to_value(&heard[1]).unwrap();
        assert_eq!(json["area"], "bluetooth");
        assert_eq!(json["adverts"][0]["lengths"][0], 20);
    }

    #[tokio::test]
    async fn the_loopback_air_is_said_as_such_without_touching_bluetooth() {
        let air = crate::phone::Air::parse(Some("udp://127.0.0.1:9999")).unwrap();
        let checks = air_checks(&air, Some(Duration::from_secs(30)), Duration::from_secs(1)).await;
        assert_eq!(
            checks,
            [Check::new(
                Area::Bluetooth,
                Status::Pass,
                Finding::TestAir {
                    air: "udp://127.0.0.1:9999".to_owned()
                }
            )]
        );
    }

    #[test]
    fn the_firewall_list_holds_every_domain_a_phone_may_name() {
        let hosts = firewall_hosts(Some("wss://relay.example.net:8443/cable"));
        assert_eq!(hosts[0], ("cable.ua5v.com".to_owned(), 443));
        assert_eq!(hosts[1], ("cable.auth.com".to_owned(), 443));
        // 2 assigned + every ID from 256 to 65535 + the relay.
        assert_eq!(hosts.len(), 2 + 65_280 + 1);
        assert_eq!(
            hosts.last().unwrap(),
            &("relay.example.net".to_owned(), 8443)
        );
        let hashed = hybrid::tunnel_url::decode_domain(266).unwrap();
        assert!(hosts.contains(&(hashed, 443)));
        assert!(hosts[2..65_282].iter().all(|(h, _)| {
            h.starts_with("cable.")
                && [".com", ".org", ".net", ".info"]
                    .iter()
                    .any(|tld| h.ends_with(tld))
        }));
        assert_eq!(
            firewall_hosts(Some("wss://cable.ua5v.com")).len(),
            2 + 65_280
        );
        assert_eq!(
            relay_host("ws://[::1]:9000/x"),
            Some(("::1".to_owned(), 9000))
        );
        assert_eq!(
            relay_host("ws://127.0.0.1"),
            Some(("127.0.0.1".to_owned(), 80))
        );
        assert_eq!(relay_host("http://x"), None);
    }
}
