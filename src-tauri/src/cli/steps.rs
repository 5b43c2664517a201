//! The steps of a ceremony as the terminal shows them: each on stderr with its elapsed time,
//! the QR code drawn in text, and the timings for `--json`.

use std::time::Instant;

use hybrid::io::driver::ClientStep;
use passbridge_core::system::SharedClock;

/// Records when each step happened and prints it.
pub(super) struct Steps {
    clock: SharedClock,
    started: Instant,
    timings: Vec<(&'static str, f64)>,
    prefix: &'static str,
}

impl Steps {
    /// Starts counting now; every line begins with `prefix`.
    pub(super) fn new(clock: SharedClock, prefix: &'static str) -> Self {
        Self {
            started: clock.now(),
            clock,
            timings: Vec::new(),
            prefix,
        }
    }

    fn elapsed_ms(&self) -> f64 {
        self.clock
            .now()
            .saturating_duration_since(self.started)
            .as_secs_f64()
            * 1000.0
    }

    /// Prints `text` with the elapsed time and keeps the time under `key`.
    pub(super) fn record(&mut self, key: &'static str, text: &str) {
        let ms = self.elapsed_ms();
        self.timings.push((key, ms));
        eprintln!("{}[{:>8.1} ms] {text}", self.prefix, ms);
    }

    /// Prints a ceremony's step (the QR code drawn first).
    pub(super) fn on_step(&mut self, step: ClientStep) {
        match step {
            ClientStep::QrShown(url) => {
                eprintln!("{}", render_qr(&url));
                eprintln!("{url}");
                self.record(
                    "qr_shown",
                    "QR code shown: scan it with your phone's camera",
                );
            }
            ClientStep::ContactingPhone => {
                self.record("contacting_phone", "contacting the linked phone");
            }
            ClientStep::AdvertMatched => self.record(
                "advert_matched",
                "phone nearby (its Bluetooth advert matched)",
            ),
            ClientStep::TunnelOpen => self.record("tunnel_open", "connected to the tunnel relay"),
            ClientStep::HandshakeDone => self.record(
                "handshake_done",
                "secure channel established (Noise handshake done)",
            ),
            ClientStep::PhoneAnswered => self.record("phone_answered", "the phone answered"),
            _ => {}
        }
    }

    /// Every step's time and the total, in milliseconds to one decimal, for `--json`.
    pub(super) fn timings_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let round = |ms: f64| serde_json::json!((ms * 10.0).round() / 10.0);
        let mut map = serde_json::Map::new();
        for (key, ms) in &self.timings {
            map.insert((*key).to_owned(), round(*ms));
        }
        map.insert("total".to_owned(), round(self.elapsed_ms()));
        map
    }
}

/// The QR code as terminal text (two rows per character line).
pub(super) fn render_qr(url: &str) -> String {
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
        Err(error) => format!("(cannot draw the QR code: {error})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_renders_as_terminal_blocks() {
        let text = render_qr("FIDO:/1234567890");
        assert!(text.lines().count() > 10);
        assert!(text.contains('█') || text.contains('▀') || text.contains('▄'));
    }
}
