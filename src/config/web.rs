//! The `web:` section: optional HTTPS and basic auth, like Prometheus exporter-toolkit's
//! web config. Files and hashes are checked at load time so a typo fails `validate`
//! (and a SIGHUP reload) with file:line, not the first scrape.

use super::reader::{join, Cx};
use super::yaml::Node;
use std::path::PathBuf;

const WEB_KEYS: &[&str] = &["tls_cert_file", "tls_key_file", "basic_auth_users"];

/// HTTP server security settings; the default is plain HTTP without auth.
#[derive(Clone, Default)]
pub struct WebConfig {
    /// Certificate chain and private key (PEM) for HTTPS.
    pub tls: Option<TlsFiles>,
    /// `user → bcrypt hash`; when non-empty every endpoint but /healthz needs basic auth.
    pub basic_auth_users: Vec<(String, String)>,
}

/// PEM files of the HTTPS server.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hashes can be brute-forced offline: list the users only.
        let users: Vec<&str> = self
            .basic_auth_users
            .iter()
            .map(|(u, _)| u.as_str())
            .collect();
        f.debug_struct("WebConfig")
            .field("tls", &self.tls)
            .field("basic_auth_users", &users)
            .finish()
    }
}

/// Reads `web:`; every problem is reported through `cx` with its line.
pub(super) fn read_web(cx: &mut Cx<'_>, node: &Node, path: &str) -> WebConfig {
    let Some(m) = cx.map(node, path, WEB_KEYS) else {
        return WebConfig::default();
    };
    let cert = super::env::opt_text(cx, m, path, "tls_cert_file");
    let key = super::env::opt_text(cx, m, path, "tls_key_file");
    let pos = |k: &str| m.get(k).map(|n| n.pos).unwrap_or(m.pos);
    let check_pem = |cx: &mut Cx<'_>, k: &str, file: &super::env::Text, is_key: bool| {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let field = join(path, k);
        let bytes = match std::fs::read(&file.value) {
            Ok(b) => b,
            Err(e) => {
                cx.error(pos(k), &field, format!("cannot read {}: {e}", file.shown));
                return;
            }
        };
        let ok = if is_key {
            PrivateKeyDer::from_pem_slice(&bytes).is_ok()
        } else {
            CertificateDer::pem_slice_iter(&bytes)
                .next()
                .is_some_and(|c| c.is_ok())
        };
        if !ok {
            let what = if is_key {
                "a PEM private key"
            } else {
                "a PEM certificate"
            };
            cx.error(
                pos(k),
                &field,
                format!("{} does not contain {what}", file.shown),
            );
        }
    };
    if let Some(c) = &cert {
        check_pem(cx, "tls_cert_file", c, false);
    }
    if let Some(k) = &key {
        check_pem(cx, "tls_key_file", k, true);
    }
    let tls = match (cert, key) {
        (Some(c), Some(k)) => Some(TlsFiles {
            cert_file: c.value.into(),
            key_file: k.value.into(),
        }),
        (Some(_), None) => {
            cx.error(
                pos("tls_cert_file"),
                &join(path, "tls_key_file"),
                "tls_cert_file is set but tls_key_file is missing",
            );
            None
        }
        (None, Some(_)) => {
            cx.error(
                pos("tls_key_file"),
                &join(path, "tls_cert_file"),
                "tls_key_file is set but tls_cert_file is missing",
            );
            None
        }
        (None, None) => None,
    };
    let mut basic_auth_users = Vec::new();
    let users_field = join(path, "basic_auth_users");
    let hashes = cx.opt_string_map(m, path, "basic_auth_users");
    for (user, hash) in hashes {
        if hash.parse::<bcrypt::HashParts>().is_err() {
            let upos = m
                .get("basic_auth_users")
                .and_then(|n| match &n.kind {
                    super::yaml::Kind::Map(e) => {
                        e.iter().find(|(k, _, _)| *k == user).map(|(_, _, v)| v.pos)
                    }
                    _ => None,
                })
                .unwrap_or(m.pos);
            // Never echo the value: a hash is crackable offline.
            cx.error(
                upos,
                &join(&users_field, &user),
                "not a bcrypt hash (expected `$2b$<cost>$...`, e.g. from `htpasswd -nbBC 10 user pass`)",
            );
            continue;
        }
        basic_auth_users.push((user, hash));
    }
    WebConfig {
        tls,
        basic_auth_users,
    }
}
