//! The whole cross-device ceremony as an admin would run it: `passbridge relay`,
//! `passbridge hybrid register|sign-in` and `passbridge phone` as separate processes on
//! loopback (WebSocket relay, UDP "air"), then the failure cases a user can meet: a phone with
//! the wrong key, a phone that refuses, a dead relay, a phone that never answers, an oversized
//! frame, and a second client on the same tunnel; and a relay serving TLS with a private CA.
//!
//! The phone keeps its passkeys in a profile vault, so these tests need the Secret Service
//! (`./dev test` runs them inside `dbus-run-session` with gnome-keyring); without one they
//! skip, unless `PASSBRIDGE_REQUIRE_SECRET_SERVICE=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    reason = "tests: failing loudly is the point; real time bounds each process"
)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use passbridge_core::testing::{CaFiles, private_ca};

const BIN: &str = env!("CARGO_BIN_EXE_passbridge");
/// Every process is killed after this long, whatever happens.
const PROCESS_LIMIT: Duration = Duration::from_secs(60);

/// A child process killed on drop.
struct Proc {
    child: Child,
    name: &'static str,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn passbridge(data_dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("PASSBRIDGE_DATA_DIR", data_dir)
        .env_remove("PASSBRIDGE_PIN")
        .env_remove("PASSBRIDGE_RELAY")
        .env("RUST_LOG", "warn");
    command
}

/// Starts a relay on a free port; returns it and its ws:// URL.
fn relay(data_dir: &Path, extra: &[&str]) -> (Proc, String) {
    let mut child = passbridge(data_dir)
        .args(["relay", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("ws://") || w.starts_with("wss://"))
        .unwrap_or_else(|| panic!("relay did not start: {line:?}"))
        .to_owned();
    // Keep draining stdout so the relay never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = out.read_to_string(&mut sink);
    });
    (
        Proc {
            child,
            name: "relay",
        },
        url,
    )
}

fn free_udp() -> String {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    format!("udp://{}", socket.local_addr().unwrap())
}

/// A running client: its stderr lines arrive on a channel; stdout is collected at the end.
struct Client {
    proc: Proc,
    lines: mpsc::Receiver<String>,
    stderr: Vec<String>,
}

impl Client {
    fn start(data_dir: &Path, args: &[&str]) -> Self {
        Self::start_with_env(data_dir, args, &[])
    }

    fn start_with_env(data_dir: &Path, args: &[&str], env: &[(String, String)]) -> Self {
        let mut child = passbridge(data_dir)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .arg("hybrid")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            proc: Proc {
                child,
                name: "client",
            },
            lines: rx,
            stderr: Vec::new(),
        }
    }

    /// Waits for the `FIDO:/…` line the client prints under its QR code.
    fn qr(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.starts_with("FIDO:/").then(|| line.clone());
                    self.stderr.push(line);
                    if let Some(url) = found {
                        return url;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("the client showed no QR code; stderr: {:#?}", self.stderr);
    }

    /// Waits for exit; returns (success, stdout, stderr text).
    fn finish(mut self) -> (bool, String, String) {
        let status = wait_limited(&mut self.proc);
        let mut stdout = String::new();
        if let Some(mut out) = self.proc.child.stdout.take() {
            out.read_to_string(&mut stdout).unwrap();
        }
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.stderr.push(line);
        }
        (status, stdout, self.stderr.join("\n"))
    }
}

