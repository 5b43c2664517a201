//! A private CA and a `localhost` certificate from it, written as PEM files: the TLS fixture
//! of the tests that run real TLS relays on loopback (`tests/probe.rs`, `tests/relay_load.rs`).

#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "a test fixture: failing loudly is the point; each test uses part of it"
)]

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// Where the fixture's files are.
pub(crate) struct Pki {
    /// The CA's certificate (what a client trusts).
    pub(crate) ca: PathBuf,
    /// The server's certificate, for `localhost`.
    pub(crate) cert: PathBuf,
    /// The server's private key.
    pub(crate) key: PathBuf,
}

/// A CA named `ca_name` (organisation and common name) and a certificate for `localhost`
/// from it, valid over `years` (from 1 January of the first to 1 January of the second; rcgen's
/// default without), in `dir`.
pub(crate) fn pki(dir: &Path, ca_name: &str, years: Option<(i32, i32)>) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, format!("{ca_name} Org"));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("{ca_name} CA"));
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    if let Some((not_before, not_after)) = years {
        params.not_before = rcgen::date_time_ymd(not_before, 1, 1);
        params.not_after = rcgen::date_time_ymd(not_after, 1, 1);
    }
    let cert = params.signed_by(&key, &issuer).unwrap();
    let pki = Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.cert, cert.pem()).unwrap();
    std::fs::write(&pki.key, key.serialize_pem()).unwrap();
    pki
}
