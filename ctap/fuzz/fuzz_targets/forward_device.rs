//! The bridge's forwarding device under arbitrary client traffic: CBOR messages (silent
//! probes, requests to forward, anything else), clock ticks, replies and cancels. Never a
//! panic; a forward only ever carries makeCredential or getAssertion.
#![no_main]

use std::time::Duration;

use ctap::ctaphid::{cmd, fragment};
use ctap::device::HidDevice;
use ctap::testing::{ManualClock, MemoryStore, seeded_rng};
use ctap::{Authenticator, Clock, Config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let clock = ManualClock::new();
    let Ok(auth) = Authenticator::new(MemoryStore::new(), clock.clone(), seeded_rng(1), Config::default())
    else {
        return;
    };
    let mut device = HidDevice::new(auth, seeded_rng(2));
    device.set_forwarding(true);
    let mut init = vec![0xFF, 0xFF, 0xFF, 0xFF, 0x86, 0, 8];
    init.extend_from_slice(&[0; 8]);
    init.resize(64, 0);
    let reply = device.handle_report(&init, clock.now());
    let cid = reply
        .first()
        .and_then(|r| r.get(15..19))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(1, u32::from_be_bytes);
    let mut rest = data;
    while let [op, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (chunk, next) = tail.split_at(n);
        rest = next;
        match op % 4 {
            0 => {
                for report in fragment(cid, cmd::CBOR, chunk) {
                    let _ = device.handle_report(&report, clock.now());
                }
            }
            1 => {
                clock.advance(Duration::from_secs(u64::from(*len)));
                let _ = device.poll(clock.now());
            }
            2 => {
                if let Some(id) = device.forward().map(|f| f.id) {
                    let _ = device.resolve_forward(id, chunk);
                }
            }
            _ => {
                let mut cancel = cid.to_be_bytes().to_vec();
                cancel.extend_from_slice(&[0x91, 0, 0]);
                cancel.resize(64, 0);
                let _ = device.handle_report(&cancel, clock.now());
            }
        }
        if let Some(forward) = device.forward() {
            assert!(matches!(forward.request.first(), Some(0x01 | 0x02)));
        }
    }
});
