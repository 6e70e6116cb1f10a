//! The fast path's TLS client configuration, built from [`TlsSettings`] at each connect so a
//! rotated CA, certificate or key file is picked up without a restart.

use crate::config::security::{Pem, TlsSettings};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::Path;
use std::sync::Arc;

/// What went wrong with one TLS property. The cause never quotes the file's content: an
/// inline key is a secret, and so may be a garbled key file.
#[derive(Debug, thiserror::Error)]
#[error("`{property}` ({location}): {cause}")]
pub struct TlsSetupError {
    /// The librdkafka property at fault.
    pub property: &'static str,
    /// The file it names, or "inline PEM".
    pub location: String,
    /// What is wrong.
    pub cause: SetupCause,
}

/// Why a TLS property could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SetupCause {
    /// The file could not be read.
    #[error("cannot read it: {0}")]
    Read(std::io::Error),
    /// It holds no PEM item of the kind needed.
    #[error("no {0} in PEM form in it")]
    Missing(&'static str),
    /// rustls refused what was read (a key that does not match the certificate, say).
    #[error("{0}")]
    Rejected(rustls::Error),
    /// A client certificate without its key, or a key without its certificate.
    #[error("needs `{0}` as well")]
    Incomplete(&'static str),
    /// No trusted root at all: neither a CA property nor a system store with certificates.
    #[error("no CA certificates to trust (set ssl.ca.location)")]
    NoRoots,
}

fn describe(pem: &Pem) -> String {
    match pem {
        Pem::Location(p) => p.display().to_string(),
        Pem::Inline(_) => "inline PEM".to_owned(),
    }
}

/// Every PEM certificate in `pem`: a file, every file of a directory (as librdkafka takes an
/// OpenSSL CA directory), or inline text.
fn certificates(
    property: &'static str,
    pem: &Pem,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let err = |cause| TlsSetupError {
        property,
        location: describe(pem),
        cause,
    };
    let mut found = Vec::new();
    match pem {
        Pem::Inline(text) => {
            // Unparseable blocks are skipped, as OpenSSL does: a bundle may hold comments.
            found.extend(CertificateDer::pem_slice_iter(text.0.as_bytes()).flatten());
        }
        Pem::Location(path) if path.is_dir() => {
            let entries = std::fs::read_dir(path).map_err(|e| err(SetupCause::Read(e)))?;
            for entry in entries.flatten() {
                if let Ok(bytes) = std::fs::read(entry.path()) {
                    found.extend(CertificateDer::pem_slice_iter(&bytes).flatten());
                }
            }
        }
        Pem::Location(path) => {
            let bytes = read(path).map_err(|e| err(SetupCause::Read(e)))?;
            found.extend(CertificateDer::pem_slice_iter(&bytes).flatten());
        }
    }
    if found.is_empty() {
        return Err(err(SetupCause::Missing("certificate")));
    }
    Ok(found)
}

fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

fn private_key(property: &'static str, pem: &Pem) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let err = |cause| TlsSetupError {
        property,
        location: describe(pem),
        cause,
    };
    let parsed = match pem {
        Pem::Inline(text) => PrivateKeyDer::from_pem_slice(text.0.as_bytes()),
        Pem::Location(path) => {
            let bytes = read(path).map_err(|e| err(SetupCause::Read(e)))?;
            PrivateKeyDer::from_pem_slice(&bytes)
        }
    };
    // The PEM error can quote the offending line: it is dropped, not shown.
    parsed.map_err(|_| err(SetupCause::Missing("unencrypted private key")))
}

fn roots(settings: &TlsSettings) -> Result<RootCertStore, TlsSetupError> {
    let mut store = RootCertStore::empty();
    match &settings.ca {
        Some(pem) => {
            let property = match pem {
                Pem::Location(_) => "ssl.ca.location",
                Pem::Inline(_) => "ssl.ca.pem",
            };
            let (_, refused) = store.add_parsable_certificates(certificates(property, pem)?);
            if store.is_empty() {
                return Err(TlsSetupError {
                    property,
                    location: describe(pem),
                    cause: SetupCause::Missing(if refused > 0 {
                        "usable CA certificate"
                    } else {
                        "certificate"
                    }),
                });
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(native.certs);
            if store.is_empty() {
                return Err(TlsSetupError {
                    property: "ssl.ca.location",
                    location: "the system's store".to_owned(),
                    cause: SetupCause::NoRoots,
                });
            }
        }
    }
    Ok(store)
}

/// The rustls client configuration for `settings`: the CA (or system roots), hostname
/// verification unless switched off, and the client certificate when one is set.
pub fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(roots(settings)?);
    let rejected = |property: &'static str, location: String| {
        move |e: rustls::Error| TlsSetupError {
            property,
            location,
            cause: SetupCause::Rejected(e),
        }
    };
    let ca_location = settings
        .ca
        .as_ref()
        .map_or_else(|| "the system's store".to_owned(), describe);
    let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| TlsSetupError {
            property: "ssl.ca.location",
            location: ca_location.clone(),
            cause: SetupCause::Rejected(rustls::Error::General(e.to_string())),
        })?;
    let verifier: Arc<dyn ServerCertVerifier> = if settings.verify_hostname {
        verifier
    } else {
        Arc::new(AnyName(verifier))
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(rejected("security.protocol", "rustls".to_owned()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&settings.certificate, &settings.key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(c), Some(k)) => {
            let chain = certificates("ssl.certificate.location", c)?;
            let key = private_key("ssl.key.location", k)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(rejected("ssl.key.location", describe(k)))?
        }
        (Some(c), None) => {
            return Err(TlsSetupError {
                property: "ssl.certificate.location",
                location: describe(c),
                cause: SetupCause::Incomplete("ssl.key.location"),
            })
        }
        (None, Some(k)) => {
            return Err(TlsSetupError {
                property: "ssl.key.location",
                location: describe(k),
                cause: SetupCause::Incomplete("ssl.certificate.location"),
            })
        }
    };
    Ok(Arc::new(config))
}

/// `ssl.endpoint.identification.algorithm: none`: the chain, dates and signatures are
/// verified as always; only a certificate naming another host is accepted.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A hint for the TLS failures users meet most, to follow rustls's own words.
pub fn hint(e: &rustls::Error) -> &'static str {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            " (the broker's certificate is not signed by a CA in ssl.ca.location)"
        }
        rustls::Error::InvalidCertificate(CertificateError::Expired)
        | rustls::Error::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
            " (the broker's certificate has expired)"
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => {
            " (the broker's certificate does not name this host; \
             ssl.endpoint.identification.algorithm: none skips this check)"
        }
        rustls::Error::AlertReceived(_) => {
            " (the broker refused the handshake: check ssl.certificate.location, its CA and expiry)"
        }
        _ => "",
    }
}
