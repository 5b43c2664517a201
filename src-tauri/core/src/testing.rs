//! Test doubles for the core's seams (feature `testing`, and the crate's own tests): one
//! manual clock (`ctap`'s), a seeded generator, the in-memory keychain, and an [`Env`] made of
//! them; and the fixtures several test suites share (a cheap policy, a stored passkey, a
//! private CA).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ctap::platform::{CredProtect, SecretKey, StoredCredential};
pub use ctap::testing::ManualClock;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

use crate::policy::Policy;
pub use crate::profile::keychain::MemoryKeychain;
use crate::system::{Env, SharedRng};

/// A generator that gives the same bytes for the same seed.
pub fn seeded_rng(seed: u64) -> SharedRng {
    SharedRng::from_rng(ChaCha20Rng::seed_from_u64(seed))
}

/// An environment on `clock` (clones share its time) with a generator seeded by `seed`.
pub fn env(clock: &ManualClock, seed: u64) -> Env {
    Env {
        clock: Arc::new(clock.clone()),
        rng: seeded_rng(seed),
    }
}

/// The administrator's defaults with Argon2 made cheap (8 KiB, one pass), so tests that create
/// PIN profiles stay fast; the key-derivation code path is the real one.
pub fn cheap_policy() -> Policy {
    Policy {
        argon2_memory_kib: 8,
        argon2_iterations: 1,
        ..Policy::default()
    }
}

/// A discoverable passkey for `rp` and `user`: credential ID sixteen `id` bytes, private key
/// thirty-two `id` bytes (a valid P-256 scalar for every `id` but 0), user handle `user`'s
/// bytes. Tests change what they need with struct update syntax.
pub fn credential(id: u8, rp: &str, user: &str) -> StoredCredential {
    StoredCredential {
        credential_id: vec![id; 16],
        rp_id: rp.to_owned(),
        rp_name: None,
        user_id: user.as_bytes().to_vec(),
        user_name: Some(user.to_owned()),
        user_display_name: None,
        private_key: SecretKey::new([id; 32]),
        public_key: vec![4; 65],
        sign_count: 0,
        cred_protect: CredProtect::UvOptional,
        cred_random: None,
        discoverable: true,
        created_at: 1_700_000_000,
        transports: vec!["internal".to_owned()],
        backup_eligible: false,
        backup_state: false,
    }
}

/// PEM files for a TLS relay on loopback: a private CA, and a certificate for `localhost`,
/// `127.0.0.1` and `cable.ua5v.com` (to stand in for a TLS-inspecting proxy) it signed, with
/// its key.
#[derive(Debug, Clone)]
pub struct CaFiles {
    /// The CA certificate a client must trust.
    pub ca: PathBuf,
    /// The relay's certificate.
    pub cert: PathBuf,
    /// The relay's private key.
    pub key: PathBuf,
}

/// Writes a fresh [`CaFiles`] set into `dir`.
///
/// # Panics
/// When key generation, signing or writing fails: it is a test fixture.
#[allow(
    clippy::unwrap_used,
    reason = "a test fixture: failing loudly is the point"
)]
pub fn private_ca(dir: &Path) -> CaFiles {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Passbridge test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "cable.ua5v.com".to_owned(),
    ])
    .unwrap()
    .signed_by(&key, &issuer)
    .unwrap();
    let files = CaFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("relay.pem"),
        key: dir.join("relay.key"),
    };
    std::fs::write(&files.ca, ca.pem()).unwrap();
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}
