//! The relay under load and faults, full size: 10,000 concurrent tunnels exchanging tagged
//! messages, over plain WebSocket and then over TLS, while 1 % of the phones reset mid-tunnel,
//! 200 slow clients dribble their upgrade a byte at a time and a flooder asks to listen for
//! (and revoke) random contact IDs (the harness is `tests/support/relay_load.rs`, shared with
//! the 500-tunnel test in `./dev test`).
//!
//! The relay runs as its own processes (this binary re-executed, as `passbridge relay` runs
//! it), so resident memory and CPU time are the relay's own: read from `/proc/<pid>`. A
//! process may hold at most `ulimit -Hn` descriptors (20,000 on the machine measured, and not
//! raisable there), and 10,000 tunnels are 20,000 sockets on each side; so the load is two
//! relay instances (as two instances behind a load balancer would be) with 5,000 tunnels
//! each, driven by two load processes, all 10,000 tunnels open at once. Prints a Markdown
//! report for docs/benchmarks.md. Bounded: each load process stops after five minutes
//! whatever happens, and each relay after six.
//!
//! `cargo bench -p hybrid --features io --bench relay_load`. Without `--bench`
//! (`cargo test --benches`) it runs 2 × 50 tunnels.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    missing_docs,
    reason = "benchmark harness: failing loudly is fine"
)]

#[path = "../tests/support/relay_load.rs"]
mod relay_load;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use hybrid::io::relay::{Relay, RelayConfig};
use relay_load::{Load, drained};

const CHILD_ENV: &str = "RELAY_LOAD_CHILD";
const CERT_ENV: &str = "RELAY_LOAD_CERT";
const KEY_ENV: &str = "RELAY_LOAD_KEY";
const FD_LIMIT: u64 = 65_536;

fn relay_child() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tls = std::env::var_os(CERT_ENV).map(|cert| {
            let key = std::env::var_os(KEY_ENV).unwrap();
            hybrid::io::tls::server_config(Path::new(&cert), Path::new(&key)).unwrap()
        });
        let config = RelayConfig {
            max_tunnels: 12_000,
            max_connections: 30_000,
            tunnel_lifetime: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(120),
            tls,
            ..RelayConfig::default()
        };
        let _ = hybrid::io::relay::raise_fd_limit();
        let relay = Relay::bind(([127, 0, 0, 1], 0).into(), config)
            .await
            .unwrap();
        println!("{}", relay.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(360), relay.run()).await;
    });
}

const WORKER_ENV: &str = "RELAY_LOAD_WORKER";
const RELAY_ENV: &str = "RELAY_LOAD_RELAY";
const CA_ENV: &str = "RELAY_LOAD_CA";
const TUNNELS_ENV: &str = "RELAY_LOAD_TUNNELS";

/// Load mode: opens this worker's tunnels, says so, waits for "go" on stdin, drives them and
/// prints its results.
fn load_worker(worker: u8) {
    let relay: SocketAddr = std::env::var(RELAY_ENV).unwrap().parse().unwrap();
    let tunnels: usize = std::env::var(TUNNELS_ENV).unwrap().parse().unwrap();
    let tls = std::env::var_os(CA_ENV).map(|ca| {
        hybrid::io::tls::ClientTls::new(Some(ca.into()))
            .config()
            .unwrap()
    });
    let load = Load {
        tunnels,
        messages: 8,
        pace: Duration::from_secs(1),
        reset_every: 100,
        slow: if tunnels >= 1_000 { 100 } else { 10 },
        slow_gap: Duration::from_millis(100),
        flood: if tunnels >= 1_000 { 250 } else { 25 },
        tls: tls.clone(),
        source_base: 10 + 2 * worker,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(300), async {
            let opened = relay_load::open_all(relay, &load).await;
            println!(
                "opened {} {}",
                opened.count(),
                opened.open_time().as_secs_f64()
            );
            std::io::stdout().flush().unwrap();
            let mut go = String::new();
            std::io::stdin().read_line(&mut go).unwrap();
            let report = relay_load::drive(relay, &load, opened).await;
            let gauges = drained(relay, tls.as_ref(), Duration::from_secs(30)).await;
            let left: u64 = gauges.iter().map(|g| g.unwrap_or(u64::MAX)).sum();
            println!(
                "result {} {} {} {} {} {} {} {} {} {} {}",
                report.misrouted,
                report.reordered,
                report.incomplete,
                report.delivered,
                report.resets,
                report.resets_seen,
                report.slow_cut,
                report.slow_upgraded,
                report.flood_refused,
                report.flood_accepted,
                left
            );
            let lat: Vec<String> = report
                .latencies
                .iter()
                .map(|d| d.as_nanos().to_string())
                .collect();
            println!("lat {}", lat.join(" "));
        })
        .await
        .expect("the load run took over five minutes");
    });
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// utime + stime of `pid`, in seconds (clock ticks of 1/100 s, Linux's USER_HZ).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

struct RelayProcess {
    child: Child,
    addr: SocketAddr,
}

