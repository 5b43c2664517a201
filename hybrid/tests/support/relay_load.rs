//! The relay under load and faults, shared by the test (`tests/relay_load.rs`, ~500 tunnels,
//! relay in-process) and the benchmark (`benches/relay_load.rs`, 10,000 tunnels, relay in its
//! own process): real WebSockets (plain or TLS) on loopback.
//!
//! Every tunnel's phone and client exchange tagged messages (tunnel index, direction,
//! sequence number and send time in each payload) in lock-step; meanwhile 1 % of the phones
//! drop with a TCP reset half-way, slow clients dribble their upgrade request a byte at a
//! time, and a flooder asks `/cable/listen` (half of them as revokes) for random contact IDs
//! and answers the nonce with random bytes. Normal peers connect from their own loopback
//! addresses (127.10.x.y), so neither the per-source cap nor the ephemeral ports of one
//! address limit the count.

#![allow(
    dead_code,
    reason = "shared by the test and the benchmark; each uses part of it"
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hybrid::contact_proof::{ContactId, PROOF_LEN};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Stream = MaybeTlsStream<tokio::net::TcpStream>;
type Ws = WebSocketStream<Stream>;

/// What to throw at the relay.
#[derive(Clone)]
pub(crate) struct Load {
    /// Concurrent tunnels (phone + client each).
    pub(crate) tunnels: usize,
    /// Messages each way per tunnel.
    pub(crate) messages: u32,
    /// Pause between a tunnel's round trips (tunnels start spread over one pause), so the
    /// latencies measure the relay's forwarding rather than a load generator that saturates
    /// its own cores; zero: as fast as possible.
    pub(crate) pace: Duration,
    /// One tunnel in this many has its phone reset mid-tunnel.
    pub(crate) reset_every: usize,
    /// Clients dribbling their upgrade.
    pub(crate) slow: usize,
    /// Gap between a slow client's bytes.
    pub(crate) slow_gap: Duration,
    /// `/cable/listen` requests with random IDs and random proofs.
    pub(crate) flood: usize,
    /// TLS: the client configuration that trusts the relay.
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    /// Second octet of the loopback addresses this load's peers connect from (several loads
    /// at once use different ones): tunnels from 127.`base`.x.y, slow clients from
    /// 127.`base + 100`.x.y, the flood from 127.`base + 101`.0.y.
    pub(crate) source_base: u8,
}

/// What happened.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Tunnels opened.
    pub(crate) opened: usize,
    /// Time to open them all (phone and client each).
    pub(crate) open_time: Duration,
    /// Messages that arrived on the wrong tunnel or in the wrong direction.
    pub(crate) misrouted: u64,
    /// Messages out of sequence.
    pub(crate) reordered: u64,
    /// Messages delivered.
    pub(crate) delivered: u64,
    /// Tunnels (not reset on purpose) that did not complete their exchange.
    pub(crate) incomplete: usize,
    /// Phones reset on purpose.
    pub(crate) resets: usize,
    /// Of those, tunnels whose client then saw the tunnel end.
    pub(crate) resets_seen: usize,
    /// Slow clients the relay cut off before their request was complete.
    pub(crate) slow_cut: usize,
    /// Slow clients that got a 101 (must be 0).
    pub(crate) slow_upgraded: usize,
    /// Flood requests the relay refused (close 1008 after the nonce, or an HTTP refusal).
    pub(crate) flood_refused: usize,
    /// Flood requests the relay accepted as listening (must be 0).
    pub(crate) flood_accepted: usize,
    /// One-way forwarding latencies (send to receive, through the relay).
    pub(crate) latencies: Vec<Duration>,
}

impl Report {
    /// The `q` quantile (0..=1) of the latencies.
    pub(crate) fn latency(&mut self, q: f64) -> Duration {
        self.latencies.sort_unstable();
        let last = self.latencies.len().saturating_sub(1);
        let at = ((last as f64) * q).round() as usize;
        self.latencies.get(at).copied().unwrap_or_default()
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "load timing needs the real clock"
)]
fn now() -> Instant {
    Instant::now()
}

/// A TCP connection to `relay` from loopback address `from`, with TLS when `tls` is set.
async fn connect(
    from: Ipv4Addr,
    relay: SocketAddr,
    tls: Option<&Arc<rustls::ClientConfig>>,
    zero_linger: bool,
) -> std::io::Result<Stream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind((from, 0).into())?;
    let tcp = socket.connect(relay).await?;
    tcp.set_nodelay(true)?;
    if zero_linger {
        // Dropping the socket then sends a RST instead of a FIN: an abrupt loss.
        tcp.set_zero_linger()?;
    }
    match tls {
        None => Ok(MaybeTlsStream::Plain(tcp)),
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from("localhost")
                .map_err(std::io::Error::other)?;
            let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                .connect(name, tcp)
                .await?;
            Ok(MaybeTlsStream::Rustls(tls))
        }
    }
}

