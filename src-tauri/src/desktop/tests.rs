//! The window's commands through Tauri's real IPC layer (ACL included) on the mock runtime: the
//! typed errors, the command table against the handler and the grants, and each phone failure
//! a real fault causes arriving as its own error code.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use hybrid::io::phone::{Behaviour, CtapPhone};
use hybrid::io::relay::{Relay, RelayConfig};
use hybrid::io::tls::ClientTls;
use hybrid::io::tunnel::TunnelConfig;
use passbridge_core::app::CoreSetup;
use passbridge_core::phone::Air;
use passbridge_core::phone::virtual_phone::{self, PhoneOptions, PhoneStart};
use passbridge_core::profile::keychain::MemoryKeychain;
use passbridge_core::system::Env;
use passbridge_core::testing::{CaFiles, private_ca};
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody, InvokeResponseBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;

use super::*;

fn core(dir: &Path) -> Arc<AppCore> {
    let policy = passbridge_core::policy::Policy {
        argon2_memory_kib: 8,
        argon2_iterations: 1,
        ..Default::default()
    };
    Arc::new(
        AppCore::new(CoreSetup {
            data_dir: dir.to_path_buf(),
            admin: policy,
            policy_source: None,
            keychain: Arc::new(MemoryKeychain::new()),
            // Real time: the phone tests wait for real deadlines.
            env: Env::system(),
            tunnel: TunnelConfig::default(),
            autostart: None,
        })
        .unwrap(),
    )
}

type Window = (tauri::App<MockRuntime>, tauri::WebviewWindow<MockRuntime>);

/// The app on the mock runtime with the real context: the capabilities in `capabilities/`
/// decide what the window may call. Every message sent over a channel (the phone flow's
/// steps) is handed to `channel`, as the window's JavaScript would receive it.
fn window_with(dir: &Path, channel: Option<mpsc::Sender<Value>>) -> Window {
    let mut mock = mock_builder();
    if let Some(channel) = channel {
        mock = mock.channel_interceptor(move |_, _, _, body| {
            if let InvokeResponseBody::Json(text) = body
                && let Ok(value) = serde_json::from_str(text)
            {
                let _ = channel.send(value);
            }
            true
        });
    }
    let app = builder(mock, core(dir), Life::default())
        .build(tauri::generate_context!())
        .unwrap();
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, webview)
}

fn window(dir: &Path) -> Window {
    window_with(dir, None)
}

fn invoke(
    webview: &tauri::WebviewWindow<MockRuntime>,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    get_ipc_response(
        webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            // On Linux the webview origin is tauri://localhost; other origins are refused.
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize().unwrap())
}

/// The commands answer through the real IPC layer, ACL included, with typed errors.
#[test]
fn commands_answer_over_ipc_with_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, webview) = window(dir.path());
    let info = invoke(&webview, "app_info", json!({})).unwrap();
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["desktop"], true);

    let error = invoke(&webview, "passkeys_list", json!({})).unwrap_err();
    assert_eq!(error["code"], "no-active-profile");

    let profiles = invoke(
        &webview,
        "profile_create",
        json!({"profile": {"name": "Ana", "pin": "24682468"}}),
    )
    .unwrap();
    assert_eq!(profiles[0]["name"], "Ana");
    assert_eq!(profiles[0]["active"], true);
    assert_eq!(profiles[0]["passkeyCount"], 0);
    let error = invoke(
        &webview,
        "profile_unlock",
        json!({"name": "Ana", "pin": "00000000"}),
    )
    .unwrap_err();
    assert_eq!(error["code"], "wrong-pin");
    let profiles = invoke(&webview, "profile_lock", json!({"name": "Ana"})).unwrap();
    assert_eq!(profiles[0]["state"], "locked");
    let error = invoke(&webview, "passkeys_list", json!({})).unwrap_err();
    assert_eq!(error["code"], "locked");
    assert_eq!(
        invoke(&webview, "request_current", json!({})).unwrap(),
        Value::Null
    );
    // Arguments are checked against their Rust type: a renamed field is refused.
    let refused = invoke(&webview, "profile_lock", json!({"profile": "Ana"})).unwrap_err();
    assert!(refused.to_string().contains("bad arguments"), "{refused}");
}

