//! `doctor`: what an administrator checks when passkeys or "use a phone" fail on one machine.
//! This module runs the machine's checks (the policy, the keychain, each profile, what the
//! security key needs) and lists every host a phone sign-in may need, for a firewall. It
//! returns typed findings; each face says them in its own words.
//!
//! Not here yet: the Bluetooth and network checks and the cross-device test.

use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// The administrator's policy file.
    Policy,
    /// The OS keychain.
    Keychain,
    /// One profile, or the list of them.
    Profiles,
    /// What the USB security key (the uhid bridge) needs.
    SecurityKey,
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
