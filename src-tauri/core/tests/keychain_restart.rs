//! A long-running Passbridge outlives its keychain daemon: gnome-keyring can crash, and D-Bus
//! starts it again on the next call. The process must keep reading and writing its vault keys
//! without a restart of its own.
//!
//! This test stops the Secret Service daemon, so it runs only where that is allowed:
//! `./dev test` runs `cargo test` on a private bus whose service file starts gnome-keyring
//! unlocked again, and sets `PASSBRIDGE_KEYCHAIN_MAY_RESTART=1`. Anywhere else it is skipped,
//! and it has a binary of its own so that no other test's calls share its bus moments.
#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "tests: failing loudly is the point, and real time bounds the wait for the daemon"
)]

use std::time::{Duration, Instant};

use passbridge_core::profile::keychain::{KeyStore, OsKeychain};

const MAY_RESTART_ENV: &str = "PASSBRIDGE_KEYCHAIN_MAY_RESTART";
const SECRETS: &str = "org.freedesktop.secrets";

fn bus() -> zbus::blocking::fdo::DBusProxy<'static> {
    let connection = zbus::blocking::Connection::session().unwrap();
    zbus::blocking::fdo::DBusProxy::new(&connection).unwrap()
}

/// The process that owns the Secret Service name, or `None` while nobody does.
fn daemon(bus: &zbus::blocking::fdo::DBusProxy<'_>) -> Option<u32> {
    let name = zbus::names::BusName::try_from(SECRETS).unwrap();
    bus.get_connection_unix_process_id(name).ok()
}

#[test]
fn vault_keys_are_read_and_written_after_the_keychain_daemon_restarts() {
    if std::env::var_os(MAY_RESTART_ENV).is_none_or(|v| v != "1") {
        eprintln!("skipping: set {MAY_RESTART_ENV}=1 on a bus where the keychain may be stopped");
        return;
    }
    let keychain = OsKeychain::with_service(&format!("passbridge-restart-{}", std::process::id()));
    keychain.set("before", b"written before").unwrap();
    let bus = bus();

    for round in 0..2 {
        let old = daemon(&bus).expect("the Secret Service daemon runs");
        // SIGABRT, the way gnome-keyring's own crashes end it.
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(i32::try_from(old).unwrap()).unwrap(),
            rustix::process::Signal::ABORT,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while daemon(&bus) == Some(old) {
            assert!(
                Instant::now() < deadline,
                "round {round}: the daemon did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }

        // The first call after the crash reaches a new daemon through a new session.
        let value = keychain
            .get("before")
            .unwrap()
            .expect("the entry survived the restart");
        assert_eq!(value.as_slice(), b"written before");
        let new = daemon(&bus).expect("D-Bus started the daemon again");
        assert_ne!(new, old, "round {round}: a different process answers");
        keychain
            .set("after", format!("round {round}").as_bytes())
            .unwrap();
        assert_eq!(
            keychain.get("after").unwrap().unwrap().as_slice(),
            format!("round {round}").as_bytes()
        );
    }
    assert!(keychain.delete("before").unwrap());
    assert!(keychain.delete("after").unwrap());
    assert_eq!(keychain.get("before").unwrap(), None);
}