/// The grant list (`build.rs`), the handler and the TypeScript bindings name the same
/// commands, so nothing is callable that the bindings do not describe, and nothing is
/// described that the window may not call.
#[test]
fn granted_registered_and_described_commands_agree() {
    let build_rs = include_str!("../../build.rs");
    let capabilities = include_str!("../../capabilities/default.json");
    let cfg = ts_rs::Config::new();
    let dir = tempfile::tempdir().unwrap();
    let (_app, webview) = window(dir.path());
    for (name, _, _) in bindings::commands(&cfg) {
        assert!(
            build_rs.contains(&format!("\"{name}\"")),
            "{name} not in build.rs"
        );
        let permission = format!("\"allow-{}\"", name.replace('_', "-"));
        assert!(
            capabilities.contains(&permission),
            "{permission} not granted"
        );
        // A registered, granted command fails on its arguments, not as unknown/denied.
        if let Err(error) = invoke(&webview, name, json!({})) {
            let text = error.to_string();
            assert!(
                !text.contains("not allowed") && !text.contains("not found"),
                "{name}: {text}"
            );
        }
    }
    let granted = capabilities.matches("\"allow-").count();
    assert_eq!(granted, bindings::commands(&cfg).len());
}

/// A loopback stand-in for an HTTP proxy that refuses every CONNECT with 403.
fn refusing_proxy() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        // One client is all the test sends; the thread ends with the test process.
        for mut stream in listener.incoming().flatten().take(4) {
            let mut head = [0u8; 1024];
            let _ = stream.read(&mut head);
            let _ = stream.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
        }
    });
    addr
}

/// One fault to stage: what the window's settings say and how the phone behaves.
struct Fault {
    /// The relay in the window's settings (the phone always uses the real one).
    client_relay: Option<String>,
    proxy: Option<String>,
    air: Option<String>,
    behaviour: Behaviour,
    tls: Option<CaFiles>,
}

/// Runs a registration through `phone_run` over IPC with `fault` staged, a real relay on
/// loopback and the virtual phone scanning the QR code the window is sent; returns the error
/// the window gets.
fn phone_run_fails_with(fault: Fault) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let relay_config = RelayConfig {
        tls: fault
            .tls
            .as_ref()
            .map(|files| hybrid::io::tls::server_config(&files.cert, &files.key).unwrap()),
        ..RelayConfig::default()
    };
    let relay = runtime
        .block_on(Relay::bind(([127, 0, 0, 1], 0).into(), relay_config))
        .unwrap();
    let scheme = if fault.tls.is_some() { "wss" } else { "ws" };
    let relay_url = format!("{scheme}://{}", relay.local_addr().unwrap());
    runtime.spawn(relay.run());
    let air = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();

    let (events, heard) = mpsc::channel();
    let (_app, webview) = window_with(dir.path(), Some(events));
    invoke(
        &webview,
        "profile_create",
        json!({"profile": {"name": "Ana"}}),
    )
    .unwrap();
    let mut settings = invoke(&webview, "settings_get", json!({})).unwrap()["settings"].clone();
    settings["relay"] = json!(fault.client_relay.clone().unwrap_or(relay_url.clone()));
    settings["proxy"] = json!(fault.proxy);
    settings["air"] = json!(fault.air.clone().unwrap_or(format!("udp://{air}")));
    settings["phoneTimeoutSecs"] = json!(10);
    invoke(&webview, "settings_save", json!({"settings": settings})).unwrap();

    // The phone: "scans" the QR code from the first event the window gets.
    let phone_tls = ClientTls::new(fault.tls.as_ref().map(|files| files.ca.clone()));
    let phone_opts = PhoneOptions {
        relay: relay_url,
        air: Air::Udp(air),
        timeout: Duration::from_secs(15),
        wrong_psk_for_testing: false,
        tunnel: TunnelConfig::new(phone_tls),
    };
    let behaviour = fault.behaviour;
    let phone = runtime.spawn(async move {
        // Bounded: a fault before the QR code (no Bluetooth) never shows one.
        let qr = tokio::task::spawn_blocking(move || {
            std::iter::from_fn(|| heard.recv_timeout(Duration::from_secs(20)).ok())
                .find_map(|event: Value| event["qrUrl"].as_str().map(str::to_owned))
        })
        .await
        .ok()
        .flatten();
        let Some(qr) = qr else { return };
        let env = Env::system();
        let engine = ctap::Authenticator::new(
            ctap::MemoryStore::new(),
            env.clock.clone(),
            env.rng.clone(),
            virtual_phone::engine_config(),
        )
        .unwrap();
        let mut phone = CtapPhone::new(engine, behaviour);
        let _ = virtual_phone::run(
            &mut phone,
            &env,
            PhoneStart::Qr(&qr),
            None,
            &phone_opts,
            &mut |_| {},
            tokio::time::sleep(Duration::from_secs(20)),
        )
        .await;
    });
    let error = invoke(
        &webview,
        "phone_run",
        json!({
            "request": {
                "ceremony": "register",
                "rpId": "example.com",
                "userName": "ana",
                "phone": null,
                "rememberPhone": false
            },
            "onEvent": "__CHANNEL__:77"
        }),
    )
    .unwrap_err();
    phone.abort();
    runtime.shutdown_timeout(Duration::from_secs(1));
    error
}

