#![no_main]
use hybrid::frame::{Message, PostHandshake};
use hybrid::noise::{Construction, Crypter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Message::parse(data);
    let _ = PostHandshake::parse(data);
    // Also reach the parsers through real decryption: encrypt the input, then decrypt it.
    let mut tx = Crypter::new([1; 32], [2; 32], Construction::Current);
    let mut rx = Crypter::new([2; 32], [1; 32], Construction::Negotiate);
    let _ = rx.decrypt(data);
    if let Ok(ct) = tx.encrypt(data)
        && let Ok(pt) = rx.decrypt(&ct)
    {
        let _ = Message::parse(&pt);
        let _ = PostHandshake::parse(&pt);
    }
});
