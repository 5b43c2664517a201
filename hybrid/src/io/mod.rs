//! Async I/O adapters (feature `io`): a self-hostable tunnel relay, the WebSocket tunnel
//! client (`ws://` on loopback, `wss://` through rustls), the loopback "air" that stands in
//! for BLE, and (feature `ble`) real Bluetooth through btleplug and BlueZ.

pub mod air;
#[cfg(feature = "ble")]
pub mod ble;
pub mod driver;
pub mod phone;
pub mod probe;
pub mod relay;
pub mod tls;
pub mod tunnel;

/// Parses an upper- or lower-case hex string.
pub(crate) fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes = s.as_bytes();
    bytes
        .chunks(2)
        .map(|pair| {
            let text = core::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// Upper-case hex.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