/// A WebSocket upgrade for `path` over a fresh connection from `from`.
async fn open(
    from: Ipv4Addr,
    relay: SocketAddr,
    load: &Load,
    path: &str,
    revoke: bool,
    zero_linger: bool,
) -> Result<Ws, u16> {
    let stream = connect(from, relay, load.tls.as_ref(), zero_linger)
        .await
        .map_err(|_| 0u16)?;
    let scheme = if load.tls.is_some() { "wss" } else { "ws" };
    let mut request = format!("{scheme}://localhost:{}{path}", relay.port())
        .into_client_request()
        .map_err(|_| 0u16)?;
    let headers = request.headers_mut();
    headers.insert("sec-websocket-protocol", "fido.cable".parse().unwrap());
    if revoke {
        headers.insert("x-passbridge-revoke", "true".parse().unwrap());
    }
    let config = WebSocketConfig::default();
    match tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(_) => Err(0),
    }
}

fn source(base: u8, n: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, base, (n / 250) as u8, (n % 250 + 1) as u8)
}

const HEADER: usize = 4 + 1 + 4 + 8;

fn tagged(tunnel: u32, direction: u8, seq: u32, epoch: Instant) -> Vec<u8> {
    let mut payload = Vec::with_capacity(64);
    payload.extend_from_slice(&tunnel.to_be_bytes());
    payload.push(direction);
    payload.extend_from_slice(&seq.to_be_bytes());
    let sent = u64::try_from(now().duration_since(epoch).as_nanos()).unwrap_or(u64::MAX);
    payload.extend_from_slice(&sent.to_be_bytes());
    payload.resize(64, 0xA5);
    payload
}

/// What one side of a pair saw in one message.
#[derive(Default)]
struct Seen {
    misrouted: u64,
    reordered: u64,
    delivered: u64,
    latencies: Vec<Duration>,
}

impl Seen {
    fn check(&mut self, data: &[u8], tunnel: u32, direction: u8, seq: u32, epoch: Instant) {
        if data.len() < HEADER {
            self.misrouted += 1;
            return;
        }
        let got_tunnel = u32::from_be_bytes(data[0..4].try_into().unwrap());
        let got_seq = u32::from_be_bytes(data[5..9].try_into().unwrap());
        let sent = u64::from_be_bytes(data[9..17].try_into().unwrap());
        if got_tunnel != tunnel || data[4] != direction {
            self.misrouted += 1;
        } else if got_seq != seq {
            self.reordered += 1;
        }
        self.delivered += 1;
        let at = now().duration_since(epoch);
        self.latencies
            .push(at.saturating_sub(Duration::from_nanos(sent)));
    }
}

/// The next binary message, skipping control frames; `None` once the tunnel ended.
async fn next_binary(ws: &mut Ws) -> Option<Vec<u8>> {
    loop {
        match ws.next().await? {
            Ok(Message::Binary(data)) => return Some(data.to_vec()),
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Ok(_) | Err(_) => return None,
        }
    }
}

struct PairOutcome {
    seen: Seen,
    complete: bool,
    reset: bool,
    reset_seen: bool,
}

/// One tunnel's exchange, in lock-step: client → phone, phone → client, `messages` times.
async fn exchange(
    tunnel: u32,
    mut phone: Ws,
    mut client: Ws,
    messages: u32,
    reset: bool,
    pace: Duration,
    epoch: Instant,
) -> PairOutcome {
    let mut seen = Seen::default();
    if !pace.is_zero() {
        // Spread the tunnels' starts evenly over one pause.
        let offset = pace.mul_f64(f64::from(tunnel.wrapping_mul(7919) % 1000) / 1000.0);
        tokio::time::sleep(offset).await;
    }
    for seq in 0..messages {
        if seq > 0 && !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
        if reset && seq == messages / 2 {
            // The phone vanishes (RST); the client must see its tunnel end, nothing else.
            drop(phone);
            let ended = tokio::time::timeout(Duration::from_secs(15), async {
                while let Some(data) = next_binary(&mut client).await {
                    seen.misrouted += 1;
                    drop(data);
                }
            })
            .await
            .is_ok();
            return PairOutcome {
                seen,
                complete: true,
                reset: true,
                reset_seen: ended,
            };
        }
        if client
            .send(Message::Binary(tagged(tunnel, 0, seq, epoch).into()))
            .await
            .is_err()
        {
            break;
        }
        let Some(data) = next_binary(&mut phone).await else {
            break;
        };
        seen.check(&data, tunnel, 0, seq, epoch);
        if phone
            .send(Message::Binary(tagged(tunnel, 1, seq, epoch).into()))
            .await
            .is_err()
        {
            break;
        }
        let Some(data) = next_binary(&mut client).await else {
            break;
        };
        seen.check(&data, tunnel, 1, seq, epoch);
    }
    let complete = seen.delivered == u64::from(messages) * 2;
    let _ = client.close(None).await;
    let _ = phone.close(None).await;
    PairOutcome {
        seen,
        complete,
        reset: false,
        reset_seen: false,
    }
}

