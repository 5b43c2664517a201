//! The counters at `/metrics` (Prometheus text format), and the page that serves them.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::conn::Conn;

/// Why the relay turned a connection, a request or a tunnel away: the `reason` label of
/// `cable_refusals_total`. One list ([`Refused::ALL`]) drives the counters and the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refused {
    /// A malformed upgrade: no `fido.cable` subprotocol, a bad tunnel or contact ID, a bad
    /// client payload (HTTP 400).
    BadRequest,
    /// An unknown path, tunnel or contact (HTTP 404).
    NotFound,
    /// A tunnel ID already in use, or a second client for a tunnel (HTTP 409).
    Conflict,
    /// A contact to a phone that unlinked itself (HTTP 410).
    Gone,
    /// `max_tunnels` tunnels are open (HTTP 503).
    TunnelsFull,
    /// `max_tunnels` phones are listening (HTTP 503).
    ListenersFull,
    /// A listening phone's push queue is full (HTTP 503).
    PhoneUnreachable,
    /// A message over `max_message_size` (close 1009).
    MessageTooBig,
    /// A peer sent more than `max_messages_per_peer` messages (close 1008).
    TooManyMessages,
    /// A tunnel queued more than `max_queued_bytes` before its second peer joined (close 1008).
    QueueFull,
    /// All waiting tunnels together hold `max_buffered_bytes` (close 1008).
    BufferFull,
    /// `max_connections` connections are open: the new one is closed at once.
    ConnectionsFull,
    /// The source address has `max_unrouted_per_source` connections not yet routed: the new
    /// one is closed at once.
    PerSourceFull,
    /// TLS, the request and (for a linked phone) the proof took longer than
    /// `handshake_timeout`.
    HandshakeTimeout,
    /// A linked phone's proof of its contact ID was missing or wrong (close 1008).
    ContactProof,
    /// The relay itself failed (HTTP 500).
    RelayError,
}

impl Refused {
    /// Every reason, in the order the page lists them.
    pub const ALL: [Self; 16] = [
        Self::BadRequest,
        Self::NotFound,
        Self::Conflict,
        Self::Gone,
        Self::TunnelsFull,
        Self::ListenersFull,
        Self::PhoneUnreachable,
        Self::MessageTooBig,
        Self::TooManyMessages,
        Self::QueueFull,
        Self::BufferFull,
        Self::ConnectionsFull,
        Self::PerSourceFull,
        Self::HandshakeTimeout,
        Self::ContactProof,
        Self::RelayError,
    ];

    /// The `reason` label.
    pub const fn label(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Gone => "gone",
            Self::TunnelsFull => "tunnels_full",
            Self::ListenersFull => "listeners_full",
            Self::PhoneUnreachable => "phone_unreachable",
            Self::MessageTooBig => "message_too_big",
            Self::TooManyMessages => "too_many_messages",
            Self::QueueFull => "queue_full",
            Self::BufferFull => "buffer_full",
            Self::ConnectionsFull => "connections_full",
            Self::PerSourceFull => "per_source_full",
            Self::HandshakeTimeout => "handshake_timeout",
            Self::ContactProof => "contact_proof",
            Self::RelayError => "relay_error",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// Counters shown at `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Tunnels currently open or waiting for their second peer.
    pub tunnels_open: AtomicU64,
    /// Connections open (tunnel peers, listening phones, connections not yet routed); a
    /// `/metrics` request is not counted.
    pub connections_open: AtomicU64,
    /// Linked phones listening for contacts.
    pub listeners_open: AtomicU64,
    /// Bytes queued in tunnels whose second peer has not joined yet.
    pub buffered_bytes: AtomicU64,
    /// Contact IDs remembered as unlinked.
    pub revoked_contacts: AtomicU64,
    /// Tunnels that had both peers joined.
    pub tunnels_joined_total: AtomicU64,
    /// Payload bytes forwarded.
    pub bytes_forwarded_total: AtomicU64,
    /// Messages forwarded.
    pub messages_forwarded_total: AtomicU64,
    /// TLS handshakes that failed (untrusted certificate at the client, plain HTTP, timeout).
    pub tls_failures_total: AtomicU64,
    /// `accept()` failures (each one is followed by a pause; see `Relay::run`).
    pub accept_errors_total: AtomicU64,
    refusals: [AtomicU64; Refused::ALL.len()],
}

impl Metrics {
    /// Counts one refusal.
    pub fn refuse(&self, reason: Refused) {
        if let Some(counter) = self.refusals.get(reason.index()) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Refusals so far for `reason`.
    pub fn refusals(&self, reason: Refused) -> u64 {
        self.refusals
            .get(reason.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

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
                "cable_connections_open",
                "gauge",
                "Connections open, routed or not (not counting /metrics).",
                &self.connections_open,
            ),
            (
                "cable_listeners_open",
                "gauge",
                "Linked phones listening for contacts.",
                &self.listeners_open,
            ),
            (
                "cable_buffered_bytes",
                "gauge",
                "Bytes queued in tunnels waiting for their second peer.",
                &self.buffered_bytes,
            ),
            (
                "cable_revoked_contacts",
                "gauge",
                "Contact IDs remembered as unlinked.",
                &self.revoked_contacts,
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
                "cable_tls_failures_total",
                "counter",
                "TLS handshakes that failed.",
                &self.tls_failures_total,
            ),
            (
                "cable_accept_errors_total",
                "counter",
                "accept() failures, each followed by a pause.",
                &self.accept_errors_total,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
                v.load(Ordering::Relaxed)
            ));
        }
        out.push_str(
            "# HELP cable_refusals_total Connections, requests and tunnels refused, by reason.\n\
             # TYPE cable_refusals_total counter\n",
        );
        for reason in Refused::ALL {
            out.push_str(&format!(
                "cable_refusals_total{{reason=\"{}\"}} {}\n",
                reason.label(),
                self.refusals(reason)
            ));
        }
        out
    }
}

/// Answers `GET /metrics` on `stream` and closes it. The caller bounds it in time.
pub(super) async fn serve_metrics(metrics: &Metrics, mut stream: Conn) {
    // Drain the request head (small, bounded) before answering.
    let mut buf = [0u8; 1024];
    let _ =
        tokio::time::timeout(std::time::Duration::from_millis(200), stream.read(&mut buf)).await;
    let body = metrics.render();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_counter_and_line() {
        let metrics = Metrics::default();
        metrics.refuse(Refused::PerSourceFull);
        metrics.refuse(Refused::PerSourceFull);
        metrics.refuse(Refused::ContactProof);
        let page = metrics.render();
        assert!(page.contains("cable_refusals_total{reason=\"per_source_full\"} 2\n"));
        assert!(page.contains("cable_refusals_total{reason=\"contact_proof\"} 1\n"));
        assert!(page.contains("cable_refusals_total{reason=\"bad_request\"} 0\n"));
        let labels: std::collections::HashSet<_> = Refused::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), Refused::ALL.len());
    }
}
