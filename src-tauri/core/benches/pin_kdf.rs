//! What one PIN guess costs: Argon2id as the vault wraps its key (`profile::crypto::derive_kek`:
//! Argon2id v1.3, one lane, 32-byte output), at OWASP's floor, at the policy default and around
//! it. The default (`policy::DEFAULT_ARGON2_*`) was chosen from this run: the cheapest setting
//! with at least 64 MiB and at least a quarter of a second per guess on the 2-core build
//! machine, so an offline guesser pays that per PIN and an unlock stays quick.

#![allow(
    clippy::expect_used,
    reason = "benchmark setup: failing loudly is the point"
)]

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use passbridge_core::policy::{DEFAULT_ARGON2_ITERATIONS, DEFAULT_ARGON2_MEMORY_KIB};

fn guess(memory_kib: u32, iterations: u32) -> [u8; 32] {
    let params = argon2::Params::new(memory_kib, iterations, 1, Some(32)).expect("params");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    argon
        .hash_password_into(b"24682468", &[7u8; 16], &mut out)
        .expect("argon2");
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("pin_kdf");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    let settings = [
        (19 * 1024, 2, "OWASP floor, the old default"),
        (64 * 1024, 3, "64 MiB"),
        (64 * 1024, 6, "64 MiB, more passes"),
        (
            DEFAULT_ARGON2_MEMORY_KIB,
            DEFAULT_ARGON2_ITERATIONS,
            "the default",
        ),
        (256 * 1024, 3, "256 MiB"),
    ];
    for (memory_kib, iterations, label) in settings {
        let id = BenchmarkId::new(format!("m={} MiB t={iterations}", memory_kib / 1024), label);
        group.bench_function(id, |b| {
            b.iter(|| guess(black_box(memory_kib), black_box(iterations)));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
