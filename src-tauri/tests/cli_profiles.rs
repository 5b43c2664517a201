//! The command line's side of profiles, run as a user would: the keychain-unavailable path
//! (refused by default, the passphrase-only fallback only where policy allows it) and a whole
//! profile lifecycle on the real Secret Service, with the words the commands print.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: failing loudly is the point"
)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use ctap::platform::CredentialStore;
use passbridge_core::profile::ProfileManager;
use passbridge_core::profile::keychain::{KeyStore, OsKeychain};
use passbridge_core::testing::{cheap_policy, credential};

const REQUIRE_ENV: &str = "PASSBRIDGE_REQUIRE_SECRET_SERVICE";

/// Whether the Secret Service is reachable; fails when required, else `false` with a reason.
fn secret_service(test: &str) -> bool {
    match OsKeychain::new().probe() {
        Ok(()) => true,
        Err(error) => {
            if std::env::var_os(REQUIRE_ENV).is_some_and(|v| v == "1") {
                panic!("{test}: {REQUIRE_ENV}=1 but the Secret Service is unreachable: {error}");
            }
            eprintln!("{test}: skipping: {error}");
            false
        }
    }
}

fn cli(
    data_dir: &Path,
    policy: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_passbridge"));
    command
        .args(args)
        .env("PASSBRIDGE_DATA_DIR", data_dir)
        .env("PASSBRIDGE_POLICY", policy)
        .env_remove("PASSBRIDGE_PIN")
        .env("RUST_LOG", "warn");
    for (key, value) in envs {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const NO_BUS: (&str, &str) = ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent");

#[test]
fn cli_without_keychain_refuses_by_default_and_falls_back_only_when_policy_allows() {
    let dir = tempfile::tempdir().unwrap();
    let strict = dir.path().join("strict.toml");
    std::fs::write(&strict, "").unwrap();
    let lenient = dir.path().join("lenient.toml");
    std::fs::write(
        &lenient,
        "allow_passphrase_only = true\nargon2_memory_kib = 8\nargon2_iterations = 1\n",
    )
    .unwrap();
    let data = dir.path().join("data");

    let (ok, _, err) = cli(&data, &strict, &["profile", "create", "Alice"], &[NO_BUS]);
    assert!(!ok);
    eprintln!("strict policy, no keychain:\n{err}");
    assert!(err.contains("cannot reach the OS keychain"), "{err}");
    assert!(err.contains("disabled by policy"), "{err}");
    let (ok, _, err) = cli(
        &data,
        &strict,
        &["profile", "create", "Alice", "--passphrase-only"],
        &[NO_BUS, ("PASSBRIDGE_PIN", "a passphrase")],
    );
    assert!(!ok && err.contains("disabled by policy"), "{err}");

    let (ok, _, err) = cli(&data, &lenient, &["profile", "create", "Alice"], &[NO_BUS]);
    assert!(!ok && err.contains("--passphrase-only"), "{err}");
    let (ok, out, err) = cli(
        &data,
        &lenient,
        &["profile", "create", "Alice", "--passphrase-only"],
        &[NO_BUS, ("PASSBRIDGE_PIN", "a passphrase")],
    );
    assert!(ok, "{err}");
    assert!(out.contains("passphrase"), "{out}");
    let (ok, out, _) = cli(&data, &lenient, &["profile", "list"], &[NO_BUS]);
    assert!(ok);
    eprintln!("{out}");
    assert!(out.contains("Alice") && out.contains("locked") && out.contains("passphrase-only"));
    let (ok, _, err) = cli(
        &data,
        &lenient,
        &["passkeys", "list", "--profile", "Alice"],
        &[NO_BUS],
    );
    assert!(!ok && err.contains("locked"), "{err}");
    let (ok, out, err) = cli(
        &data,
        &lenient,
        &["passkeys", "list", "--profile", "Alice", "--pin-stdin"],
        &[NO_BUS],
    );
    // --pin-stdin with empty stdin gives an empty passphrase: wrong.
    assert!(!ok, "{out}{err}");
    let (ok, out, err) = cli(
        &data,
        &lenient,
        &["passkeys", "list", "--profile", "Alice"],
        &[NO_BUS, ("PASSBRIDGE_PIN", "a passphrase")],
    );
    assert!(ok, "{err}");
    assert!(out.contains("no passkeys"), "{out}");
    let (ok, out, err) = cli(
        &data,
        &lenient,
        &["profile", "delete", "Alice", "--yes"],
        &[NO_BUS],
    );
    assert!(ok, "{err}");
    assert!(out.contains("crypto-shredded"), "{out}");
}

#[test]
fn cli_profile_lifecycle_on_the_secret_service() {
    if !secret_service("cli_profile_lifecycle") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "argon2_memory_kib = 8\nargon2_iterations = 1\n").unwrap();
    let data = dir.path().join("data");
    let pin = ("PASSBRIDGE_PIN", "86428642");
    assert!(cli(&data, &policy, &["profile", "create", "Kim"], &[]).0);
    let (ok, _, err) = cli(
        &data,
        &policy,
        &["profile", "create", "Lee", "--pin"],
        &[pin],
    );
    assert!(ok, "{err}");
    let (_, out, _) = cli(&data, &policy, &["profile", "list"], &[]);
    eprintln!("{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("NAME"));
    assert!(
        lines[1].starts_with("Kim") && lines[1].contains("unlocked") && lines[1].ends_with('0')
    );
    assert!(
        lines[2].starts_with("Lee")
            && lines[2].contains("locked")
            && lines[2].contains("keychain+PIN")
    );
    assert!(lines[2].ends_with('-'));
    let (ok, out, err) = cli(&data, &policy, &["profile", "unlock", "Lee"], &[pin]);
    assert!(ok, "{err}");
    assert!(out.contains("PIN for 'Lee' is correct"), "{out}");
    let (ok, _, err) = cli(
        &data,
        &policy,
        &["profile", "unlock", "Lee"],
        &[("PASSBRIDGE_PIN", "11111111")],
    );
    assert!(!ok && err.contains("wrong"), "{err}");
    // A command line never leaves the profile unlocked for the next one (or a co-user).
    let (_, out, _) = cli(&data, &policy, &["profile", "list"], &[]);
    let lee = out.lines().nth(2).unwrap();
    assert!(lee.contains("locked") && !lee.contains("unlocked"), "{out}");
    let (ok, _, err) = cli(
        &data,
        &policy,
        &["passkeys", "list", "--profile", "Lee"],
        &[],
    );
    assert!(
        !ok && err.contains("locked") && err.contains("PASSBRIDGE_PIN"),
        "{err}"
    );
    let (ok, out, err) = cli(
        &data,
        &policy,
        &["passkeys", "list", "--profile", "Lee"],
        &[pin],
    );
    assert!(ok && out.contains("no passkeys"), "{out}{err}");
    let (ok, out, err) = cli(&data, &policy, &["profile", "lock", "Lee"], &[]);
    assert!(ok && out.contains("is locked"), "{out}{err}");
    // Passkeys are created by the authenticator; put two in through the library.
    let manager = ProfileManager::new(&data, cheap_policy(), Arc::new(OsKeychain::new()));
    let vault = manager.open("Kim", None).unwrap();
    let mut store = &vault;
    store
        .insert(credential(0xab, "github.com", "kim@example.com"))
        .unwrap();
    store
        .insert(credential(0xcd, "example.org", "kimp"))
        .unwrap();
    store.bump_sign_count(&[0xab; 16]).unwrap();
    drop(vault);
    let (ok, out, err) = cli(
        &data,
        &policy,
        &["passkeys", "list", "--profile", "Kim"],
        &[],
    );
    eprintln!("{out}");
    assert!(ok, "{err}");
    assert!(out.contains("github.com") && out.contains("kim@example.com") && out.contains("abab"));
    let args = [
        "passkeys",
        "rename",
        "--profile",
        "Kim",
        "abab",
        "--display-name",
        "Work Kim",
    ];
    assert!(cli(&data, &policy, &args, &[]).0);
    assert!(
        cli(
            &data,
            &policy,
            &["passkeys", "delete", "--profile", "Kim", "cdcd"],
            &[]
        )
        .0
    );
    let (_, out, _) = cli(
        &data,
        &policy,
        &["passkeys", "list", "--profile", "Kim"],
        &[],
    );
    assert!(
        out.contains("Work Kim") && !out.contains("example.org"),
        "{out}"
    );
    let (_, out, _) = cli(&data, &policy, &["profile", "list"], &[]);
    assert!(out.lines().nth(1).unwrap().ends_with('1'), "{out}");
    assert!(cli(&data, &policy, &["profile", "rename", "Kim", "Kim P"], &[]).0);
    let (ok, _, err) = cli(&data, &policy, &["profile", "delete", "Kim P"], &[]);
    assert!(!ok && err.contains("--yes"), "{err}");
    for name in ["Kim P", "Lee"] {
        let (ok, out, err) = cli(&data, &policy, &["profile", "delete", name, "--yes"], &[]);
        assert!(ok, "{err}");
        assert!(out.contains("destroyed in the OS keychain"), "{out}");
    }
}

/// What a person at the command line sees when PINs are guessed and when an old copy of the
/// profile's files is put back: the attempts left, the wait, the refusal and its remedy.
#[test]
fn cli_counts_wrong_pins_and_refuses_restored_files() {
    if !secret_service("cli_counts_wrong_pins") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "argon2_memory_kib = 8\nargon2_iterations = 1\n").unwrap();
    let data = dir.path().join("data");
    let pin = ("PASSBRIDGE_PIN", "13572468");
    let wrong = ("PASSBRIDGE_PIN", "00000000");
    assert!(
        cli(
            &data,
            &policy,
            &["profile", "create", "Mo", "--pin"],
            &[pin]
        )
        .0
    );
    let unlock = |with| cli(&data, &policy, &["profile", "unlock", "Mo"], &[with]);
    for left in [9, 8, 7, 6] {
        let (ok, _, err) = unlock(wrong);
        assert!(
            !ok && err.contains(&format!("{left} attempts left")),
            "{err}"
        );
    }
    // The fifth attempt waits, even with the right PIN, and says how the waiting works. The
    // wait is counted from the fourth failure, so on a busy machine a second may have passed.
    let (ok, _, err) = unlock(pin);
    let wait: Option<u64> = err
        .split("try again in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|secs| secs.parse().ok());
    assert!(
        !ok && wait.is_some_and(|secs| (25..=30).contains(&secs)),
        "{err}"
    );
    assert!(err.contains("hint:") && err.contains("doubling"), "{err}");

    // An old copy of the profile's files put back is refused with what to do.
    let create = cli(&data, &policy, &["profile", "create", "Ny"], &[]);
    assert!(create.0, "{}", create.2);
    let profile = std::fs::read_dir(data.join("profiles"))
        .unwrap()
        .map(|item| item.unwrap().path())
        .find(|path| {
            std::fs::read_to_string(path.join("profile.json"))
                .is_ok_and(|meta| meta.contains("\"Ny\""))
        })
        .unwrap();
    let manager = ProfileManager::new(&data, cheap_policy(), Arc::new(OsKeychain::new()));
    {
        let mut vault = &manager.open("Ny", None).unwrap();
        vault.insert(credential(0x11, "a.example", "ny")).unwrap();
    }
    let record = std::fs::read_dir(profile.join("records"))
        .unwrap()
        .map(|item| item.unwrap().path())
        .next()
        .unwrap();
    let old = std::fs::read(&record).unwrap();
    {
        let mut vault = &manager.open("Ny", None).unwrap();
        vault.bump_sign_count(&[0x11; 16]).unwrap();
    }
    std::fs::write(&record, old).unwrap();
    let (ok, _, err) = cli(
        &data,
        &policy,
        &["passkeys", "list", "--profile", "Ny"],
        &[],
    );
    assert!(
        !ok && err.contains("not the ones Passbridge last saved")
            && err.contains("1 record(s) in an older or other version")
            && err.contains("accept-files"),
        "{err}"
    );
    let (ok, out, err) = cli(&data, &policy, &["profile", "accept-files", "Ny"], &[]);
    assert!(ok && out.contains("1 passkeys"), "{out}{err}");
    let (ok, out, err) = cli(
        &data,
        &policy,
        &["passkeys", "list", "--profile", "Ny"],
        &[],
    );
    assert!(ok && out.contains("a.example"), "{out}{err}");
    assert!(cli(&data, &policy, &["profile", "delete", "Mo", "--yes"], &[]).0);
    assert!(cli(&data, &policy, &["profile", "delete", "Ny", "--yes"], &[]).0);
}
