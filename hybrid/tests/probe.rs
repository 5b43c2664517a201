//! The network probe against real loopback servers, one fault each: a TLS relay that works, a
//! certificate from a CA this machine does not trust, an expired one, an upgrade refused with
//! 400, a server that is no tunnel service, a proxy answering 403, a name that does not
//! resolve, a server that stalls, a closed port. Each must name its own step and reason.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test set-up: a failure is the test's failure"
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, SystemTime};

use hybrid::io::probe::{ProbeFailure, ProbeOptions, Step, TlsFailure, UpgradeFailure, probe};
use hybrid::io::relay::{Relay, RelayConfig};
use hybrid::io::tls::ClientTls;
use hybrid::io::tunnel::TunnelConfig;
use hybrid::proxy::ProxyProblem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[path = "support/pki.rs"]
mod support;
use support::Pki;

/// The relay's wall clock in these tests: 2023-11-14T22:13:20Z.
fn fixed_clock() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

const ROUTING_ID: [u8; 3] = [0x0A, 0x0B, 0x0C];
const TUNNEL: &str = "00112233445566778899AABBCCDDEEFF";

/// A private CA ("Probe Test Org") and a certificate for `localhost` from it, valid from
/// `not_before` to `not_after` (years).
fn pki(dir: &Path, not_before: i32, not_after: i32) -> Pki {
    support::pki(dir, "Probe Test", Some((not_before, not_after)))
}

/// A TLS relay on loopback with `pki`'s certificate.
async fn tls_relay(pki: &Pki) -> SocketAddr {
    let config = RelayConfig {
        routing_id: ROUTING_ID,
        tls: Some(hybrid::io::tls::server_config(&pki.cert, &pki.key).unwrap()),
        wall_clock: fixed_clock,
        ..RelayConfig::default()
    };
    let relay = Relay::bind((Ipv4Addr::LOCALHOST, 0).into(), config)
        .await
        .unwrap();
    let addr = relay.local_addr().unwrap();
    tokio::spawn(relay.run());
    addr
}

fn trusting(ca: &Path) -> TunnelConfig {
    TunnelConfig::new(ClientTls::new(Some(ca.to_path_buf())))
}

fn quick() -> ProbeOptions {
    ProbeOptions {
        step_limit: Duration::from_secs(5),
        connect_to: None,
    }
}

fn steps(timings: &[(Step, Duration)]) -> Vec<Step> {
    timings.iter().map(|(step, _)| *step).collect()
}

#[tokio::test]
async fn a_working_tls_relay_passes_every_step_and_shows_its_certificate_and_clock() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), 2020, 2099);
    let addr = tls_relay(&pki).await;
    let url = format!("wss://localhost:{}/cable/new/{TUNNEL}", addr.port());
    let mut seen = Vec::new();
    let found = probe(&url, &trusting(&pki.ca), &quick(), |step| seen.push(step)).await;
    assert_eq!(found.failure, None, "{found:#?}");
    assert_eq!(
        steps(&found.timings),
        [Step::Dns, Step::Tcp, Step::Tls, Step::Upgrade]
    );
    assert_eq!(seen, steps(&found.timings), "progress names each step");
    assert_eq!(
        (found.host.as_str(), found.port),
        ("localhost", addr.port())
    );
    assert!(found.addresses.iter().all(std::net::IpAddr::is_loopback));
    let cert = found.certificate.expect("certificate facts");
    assert_eq!(cert.subject, "localhost");
    assert_eq!(cert.issuer_name, "Probe Test Org");
    assert!(cert.issuer.contains("Probe Test CA"), "{}", cert.issuer);
    assert_eq!(cert.chain_len, 1);
    assert!(cert.private_ca, "a test CA is not a public root");
    let year_2099 = SystemTime::UNIX_EPOCH + Duration::from_secs(4_070_908_800);
    assert_eq!(cert.not_after, year_2099);
    assert_eq!(found.server_date, Some(fixed_clock()));
    assert_eq!(found.routing_id.map(|id| id.0), Some(ROUTING_ID));
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused_and_its_issuer_named() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), 2020, 2099);
    let addr = tls_relay(&pki).await;
    let url = format!("wss://localhost:{}/cable/new/{TUNNEL}", addr.port());
    let found = probe(&url, &TunnelConfig::default(), &quick(), |_| {}).await;
    assert_eq!(
        found.failure,
        Some(ProbeFailure::Tls(TlsFailure::UnknownIssuer)),
        "{found:#?}"
    );
    assert_eq!(steps(&found.timings), [Step::Dns, Step::Tcp]);
    let cert = found
        .certificate
        .expect("a refused chain is still described");
    assert_eq!(cert.issuer_name, "Probe Test Org");
}

#[tokio::test]
async fn an_expired_certificate_is_named_as_expired() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), 2019, 2020);
    let addr = tls_relay(&pki).await;
    let url = format!("wss://localhost:{}/cable/new/{TUNNEL}", addr.port());
    let found = probe(&url, &trusting(&pki.ca), &quick(), |_| {}).await;
    assert_eq!(
        found.failure,
        Some(ProbeFailure::Tls(TlsFailure::Expired)),
        "{found:#?}"
    );
    let expired = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800);
    assert_eq!(found.certificate.map(|c| c.not_after), Some(expired));
}

#[tokio::test]
async fn a_refused_upgrade_gives_its_status_and_still_the_date() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path(), 2020, 2099);
    let addr = tls_relay(&pki).await;
    let url = format!("wss://localhost:{}/cable/new/not-hex", addr.port());
    let found = probe(&url, &trusting(&pki.ca), &quick(), |_| {}).await;
    assert_eq!(
        found.failure,
        Some(ProbeFailure::Upgrade(UpgradeFailure::Status(400))),
        "{found:#?}"
    );
    assert_eq!(found.server_date, Some(fixed_clock()));
}

