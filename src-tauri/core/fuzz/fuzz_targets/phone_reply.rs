//! A phone's replies (status byte, then CBOR) as the desktop checks them: a registration, then
//! an assertion against whatever the registration yielded. Input: a 2-byte big-endian length,
//! the registration reply, the assertion reply. The phone is a peer: whatever it sends must be
//! refused with an error, never a panic. Fed by the app's phone flow and by "Use a phone
//! instead" (the window records what verifies).
#![no_main]

use libfuzzer_sys::fuzz_target;
use passbridge_core::webauthn::{verify_assertion, verify_registration};

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let split = usize::from(u16::from_be_bytes(*len)).min(rest.len());
    let (registration, assertion) = rest.split_at(split);
    let hash = [7u8; 32];
    let known: Vec<_> = verify_registration(registration, "example.com", &hash)
        .into_iter()
        .collect();
    let _ = verify_assertion(assertion, "example.com", &hash, &known);
});