/// Opens tunnel `n` (phone, then client), both from the tunnel's own source address.
async fn open_pair(relay: SocketAddr, load: &Load, n: usize) -> Option<(Ws, Ws)> {
    let id = format!("{:032X}", n + 1);
    let from = source(load.source_base, n);
    let reset = load.reset_every > 0 && n.is_multiple_of(load.reset_every);
    let phone = open(from, relay, load, &format!("/cable/new/{id}"), false, reset)
        .await
        .ok()?;
    let client = open(
        from,
        relay,
        load,
        &format!("/cable/connect/000001/{id}"),
        false,
        false,
    )
    .await
    .ok()?;
    Some((phone, client))
}

/// A client writing its upgrade request a byte at a time; `true` if the relay cut it off.
async fn slow_client(relay: SocketAddr, load: &Load, n: usize) -> Option<bool> {
    let mut stream = connect(
        source(load.source_base + 100, n),
        relay,
        load.tls.as_ref(),
        false,
    )
    .await
    .ok()?;
    let request = format!(
        "GET /cable/new/{:032X} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: fido.cable\r\n\r\n",
        1_000_000 + n
    );
    let mut buf = [0u8; 512];
    for byte in request.bytes() {
        if stream.write_all(&[byte]).await.is_err() || stream.flush().await.is_err() {
            return Some(true);
        }
        // The gap doubles as the check for the relay's verdict.
        match tokio::time::timeout(load.slow_gap, stream.read(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => return Some(true),
            Ok(Ok(n)) => return Some(!buf[..n].starts_with(b"HTTP/1.1 101")),
        }
    }
    // The whole request got through: did the relay upgrade it?
    match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => Some(!buf[..n].starts_with(b"HTTP/1.1 101")),
        _ => Some(true),
    }
}

/// One flood request: `true` if refused, `false` if the relay let it listen.
async fn flood_one(relay: SocketAddr, load: &Load, n: usize, rng: &mut ChaCha20Rng) -> bool {
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    let mut proof = [0u8; PROOF_LEN];
    rng.fill_bytes(&mut proof);
    let path = format!("/cable/listen/{}", ContactId(id).to_path());
    let mut ws = match open(
        source(load.source_base + 101, n % 8),
        relay,
        load,
        &path,
        n % 2 == 1,
        false,
    )
    .await
    {
        Ok(ws) => ws,
        Err(_) => return true,
    };
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        let _nonce = next_binary(&mut ws).await?;
        ws.send(Message::Binary(proof.to_vec().into())).await.ok()?;
        loop {
            match ws.next().await? {
                Ok(Message::Binary(data)) if data.as_ref() == [0x01] => return Some(false),
                Ok(Message::Close(Some(frame))) => return Some(u16::from(frame.code) == 1008),
                Ok(Message::Close(None)) | Err(_) => return Some(true),
                Ok(_) => {}
            }
        }
    })
    .await;
    // Silence until the timeout is not acceptance either: the phone never heard [0x01].
    !matches!(outcome, Ok(Some(false)))
}

/// Tunnels opened and held, waiting for [`drive`].
pub(crate) struct Opened {
    pairs: Vec<(usize, (Ws, Ws))>,
    report: Report,
    epoch: Instant,
}

impl Opened {
    /// How many tunnels are open.
    pub(crate) fn count(&self) -> usize {
        self.pairs.len()
    }

    /// How long opening took.
    pub(crate) fn open_time(&self) -> Duration {
        self.report.open_time
    }
}

/// Runs `load` against the relay at `relay`.
pub(crate) async fn run(relay: SocketAddr, load: &Load) -> Report {
    drive(relay, load, open_all(relay, load).await).await
}

