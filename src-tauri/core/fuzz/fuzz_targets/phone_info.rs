//! A phone's authenticatorGetInfo, from its post-handshake message, read for the cross-device
//! test's report. The phone is a peer: any bytes must give a value or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passbridge_core::phone::info::PhoneInfo;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = PhoneInfo::parse(data) {
        // What parsed is shown in a report: it must serialise.
        let _ = info.aaguid.len() + info.versions.len() + info.options.len();
    }
});
