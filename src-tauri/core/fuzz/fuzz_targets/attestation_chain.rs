//! A phone's packed attestation with a certificate chain (`x5c`), as the desktop checks it:
//! every certificate parsed, the signature checked under the leaf, the FIDO requirements and
//! the AAGUID extension, each link of the chain. Input: a count byte (1–4 certificates), then
//! for each a 2-byte big-endian length and the DER; the rest is the signature. The phone is a
//! peer: whatever it sends must be refused with an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passbridge_core::webauthn::check_chain;

fuzz_target!(|data: &[u8]| {
    let Some((&count, mut rest)) = data.split_first() else {
        return;
    };
    let mut chain = Vec::new();
    for _ in 0..(count % 4) + 1 {
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return;
        };
        let len = usize::from(u16::from_be_bytes(*len)).min(tail.len());
        let (der, tail) = tail.split_at(len);
        chain.push(der);
        rest = tail;
    }
    for alg in [-7, -8, -35, -257] {
        let _ = check_chain(&chain, alg, rest, b"authenticator data || client data hash", &[0; 16]);
    }
});
