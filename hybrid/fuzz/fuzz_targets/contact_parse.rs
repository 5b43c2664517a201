#![no_main]
//! The linked-phone parsers: the client-payload header (from a client, at the relay and the
//! phone) and the relay's contact push (at the phone). Whatever parses must re-encode to
//! something that parses to the same value.
use hybrid::tunnel_url::{ClientPayload, ContactPush};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = ClientPayload::from_cbor(data) {
        assert_eq!(ClientPayload::from_cbor(&payload.to_cbor()), Ok(payload.clone()));
        assert_eq!(
            ClientPayload::from_header_value(&payload.header_value()),
            Ok(payload)
        );
    }
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = ClientPayload::from_header_value(text);
    }
    if let Ok(push) = ContactPush::from_cbor(data) {
        assert_eq!(ContactPush::from_cbor(&push.to_cbor()), Ok(push));
    }
});
