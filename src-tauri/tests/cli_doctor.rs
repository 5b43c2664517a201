//! `passbridge doctor` run as an administrator would: on the real Secret Service with a
//! profile, without any keychain, and with a broken policy file; the JSON report, the exit
//! status and the firewall list; the network checks against a real `passbridge relay` on
//! loopback (TLS from a private CA, trusted or not) and a port where nothing listens.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: failing loudly is the point"
)]

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use passbridge_core::profile::keychain::{KeyStore, OsKeychain};
use passbridge_core::testing::{CaFiles, private_ca};

const REQUIRE_ENV: &str = "PASSBRIDGE_REQUIRE_SECRET_SERVICE";
const NO_BUS: (&str, &str) = ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");

fn doctor(data: &Path, policy: &Path, args: &[&str], envs: &[(&str, &str)]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_passbridge"));
    command
        .arg("doctor")
        .args(args)
        .env("PASSBRIDGE_DATA_DIR", data)
        .env("PASSBRIDGE_POLICY", policy)
        .env_remove("PASSBRIDGE_RELAY")
        .env_remove("PASSBRIDGE_CA_FILE")
        .env("RUST_LOG", "warn");
    for (key, value) in envs {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

fn finding<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["finding"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report:#}"))
}

#[test]
fn doctor_names_a_missing_keychain_and_a_broken_policy_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "min_pin_length = \"six\"\n").unwrap();
    let (code, out) = doctor(
        &dir.path().join("data"),
        &policy,
        &["--json", "--offline", "--no-bluetooth"],
        &[NO_BUS],
    );
    assert_eq!(code, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["status"], "fail");
    let bad = finding(&report, "policy-invalid");
    assert_eq!(bad["status"], "fail");
    assert!(
        bad["problem"].as_str().unwrap().contains("policy.toml"),
        "{bad}"
    );
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("will not start until the file is fixed")
    );
    let keychain = finding(&report, "keychain-unavailable");
    assert!(
        keychain["detail"].as_str().unwrap().contains("nonexistent"),
        "{keychain}"
    );
    assert!(
        keychain["message"]
            .as_str()
            .unwrap()
            .contains("run doctor again")
    );
    assert_eq!(finding(&report, "no-profiles")["status"], "warn");

    // The text says the same, a line per check, and counts.
    let (code, text) = doctor(
        &dir.path().join("data"),
        &policy,
        &["--offline", "--no-bluetooth"],
        &[NO_BUS],
    );
    assert_eq!(code, 1);
    assert!(
        text.lines().any(|l| l.starts_with("FAIL  keychain ")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("FAIL  policy ")),
        "{text}"
    );
    assert!(text.contains("failed"), "{text}");
}

#[test]
fn doctor_passes_a_ready_profile_and_writes_the_firewall_list() {
    if let Err(error) = OsKeychain::new().probe() {
        assert!(
            std::env::var_os(REQUIRE_ENV).is_none_or(|v| v != "1"),
            "{REQUIRE_ENV}=1 but the Secret Service is unreachable: {error}"
        );
        eprintln!("skipping: {error}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "").unwrap();
    let data = dir.path().join("data");
    let created = Command::new(env!("CARGO_BIN_EXE_passbridge"))
        .args(["profile", "create", "Ana"])
        .env("PASSBRIDGE_DATA_DIR", &data)
        .env("PASSBRIDGE_POLICY", &policy)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let list = dir.path().join("firewall.txt");
    let (code, out) = doctor(
        &data,
        &policy,
        &[
            "--json",
            "--offline",
            "--no-bluetooth",
            "--firewall-list",
            list.to_str().unwrap(),
            "--relay",
            "wss://relay.example.org:8443",
        ],
        &[],
    );
    // The security key's parts are missing on a build machine: a warning, not a failure.
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_ne!(report["status"], "fail");
    assert_eq!(finding(&report, "policy-loaded")["status"], "pass");
    assert_eq!(finding(&report, "keychain-ready")["status"], "pass");
    let ana = finding(&report, "profile");
    assert_eq!(
        (ana["name"].as_str(), ana["state"].as_str()),
        (Some("Ana"), Some("unlocked"))
    );
    let hosts: Vec<String> = std::fs::read_to_string(&list)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert_eq!(hosts.len(), 2 + 65_280 + 1);
    assert_eq!(hosts[0], "cable.ua5v.com 443");
    assert_eq!(hosts.last().unwrap(), "relay.example.org 8443");
}

/// A `passbridge relay` on a free loopback port, serving TLS with `files`; killed on drop.
struct TlsRelay {
    child: Child,
    url: String,
}

impl TlsRelay {
    fn start(files: &CaFiles) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_passbridge"))
            .args(["relay", "--listen", "127.0.0.1:0", "--tls-cert"])
            .arg(&files.cert)
            .arg("--tls-key")
            .arg(&files.key)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("wss://"))
            .unwrap_or_else(|| panic!("relay did not start: {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = out.read_to_string(&mut sink);
        });
        Self { child, url }
    }
}

impl Drop for TlsRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn network_check(report: &serde_json::Value) -> &serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["area"] == "network")
        .unwrap_or_else(|| panic!("no network check in {report:#}"))
}

