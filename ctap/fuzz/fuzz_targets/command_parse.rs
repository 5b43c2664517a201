//! Raw bytes into Authenticator::process with an auto-approving prompt.
#![no_main]

use ctap::testing::{ManualClock, MemoryStore, ScriptedPrompt, seeded_rng};
use ctap::{Authenticator, Config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ctap::types::Command::parse(data);
    let Ok(mut auth) = Authenticator::new(
        MemoryStore::new(),
        ManualClock::new(),
        seeded_rng(0),
        Config::default(),
    ) else {
        return;
    };
    let response = auth.handle_with_prompt(data, &mut ScriptedPrompt::always_approve());
    assert!(!response.is_empty());
});
