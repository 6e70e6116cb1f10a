//! The web page over HTTP, without a browser: HTTPS and basic auth as for every endpoint,
//! security headers on every page route, HTML shells that carry no data (so a hostile group
//! name can never reach markup), the history JSON with the incident timeline, the event
//! stream, no secret (webhook URL, SASL password) in anything the page reads, and a
//! shutdown that does not wait on an open stream.

use crate::support::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rdkafka::mocking::MockCluster;
use serde_json::Value;
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const HOSTILE: &str = "<img src=x onerror=alert(1)>";
const SLACK_TOKEN: &str = "hookSECRETpage4e1d";
const SASL_PASSWORD: &str = "saslSECRETpage90ab";
const USER: &str = "viewer";
const PASS: &str = "page-pass";

/// A CA and a localhost certificate signed by it, as PEM files in a temporary directory.
fn pki() -> (String, tempfile::TempDir) {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca_params, &ca_key);
    let key = KeyPair::generate().expect("key");
    let params =
        CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).expect("params");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).expect("write cert");
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).expect("write key");
    (ca.pem(), dir)
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_routes_are_guarded_escaped_and_secret_free() {
    lagwatch::runtime::rustls_provider();
    let mock = MockCluster::new(1).expect("mock");
    mock.create_topic("orders", 1, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    produce(&bs, "orders", 0, 100, false);
    commit(&bs, HOSTILE, &[("orders", 0, 0)]);
    let slack = MockServer::start().await;
    let slack_url = format!("{}/services/T0/B0/{SLACK_TOKEN}", slack.uri());
    // A server that quotes the URL back: the page must still not show it.
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(404).set_body_string(format!("no such hook {slack_url}")),
        )
        .mount(&slack)
        .await;
    let (ca_pem, dir) = pki();
    let hash = bcrypt::hash(PASS, 4).expect("hash");
    let running = lagwatch::app::start(config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 300ms
rules: {{lag_warning: 10, lag_critical: 100000, for_polls: 1}}
clusters:
  - name: plain
    bootstrap_servers: "{bs}"
    poll_timeout: 2s
    groups: {{names: ["{HOSTILE}"]}}
  - name: sasl
    bootstrap_servers: "{bs}"
    poll_timeout: 1s
    groups: {{names: [billing]}}
    client:
      security.protocol: SASL_PLAINTEXT
      sasl.mechanisms: PLAIN
      sasl.username: lagwatch
      sasl.password: "{SASL_PASSWORD}"
notifiers:
  - name: slack
    kind: slack
    url: "{slack_url}"
    timeout: 2s
web:
  tls_cert_file: "{d}/cert.pem"
  tls_key_file: "{d}/key.pem"
  basic_auth_users:
    {USER}: "{hash}"
"#,
        d = dir.path().display()
    )))
    .await
    .expect("start");
    let base = format!("https://localhost:{}", running.addr.port());
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("ca")])
        .build()
        .expect("client");
    let get = |path: String, auth: bool| {
        let mut r = client.get(format!("{base}{path}"));
        if auth {
            r = r.basic_auth(USER, Some(PASS));
        }
        r.send()
    };
    let history = format!("/api/v1/clusters/plain/groups/{}/history", encode(HOSTILE));

    // The incident opened and Slack refused it: the timeline says so, without the URL.
    let doc: Value = wait_for(Duration::from_secs(30), "a failed delivery", || async {
        let r = get(history.clone(), true).await.ok()?;
        let v: Value = r.json().await.ok()?;
        let d = &v["incidents"][0]["entries"][0]["deliveries"][0];
        (d["outcome"] == "failed").then_some(v)
    })
    .await;
    assert_eq!(doc["group"], HOSTILE, "names are JSON strings, unaltered");
    assert_eq!(doc["window"]["points"], 120);
    assert_eq!(doc["thresholds"][0]["topic"], "orders");
    assert_eq!(doc["thresholds"][0]["lag_warning"], 10);
    assert!(doc["series"]["t"].as_array().is_some_and(|t| !t.is_empty()));
    let entry = &doc["incidents"][0]["entries"][0];
    assert_eq!(entry["change"], "opened");
    assert_eq!(entry["status"], "warning");
    let error = entry["deliveries"][0]["error"].as_str().unwrap_or("");
    assert!(
        error.contains("404") && error.contains("<webhook url>"),
        "{error}"
    );

    // Every page route: 200 with credentials and the security headers; 401 without.
    let shell = format!("/groups/plain/{}", encode(HOSTILE));
    let routes: Vec<(String, &str)> = vec![
        ("/".into(), "text/html"),
        (shell.clone(), "text/html"),
        ("/groups/plain/other".into(), "text/html"),
        ("/assets/style.css".into(), "text/css"),
        ("/assets/common.js".into(), "text/javascript"),
        ("/assets/chart.js".into(), "text/javascript"),
        ("/assets/overview.js".into(), "text/javascript"),
        ("/assets/group.js".into(), "text/javascript"),
        ("/assets/favicon.svg".into(), "image/svg+xml"),
        (history.clone(), "application/json"),
    ];
    let mut bodies = Vec::new();
    for (path, ct) in &routes {
        let r = get(path.clone(), true).await.expect("get");
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        let csp = h["content-security-policy"].to_str().unwrap_or("");
        for d in [
            "default-src 'self'",
            "script-src 'self'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(d), "{path}: {d} in {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        let got = h["content-type"].to_str().unwrap_or("");
        assert!(got.starts_with(ct), "{path}: {got}");
        bodies.push((path.clone(), r.text().await.expect("body")));
        let anon = get(path.clone(), false).await.expect("get");
        assert_eq!(anon.status(), 401, "{path} without credentials");
    }
    for path in ["/api/v1/events", "/api/v1/status"] {
        assert_eq!(
            get(path.into(), false).await.expect("get").status(),
            401,
            "{path}"
        );
    }

    // The HTML shells hold no data and no inline code: names only ever arrive as JSON.
    let html = |p: &str| &bodies.iter().find(|(x, _)| x == p).expect("body").1;
    assert_eq!(
        html(&shell),
        html("/groups/plain/other"),
        "the shell is the same for every group"
    );
    for p in ["/", shell.as_str()] {
        let body = html(p);
        assert!(
            !body.contains("img src=x") && !body.contains("&lt;img"),
            "{p}"
        );
        assert_eq!(
            body.matches("<script").count(),
            body.matches("<script type=\"module\" src=\"/assets/")
                .count(),
            "{p}: inline script"
        );
        for bad in [
            " style=",
            " onerror=",
            " onload=",
            " onclick=",
            "javascript:",
            "http://",
            "https://",
        ] {
            assert!(!body.contains(bad), "{p} contains {bad}");
        }
    }
    for (path, body) in &bodies {
        assert!(
            !body.contains("innerHTML") && !body.contains("insertAdjacentHTML"),
            "{path}"
        );
    }
    let nope = get("/api/v1/clusters/plain/groups/nope/history".into(), true)
        .await
        .expect("get");
    assert_eq!(nope.status(), 404);

    // The event stream: hello first, then a poll of the cluster.
    let mut stream = get("/api/v1/events".into(), true).await.expect("events");
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/event-stream"));
    let mut events = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !events.contains("event: poll") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk()).await;
        let Ok(Ok(Some(bytes))) = chunk else {
            panic!("no poll event; got: {events}");
        };
        events.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert!(events.starts_with("event: hello\n"), "{events}");
    assert!(
        events.contains(r#""poll_interval_seconds":0.3"#),
        "{events}"
    );
    assert!(events.contains(r#""cluster":"plain""#), "{events}");

    // Nothing the page reads holds a secret.
    let status = get("/api/v1/status".into(), true).await.expect("status");
    bodies.push(("/api/v1/status".into(), status.text().await.expect("body")));
    bodies.push(("/api/v1/events".into(), events));
    for (path, body) in &bodies {
        for secret in [SLACK_TOKEN, SASL_PASSWORD] {
            assert!(!body.contains(secret), "{path} leaks {secret}");
        }
    }

    // An open stream does not hold up the shutdown.
    tokio::time::timeout(Duration::from_secs(10), running.stop())
        .await
        .expect("stopped with an event stream open");
    drop(stream);
}
