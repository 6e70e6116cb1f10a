//! HTTPS and basic auth against a real TLS client (reqwest + rustls with the test CA as
//! its only root), plus the `web:` config checks.

use crate::support::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use std::path::Path;

pub(super) struct Pki {
    pub(super) ca_pem: String,
    pub(super) dir: tempfile::TempDir,
}

/// A CA and a `localhost`/127.0.0.1 server certificate signed by it, written as PEM files.
pub(super) fn pki() -> Pki {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca_params, &ca_key);
    let key = KeyPair::generate().expect("server key");
    let params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("server params");
    let cert = params.signed_by(&key, &issuer).expect("server cert");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).expect("write cert");
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).expect("write key");
    Pki {
        ca_pem: ca.pem(),
        dir,
    }
}

fn web_config(dir: &Path, hash: &str) -> lagwatch::config::Config {
    config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 1s
clusters:
  - name: nowhere
    bootstrap_servers: "127.0.0.1:{port}"
    poll_timeout: 500ms
web:
  tls_cert_file: "{d}/cert.pem"
  tls_key_file: "{d}/key.pem"
  basic_auth_users:
    prom: "{hash}"
"#,
        port = free_port(),
        d = dir.display()
    ))
}

fn tls_client(ca_pem: &str) -> reqwest::Client {
    lagwatch::runtime::rustls_provider();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("ca")])
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_basic_auth_guards_everything_but_healthz() {
    let pki = pki();
    // Cost 4: the lowest bcrypt allows, so the test spends no time hashing.
    let hash = bcrypt::hash("s3cret-pass", 4).expect("hash");
    let running = lagwatch::app::start(web_config(pki.dir.path(), &hash))
        .await
        .expect("start");
    let base = format!("https://localhost:{}", running.addr.port());
    let client = tls_client(&pki.ca_pem);

    // (path, credentials, expected status, why)
    type Case = (
        &'static str,
        Option<(&'static str, &'static str)>,
        u16,
        &'static str,
    );
    let cases: &[Case] = &[
        ("/healthz", None, 200, "health probes need no credentials"),
        ("/metrics", None, 401, "no credentials"),
        ("/metrics", Some(("prom", "wrong")), 401, "wrong password"),
        (
            "/metrics",
            Some(("other", "s3cret-pass")),
            401,
            "unknown user",
        ),
        (
            "/metrics",
            Some(("prom", "s3cret-pass")),
            200,
            "right credentials",
        ),
        ("/api/v1/status", None, 401, "the API is guarded too"),
        (
            "/api/v1/status",
            Some(("prom", "s3cret-pass")),
            200,
            "API with credentials",
        ),
        (
            "/readyz",
            None,
            401,
            "readiness is guarded (only /healthz is open)",
        ),
        ("/", None, 401, "the index page is guarded"),
    ];
    for (path, cred, want, why) in cases {
        let mut req = client.get(format!("{base}{path}"));
        if let Some((u, p)) = cred {
            req = req.basic_auth(u, Some(p));
        }
        let resp = req.send().await.expect("https request");
        assert_eq!(resp.status().as_u16(), *want, "{path}: {why}");
        if *want == 401 {
            let challenge = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            assert_eq!(challenge, "Basic realm=\"lagwatch\"", "{path}: {why}");
        }
    }

    // A client that does not trust the test CA must fail the handshake.
    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .expect("client");
    assert!(
        untrusting
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err(),
        "an unknown CA must be rejected"
    );
    // Plain HTTP to the TLS port is not served.
    let plain = reqwest::get(format!("http://127.0.0.1:{}/healthz", running.addr.port())).await;
    assert!(
        plain.map(|r| !r.status().is_success()).unwrap_or(true),
        "plain HTTP must not be answered with 200 on the HTTPS port"
    );
    running.stop().await;
}

#[test]
fn web_config_errors_name_file_line_and_field() {
    let pki = pki();
    let d = pki.dir.path().display();
    let env = |_: &str| None;
    // (web section, expected fragment, why)
    let cases = [
        (
            format!("web:\n  tls_cert_file: \"{d}/cert.pem\"\n"),
            "test.yaml:6:",
            "cert without key",
        ),
        (
            format!(
                "web:\n  tls_cert_file: \"{d}/missing.pem\"\n  tls_key_file: \"{d}/key.pem\"\n"
            ),
            "web.tls_cert_file: cannot read",
            "unreadable certificate file",
        ),
        (
            format!("web:\n  tls_cert_file: \"{d}/key.pem\"\n  tls_key_file: \"{d}/key.pem\"\n"),
            "does not contain a PEM certificate",
            "a key where the certificate should be",
        ),
        (
            "web:\n  basic_auth_users:\n    prom: \"plain-password\"\n".to_owned(),
            "test.yaml:7:",
            "a plain password instead of a bcrypt hash, reported on its line",
        ),
        (
            "web:\n  basic_auth_users:\n    prom: \"plain-password\"\n".to_owned(),
            "web.basic_auth_users.prom: not a bcrypt hash",
            "the field names the user",
        ),
    ];
    for (web, want, why) in cases {
        let yaml = format!(
            "listen: \"127.0.0.1:0\"\nclusters:\n  - name: a\n    bootstrap_servers: \"127.0.0.1:9092\"\n{web}"
        );
        let err = match lagwatch::config::from_str("test.yaml", &yaml, &env) {
            Ok(_) => panic!("{why}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(want), "{why}: `{want}` not in:\n{err}");
        assert!(
            !err.contains("plain-password"),
            "{why}: the value leaked:\n{err}"
        );
    }
}
