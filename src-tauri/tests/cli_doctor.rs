//! `passbridge doctor` run as an administrator would: on the real Secret Service with a
//! profile, without any keychain, and with a broken policy file; the JSON report, the exit
//! status and the firewall list.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: failing loudly is the point"
)]

use std::path::Path;
use std::process::Command;

use passbridge_core::profile::keychain::{KeyStore, OsKeychain};

const REQUIRE_ENV: &str = "PASSBRIDGE_REQUIRE_SECRET_SERVICE";
const NO_BUS: (&str, &str) = ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");

fn doctor(data: &Path, policy: &Path, args: &[&str], envs: &[(&str, &str)]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_passbridge"));
    command
        .arg("doctor")
        .args(args)
        .env("PASSBRIDGE_DATA_DIR", data)
        .env("PASSBRIDGE_POLICY", policy)
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
    let (code, out) = doctor(&dir.path().join("data"), &policy, &["--json"], &[NO_BUS]);
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
    let (code, text) = doctor(&dir.path().join("data"), &policy, &[], &[NO_BUS]);
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
