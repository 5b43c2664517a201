#![no_main]
//! A browser's CTAP request prepared for a phone: never a panic; what comes out is the same
//! command, canonical CBOR, without PIN parameters or transports.
use ctap::cbor::{self, Value};
use hybrid::forward::request_for_phone;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(out) = request_for_phone(data) else {
        return;
    };
    assert_eq!(out.first(), data.first());
    let body = out.get(1..).unwrap_or_default();
    let Ok(Value::Map(entries)) = cbor::decode(body) else {
        panic!("output is not a CBOR map");
    };
    assert_eq!(cbor::encode(&Value::Map(entries.clone())).ok().as_deref(), Some(body));
    let pin_keys: [i128; 2] = if out.first() == Some(&1) { [8, 9] } else { [6, 7] };
    for (key, _) in &entries {
        if let Value::Integer(k) = key {
            assert!(!pin_keys.contains(&i128::from(*k)));
        }
    }
});