fn spawn_relay(tls: Option<&Path>) -> RelayProcess {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.env(CHILD_ENV, "1").stdout(Stdio::piped());
    if let Some(dir) = tls {
        command
            .env(CERT_ENV, dir.join("cert.pem"))
            .env(KEY_ENV, dir.join("key.pem"));
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    RelayProcess {
        child,
        addr: line.trim().parse().unwrap(),
    }
}

fn tls_files(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "relay load CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
}

/// One mode's row of the report.
struct Row {
    mode: &'static str,
    tunnels: usize,
    open_secs: f64,
    /// misrouted, reordered, incomplete, delivered, resets, resets seen, slow cut, slow
    /// upgraded, flood refused, flood accepted, gauges left open (summed over the workers).
    counts: [u64; 11],
    rss_open_kib: f64,
    rss_peak_kib: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_secs: f64,
}

fn measure(mode: &'static str, per_relay: usize, tls: Option<&Path>) -> Row {
    if let Some(dir) = tls {
        tls_files(dir);
    }
    let relays = [spawn_relay(tls), spawn_relay(tls)];
    std::thread::sleep(Duration::from_millis(300));
    let pids = relays.each_ref().map(|r| r.child.id());
    let rss = || {
        pids.iter()
            .map(|p| proc_status_kib(*p, "VmRSS:"))
            .sum::<u64>()
    };
    let rss_before = rss();
    let cpu_before: f64 = pids.iter().map(|p| cpu_secs(*p)).sum();
    let mut workers: Vec<Child> = (0..2u8)
        .map(|k| {
            let mut command = Command::new(std::env::current_exe().unwrap());
            command
                .env(WORKER_ENV, k.to_string())
                .env(RELAY_ENV, relays[usize::from(k)].addr.to_string())
                .env(TUNNELS_ENV, per_relay.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped());
            if let Some(dir) = tls {
                command.env(CA_ENV, dir.join("ca.pem"));
            }
            command.spawn().unwrap()
        })
        .collect();
    let mut outputs: Vec<_> = workers
        .iter_mut()
        .map(|w| BufReader::new(w.stdout.take().unwrap()))
        .collect();
    let (mut tunnels, mut open_secs) = (0usize, 0f64);
    for out in &mut outputs {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[0], "opened", "{line}");
        tunnels += fields[1].parse::<usize>().unwrap();
        open_secs = open_secs.max(fields[2].parse().unwrap());
    }
    let rss_open = rss();
    // All tunnels are open: go, and watch the relays' memory while the traffic runs.
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(rss_open));
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (peak, watching) = (Arc::clone(&peak), Arc::clone(&watching));
        std::thread::spawn(move || {
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                let now: u64 = pids.iter().map(|p| proc_status_kib(*p, "VmRSS:")).sum();
                peak.fetch_max(now, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    for worker in &mut workers {
        writeln!(worker.stdin.as_mut().unwrap(), "go").unwrap();
    }
    let mut counts = [0u64; 11];
    let mut latencies: Vec<u64> = Vec::new();
    for out in &mut outputs {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[0], "result", "{line}");
        for (total, field) in counts.iter_mut().zip(&fields[1..]) {
            *total += field.parse::<u64>().unwrap();
        }
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        latencies.extend(
            line.split_whitespace()
                .skip(1)
                .map(|v| v.parse::<u64>().unwrap()),
        );
    }
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    watcher.join().unwrap();
    let cpu = pids.iter().map(|p| cpu_secs(*p)).sum::<f64>() - cpu_before;
    for mut worker in workers {
        let _ = worker.wait();
    }
    for relay in relays {
        let mut child = relay.child;
        let _ = child.kill();
        let _ = child.wait();
    }
    latencies.sort_unstable();
    let quantile = |q: f64| {
        let at = ((latencies.len().saturating_sub(1)) as f64 * q).round() as usize;
        latencies.get(at).copied().unwrap_or(0) as f64 / 1e3
    };
    let per = |kib: u64| kib.saturating_sub(rss_before) as f64 / tunnels.max(1) as f64;
    Row {
        mode,
        tunnels,
        open_secs,
        counts,
        rss_open_kib: per(rss_open),
        rss_peak_kib: per(peak.load(std::sync::atomic::Ordering::Relaxed)),
        p50_us: quantile(0.5),
        p99_us: quantile(0.99),
        cpu_secs: cpu,
    }
}

fn raise_own_fd_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.maximum.is_some_and(|max| max < FD_LIMIT) {
        // Root may raise the hard limit too; the child relay inherits it.
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(FD_LIMIT),
                maximum: Some(FD_LIMIT),
            },
        );
    }
    let _ = hybrid::io::relay::raise_fd_limit();
}

fn main() {
    if std::env::var_os(CHILD_ENV).is_some() {
        relay_child();
        return;
    }
    if let Some(worker) = std::env::var_os(WORKER_ENV) {
        load_worker(worker.to_str().unwrap().parse().unwrap());
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let per_relay = if full { 5_000 } else { 50 };
    raise_own_fd_limit();
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        measure("plain ws://", per_relay, None),
        measure("TLS wss://", per_relay, Some(dir.path())),
    ];
    println!(
        "| mode | tunnels open at once | opened in | new tunnels/s | misrouted | reordered | \
         incomplete | messages | resets seen | slow clients cut / upgraded | flood refused / \
         accepted | left open | relay RSS per tunnel, open / peak in traffic | latency p50 | \
         latency p99 | relay CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let c = r.counts;
        println!(
            "| {} | {} | {:.2} s | {:.0} | {} | {} | {} | {} | {} / {} | {} / {} | {} / {} | {} | \
             {:.1} / {:.1} KiB | {:.0} µs | {:.0} µs | {:.1} s |",
            r.mode,
            r.tunnels,
            r.open_secs,
            r.tunnels as f64 / r.open_secs,
            c[0],
            c[1],
            c[2],
            c[3],
            c[5],
            c[4],
            c[6],
            c[7],
            c[8],
            c[9],
            c[10],
            r.rss_open_kib,
            r.rss_peak_kib,
            r.p50_us,
            r.p99_us,
            r.cpu_secs
        );
    }
}
