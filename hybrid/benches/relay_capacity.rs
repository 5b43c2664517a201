//! Relay capacity: how much memory a relay process spends per idle tunnel.
//!
//! Starts the relay (the same `hybrid::io::relay` that `passbridge relay` runs) as its own
//! process — this binary, re-executed in relay mode — opens 10,000 phone-side tunnels
//! (`/cable/new/…`,
//! waiting for a client that never comes) over loopback WebSockets, and reads the relay's
//! resident set size from `/proc/<pid>/status` before and after. Bounded: the whole run stops
//! after two minutes whatever happens.
//!
//! `cargo bench -p hybrid --features io --bench relay_capacity` (needs `ulimit -n` ≥ 10,100
//! for both processes; the default here is 20,000).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    clippy::as_conversions,
    missing_docs,
    reason = "benchmark harness: failing loudly is fine"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hybrid::io::relay::{Relay, RelayConfig};
use hybrid::io::tunnel::{Tunnel, TunnelConfig};
use hybrid::tunnel_url::TunnelRequest;

const TUNNELS: usize = 10_000;
const CHILD_ENV: &str = "RELAY_CAPACITY_CHILD";
const BATCH: usize = 200;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn metric(addr: &str, name: &str) -> u64 {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// Relay mode: what `passbridge relay` does, with limits high enough for the count.
fn relay_child() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = RelayConfig {
            max_tunnels: 20_000,
            tunnel_lifetime: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(120),
            ..RelayConfig::default()
        };
        let relay = Relay::bind(([127, 0, 0, 1], 0).into(), config)
            .await
            .unwrap();
        println!("relay listening on ws://{}", relay.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        // The parent kills this process; the lifetime bounds it if the parent dies first.
        let _ = tokio::time::timeout(Duration::from_secs(150), relay.run()).await;
    });
}

fn main() {
    if std::env::var_os(CHILD_ENV).is_some() {
        relay_child();
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let count = if full { TUNNELS } else { 100 };
    let mut relay = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = relay.id();
    let mut out = BufReader::new(relay.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .unwrap()
        .to_owned();
    let addr = url.trim_start_matches("ws://").to_owned();
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_kib(pid);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let tunnels = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(120), async {
            let mut open = Vec::with_capacity(count);
            let mut next = 0u128;
            while open.len() < count {
                let mut batch = tokio::task::JoinSet::new();
                for _ in 0..BATCH.min(count - open.len()) {
                    next += 1;
                    let request = TunnelRequest::plain(format!("{url}/cable/new/{:032X}", next));
                    batch.spawn(async move {
                        Tunnel::connect(&request, &TunnelConfig::default()).await
                    });
                }
                while let Some(result) = batch.join_next().await {
                    open.push(result.unwrap().unwrap());
                }
            }
            open
        })
        .await
        .expect("opening the tunnels took over two minutes")
    });
    let opened_in = started.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(pid);
    let open_metric = metric(&addr, "cable_tunnels_open");
    let per_tunnel = (after.saturating_sub(before)) as f64 / count as f64;
    println!(
        "relay capacity: {count} idle tunnels open (relay reports {open_metric}), opened in \
         {:.1} s; relay RSS {before} KiB -> {after} KiB = {per_tunnel:.2} KiB per tunnel",
        opened_in.as_secs_f64()
    );
    assert_eq!(open_metric, count as u64);
    drop(tunnels);
    drop(runtime);
    let _ = relay.kill();
    let _ = relay.wait();
}
