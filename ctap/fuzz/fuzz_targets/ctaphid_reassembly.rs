//! A sequence of 64-byte reports into CtapHid (first report allocates a channel so later
//! ones reach reassembly); the byte after each report advances the clock.
#![no_main]

use std::time::Duration;

use ctap::Clock;
use ctap::ctaphid::CtapHid;
use ctap::testing::{ManualClock, seeded_rng};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let clock = ManualClock::new();
    let mut hid = CtapHid::new(seeded_rng(0));
    let mut init = vec![0xFF, 0xFF, 0xFF, 0xFF, 0x86, 0, 8];
    init.extend_from_slice(&[0; 8]);
    let _ = hid.handle_report(&init, clock.now());
    for chunk in data.chunks(65) {
        let (report, tick) = chunk.split_at(chunk.len().min(64));
        for _event in hid.handle_report(report, clock.now()) {}
        if let Some(&ms) = tick.first() {
            clock.advance(Duration::from_millis(u64::from(ms) * 4));
            let _ = hid.on_timeout(clock.now());
        }
    }
});
