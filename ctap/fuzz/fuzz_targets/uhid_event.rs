#![no_main]
//! Whatever the kernel (or a corrupted buffer) hands the bridge as a uhid event: never a panic;
//! an OUT report is exactly the data's 64 bytes; a reply only ever answers a report request.
use ctap::uhid::{Event, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (event, reply) = decode(data);
    if let Some(Event::Output(report)) = event {
        assert_eq!(report.len(), 64);
    }
    if let Some(reply) = reply {
        assert!(event.is_none());
        assert_eq!(reply.len(), 12);
    }
});
