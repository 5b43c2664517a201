//! `passbridge hybrid test` run as an administrator would: with the virtual phone on
//! loopback (its own relay and air), the JSON verdict, the exit status and the report files;
//! and against a relay where nothing listens, where the test names the phase it never
//! reached. `passbridge doctor --report` writes the same report with the checks only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: failing loudly is the point"
)]

use std::path::Path;
use std::process::Command;

fn passbridge(data: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_passbridge"))
        .args(args)
        .env("PASSBRIDGE_DATA_DIR", data)
        .env("PASSBRIDGE_POLICY", data.join("no-policy.toml"))
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .env_remove("PASSBRIDGE_RELAY")
        .env_remove("PASSBRIDGE_CA_FILE")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_virtual_phone_passes_and_the_report_holds_the_timeline_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let report_dir = dir.path().join("report");
    let (code, out, err) = passbridge(
        dir.path(),
        &[
            "hybrid",
            "test",
            "--virtual-phone",
            "--timeout",
            "20",
            "--json",
            "--report",
            report_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let result: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["passed"], true, "{result:#}");
    assert_eq!(result["virtual_phone"], true);
    let ceremonies = result["ceremonies"].as_array().unwrap();
    assert_eq!(ceremonies.len(), 2);
    assert_eq!(ceremonies[1]["kind"], "sign-in");
    let phases: Vec<&str> = ceremonies[0]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        [
            "qr-shown",
            "advert-heard",
            "advert-decrypted",
            "tunnel-connected",
            "handshake-done",
            "post-handshake",
            "request-sent",
            "phone-answered",
            "verified"
        ]
    );
    assert_eq!(
        ceremonies[0]["phases"][4]["chromium"]["status"],
        "HANDSHAKE_COMPLETE"
    );
    assert!(
        result["attestation"]["summary"]
            .as_str()
            .unwrap()
            .contains("self-attestation")
    );
    assert!(!result["phone_info"]["aaguid"].as_str().unwrap().is_empty());
    // Each phase went to stderr as it was reached.
    assert!(err.contains("handshake done"), "{err}");
    assert!(err.contains("report written"), "{err}");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["report"], "passbridge-diagnostics");
    assert_eq!(
        json["status"], "fail",
        "no keychain here: the machine's checks fail"
    );
    assert_eq!(json["cross_device_test"]["passed"], true);
    assert!(
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["area"] == "keychain")
    );
    let html = std::fs::read_to_string(report_dir.join("report.html")).unwrap();
    assert!(html.contains("<svg class=\"timeline\""));
    assert!(html.contains("Cross-device test"));
    // Nothing secret: no QR code text (its secret), no credential IDs, no keys.
    for text in [
        &html,
        &std::fs::read_to_string(report_dir.join("report.json")).unwrap(),
    ] {
        assert!(
            !text.contains("FIDO:/"),
            "the QR code's text is in the report"
        );
        assert!(
            !text.contains("credential_id"),
            "a credential ID is in the report"
        );
        assert!(
            !text.contains("public_key"),
            "a public key is in the report"
        );
    }
}

#[test]
fn a_dead_relay_is_named_with_the_phase_never_reached() {
    let dir = tempfile::tempdir().unwrap();
    // A port where nothing listens: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let relay = format!("ws://127.0.0.1:{port}");
    let (code, out, err) = passbridge(
        dir.path(),
        &[
            "hybrid",
            "test",
            "--virtual-phone",
            "--relay",
            &relay,
            "--timeout",
            "2",
        ],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    // The phone cannot open its tunnel, so it never advertises: the desktop hears nothing.
    assert!(
        out.contains("the registration stopped before \"first advert heard\""),
        "{out}\n{err}"
    );
    assert!(out.contains("NO_BLUETOOTH_PERMISSION"), "{out}");
}

#[test]
fn doctor_writes_the_report_and_the_firewall_list_into_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    let report_dir = dir.path().join("out");
    let (code, out, err) = passbridge(
        dir.path(),
        &[
            "doctor",
            "--offline",
            "--no-bluetooth",
            "--report",
            report_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "no keychain here\n{out}\n{err}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    assert!(json["cross_device_test"].is_null());
    assert!(!json["machine"]["arch"].as_str().unwrap().is_empty());
    let html = std::fs::read_to_string(report_dir.join("report.html")).unwrap();
    assert!(html.contains("FAIL"), "{html}");
    assert!(!html.contains("<svg"), "no test, no timeline");
    let firewall = std::fs::read_to_string(report_dir.join("firewall.txt")).unwrap();
    assert!(firewall.contains("cable.ua5v.com 443"), "{firewall}");
}
