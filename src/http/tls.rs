//! HTTPS with rustls (ring): the certificate chain and key are read before binding, so a
//! bad file fails the start (or a reload) instead of the first scrape.

use crate::config::TlsFiles;

/// Why the HTTPS setup failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds no usable certificate/key.
    #[error("TLS setup from {cert} and {key}: {source}")]
    Tls {
        /// Certificate file.
        cert: String,
        /// Key file.
        key: String,
        /// What rustls or the file system said.
        source: std::io::Error,
    },
}

/// Loads the certificate chain and key into a rustls server config (ring provider).
pub async fn rustls_config(
    tls: &TlsFiles,
) -> Result<axum_server::tls_rustls::RustlsConfig, TlsError> {
    crate::runtime::rustls_provider();
    axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert_file, &tls.key_file)
        .await
        .map_err(|source| TlsError::Tls {
            cert: tls.cert_file.display().to_string(),
            key: tls.key_file.display().to_string(),
            source,
        })
}
