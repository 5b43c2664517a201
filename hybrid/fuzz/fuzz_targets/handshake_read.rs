#![no_main]
use hybrid::keys::{PrivateKey, QrSecret};
use hybrid::noise::{InitiatorStart, ResponderStart};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let psk = QrSecret::from_bytes([1; 16]).psk(&[0; 16]);
    let (Ok(id), Ok(e)) = (
        PrivateKey::from_bytes(&[3; 32]),
        PrivateKey::from_bytes(&[5; 32]),
    ) else {
        return;
    };
    if let Ok(r) = ResponderStart::qr_for_testing(&psk, id.public_key(), &e) {
        let _ = r.read_message(data);
    }
    if let Ok(i) = InitiatorStart::qr_for_testing(&psk, &id, &e)
        && let Ok((sent, _)) = i.write_message()
    {
        let _ = sent.read_message(data);
    }
});