fn wait_limited(proc: &mut Proc) -> bool {
    let deadline = Instant::now() + PROCESS_LIMIT;
    loop {
        if let Some(status) = proc.child.try_wait().unwrap() {
            return status.success();
        }
        if Instant::now() > deadline {
            let _ = proc.child.kill();
            panic!("{} did not finish within {PROCESS_LIMIT:?}", proc.name);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn phone(
    data_dir: &Path,
    qr: &str,
    relay: &str,
    air: &str,
    extra: &[&str],
    env: &[(String, String)],
) -> Proc {
    let child = passbridge(data_dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args([
            "phone",
            "--qr",
            qr,
            "--relay",
            relay,
            "--air",
            air,
            "--timeout",
            "15",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Proc {
        child,
        name: "phone",
    }
}

fn phone_stderr(mut proc: Proc) -> (bool, String) {
    let ok = wait_limited(&mut proc);
    let mut text = String::new();
    if let Some(mut err) = proc.child.stderr.take() {
        err.read_to_string(&mut text).unwrap();
    }
    (ok, text)
}

/// A data directory with a keychain-backed profile "Phone" for the virtual phone, or `None`
/// when no Secret Service is reachable (and none is required).
fn phone_profile(dir: &Path) -> Option<()> {
    let created = passbridge(dir)
        .args(["profile", "create", "Phone"])
        .output()
        .unwrap();
    if created.status.success() {
        return Some(());
    }
    let stderr = String::from_utf8_lossy(&created.stderr).into_owned();
    if std::env::var_os("PASSBRIDGE_REQUIRE_SECRET_SERVICE").is_some_and(|v| v == "1") {
        panic!("cannot create the phone's profile: {stderr}");
    }
    eprintln!("skipping: no Secret Service for the phone's profile: {stderr}");
    None
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout:?}"))
}

struct Env {
    /// Extra environment for the client and phone processes (a proxy, say).
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    _relay: Proc,
    relay_url: String,
}

impl Env {
    fn new(relay_args: &[&str]) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        phone_profile(dir.path())?;
        let (relay, relay_url) = relay(dir.path(), relay_args);
        Some(Self {
            env: Vec::new(),
            dir,
            _relay: relay,
            relay_url,
        })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn saved(&self) -> PathBuf {
        self.path().join("credential.json")
    }

    /// One ceremony: client with `client_args`, then a phone on the QR it shows.
    fn ceremony(
        &self,
        client_args: &[&str],
        client_relay: Option<&str>,
        phone_extra: &[&str],
    ) -> ((bool, String, String), (bool, String)) {
        let air = free_udp();
        let relay = client_relay.unwrap_or(&self.relay_url);
        let mut args: Vec<&str> = client_args.to_vec();
        args.extend(["--relay", relay, "--air", &air, "--json"]);
        let mut client = Client::start_with_env(self.path(), &args, &self.env);
        let qr = client.qr();
        let mut phone_args = vec!["--profile", "Phone"];
        phone_args.extend(phone_extra);
        let phone = phone(
            self.path(),
            &qr,
            &self.relay_url,
            &air,
            &phone_args,
            &self.env,
        );
        let client_result = client.finish();
        let phone_result = phone_stderr(phone);
        (client_result, phone_result)
    }

    /// A registration expected to fail on the client's side only: the client runs with
    /// `client_env`, the phone (killed afterwards) with `phone_env`. Returns the client's stderr.
    fn client_fails(
        &self,
        client_env: &[(String, String)],
        phone_env: &[(String, String)],
    ) -> String {
        let air = free_udp();
        let mut args = failing_register("15").to_vec();
        args.extend(["--relay", &self.relay_url, "--air", &air]);
        let mut client = Client::start_with_env(self.path(), &args, client_env);
        let qr = client.qr();
        let phone = phone(
            self.path(),
            &qr,
            &self.relay_url,
            &air,
            &["--profile", "Phone"],
            phone_env,
        );
        let (ok, _, stderr) = client.finish();
        drop(phone);
        assert!(!ok, "the client succeeded: {stderr}");
        stderr
    }

    fn register(&self) -> serde_json::Value {
        self.register_with(&[]).0
    }

    /// A QR registration of alice@example.com, saved to [`Env::saved`], with `extra` client
    /// arguments; asserts both sides succeeded. Returns the JSON result and the client's stderr.
    fn register_with(&self, extra: &[&str]) -> (serde_json::Value, String) {
        let saved = self.saved();
        let mut args = vec![
            "register",
            "--rp-id",
            "example.com",
            "--user",
            "alice@example.com",
            "--save",
            saved.to_str().unwrap(),
            "--timeout",
            "20",
        ];
        args.extend(extra);
        let ((ok, stdout, stderr), (phone_ok, phone_err)) = self.ceremony(&args, None, &[]);
        assert!(ok, "register failed: {stderr}");
        assert!(phone_ok, "phone failed: {phone_err}");
        assert_eq!(
            stdout.matches("\"rp_id\"").count(),
            1,
            "one rp_id key: {stdout}"
        );
        (json(&stdout), stderr)
    }

    fn metrics(&self) -> String {
        use std::io::Write;
        let addr = self.relay_url.trim_start_matches("ws://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    }
}

/// A registration that is expected to fail, waiting at most `timeout` seconds for the phone.
fn failing_register(timeout: &'static str) -> [&'static str; 7] {
    [
        "register",
        "--rp-id",
        "example.com",
        "--user",
        "a",
        "--timeout",
        timeout,
    ]
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in {text}"))
}

#[test]
fn register_then_sign_in_through_relay_and_phone_processes() {
    let Some(env) = Env::new(&[]) else { return };
    let registered = env.register();
    assert_eq!(registered["ok"], true);
    assert_eq!(registered["ceremony"], "register");
    assert_eq!(registered["attestation_format"], "packed");
    assert_eq!(registered["attestation_signature_verified"], true);
    let flags = registered["flags_text"].as_str().unwrap();
    for flag in ["UP", "UV", "AT"] {
        assert!(flags.contains(flag), "flags {flags}");
    }
    let credential_id = registered["credential_id"].as_str().unwrap().to_owned();
    assert!(credential_id.len() >= 32);
    assert_eq!(registered["public_key"].as_str().unwrap().len(), 130);
    for step in [
        "qr_shown",
        "advert_matched",
        "tunnel_open",
        "handshake_done",
        "phone_answered",
        "total",
    ] {
        assert!(
            registered["timings_ms"][step].is_number(),
            "missing timing {step}: {registered}"
        );
    }

    // The phone kept the passkey in its profile vault.
    let listed = passbridge(env.path())
        .args(["passkeys", "list", "--profile", "Phone", "--json"])
        .output()
        .unwrap();
    assert!(listed.status.success());
    let passkeys = json(&String::from_utf8_lossy(&listed.stdout));
    assert_eq!(passkeys[0]["rp_id"], "example.com");
    assert_eq!(passkeys[0]["user_name"], "alice@example.com");

    // Sign-in: a new client and a new phone process; the signature verifies with the saved key.
    let saved = env.saved();
    let ((ok, stdout, stderr), (phone_ok, phone_err)) = env.ceremony(
        &[
            "sign-in",
            "--rp-id",
            "example.com",
            "--credential",
            saved.to_str().unwrap(),
            "--timeout",
            "20",
        ],
        None,
        &[],
    );
    assert!(ok, "sign-in failed: {stderr}");
    assert!(phone_ok, "phone failed: {phone_err}");
    let signed = json(&stdout);
    assert_eq!(signed["ceremony"], "sign-in");
    assert_eq!(signed["credential_id"], credential_id.as_str());
    assert!(signed["sign_count"].as_u64().unwrap() >= 1);
    assert!(signed["signature"].as_str().unwrap().len() > 100);

    let metrics = env.metrics();
    assert_eq!(metric(&metrics, "cable_tunnels_joined_total"), 2);
    assert!(metric(&metrics, "cable_messages_forwarded_total") >= 8);
}

#[test]
fn a_wrong_psk_fails_the_handshake() {
    let Some(env) = Env::new(&[]) else { return };
    let ((ok, _, stderr), _) =
        env.ceremony(&failing_register("15"), None, &["--wrong-psk-for-testing"]);
    assert!(!ok);
    assert!(
        stderr.contains("hung up during the secure handshake"),
        "{stderr}"
    );
    assert!(!stderr.contains("the phone answered"), "{stderr}");
}

#[test]
fn a_phone_error_is_reported_with_its_ctap_code() {
    let Some(env) = Env::new(&[]) else { return };
    let ((ok, stdout, stderr), (phone_ok, _)) =
        env.ceremony(&failing_register("15"), None, &["--answer-error", "0x27"]);
    assert!(!ok);
    assert!(phone_ok, "the phone itself finished its session");
    assert!(
        stdout.trim().is_empty(),
        "no JSON result on failure: {stdout}"
    );
    assert!(stderr.contains("declined on the phone"), "{stderr}");
    assert!(stderr.contains("0x27"), "{stderr}");
}

#[test]
fn a_dead_relay_is_named() {
    let Some(env) = Env::new(&[]) else { return };
    // A port nobody listens on: bind, note, close.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("ws://{}", listener.local_addr().unwrap())
    };
    let ((ok, _, stderr), _) = env.ceremony(&failing_register("15"), Some(&dead), &[]);
    assert!(!ok);
    assert!(stderr.contains("cannot reach the tunnel relay"), "{stderr}");
    assert!(stderr.contains(&dead), "{stderr}");
}

#[test]
fn a_stalled_phone_times_out_with_a_clear_message() {
    let Some(env) = Env::new(&[]) else { return };
    let started = Instant::now();
    let ((ok, _, stderr), _) = env.ceremony(&failing_register("3"), None, &["--stall"]);
    assert!(!ok);
    assert!(stderr.contains("did not answer within 3 s"), "{stderr}");
    assert!(stderr.contains("secure channel established"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn an_oversized_frame_is_refused_by_the_relay() {
    // The client's first handshake message is 81 bytes: over this relay's 64-byte limit.
    let Some(env) = Env::new(&["--max-message-size", "64"]) else {
        return;
    };
    let ((ok, _, stderr), _) = env.ceremony(&failing_register("15"), None, &[]);
    assert!(!ok);
    assert!(stderr.contains("ended the connection"), "{stderr}");
    assert!(stderr.contains("64-byte limit"), "{stderr}");
    assert!(
        metric(
            &env.metrics(),
            "cable_refusals_total{reason=\"message_too_big\"}"
        ) >= 1
    );
}

#[test]
fn a_second_client_on_the_same_tunnel_is_refused() {
    use hybrid::io::tunnel::{Tunnel, TunnelConfig, TunnelError};
    use hybrid::tunnel_url::TunnelRequest;

    let dir = tempfile::tempdir().unwrap();
    let (_relay, url) = relay(dir.path(), &[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tunnel_id = "00112233445566778899AABBCCDDEEFF";
        let phone = Tunnel::connect(
            &TunnelRequest::plain(format!("{url}/cable/new/{tunnel_id}")),
            &TunnelConfig::default(),
        )
        .await
        .unwrap();
        let routing = phone.routing_id.expect("routing ID header");
        let routing = hex::encode_upper(routing.0);
        let connect = TunnelRequest::plain(format!("{url}/cable/connect/{routing}/{tunnel_id}"));
        let first = Tunnel::connect(&connect, &TunnelConfig::default())
            .await
            .unwrap();
        match Tunnel::connect(&connect, &TunnelConfig::default()).await {
            Err(TunnelError::Refused(409)) => {}
            other => panic!("second client: {other:?}"),
        }
        // A wrong routing ID is refused too.
        let wrong = TunnelRequest::plain(format!("{url}/cable/connect/FFFFFF/{tunnel_id}"));
        assert!(matches!(
            Tunnel::connect(&wrong, &TunnelConfig::default()).await,
            Err(TunnelError::Refused(404))
        ));
        drop((phone, first));
    });
}

/// Starts `passbridge phone --listen` and waits until it listens at the relay.
fn listening_phone(env: &Env, air: &str) -> Proc {
    let mut proc = Proc {
        child: passbridge(env.path())
            .args(["phone", "--listen", "--profile", "Phone", "--timeout", "20"])
            .args(["--relay", &env.relay_url, "--air", air])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        name: "listening phone",
    };
    let err = proc.child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("listening for linked desktops") => return proc,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("the phone never listened at the relay");
}

fn linked_phones(env: &Env) -> serde_json::Value {
    let listed = passbridge(env.path())
        .args(["hybrid", "phones", "--profile", "Desk", "--json"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    json(&String::from_utf8_lossy(&listed.stdout))
}

#[test]
fn a_linked_phone_signs_in_without_a_qr_code_until_it_unlinks() {
    let Some(env) = Env::new(&[]) else { return };
    let desk = passbridge(env.path())
        .args(["profile", "create", "Desk"])
        .output()
        .unwrap();
    assert!(desk.status.success(), "{desk:?}");

    // A QR registration with --profile: the phone offers linking, the desktop keeps it.
    let (registered, stderr) = env.register_with(&["--profile", "Desk"]);
    assert!(
        stderr.contains("Remembered phone 'Passbridge virtual phone'"),
        "{stderr}"
    );
    let credential_id = registered["credential_id"].clone();
    let saved = env.saved();
    let phones = linked_phones(&env);
    assert_eq!(phones[0]["name"], "Passbridge virtual phone");
    assert!(
        phones.to_string().find("secret").is_none(),
        "no secrets listed: {phones}"
    );

    // Sign-in through the link: no QR code, the phone is contacted through the relay.
    let sign_in = |extra: &[&str]| {
        let air = free_udp();
        let phone = listening_phone(&env, &air);
        let mut args = vec![
            "sign-in",
            "--rp-id",
            "example.com",
            "--credential",
            saved.to_str().unwrap(),
            "--profile",
            "Desk",
            "--phone",
            "Passbridge virtual phone",
            "--timeout",
            "20",
            "--relay",
            &env.relay_url,
            "--air",
            &air,
            "--json",
        ];
        args.extend(extra);
        let client = Client::start(env.path(), &args);
        let result = client.finish();
        drop(phone);
        result
    };
    let (ok, stdout, stderr) = sign_in(&[]);
    assert!(ok, "linked sign-in failed: {stderr}");
    assert!(!stderr.contains("FIDO:/"), "no QR code: {stderr}");
    assert!(stderr.contains("contacting the linked phone"), "{stderr}");
    let signed = json(&stdout);
    assert_eq!(signed["credential_id"], credential_id);
    assert!(signed["timings_ms"]["handshake_done"].is_number());

    // The phone unlinks itself at the relay: the next contact gets 410 and the desktop
    // forgets the phone.
    let unlinked = passbridge(env.path())
        .args([
            "phone",
            "--unlink",
            "--profile",
            "Phone",
            "--relay",
            &env.relay_url,
        ])
        .output()
        .unwrap();
    assert!(unlinked.status.success(), "{unlinked:?}");
    let air = free_udp();
    let client = Client::start(
        env.path(),
        &[
            "sign-in",
            "--rp-id",
            "example.com",
            "--credential",
            saved.to_str().unwrap(),
            "--profile",
            "Desk",
            "--phone",
            "Passbridge virtual phone",
            "--timeout",
            "5",
            "--relay",
            &env.relay_url,
            "--air",
            &air,
        ],
    );
    let (ok, _, stderr) = client.finish();
    assert!(!ok);
    assert!(stderr.contains("unlinked itself"), "{stderr}");
    assert_eq!(linked_phones(&env), serde_json::json!([]));
}

/// A minimal HTTP CONNECT proxy on loopback: counts CONNECTs, refuses ports in `refuse` with
/// 403, and splices the rest. Threads end when their connections do.
fn connect_proxy(refuse: Option<u16>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&count);
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let seen = std::sync::Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut client = client;
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
                    if client.read_exact(&mut byte).is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let Some(target) = text
                    .strip_prefix("CONNECT ")
                    .and_then(|t| t.split_whitespace().next())
                else {
                    let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
                    return;
                };
                seen.fetch_add(1, Ordering::SeqCst);
                let port = target.rsplit(':').next().and_then(|p| p.parse().ok());
                if port.is_some() && port == refuse {
                    let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n");
                    return;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                    return;
                };
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut c1, mut s1) = (client, server);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut s2);
                    let _ = s2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut s1, &mut c1);
                let _ = c1.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (format!("http://{addr}"), count)
}

#[test]
fn the_tunnel_goes_through_an_http_connect_proxy() {
    let Some(mut env) = Env::new(&[]) else { return };
    let (proxy, connects) = connect_proxy(None);
    env.env = vec![("ALL_PROXY".to_owned(), proxy)];
    let ((ok, stdout, stderr), (phone_ok, phone_err)) = env.ceremony(
        &[
            "register",
            "--rp-id",
            "example.com",
            "--user",
            "a",
            "--timeout",
            "15",
        ],
        None,
        &[],
    );
    assert!(ok, "register through the proxy failed: {stderr}");
    assert!(phone_ok, "phone failed: {phone_err}");
    assert_eq!(json(&stdout)["ok"], true);
    // One CONNECT for the phone's /cable/new, one for the client's /cable/connect.
    assert_eq!(connects.load(std::sync::atomic::Ordering::SeqCst), 2);

    // NO_PROXY for the relay's host bypasses the proxy.
    env.env
        .push(("NO_PROXY".to_owned(), "127.0.0.1".to_owned()));
    let ((ok, _, stderr), _) = env.ceremony(
        &[
            "register",
            "--rp-id",
            "example.com",
            "--user",
            "b",
            "--timeout",
            "15",
        ],
        None,
        &[],
    );
    assert!(ok, "{stderr}");
    assert_eq!(connects.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[test]
fn a_proxy_that_refuses_is_named() {
    let Some(mut env) = Env::new(&[]) else { return };
    let relay_port: u16 = env.relay_url.rsplit(':').next().unwrap().parse().unwrap();
    let (proxy, _) = connect_proxy(Some(relay_port));
    // Only the client goes through the refusing proxy; the phone reaches the relay directly.
    env.env = vec![];
    let stderr = env.client_fails(&[("HTTP_PROXY".to_owned(), proxy.clone())], &[]);
    assert!(stderr.contains(&proxy), "{stderr}");
    assert!(stderr.contains("HTTP 403"), "{stderr}");
}

#[test]
fn a_tls_relay_with_a_private_ca_works_only_for_clients_that_trust_it() {
    let certs = tempfile::tempdir().unwrap();
    let CaFiles { ca, cert, key } = private_ca(certs.path());
    let Some(mut env) = Env::new(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]) else {
        return;
    };
    assert!(
        env.relay_url.starts_with("wss://127.0.0.1:"),
        "{}",
        env.relay_url
    );
    let ca_env = (
        "PASSBRIDGE_CA_FILE".to_owned(),
        ca.to_str().unwrap().to_owned(),
    );

    // Client and phone both trust the CA: the ceremony runs over TLS, by IP and by name.
    env.env = vec![ca_env.clone()];
    let registered = env.register();
    assert_eq!(registered["ok"], true);
    let by_name = env.relay_url.replace("127.0.0.1", "localhost");
    let ((ok, stdout, stderr), (phone_ok, phone_err)) =
        env.ceremony(&failing_register("15"), Some(&by_name), &[]);
    assert!(ok && phone_ok, "client: {stderr}\nphone: {phone_err}");
    assert_eq!(json(&stdout)["ok"], true);

    // A client without the CA refuses the relay's certificate and says what to do.
    let stderr = env.client_fails(&[], &[ca_env]);
    assert!(stderr.contains("secure (TLS) connection"), "{stderr}");
    assert!(stderr.contains("PASSBRIDGE_CA_FILE"), "{stderr}");
}