fn no_fault() -> Fault {
    Fault {
        client_relay: None,
        proxy: None,
        air: None,
        behaviour: Behaviour::Answer,
        tls: None,
    }
}

fn assert_code(error: &Value, code: &str) {
    assert_eq!(error["code"], code, "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        !message.contains("--"),
        "a window sentence names a flag: {message}"
    );
}

#[test]
fn a_dead_relay_arrives_as_relay_unreachable() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // The port is closed again once the listener is dropped: nothing answers there.
    let error = phone_run_fails_with(Fault {
        client_relay: Some(format!("ws://{dead}")),
        ..no_fault()
    });
    assert_code(&error, "relay-unreachable");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains(&dead.to_string())
    );
}

#[test]
fn a_refusing_proxy_arrives_as_proxy_failed() {
    let proxy = refusing_proxy();
    let error = phone_run_fails_with(Fault {
        proxy: Some(format!("http://{proxy}")),
        ..no_fault()
    });
    assert_code(&error, "proxy-failed");
    assert!(
        error["message"].as_str().unwrap().contains("HTTP 403"),
        "{error}"
    );
}

#[test]
fn a_relay_whose_ca_the_window_lacks_arrives_as_relay_tls() {
    let certs = tempfile::tempdir().unwrap();
    let error = phone_run_fails_with(Fault {
        tls: Some(private_ca(certs.path())),
        ..no_fault()
    });
    assert_code(&error, "relay-tls");
}

#[test]
fn a_phone_that_declines_arrives_as_phone_refused() {
    let error = phone_run_fails_with(Fault {
        behaviour: Behaviour::Error(0x27),
        ..no_fault()
    });
    assert_code(&error, "phone-refused");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("declined on the phone"),
        "{error}"
    );
}

#[test]
fn a_phone_that_never_answers_arrives_as_phone_timeout() {
    let error = phone_run_fails_with(Fault {
        behaviour: Behaviour::Stall,
        ..no_fault()
    });
    assert_code(&error, "phone-timeout");
}

#[test]
fn a_missing_bluetooth_adapter_arrives_as_a_bluetooth_code() {
    // This machine either runs BlueZ without an hci9, or runs no Bluetooth service at all.
    let error = phone_run_fails_with(Fault {
        air: Some("ble:hci9".to_owned()),
        ..no_fault()
    });
    let code = error["code"].as_str().unwrap();
    assert!(
        ["no-bluetooth-adapter", "bluetooth-failed"].contains(&code),
        "{error}"
    );
    assert_code(&error, code);
}

#[test]
fn the_tray_menu_locks_switches_opens_and_quits() {
    use passbridge_core::app::types::NewProfile;
    use tray::{TrayAction, TrayModel, act};
    let dir = tempfile::tempdir().unwrap();
    let core = core(dir.path());
    let new = |name: &str, pin: Option<&str>| NewProfile {
        name: name.into(),
        pin: pin.map(str::to_owned),
    };
    core.create_profile(new("Ben", None)).unwrap();
    core.create_profile(new("Ana", Some("24682468"))).unwrap();
    assert_eq!(
        TrayModel::of(&core.profiles().unwrap()).lock.as_deref(),
        Some("Lock Ana")
    );
    assert_eq!(act(&core, "lock"), TrayAction::None);
    let model = TrayModel::of(&core.profiles().unwrap());
    assert_eq!((model.status.as_str(), model.lock), ("Ana: locked", None));
    // To a profile that needs nothing: done from the menu.
    assert_eq!(act(&core, "switch:Ben"), TrayAction::None);
    assert_eq!(
        TrayModel::of(&core.profiles().unwrap()).status,
        "Ben: unlocked"
    );
    // To a locked one: the window opens for its PIN.
    assert_eq!(act(&core, "switch:Ana"), TrayAction::Open);
    assert_eq!(act(&core, "switch:Nobody"), TrayAction::Open);
    assert_eq!(
        TrayModel::of(&core.profiles().unwrap()).status,
        "Ana: locked"
    );
    assert_eq!(act(&core, "open"), TrayAction::Open);
    assert_eq!(act(&core, "quit"), TrayAction::Quit);
    assert_eq!(act(&core, "status"), TrayAction::None);
}

