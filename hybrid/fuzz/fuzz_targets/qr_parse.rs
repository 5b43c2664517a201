#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hybrid::qr::QrPayload::from_cbor(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = hybrid::qr::QrPayload::from_url(s);
        let _ = hybrid::qr::digits_to_bytes(s);
    }
});
