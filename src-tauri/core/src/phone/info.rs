//! A phone's authenticatorGetInfo (CTAP 2.1 §6.4), read from its post-handshake message for
//! reports: what model it says it is and what it supports. Nothing here is attested — the
//! phone could say anything — so it is shown, never trusted.

use ctap::cbor::{self, Value, map_get_int};
use serde::Serialize;

/// The facts of a getInfo response a report shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PhoneInfo {
    /// `versions` (0x01): "FIDO_2_0", "FIDO_2_1", …
    pub versions: Vec<String>,
    /// `extensions` (0x02).
    pub extensions: Vec<String>,
    /// `aaguid` (0x03), hex.
    pub aaguid: String,
    /// `options` (0x04), each with its value.
    pub options: Vec<(String, bool)>,
    /// `transports` (0x09).
    pub transports: Vec<String>,
    /// `algorithms` (0x0A): the COSE identifiers.
    #[ts(type = "number[]")]
    pub algorithms: Vec<i64>,
    /// `firmwareVersion` (0x0E).
    #[ts(type = "number | null")]
    pub firmware_version: Option<u64>,
}

fn texts(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::Text(text) => Some(text.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn integer(value: &Value) -> Option<i128> {
    match value {
        Value::Integer(n) => Some(i128::from(*n)),
        _ => None,
    }
}

impl PhoneInfo {
    /// Reads a getInfo response's CBOR (no status byte). Entries of the wrong type are left
    /// out rather than failing: a report shows what it can.
    ///
    /// # Errors
    /// When the bytes are not a CBOR map.
    pub fn parse(bytes: &[u8]) -> Result<Self, cbor::CborError> {
        let Value::Map(entries) = cbor::decode(bytes)? else {
            return Err(cbor::CborError::Malformed);
        };
        let aaguid = match map_get_int(&entries, 3) {
            Some(Value::Bytes(bytes)) => hex::encode(bytes),
            _ => String::new(),
        };
        let options = match map_get_int(&entries, 4) {
            Some(Value::Map(options)) => options
                .iter()
                .filter_map(|(key, value)| match (key, value) {
                    (Value::Text(name), Value::Bool(on)) => Some((name.clone(), *on)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let algorithms = match map_get_int(&entries, 0x0A) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| match item {
                    Value::Map(parameters) => {
                        parameters.iter().find_map(|(key, value)| match key {
                            Value::Text(name) if name == "alg" => {
                                integer(value).and_then(|alg| i64::try_from(alg).ok())
                            }
                            _ => None,
                        })
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            versions: texts(map_get_int(&entries, 1)),
            extensions: texts(map_get_int(&entries, 2)),
            aaguid,
            options,
            transports: texts(map_get_int(&entries, 9)),
            algorithms,
            firmware_version: map_get_int(&entries, 0x0E)
                .and_then(integer)
                .and_then(|n| u64::try_from(n).ok()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_get_info_reads_back() {
        let engine = ctap::Authenticator::new(
            ctap::MemoryStore::new(),
            ctap::testing::ManualClock::new(),
            ctap::testing::seeded_rng(1),
            crate::phone::virtual_phone::engine_config(),
        )
        .unwrap();
        let mut phone =
            hybrid::io::phone::CtapPhone::new(engine, hybrid::io::phone::Behaviour::Answer);
        let info = PhoneInfo::parse(&phone.get_info()).unwrap();
        assert!(info.versions.iter().any(|v| v == "FIDO_2_1"), "{info:?}");
        assert_eq!(info.aaguid.len(), 32);
        assert!(info.options.contains(&("uv".to_owned(), true)), "{info:?}");
        assert!(info.algorithms.contains(&-7), "{info:?}");
    }

    #[test]
    fn what_is_not_a_map_is_refused_and_odd_entries_are_left_out() {
        assert!(PhoneInfo::parse(&[0x80]).is_err());
        assert!(PhoneInfo::parse(&[0xff]).is_err());
        // {1: [1, "FIDO_2_0"], 4: {"rk": 1}}
        let odd = [
            0xa2, 0x01, 0x82, 0x01, 0x68, b'F', b'I', b'D', b'O', b'_', b'2', b'_', b'0', 0x04,
            0xa1, 0x62, b'r', b'k', 0x01,
        ];
        let info = PhoneInfo::parse(&odd).unwrap();
        assert_eq!(info.versions, ["FIDO_2_0"]);
        assert!(info.options.is_empty());
    }
}