/// The Diagnostics page's network checks over IPC: the relay the settings name, each step
/// sent over the window's channel as it starts, the result in the command line's words.
#[test]
fn diagnostics_check_the_relay_step_by_step_over_ipc() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let relay = runtime
        .block_on(Relay::bind(
            ([127, 0, 0, 1], 0).into(),
            RelayConfig::default(),
        ))
        .unwrap();
    let relay_url = format!("ws://{}", relay.local_addr().unwrap());
    runtime.spawn(relay.run());
    let (events, heard) = mpsc::channel();
    let (_app, webview) = window_with(dir.path(), Some(events));
    let mut settings = invoke(&webview, "settings_get", json!({})).unwrap()["settings"].clone();
    settings["relay"] = json!(relay_url);
    settings["air"] = json!("udp://127.0.0.1:9");
    invoke(&webview, "settings_save", json!({"settings": settings})).unwrap();
    let checks = invoke(
        &webview,
        "diagnostics_network",
        json!({"onlyRelay": true, "onStep": "__CHANNEL__:78"}),
    )
    .unwrap();
    let checks = checks.as_array().unwrap();
    assert_eq!(checks[0]["area"], "bluetooth", "{checks:#?}");
    assert!(
        checks[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("phones are looked for on udp://127.0.0.1:9 (a loopback test air)"),
        "{checks:#?}"
    );
    assert_eq!(checks[1]["area"], "network", "{checks:#?}");
    assert_eq!(checks[1]["status"], "pass", "{checks:#?}");
    let message = checks[1]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "relay {}: reachable (",
            &relay_url["ws://".len()..]
        )),
        "{message}"
    );
    assert_eq!(checks[2]["area"], "clock", "the relay's Date: {checks:#?}");
    let steps: Vec<String> = heard
        .try_iter()
        .map(|event| event["label"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        steps,
        ["name lookup", "connection", "WebSocket upgrade"],
        "plain ws:// has no TLS step"
    );
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// The cross-device test over IPC with the virtual phone (a loopback relay and air of its
/// own): every phase of both ceremonies over the window's channel as it is reached, the
/// verdict in the window's words; then "Export report" writes the page's findings, the test
/// included, and "Open it" refuses any file that is not such a report.
#[test]
fn the_cross_device_test_runs_over_ipc_and_the_report_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let (events, heard) = mpsc::channel();
    let (_app, webview) = window_with(dir.path(), Some(events));
    invoke(&webview, "diagnostics_run", json!({})).unwrap();
    let result = invoke(
        &webview,
        "diagnostics_test",
        json!({"virtualPhone": true, "onPhase": "__CHANNEL__:79"}),
    )
    .unwrap();
    assert_eq!(result["passed"], true, "{result:#}");
    assert!(
        result["summary"]
            .as_str()
            .unwrap()
            .starts_with("Passed: a registration and a sign-in with the virtual phone"),
        "{result:#}"
    );
    let phases: Vec<(String, String)> = heard
        .try_iter()
        .map(|e| {
            (
                e["ceremony"].as_str().unwrap().to_owned(),
                e["phase"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(phases.len(), 18, "{phases:?}");
    assert_eq!(
        phases[0],
        ("registration".to_owned(), "qr-shown".to_owned())
    );
    assert_eq!(phases[17], ("sign-in".to_owned(), "verified".to_owned()));

    let path = invoke(&webview, "diagnostics_export", json!({})).unwrap();
    let html = std::path::PathBuf::from(path.as_str().unwrap());
    assert!(html.starts_with(dir.path().join("reports")), "{html:?}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(html.with_file_name("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["cross_device_test"]["passed"], true);
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["area"] == "keychain"),
        "the machine's checks of the page's last run"
    );
    let elsewhere = dir.path().join("report.html");
    std::fs::write(&elsewhere, "<p>x</p>").unwrap();
    assert!(
        invoke(
            &webview,
            "diagnostics_open_report",
            json!({"path": elsewhere.display().to_string()})
        )
        .is_err(),
        "only a report the page wrote is opened"
    );
}

/// The Diagnostics page gets the machine's checks over IPC, in the command line's words.
#[test]
fn diagnostics_answer_with_the_doctors_checks_and_words() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, webview) = window(dir.path());
    invoke(
        &webview,
        "profile_create",
        json!({"profile": {"name": "Ana", "pin": "24682468"}}),
    )
    .unwrap();
    let checks = invoke(&webview, "diagnostics_run", json!({})).unwrap();
    let checks = checks.as_array().unwrap();
    let areas: Vec<&str> = checks.iter().map(|c| c["area"].as_str().unwrap()).collect();
    assert_eq!(
        &areas[..4],
        ["policy", "keychain", "profiles", "security-key"],
        "{checks:#?}"
    );
    assert_eq!(checks[1]["status"], "pass");
    assert_eq!(
        checks[1]["message"],
        "the OS keychain (test memory keychain) answers"
    );
    assert_eq!(checks[2]["areaLabel"], "profiles");
    assert!(
        checks[2]["message"]
            .as_str()
            .unwrap()
            .starts_with("\"Ana\" (keychain and PIN): ready"),
        "{}",
        checks[2]
    );
}
