//! `passbridge relay`: the self-hostable tunnel relay.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use hybrid::io::relay::{Relay, RelayConfig};

use super::{fail, runtime};

/// Options for `passbridge relay`.
#[derive(Debug, Clone, clap::Args)]
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
    /// Routing ID of this relay instance, 6 hex digits.
    #[arg(long, default_value = "000001")]
    routing_id: String,
    /// Maximum concurrent tunnels.
    #[arg(long, default_value_t = 1024)]
    max_tunnels: usize,
    /// Maximum message size in bytes.
    #[arg(long, default_value_t = 65536)]
    max_message_size: usize,
    /// Maximum messages each peer may send per tunnel.
    #[arg(long, default_value_t = 256)]
    max_messages: u64,
    /// Tunnel lifetime in seconds.
    #[arg(long, default_value_t = 300)]
    lifetime_secs: u64,
    /// Idle timeout in seconds.
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
}

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
        max_message_size: args.max_message_size,
        max_messages_per_peer: args.max_messages,
        tunnel_lifetime: Duration::from_secs(args.lifetime_secs),
        idle_timeout: Duration::from_secs(args.idle_secs),
        tls,
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
                let _ = std::io::stdout().flush();
            }
            Err(error) => return fail(&error.to_string()),
        }
        tokio::select! {
            result = relay.run() => match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&format!("relay stopped: {error}")),
            },
            _ = tokio::signal::ctrl_c() => {
                println!("relay stopped");
                ExitCode::SUCCESS
            }
        }
    })
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
