//! The counters at `/metrics` (Prometheus text format), and the page that serves them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::conn::Conn;

/// Counters shown at `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Tunnels currently open or waiting for their client.
    pub tunnels_open: AtomicU64,
    /// Tunnels that had both peers joined.
    pub tunnels_joined_total: AtomicU64,
    /// Payload bytes forwarded.
    pub bytes_forwarded_total: AtomicU64,
    /// Messages forwarded.
    pub messages_forwarded_total: AtomicU64,
    /// Requests refused (any reason).
    pub refusals_total: AtomicU64,
    /// TLS handshakes that failed (untrusted certificate at the client, plain HTTP, timeout).
    pub tls_failures_total: AtomicU64,
}

impl Metrics {
    /// The counters in Prometheus text format.
    pub(super) fn render(&self) -> String {
        let mut out = String::new();
        for (name, kind, help, v) in [
            (
                "cable_tunnels_open",
                "gauge",
                "Tunnels open or waiting.",
                &self.tunnels_open,
            ),
            (
                "cable_tunnels_joined_total",
                "counter",
                "Tunnels joined.",
                &self.tunnels_joined_total,
            ),
            (
                "cable_bytes_forwarded_total",
                "counter",
                "Bytes forwarded.",
                &self.bytes_forwarded_total,
            ),
            (
                "cable_messages_forwarded_total",
                "counter",
                "Messages forwarded.",
                &self.messages_forwarded_total,
            ),
            (
                "cable_refusals_total",
                "counter",
                "Requests refused.",
                &self.refusals_total,
            ),
            (
                "cable_tls_failures_total",
                "counter",
                "TLS handshakes that failed.",
                &self.tls_failures_total,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
                v.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

/// Answers `GET /metrics` on `stream` and closes it.
pub(super) async fn serve_metrics(metrics: &Metrics, mut stream: Conn) {
    // Drain the request head (small, bounded) before answering.
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await;
    let body = metrics.render();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}
