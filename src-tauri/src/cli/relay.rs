//! `passbridge relay`: the self-hostable tunnel relay.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use hybrid::io::relay::{FdLimit, Relay, RelayConfig, RelayEvent, raise_fd_limit};

use super::{fail, runtime};

/// Options for `passbridge relay`. Every limit's default is `RelayConfig::default()`'s; each
/// says what `/metrics` shows when it is hit.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(super) struct RelayArgs {
    /// Address to listen on. Without --tls-cert the relay speaks plain WebSocket: keep it on
    /// loopback, or behind a load balancer that terminates TLS.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// PEM certificate chain: serve wss:// (TLS through rustls). Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Routing ID of this relay instance, 6 hex digits (one per instance behind a load
    /// balancer; clients come back to the instance it names).
    #[arg(long, default_value = "000001")]
    routing_id: String,
    /// Connections open at once, routed or not. Over it a new connection is closed at once:
    /// cable_refusals_total{reason="connections_full"}.
    #[arg(long, default_value_t = RelayConfig::default().max_connections)]
    max_connections: usize,
    /// Connections from one source address (IPv6: one /64) still in TLS, upgrade or proof.
    /// Over it: cable_refusals_total{reason="per_source_full"}.
    #[arg(long, default_value_t = RelayConfig::default().max_unrouted_per_source)]
    max_unrouted_per_source: usize,
    /// Seconds from accept to routed (TLS, upgrade request, a linked phone's proof). Over
    /// it: cable_refusals_total{reason="handshake_timeout"}.
    #[arg(long, default_value_t = RelayConfig::default().handshake_timeout.as_secs())]
    handshake_secs: u64,
    /// Tunnels open or waiting at once, and separately linked phones listening. Over it:
    /// HTTP 503, cable_refusals_total{reason="tunnels_full"} or {reason="listeners_full"}.
    #[arg(long, default_value_t = RelayConfig::default().max_tunnels)]
    max_tunnels: usize,
    /// Largest message in bytes. Over it the tunnel closes (1009):
    /// cable_refusals_total{reason="message_too_big"}.
    #[arg(long, default_value_t = RelayConfig::default().max_message_size)]
    max_message_size: usize,
    /// Messages each peer may send per tunnel. Over it the tunnel closes (1008):
    /// cable_refusals_total{reason="too_many_messages"}.
    #[arg(long, default_value_t = RelayConfig::default().max_messages_per_peer)]
    max_messages: u64,
    /// Bytes a tunnel may queue before its second peer joins. Over it the tunnel closes
    /// (1008): cable_refusals_total{reason="queue_full"}.
    #[arg(long, default_value_t = RelayConfig::default().max_queued_bytes)]
    max_queued_bytes: usize,
    /// Bytes queued across all waiting tunnels (cable_buffered_bytes). Over it the tunnel
    /// closes (1008): cable_refusals_total{reason="buffer_full"}.
    #[arg(long, default_value_t = RelayConfig::default().max_buffered_bytes)]
    max_buffered_bytes: usize,
    /// Unlinked contact IDs remembered (cable_revoked_contacts); the oldest goes first.
    #[arg(long, default_value_t = RelayConfig::default().max_revoked)]
    max_revoked: usize,
    /// Days an unlinked contact ID is remembered (contacts get 410 Gone, then 404).
    #[arg(long, default_value_t = RelayConfig::default().revoked_ttl.as_secs() / 86_400)]
    revoked_days: u64,
    /// Tunnel lifetime in seconds: every connection ends then.
    #[arg(long, default_value_t = RelayConfig::default().tunnel_lifetime.as_secs())]
    lifetime_secs: u64,
    /// Seconds a joined tunnel may go without traffic (closes 1001).
    #[arg(long, default_value_t = RelayConfig::default().idle_timeout.as_secs())]
    idle_secs: u64,
}

const AFTER_HELP: &str = "\
/metrics (Prometheus text, on the relay's own port) shows the gauges cable_tunnels_open, \
cable_connections_open, cable_listeners_open, cable_buffered_bytes and cable_revoked_contacts, \
and cable_refusals_total by reason. Several instances share load behind a load balancer, each \
with its own --routing-id; linked phones across instances need a shared store (docs/relay.md).";

fn parse_routing_id(text: &str) -> Option<[u8; 3]> {
    let bytes = hex::decode(text).ok()?;
    <[u8; 3]>::try_from(bytes).ok()
}

/// Runs the relay until interrupted (Ctrl-C).
pub(super) fn run(args: RelayArgs) -> ExitCode {
    let Some(routing_id) = parse_routing_id(&args.routing_id) else {
        return fail("--routing-id must be 6 hex digits (3 bytes)");
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match hybrid::io::tls::server_config(cert, key) {
            Ok(tls) => Some(tls),
            Err(error) => return fail(&format!("cannot serve TLS: {error}")),
        },
        _ => None,
    };
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let config = RelayConfig {
        routing_id,
        max_tunnels: args.max_tunnels,
        max_connections: args.max_connections,
        max_unrouted_per_source: args.max_unrouted_per_source,
        handshake_timeout: Duration::from_secs(args.handshake_secs),
        max_queued_bytes: args.max_queued_bytes,
        max_buffered_bytes: args.max_buffered_bytes,
        max_revoked: args.max_revoked,
        revoked_ttl: Duration::from_secs(args.revoked_days.saturating_mul(86_400)),
        max_message_size: args.max_message_size,
        max_messages_per_peer: args.max_messages,
        tunnel_lifetime: Duration::from_secs(args.lifetime_secs),
        idle_timeout: Duration::from_secs(args.idle_secs),
        tls,
        ..RelayConfig::default()
    };
    // Every connection is a descriptor; the usual soft limit (1024) is far below
    // --max-connections. Raised before the socket opens, said after the listening lines
    // (scripts read the first line for the address).
    let fd_limit = match raise_fd_limit() {
        Ok(FdLimit { before, now }) if before != now => format!(
            "open-file limit raised from {} to {}",
            limit_words(before),
            limit_words(now)
        ),
        Ok(FdLimit { now, .. }) => format!("open-file limit {}", limit_words(now)),
        Err(error) => format!("open-file limit unchanged (cannot raise it: {error})"),
    };
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let relay = match Relay::bind(args.listen, config).await {
            Ok(relay) => relay,
            Err(error) => return fail(&error.to_string()),
        };
        match relay.local_addr() {
            Ok(addr) => {
                println!(
                    "relay listening on {scheme}://{addr} (routing ID {})",
                    args.routing_id
                );
                let http = if scheme == "wss" { "https" } else { "http" };
                println!("metrics at {http}://{addr}/metrics");
                println!("{fd_limit}");
                let _ = std::io::stdout().flush();
            }
            Err(error) => return fail(&error.to_string()),
        }
        let report = |event| {
            if let RelayEvent::AcceptFailed { error, retry_in } = event {
                eprintln!(
                    "passbridge: accepting a connection failed ({error}); retrying in {} ms",
                    retry_in.as_millis()
                );
            }
        };
        tokio::select! {
            () = relay.run_reporting(report) => ExitCode::SUCCESS,
            _ = tokio::signal::ctrl_c() => {
                println!("relay stopped");
                ExitCode::SUCCESS
            }
        }
    })
}

fn limit_words(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_id_parses_three_bytes_only() {
        assert_eq!(parse_routing_id("0a0B0c"), Some([0x0a, 0x0b, 0x0c]));
        assert_eq!(parse_routing_id("0a0b"), None);
        assert_eq!(parse_routing_id("zzzzzz"), None);
    }
}
