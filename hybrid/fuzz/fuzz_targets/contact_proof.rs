#![no_main]
//! The linked-phone proof parsers at the relay: a contact ID from a request path, and a
//! phone's answer to the relay's nonce. A parsed ID re-encodes to the same text (one spelling);
//! an arbitrary answer never verifies unless it is a real signature; a real proof verifies
//! only for its own ID, operation and nonce.
use hybrid::contact_proof::{ContactId, ContactKey, ContactOp, ContactProof, NONCE_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = core::str::from_utf8(data)
        && let Ok(id) = ContactId::from_path(text)
    {
        assert_eq!(id.to_path(), text);
    }
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let op = if selector & 1 == 0 { ContactOp::Listen } else { ContactOp::Revoke };
    let mut nonce = [0u8; NONCE_LEN];
    for (n, b) in nonce.iter_mut().zip(rest.iter().rev()) {
        *n = *b;
    }
    let id = ContactId(core::array::from_fn(|i| rest.get(i).copied().unwrap_or(0)));
    if let Ok(proof) = ContactProof::parse(rest) {
        let _ = proof.verify(&id, op, &nonce);
    }
    if selector & 2 != 0 {
        let key = ContactKey::derive(rest);
        let proof = ContactProof::parse(&key.prove(op, &nonce)).unwrap();
        assert!(proof.verify(&key.contact_id(), op, &nonce).is_ok());
        let other = if op == ContactOp::Listen { ContactOp::Revoke } else { ContactOp::Listen };
        assert!(proof.verify(&key.contact_id(), other, &nonce).is_err());
        if key.contact_id() != id {
            assert!(proof.verify(&id, op, &nonce).is_err());
        }
    }
});