#[test]
fn doctor_checks_a_tls_relay_step_by_step_and_names_an_untrusted_ca() {
    let dir = tempfile::tempdir().unwrap();
    let files = private_ca(dir.path());
    let relay = TlsRelay::start(&files);
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "").unwrap();
    let data = dir.path().join("data");
    let args = [
        "--json",
        "--relay",
        relay.url.as_str(),
        "--only-relay",
        "--no-bluetooth",
    ];

    // Trusted through PASSBRIDGE_CA_FILE: every step passes, and the relay's Date checks the
    // clock (both clocks are this machine's).
    let ca = files.ca.to_str().unwrap();
    let (_, out) = doctor(&data, &policy, &args, &[("PASSBRIDGE_CA_FILE", ca)]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let check = network_check(&report);
    assert_eq!(check["finding"], "tunnel-reachable", "{check:#}");
    assert_eq!(check["status"], "pass");
    let steps: Vec<&str> = check["probe"]["timings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["dns", "tcp", "tls", "upgrade"]);
    assert_eq!(
        check["probe"]["certificate"]["issuer_name"],
        "Passbridge test CA"
    );
    let message = check["message"].as_str().unwrap();
    assert!(message.starts_with("relay 127.0.0.1:"), "{message}");
    assert!(message.contains("TLS "), "{message}");
    let clock = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["area"] == "clock")
        .unwrap_or_else(|| panic!("no clock check: {report:#}"));
    assert_eq!(clock["status"], "pass", "{clock:#}");
    assert!(clock["skew_secs"].as_i64().unwrap().abs() <= 2, "{clock:#}");

    // Not trusted: TLS fails, the issuer is named, and the fix is the CA file.
    let (code, out) = doctor(&data, &policy, &args, &[]);
    assert_eq!(code, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let check = network_check(&report);
    assert_eq!(check["finding"], "tunnel-unreachable", "{check:#}");
    assert_eq!(
        (check["step"].as_str(), check["problem"].as_str()),
        (Some("tls"), Some("untrusted-certificate"))
    );
    let message = check["message"].as_str().unwrap();
    assert!(
        message.contains("TLS failed") && message.contains("\"Passbridge test CA\""),
        "{message}"
    );
    assert!(message.contains("PASSBRIDGE_CA_FILE"), "{message}");
}

#[test]
fn doctor_names_a_relay_that_refuses_connections_as_the_failing_step() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let relay = format!("ws://127.0.0.1:{port}");
    let (code, text) = doctor(
        &dir.path().join("data"),
        &policy,
        &[
            "--relay",
            &relay,
            "--only-relay",
            "--timeout",
            "5",
            "--air",
            "udp://127.0.0.1:9",
        ],
        &[],
    );
    assert_eq!(code, 1, "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("FAIL  network "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains(&format!(
            "relay 127.0.0.1:{port}: connection failed: nothing answers"
        )),
        "{line}"
    );
    assert!(line.contains("check that the relay runs"), "{line}");
    // The radio first: a loopback test air is said as such, no Bluetooth is touched.
    assert!(
        text.lines().next().is_some_and(
            |l| l.starts_with("PASS  bluetooth     phones are looked for on udp://127.0.0.1:9")
        ),
        "{text}"
    );
}

/// A keychain that answers but is locked (the Login keyring after a screen lock, or a login
/// without the keyring's password): doctor names it as locked, with what to do, instead of
/// calling it ready, and the profile kept in it fails. In a D-Bus session and gnome-keyring of
/// its own, since locking the shared test keyring would lock it for every other test.
#[test]
fn doctor_names_a_locked_keychain() {
    let tools = ["dbus-run-session", "gnome-keyring-daemon", "gdbus"];
    if let Some(missing) = tools.iter().find(|tool| {
        !Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }) {
        assert!(
            std::env::var_os(REQUIRE_ENV).is_none_or(|v| v != "1"),
            "{REQUIRE_ENV}=1 but {missing} is missing"
        );
        eprintln!("skipping: no {missing}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "").unwrap();
    let script = r#"
set -e
printf "passbridge-test" | gnome-keyring-daemon --foreground --components=secrets --unlock >/dev/null 2>&1 &
for _ in $(seq 100); do
  gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.ListNames | grep -q org.freedesktop.secrets && break
  sleep 0.1
done
"$PASSBRIDGE" profile create Ana >/dev/null
gdbus call --session --dest org.freedesktop.secrets --object-path /org/freedesktop/secrets \
  --method org.freedesktop.Secret.Service.Lock "['/org/freedesktop/secrets/aliases/default']" >/dev/null
"$PASSBRIDGE" doctor --json --offline --no-bluetooth || true
"#;
    let output = Command::new("timeout")
        .args(["60", "dbus-run-session", "--", "sh", "-c", script])
        .env("PASSBRIDGE", env!("CARGO_BIN_EXE_passbridge"))
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("share"))
        .env("PASSBRIDGE_DATA_DIR", dir.path().join("data"))
        .env("PASSBRIDGE_POLICY", &policy)
        .env("RUST_LOG", "warn")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{e}: {out}\n{}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(report["status"], "fail");
    let locked = finding(&report, "keychain-locked");
    assert_eq!(locked["status"], "fail", "{locked}");
    assert!(
        locked["message"].as_str().unwrap().contains("is locked"),
        "{locked}"
    );
    let ana = finding(&report, "profile");
    assert_eq!(ana["state"], "keychain-unavailable", "{ana}");
}
