//! TLS for tunnels: one rustls configuration per side, with aws-lc-rs as the only crypto
//! provider (the handshake already links it for P-256), so no process-wide default provider
//! has to be installed and none can be picked by accident.
//!
//! Client roots: the platform's store (`rustls-native-certs`: /etc/ssl/certs on Linux, the
//! Keychain on macOS, the system store on Windows), plus a PEM file of extra CAs (the apps
//! read it from `PASSBRIDGE_CA_FILE`) for a self-hosted relay signed by a private CA. The
//! caller owns the configuration ([`ClientTls`]); nothing here is process-wide.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// Environment variable naming an extra PEM file of trusted CA certificates.
pub const CA_FILE_VAR: &str = "PASSBRIDGE_CA_FILE";

/// TLS set-up errors (handshake errors surface through the tunnel's own error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or held nothing usable.
    #[error("{path}: {problem}")]
    Pem {
        /// The file.
        path: String,
        /// What was wrong with it.
        problem: String,
    },
    /// rustls refused the configuration (for example a key that does not match the cert).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// Neither the platform nor `PASSBRIDGE_CA_FILE` gave a single trusted root.
    #[error(
        "no trusted root certificates were found (install the ca-certificates package, or name a PEM file in PASSBRIDGE_CA_FILE)"
    )]
    NoRoots,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn pem_error(path: &Path, problem: impl ToString) -> TlsError {
    TlsError::Pem {
        path: path.display().to_string(),
        problem: problem.to_string(),
    }
}

/// Reads every certificate in a PEM file.
///
/// # Errors
/// [`TlsError::Pem`] when the file is unreadable or holds no certificate.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(pem_error(path, "no CERTIFICATE block in the file"));
    }
    Ok(certs)
}

/// The client side of `wss://` tunnels: the platform's roots plus an optional PEM file of
/// extra CAs. The rustls configuration is built on first use and then kept in this value
/// (every tunnel would otherwise parse the whole root store and the CA file again); a failure
/// is not kept, so the next tunnel retries and reports it again. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    extra_ca: Option<PathBuf>,
    built: Arc<OnceLock<Arc<ClientConfig>>>,
}

impl ClientTls {
    /// The platform's roots, plus every certificate in `extra_ca` when given.
    pub fn new(extra_ca: Option<PathBuf>) -> Self {
        Self {
            extra_ca,
            built: Arc::default(),
        }
    }

    /// The extra CA file, if any.
    pub fn extra_ca(&self) -> Option<&Path> {
        self.extra_ca.as_deref()
    }

    /// The rustls configuration.
    ///
    /// # Errors
    /// [`TlsError`] when the extra CA file is unusable or there is no root at all.
    pub fn config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        if let Some(config) = self.built.get() {
            return Ok(Arc::clone(config));
        }
        let config = build_client_config(self.extra_ca.as_deref())?;
        Ok(Arc::clone(self.built.get_or_init(|| config)))
    }
}

/// The roots a tunnel trusts: the platform's, plus every certificate in `extra`.
pub(crate) fn trusted_roots(extra: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    // Some platform stores hold certificates rustls cannot parse; skipping them is what
    // browsers do too.
    let _ = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = extra {
        for cert in load_certs(path)? {
            roots.add(cert).map_err(|e| pem_error(path, e))?;
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    Ok(roots)
}

/// The one crypto provider, for the probe's own client configuration.
pub(crate) fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    provider()
}

fn build_client_config(extra: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = trusted_roots(extra)?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The relay's server configuration from a PEM certificate chain and a PEM private key.
///
/// # Errors
/// [`TlsError`] when a file is unusable or the key does not fit the certificate.
pub fn server_config(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = load_certs(cert_path)?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| pem_error(key_path, e))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
