//! What Passbridge reads back from the keychain about a profile: its PIN failure count
//! (`attempts:<id>`) and its rollback anchor (`anchor:<id>`). Any program in the OS account can
//! write those entries, so they are peer input: a bad one must be refused (the count then
//! reads as a block, the anchor as damaged), never crash, and what parses must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    passbridge_core::fuzzing::keychain_entries(data);
});
