#![no_main]
use hybrid::advert::LengthPolicy;
use hybrid::keys::QrSecret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = QrSecret::from_bytes([7; 16]).eid_key();
    let _ = key.decrypt(data, 2);
    let _ = key.decrypt_with(data, 2, LengthPolicy::AllowSuffix);
});