#[tokio::test]
async fn a_websocket_server_that_is_no_tunnel_service_is_told_apart() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        // Upgrades without choosing a subprotocol.
        let _ = tokio_tungstenite::accept_async(stream).await;
    });
    let url = format!("ws://127.0.0.1:{}/cable/new/{TUNNEL}", addr.port());
    let found = probe(&url, &TunnelConfig::default(), &quick(), |_| {}).await;
    assert_eq!(
        found.failure,
        Some(ProbeFailure::Upgrade(UpgradeFailure::NoSubprotocol)),
        "{found:#?}"
    );
}

#[tokio::test]
async fn a_proxy_answering_403_is_named_with_the_target_it_refused() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let asked = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.unwrap());
        }
        stream
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8(head).unwrap()
    });
    let proxy = format!("http://127.0.0.1:{}", addr.port());
    let config = TunnelConfig::default().with_proxy_var("HTTPS_PROXY", &proxy);
    let url = format!("wss://cable.ua5v.com/cable/new/{TUNNEL}");
    let found = probe(&url, &config, &quick(), |_| {}).await;
    assert_eq!(
        found.failure,
        Some(ProbeFailure::Proxy(ProxyProblem::Refused {
            target: "cable.ua5v.com:443".to_owned(),
            status: 403
        })),
        "{found:#?}"
    );
    assert_eq!(found.proxy.as_deref(), Some(proxy.as_str()));
    assert_eq!(steps(&found.timings), [Step::Dns, Step::Tcp]);
    assert!(
        asked
            .await
            .unwrap()
            .starts_with("CONNECT cable.ua5v.com:443 ")
    );
}

/// Set inside the network namespace [`a_name_that_does_not_resolve_fails_at_dns`] makes.
const IN_NAMESPACE: &str = "PASSBRIDGE_PROBE_IN_NAMESPACE";

/// Set (by `./dev test`) where the namespace must be possible: then not being able to make
/// one fails the test instead of skipping it.
const REQUIRE_NAMESPACE: &str = "PASSBRIDGE_REQUIRE_NETNS";

/// A lookup that cannot succeed, in a network namespace of its own (`unshare -rn`: no
/// interface but a loopback that is down), so the test never asks a real resolver: the name
/// lookup fails at once and the probe names that step.
#[test]
fn a_name_that_does_not_resolve_fails_at_dns() {
    if std::env::var_os(IN_NAMESPACE).is_some() {
        return dns_fails_here();
    }
    let output = std::process::Command::new("unshare")
        .args(["-rn"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_name_that_does_not_resolve_fails_at_dns",
            "--nocapture",
        ])
        .env(IN_NAMESPACE, "1")
        .output();
    let made = output
        .as_ref()
        .is_ok_and(|o| !String::from_utf8_lossy(&o.stderr).contains("unshare failed"));
    if !made {
        assert!(
            std::env::var_os(REQUIRE_NAMESPACE).is_none(),
            "{REQUIRE_NAMESPACE} is set but no network namespace could be made: {output:?}"
        );
        eprintln!("skipping: cannot make a network namespace here ({output:?})");
        return;
    }
    let output = output.unwrap();
    assert!(
        output.status.success(),
        "in the namespace: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("dns failure named:"));
}

fn dns_fails_here() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = ProbeOptions {
        step_limit: Duration::from_secs(5),
        connect_to: None,
    };
    let found = runtime.block_on(probe(
        "wss://cable.ua5v.com/cable/new/00",
        &TunnelConfig::default(),
        &options,
        |_| {},
    ));
    let failure = found
        .failure
        .expect("nothing resolves in an empty namespace");
    assert!(matches!(failure, ProbeFailure::Dns(_)), "{failure:?}");
    assert_eq!(failure.step(), Step::Dns);
    assert!(found.timings.is_empty());
    println!("dns failure named: {failure:?}");
}

#[tokio::test]
async fn a_server_that_stalls_runs_into_the_step_limit() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        // Accepts and says nothing: the TLS handshake waits for a ServerHello.
        let (stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(stream);
    });
    let options = ProbeOptions {
        step_limit: Duration::from_millis(300),
        connect_to: Some(addr),
    };
    let url = format!("wss://cable.ua5v.com/cable/new/{TUNNEL}");
    let found = probe(&url, &TunnelConfig::default(), &options, |_| {}).await;
    assert_eq!(
        found.failure,
        Some(ProbeFailure::TimedOut(Step::Tls)),
        "{found:#?}"
    );
    assert_eq!(steps(&found.timings), [Step::Tcp], "connect_to skips DNS");
    held.abort();
}

#[tokio::test]
async fn a_closed_port_fails_at_tcp() {
    let port = {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("ws://127.0.0.1:{port}/cable/new/{TUNNEL}");
    let found = probe(&url, &TunnelConfig::default(), &quick(), |_| {}).await;
    assert!(
        matches!(found.failure, Some(ProbeFailure::Tcp(_))),
        "{found:#?}"
    );
    assert_eq!(steps(&found.timings), [Step::Dns]);
}

#[tokio::test]
async fn a_plain_url_off_this_machine_is_refused_before_any_traffic() {
    let found = probe(
        "ws://cable.ua5v.com/cable/new/00",
        &TunnelConfig::default(),
        &quick(),
        |_| panic!("no step may start"),
    )
    .await;
    assert!(
        matches!(found.failure, Some(ProbeFailure::Url(_))),
        "{found:#?}"
    );
}
