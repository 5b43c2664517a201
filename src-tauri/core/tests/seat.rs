//! The seat check against a logind: python-dbusmock's logind template on a private bus stands
//! in for the real one (which needs a booted systemd). Two users' sessions on one seat, a
//! switch from the first to the second and back: the first user's key answers only while
//! its session is the active one.
//!
//! Needs `dbus-daemon` and python3-dbusmock (`./dev test` installs both and requires them,
//! through `PASSBRIDGE_REQUIRE_SECRET_SERVICE=1`); elsewhere the test says why it did not run.
#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: failing loudly is the point"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ctap::testing::ManualClock;
use passbridge_core::authenticator::seat::{Logind, SeatGate};

/// A process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A python that has dbusmock, if any.
fn python_with_dbusmock() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import dbusmock"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

/// A private bus and a mock logind on it; the bus address.
fn mock_logind(python: &str) -> (Killed, Killed, String) {
    let mut daemon = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("dbus-daemon");
    let mut line = String::new();
    BufReader::new(daemon.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line.trim().to_owned();
    let daemon = Killed(daemon);
    let mock = Killed(
        Command::new(python)
            .args(["-m", "dbusmock", "--system", "--template", "logind"])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 -m dbusmock"),
    );
    (daemon, mock, address)
}

fn bus(address: &str) -> zbus::blocking::Connection {
    zbus::blocking::connection::Builder::address(address)
        .unwrap()
        .build()
        .unwrap()
}

fn call<B>(bus: &zbus::blocking::Connection, path: &str, iface: &str, method: &str, body: &B)
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    bus.call_method(
        Some("org.freedesktop.login1"),
        path,
        Some(iface),
        method,
        body,
    )
    .unwrap_or_else(|error| panic!("{method}: {error}"));
}

/// Makes `active` the seat's active session, as a switch does.
fn switch_to(bus: &zbus::blocking::Connection, active: &str, inactive: &str) {
    for (session, on) in [(inactive, false), (active, true)] {
        call(
            bus,
            &format!("/org/freedesktop/login1/session/{session}"),
            "org.freedesktop.DBus.Properties",
            "Set",
            &(
                "org.freedesktop.login1.Session",
                "Active",
                zbus::zvariant::Value::from(on),
            ),
        );
    }
}

#[test]
fn the_key_answers_only_while_its_owners_session_is_the_active_one() {
    let Some(python) = python_with_dbusmock() else {
        assert!(
            std::env::var_os("PASSBRIDGE_REQUIRE_SECRET_SERVICE").is_none(),
            "./dev test installs python3-dbusmock, yet it is missing"
        );
        eprintln!("SKIP seat test: python3-dbusmock is not installed");
        return;
    };
    let (_daemon, _mock, address) = mock_logind(python);
    let control = bus(&address);
    // Wait for the mock to own its name.
    let mut up = false;
    for _ in 0..100 {
        let owned = control.call_method(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            Some("org.freedesktop.DBus"),
            "NameHasOwner",
            &("org.freedesktop.login1",),
        );
        if owned.is_ok_and(|reply| reply.body().deserialize::<bool>().unwrap_or(false)) {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "the mock logind did not start");
    let mock = "org.freedesktop.DBus.Mock";
    let root = "/org/freedesktop/login1";
    call(
        &control,
        root,
        mock,
        "AddSession",
        &("c1", "seat0", 1000u32, "ana", true),
    );
    call(
        &control,
        root,
        mock,
        "AddSession",
        &("c2", "seat0", 1001u32, "ben", false),
    );

    let clock = ManualClock::new();
    let mut ana = Logind::on(bus(&address), Some("c1"), Arc::new(clock.clone())).unwrap();
    assert!(ana.owner_active(), "Ana is at the seat");
    switch_to(&control, "c2", "c1");
    // Within the recheck interval the last answer stands; after it, the switch is seen.
    clock.advance(Duration::from_secs(1));
    assert!(
        !ana.owner_active(),
        "Ben is at the seat: Ana's key must refuse"
    );
    switch_to(&control, "c1", "c2");
    clock.advance(Duration::from_secs(1));
    assert!(ana.owner_active(), "Ana is back");

    // A session logind does not know is refused, not an open door.
    assert!(
        Logind::on(bus(&address), Some("c9"), Arc::new(clock.clone()))
            .map_or(true, |mut unknown| !unknown.owner_active())
    );
    // A process in no session (a user service) is judged by its user's state: "active" only
    // while one of its sessions is. (The mock has no GetSessionByPID, as for such a process.)
    let me = rustix::process::getuid().as_raw();
    call(&control, root, mock, "AddUser", &(me, "owner", true));
    // The template's own GetUser adds a number to a string; give it a working one.
    call(
        &control,
        root,
        mock,
        "AddMethod",
        &(
            "org.freedesktop.login1.Manager",
            "GetUser",
            "u",
            "o",
            "ret = '/org/freedesktop/login1/user/%d' % args[0]",
        ),
    );
    let mut by_user = Logind::on(bus(&address), None, Arc::new(clock.clone())).unwrap();
    assert!(by_user.owner_active());
    call(
        &control,
        &format!("/org/freedesktop/login1/user/{me}"),
        "org.freedesktop.DBus.Properties",
        "Set",
        &(
            "org.freedesktop.login1.User",
            "State",
            zbus::zvariant::Value::from("online"),
        ),
    );
    clock.advance(Duration::from_secs(1));
    assert!(
        !by_user.owner_active(),
        "the user's sessions are all in the background"
    );

    // A logind that stops answering means refusing.
    drop(_mock);
    clock.advance(Duration::from_secs(1));
    assert!(!ana.owner_active());
}