/// Opens every tunnel of `load`, 200 at a time, and keeps them all open.
pub(crate) async fn open_all(relay: SocketAddr, load: &Load) -> Opened {
    let mut report = Report::default();
    let epoch = now();
    let started = now();
    let mut pairs = Vec::with_capacity(load.tunnels);
    let mut failed_to_open = 0;
    let mut next = 0;
    while next < load.tunnels {
        let mut batch = tokio::task::JoinSet::new();
        for n in next..(next + 200).min(load.tunnels) {
            let load = load.clone();
            batch.spawn(async move { (n, open_pair(relay, &load, n).await) });
        }
        next = (next + 200).min(load.tunnels);
        while let Some(joined) = batch.join_next().await {
            match joined.unwrap() {
                (n, Some(pair)) => pairs.push((n, pair)),
                (_, None) => failed_to_open += 1,
            }
        }
    }
    report.open_time = started.elapsed();
    report.opened = pairs.len();
    report.incomplete += failed_to_open;
    Opened {
        pairs,
        report,
        epoch,
    }
}

/// The traffic over the `opened` tunnels, the slow clients and the flood, all at once.
pub(crate) async fn drive(relay: SocketAddr, load: &Load, opened: Opened) -> Report {
    let Opened {
        pairs,
        mut report,
        epoch,
    } = opened;
    let mut slow = tokio::task::JoinSet::new();
    for n in 0..load.slow {
        let load = load.clone();
        slow.spawn(async move { slow_client(relay, &load, n).await });
    }
    let flood = {
        let load = load.clone();
        tokio::spawn(async move {
            let mut rng = ChaCha20Rng::seed_from_u64(15);
            let mut refused = 0;
            let mut inflight = tokio::task::JoinSet::new();
            for n in 0..load.flood {
                let mut child = ChaCha20Rng::seed_from_u64(rng.next_u64());
                let load = load.clone();
                inflight.spawn(async move { flood_one(relay, &load, n, &mut child).await });
                // At most 8 in flight: one per flood source address, well under its cap.
                if inflight.len() >= 8
                    && let Some(done) = inflight.join_next().await
                {
                    refused += usize::from(done.unwrap());
                }
            }
            while let Some(done) = inflight.join_next().await {
                refused += usize::from(done.unwrap());
            }
            refused
        })
    };
    let mut traffic = tokio::task::JoinSet::new();
    for (n, (phone, client)) in pairs {
        let reset = load.reset_every > 0 && n.is_multiple_of(load.reset_every);
        let messages = load.messages;
        traffic.spawn(exchange(
            n as u32, phone, client, messages, reset, load.pace, epoch,
        ));
    }
    while let Some(outcome) = traffic.join_next().await {
        let outcome = outcome.unwrap();
        report.misrouted += outcome.seen.misrouted;
        report.reordered += outcome.seen.reordered;
        report.delivered += outcome.seen.delivered;
        report.latencies.extend(outcome.seen.latencies);
        if outcome.reset {
            report.resets += 1;
            report.resets_seen += usize::from(outcome.reset_seen);
        } else if !outcome.complete {
            report.incomplete += 1;
        }
    }
    while let Some(cut) = slow.join_next().await {
        match cut.unwrap() {
            Some(true) => report.slow_cut += 1,
            Some(false) => report.slow_upgraded += 1,
            None => {}
        }
    }
    report.flood_refused = flood.await.unwrap();
    report.flood_accepted = load.flood - report.flood_refused;
    report
}

/// The relay's `/metrics` page.
pub(crate) async fn metrics(relay: SocketAddr, tls: Option<&Arc<rustls::ClientConfig>>) -> String {
    let Ok(mut stream) = connect(Ipv4Addr::LOCALHOST, relay, tls, false).await else {
        return String::new();
    };
    let _ = stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await;
    let mut page = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut page)).await;
    String::from_utf8_lossy(&page).into_owned()
}

/// A metric's value on `page`.
pub(crate) fn metric(page: &str, name: &str) -> Option<u64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The gauges that must fall back to zero once the load is gone.
pub(crate) const OPEN_GAUGES: [&str; 4] = [
    "cable_tunnels_open",
    "cable_connections_open",
    "cable_listeners_open",
    "cable_buffered_bytes",
];

/// Polls `/metrics` (bounded: `within`) until every gauge in [`OPEN_GAUGES`] is 0; returns
/// the last values seen.
pub(crate) async fn drained(
    relay: SocketAddr,
    tls: Option<&Arc<rustls::ClientConfig>>,
    within: Duration,
) -> [Option<u64>; 4] {
    let deadline = now() + within;
    loop {
        let page = metrics(relay, tls).await;
        let values = OPEN_GAUGES.map(|name| metric(&page, name));
        if values == [Some(0); 4] || now() >= deadline {
            return values;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
