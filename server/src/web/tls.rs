//! TLS for a listener other machines can reach (rustls with ring): the certificate the user
//! gives, or one Arbor generates once and keeps (pinned: clients trust exactly that file).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or written.
    #[error("cannot use {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// A file holds no usable certificate or key.
    #[error("{path} holds no usable {what}")]
    Pem { path: String, what: &'static str },
    /// rustls refused the certificate and key.
    #[error("the certificate and key cannot be used: {0}")]
    Rustls(#[from] rustls::Error),
    /// The certificate could not be generated.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// A certificate and its private key, as PEM files.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// The certificate Arbor keeps in `dir` for `names`, generated (self-signed) the first time.
/// Clients pin it by trusting exactly `cert`.
pub fn pinned_certificate(dir: &Path, names: &[String]) -> Result<CertificateFiles, TlsError> {
    let files = CertificateFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    if files.cert.exists() && files.key.exists() {
        return Ok(files);
    }
    crate::paths::create_private_dir(dir).map_err(|source| TlsError::Io { path: dir.display().to_string(), source })?;
    let generated = rcgen::generate_simple_self_signed(names.to_vec())?;
    write_owner_only(&files.key, generated.key_pair.serialize_pem().as_bytes())?;
    write_owner_only(&files.cert, generated.cert.pem().as_bytes())?;
    Ok(files)
}

fn write_owner_only(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    let io = |source| TlsError::Io { path: path.display().to_string(), source };
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path).map_err(io)?;
    file.write_all(contents).map_err(io)
}

/// The provider every TLS configuration of Arbor uses.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let shown = path.display().to_string();
    let certificates: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|_| TlsError::Pem { path: shown.clone(), what: "certificate" })?
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::Pem { path: shown.clone(), what: "certificate" })?;
    if certificates.is_empty() {
        return Err(TlsError::Pem { path: shown, what: "certificate" });
    }
    Ok(certificates)
}

/// The server side: `files`' certificate chain and key.
pub fn server_config(files: &CertificateFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|_| TlsError::Pem { path: files.key.display().to_string(), what: "private key" })?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certificates(&files.cert)?, key)?;
    Ok(Arc::new(config))
}

/// The client side for `arbor lsp --connect`: trusting only the certificate(s) in `pinned`.
pub fn client_config(pinned: &Path) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates(pinned)? {
        roots.add(certificate)?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
