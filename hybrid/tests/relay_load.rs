//! The relay under load and faults, small enough for every CI run: 500 concurrent tunnels
//! exchanging tagged messages, over plain WebSocket and over TLS, while 1 % of the phones
//! reset mid-tunnel, slow clients dribble their upgrade and a flooder asks to listen for (and
//! revoke) random contact IDs. Nothing may be misrouted or reordered, every fault must be
//! refused, and afterwards the relay must hold nothing. The full-size run is
//! `cargo bench -p hybrid --features io --bench relay_load` (docs/benchmarks.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    missing_docs,
    reason = "load harness: failing loudly is the point"
)]

#[path = "support/pki.rs"]
mod pki;
#[path = "support/relay_load.rs"]
mod relay_load;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use hybrid::io::relay::{Relay, RelayConfig};
use relay_load::{Load, drained, run};

async fn under_load(tls: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = if tls {
        let (server, client) = tls_pair(dir.path());
        (Some(server), Some(client))
    } else {
        (None, None)
    };
    let config = RelayConfig {
        max_tunnels: 2_000,
        max_connections: 4_000,
        handshake_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(20),
        tunnel_lifetime: Duration::from_secs(60),
        tls: server,
        ..RelayConfig::default()
    };
    let relay = Relay::bind((Ipv4Addr::LOCALHOST, 0).into(), config)
        .await
        .unwrap();
    let addr = relay.local_addr().unwrap();
    tokio::spawn(relay.run());
    let load = Load {
        tunnels: 500,
        messages: 8,
        pace: Duration::ZERO,
        reset_every: 100,
        slow: 20,
        slow_gap: Duration::from_millis(50),
        flood: 100,
        tls: client.clone(),
        source_base: 10,
    };
    let mut report = tokio::time::timeout(Duration::from_secs(120), run(addr, &load))
        .await
        .expect("the load run took over two minutes");
    let gauges = drained(addr, client.as_ref(), Duration::from_secs(20)).await;
    let (p50, p99) = (report.latency(0.5), report.latency(0.99));
    println!(
        "tls={tls}: {} tunnels opened in {:?}, {} messages, p50 {p50:?}, p99 {p99:?}, \
         resets {}/{}, slow cut {}/{}, flood refused {}/{}",
        report.opened,
        report.open_time,
        report.delivered,
        report.resets_seen,
        report.resets,
        report.slow_cut,
        load.slow,
        report.flood_refused,
        load.flood
    );
    assert_eq!(report.opened, 500);
    assert_eq!((report.misrouted, report.reordered), (0, 0));
    assert_eq!(report.incomplete, 0);
    assert_eq!(report.resets, 5);
    assert_eq!(
        report.resets_seen, 5,
        "a client did not see its phone vanish"
    );
    assert_eq!(report.delivered, 495 * 16 + 5 * 8);
    assert_eq!((report.slow_cut, report.slow_upgraded), (20, 0));
    assert_eq!((report.flood_refused, report.flood_accepted), (100, 0));
    assert_eq!(
        gauges,
        [Some(0); 4],
        "tunnels, connections, listeners, buffered bytes left open"
    );
    // The relay counted what it refused, by reason.
    let page = relay_load::metrics(addr, client.as_ref()).await;
    let refused = |reason: &str| {
        relay_load::metric(
            &page,
            &format!("cable_refusals_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(refused("contact_proof"), Some(100));
    assert!(refused("handshake_timeout") >= Some(20), "{page}");
}

/// A private CA, the relay's certificate from it, and a client configuration trusting it.
fn tls_pair(dir: &std::path::Path) -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let pki = pki::pki(dir, "relay load", None);
    let server = hybrid::io::tls::server_config(&pki.cert, &pki.key).unwrap();
    let client = hybrid::io::tls::ClientTls::new(Some(pki.ca))
        .config()
        .unwrap();
    (server, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_websocket_under_load_and_faults() {
    under_load(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_under_load_and_faults() {
    under_load(true).await;
}
