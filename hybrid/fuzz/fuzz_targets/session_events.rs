#![no_main]
#![allow(clippy::disallowed_methods)]
//! Structured sequences of inputs into both session machines.
use std::time::{Duration, Instant};

use hybrid::keys::{PrivateKey, QrSecret, RoutingId};
use hybrid::qr::{ClientQr, RequestHint};
use hybrid::session::{
    ClientConfig, ClientInput, ClientSession, PhoneConfig, PhoneInput, PhoneSession,
};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let Ok(id) = PrivateKey::from_bytes(&[9; 32]) else {
        return;
    };
    let qr = ClientQr::from_parts(
        id,
        QrSecret::from_bytes([2; 16]),
        RequestHint::GetAssertion,
        0,
    );
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(data.first().copied().unwrap_or(0)));
    let mut client = ClientSession::from_qr(ClientConfig::default(), qr.clone(), &mut rng, t0);
    let Ok(mut phone) = PhoneSession::new(
        qr.payload().clone(),
        PhoneConfig::new(vec![0xa0]),
        &mut rng,
        t0,
    ) else {
        return;
    };
    let mut rest = data;
    let mut now = t0;
    while let [op, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (chunk, next) = tail.split_at(n);
        rest = next;
        now += Duration::from_secs(u64::from(*op >> 4));
        let _ = match op & 0x0f {
            0 => client.handle(now, ClientInput::Advert(chunk)),
            1 => client.handle(now, ClientInput::TunnelUp),
            2 => client.handle(now, ClientInput::TunnelData(chunk)),
            3 => client.handle(now, ClientInput::TunnelDown),
            4 => client.handle(now, ClientInput::CtapRequest(chunk)),
            5 => client.handle(now, ClientInput::Tick),
            6 => client.handle(now, ClientInput::Cancel),
            7 => phone.handle(
                now,
                PhoneInput::TunnelUp {
                    routing_id: RoutingId([1, 2, 3]),
                },
            ),
            8 => phone.handle(now, PhoneInput::TunnelData(chunk)),
            9 => phone.handle(now, PhoneInput::CtapResponse(chunk)),
            10 => phone.handle(now, PhoneInput::TunnelDown),
            11 => phone.handle(now, PhoneInput::Tick),
            _ => phone.handle(now, PhoneInput::Cancel),
        };
        while client.poll_action().is_some() {}
        while phone.poll_action().is_some() {}
    }
});
