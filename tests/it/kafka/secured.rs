//! The fast path on the cluster's secured listeners: exact lag over SASL_SSL (SCRAM-SHA-512),
//! SSL with a client certificate, and SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256), each asserted to
//! have been read by the fast path; and the failures a user meets (wrong password, an
//! untrusted, expired or missing certificate), each named with its broker, mechanism and
//! cause, and never with the secret.

use crate::kafka::harness::{commit, env, ktool, shared, unique};
use crate::kafka::instance::{sample, Lagwatch};
use kafka_protocol::messages::ListGroupsRequest;
use lagwatch::config::security::from_client;
use lagwatch::source::kafka::batched::wire::api::Call;
use lagwatch::source::kafka::batched::wire::conn::Conn;
use lagwatch::source::kafka::batched::wire::WireError;
use std::time::{Duration, Instant};

/// `client:` properties for a listener, as YAML lines and as pairs.
struct Client(Vec<(String, String)>);

impl Client {
    fn new(pairs: &[(&str, &str)]) -> Client {
        Client(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn yaml(&self) -> String {
        let mut y = "    client:\n".to_owned();
        for (k, v) in &self.0 {
            y.push_str(&format!("      {k}: \"{v}\"\n"));
        }
        y
    }
}

fn scram_sha512_over_tls() -> Client {
    let e = env();
    Client::new(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanisms", "SCRAM-SHA-512"),
        ("sasl.username", e.get("LAGWATCH_USER")),
        ("sasl.password", e.get("LAGWATCH_PASSWORD")),
        ("ssl.ca.location", e.get("CA")),
    ])
}

/// SSL with the client certificate and key named by the cluster env's `cert` and `key`.
fn mtls(cert: &str, key: &str) -> Client {
    let e = env();
    Client::new(&[
        ("security.protocol", "SSL"),
        ("ssl.ca.location", e.get("CA")),
        ("ssl.certificate.location", e.get(cert)),
        ("ssl.key.location", e.get(key)),
    ])
}

/// Two groups on a 3-partition topic, read over `listener` with `client`: lag equals
/// KTool's truth partition by partition, and the poll went through the fast path alone.
async fn exact_on_the_fast_path(listener: &str, client: Client) {
    let _brokers = shared().await;
    let p = unique("sec");
    let (topic, g1, g2) = (format!("{p}-t"), format!("{p}-a"), format!("{p}-b"));
    ktool(&["create-topic", "--topic", &topic, "--partitions", "3"]);
    ktool(&["produce", "--topic", &topic, "--count", "30"]);
    commit(&g1, &topic, "0=1,1=2,2=3");
    commit(&g2, &topic, "0=10");
    let yaml = format!(
        "    groups: {{ include: [\"^{p}\"] }}\n    topics: {{ include: [\"^{p}\"] }}\n{}",
        client.yaml()
    );
    let lw = Lagwatch::start(env().get(listener), &yaml).await;
    crate::kafka::conforms(&lw, &[&g1, &g2], &[&topic], 3).await;
    let (m, s) = lw.fresh().await;
    let path = [("cluster", "kafka"), ("client", "fast")];
    assert_eq!(
        sample(&m, "lagwatch_kafka_client_info", &path),
        Some("1"),
        "{listener}: every step on the fast path"
    );
    assert_eq!(s["clusters"][0]["kafka_client"], "fast", "{s}");
    assert_eq!(s["clusters"][0]["partial"], false, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_scram_sha512_exact_on_the_fast_path() {
    exact_on_the_fast_path("SASL_SSL", scram_sha512_over_tls()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_client_certificate_exact_on_the_fast_path() {
    exact_on_the_fast_path("SSL", mtls("CLIENT_CERT", "CLIENT_KEY")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plaintext_plain_and_scram_sha256_exact_on_the_fast_path() {
    let e = env();
    for mechanism in ["PLAIN", "SCRAM-SHA-256"] {
        let client = Client::new(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanisms", mechanism),
            ("sasl.username", e.get("LAGWATCH_USER")),
            ("sasl.password", e.get("LAGWATCH_PASSWORD")),
        ]);
        exact_on_the_fast_path("SASL_PLAINTEXT", client).await;
    }
}

/// Connects one fast-path connection to node 1's `listener` with `client`.
fn connect(listener: &str, client: &Client) -> Result<Conn, WireError> {
    let addr = env().get(&format!("NODE1_{listener}"));
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let security = from_client(&client.0).expect("the fast path serves it");
    let deadline = Instant::now() + Duration::from_secs(10);
    Conn::connect(
        host,
        port.parse().expect("port"),
        "conformance",
        &std::sync::Arc::new(security),
        deadline,
    )
}

/// Each failure names the broker and the cause a user can act on, and not the secret.
#[test]
fn connection_failures_name_broker_mechanism_and_cause() {
    let e = env();
    let node = |l: &str| e.get(&format!("NODE1_{l}")).to_owned();
    let wrong_password = "wrong-Pa55word-3e9a";
    let with = |k: &str, v: &str| {
        let mut c = scram_sha512_over_tls();
        c.0.retain(|(key, _)| key != k);
        c.0.push((k.to_owned(), v.to_owned()));
        c
    };
    // (why, listener, client, what the message must say)
    let rows: Vec<(&str, &str, Client, Vec<&str>)> = vec![
        (
            "a wrong password",
            "SASL_SSL",
            with("sasl.password", wrong_password),
            vec!["SASL SCRAM-SHA-512", "authentication failed"],
        ),
        (
            "a user the broker does not know",
            "SASL_SSL",
            with("sasl.username", "nobody-here"),
            vec!["SASL SCRAM-SHA-512", "authentication failed"],
        ),
        (
            "a CA that did not sign the broker's certificate",
            "SASL_SSL",
            with("ssl.ca.location", e.get("UNKNOWN_CA")),
            vec!["TLS", "not signed by a CA in ssl.ca.location"],
        ),
        (
            "an expired client certificate",
            "SSL",
            mtls("EXPIRED_CLIENT_CERT", "EXPIRED_CLIENT_KEY"),
            vec!["TLS", "the broker refused the handshake"],
        ),
        (
            "a client certificate from a CA the broker does not trust",
            "SSL",
            mtls("UNKNOWN_CA_CLIENT_CERT", "UNKNOWN_CA_CLIENT_KEY"),
            vec!["TLS", "the broker refused the handshake"],
        ),
    ];
    for (why, listener, client, want) in rows {
        let err = match connect(listener, &client) {
            Ok(_) => panic!("{why}: connected"),
            Err(err) => err.to_string(),
        };
        assert!(
            err.contains(&node(listener)),
            "{why}: names the broker: {err}"
        );
        for w in want {
            assert!(err.contains(w), "{why}: says `{w}`: {err}");
        }
        for secret in [wrong_password, e.get("LAGWATCH_PASSWORD")] {
            assert!(!err.contains(secret), "{why}: leaks the password: {err}");
        }
    }
}

/// The same connection with the right settings works on every listener (the rows above
/// fail for their one wrong setting, not for something else).
#[test]
fn the_right_settings_connect_on_every_secured_listener() {
    let ok = [
        ("SASL_SSL", scram_sha512_over_tls()),
        ("SSL", mtls("CLIENT_CERT", "CLIENT_KEY")),
    ];
    for (listener, client) in ok {
        if let Err(err) = connect(listener, &client) {
            panic!("{listener}: {err}");
        }
    }
}

/// An unsecured JWT (`alg: none`) for `sub`, expiring `life` seconds from now: what Kafka's
/// unsecured validator (the test cluster's OAUTHBEARER listeners) accepts.
fn unsecured_jwt(sub: &str, life: u64) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = serde_json::json!({"sub": sub, "iat": now, "exp": now + life});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A token endpoint issuing 12-second tokens for `lagwatch` to the client `lw-client` with
/// secret `CLIENT_SECRET`, and refusing anyone else.
struct TokenEndpoint;

const CLIENT_SECRET: &str = "oidc-Secret-5b7d";
const TOKEN_LIFE: u64 = 12;

impl wiremock::Respond for TokenEndpoint {
    fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
        use base64::Engine;
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("lw-client:{CLIENT_SECRET}"))
        );
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let body = String::from_utf8_lossy(&req.body);
        if auth != Some(want.as_str()) || !body.contains("grant_type=client_credentials") {
            return wiremock::ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"error": "invalid_client"}));
        }
        wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": unsecured_jwt("lagwatch", TOKEN_LIFE),
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFE,
        }))
    }
}

/// A running [`TokenEndpoint`] and its token URL.
async fn token_endpoint() -> (wiremock::MockServer, String) {
    let idp = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/token"))
        .respond_with(TokenEndpoint)
        .mount(&idp)
        .await;
    let endpoint = format!("{}/token", idp.uri());
    (idp, endpoint)
}

/// OAUTHBEARER with librdkafka's unsecured-token config: exact lag on the fast path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauthbearer_unsecured_token_exact_on_the_fast_path() {
    let client = Client::new(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanisms", "OAUTHBEARER"),
        (
            "sasl.oauthbearer.config",
            "principal=lagwatch lifeSeconds=600",
        ),
        // librdkafka's own switch for its builtin unsecured handler (it reads metadata).
        ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
    ]);
    exact_on_the_fast_path("SASL_PLAINTEXT", client).await;
}

/// OIDC client credentials against a local token endpoint whose tokens live 12 s, on a
/// listener whose sessions end with the token (`connections.max.reauth.ms`): one connection
/// answers requests for two token lifetimes, because lagwatch fetches a new token and
/// re-authenticates on it before each session ends (without that, the broker closes the
/// connection at the first request after expiry). At the connection level, so that a
/// request after an expired session would fail instead of being retried on a new
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauthbearer_oidc_tokens_are_fetched_and_sessions_renewed() {
    let _brokers = shared().await;
    let (idp, endpoint) = token_endpoint().await;
    let oidc = |secret: &str| {
        Client::new(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanisms", "OAUTHBEARER"),
            ("sasl.oauthbearer.method", "oidc"),
            ("sasl.oauthbearer.token.endpoint.url", &endpoint),
            ("sasl.oauthbearer.client.id", "lw-client"),
            ("sasl.oauthbearer.client.secret", secret),
        ])
    };
    let wrong = "wrong-Secret-0a1b";
    let refused = tokio::task::block_in_place(|| connect("SASL_PLAINTEXT", &oidc(wrong)))
        .expect_err("a refused client gets no token")
        .to_string();
    assert!(refused.contains("HTTP 401 (invalid_client)"), "{refused}");
    assert!(!refused.contains(wrong), "no secret: {refused}");

    let until = Instant::now() + Duration::from_secs(2 * TOKEN_LIFE + 4);
    let requests = tokio::task::block_in_place(|| {
        let mut conn = connect("SASL_PLAINTEXT", &oidc(CLIENT_SECRET)).expect("connects");
        let mut n = 0;
        while Instant::now() < until {
            let deadline = Instant::now() + Duration::from_secs(10);
            let list = Call::ListGroups(ListGroupsRequest::default());
            if let Err(e) = conn.exchange(vec![list].into(), deadline, |a| a) {
                panic!("request {n} on the same connection: {e}");
            }
            n += 1;
            std::thread::sleep(Duration::from_millis(500));
        }
        n
    });
    assert!(requests > 40, "{requests} requests");
    let tokens = idp.received_requests().await.unwrap_or_default().len() - 1;
    assert!(
        tokens >= 3,
        "{tokens} token(s) fetched over {}s of {TOKEN_LIFE}-second tokens",
        2 * TOKEN_LIFE + 4
    );
}

/// The real binary against the secured listeners with one wrong setting each: the cluster
/// is down (`lagwatch_cluster_up 0`), one log line names the broker, the mechanism or TLS,
/// and the cause, and the password appears nowhere (logs at debug level, /metrics, the API).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reports_wrong_credentials_and_certificates_once_without_secrets() {
    use crate::support::binary::{wait_listening, write_config, Proc};
    use crate::support::{free_port, http_get, metric, scrape, wait_for};
    lagwatch::runtime::rustls_provider();
    let _brokers = shared().await;
    let e = env();
    let wrong = "wrong-Pa55word-e2e-71c";
    // (cluster name, listener, client lines, what its log line must say)
    let clusters: [(&str, &str, String, &[&str]); 2] = [
        (
            "badpass",
            "SASL_SSL",
            format!(
                "      security.protocol: SASL_SSL\n      sasl.mechanisms: SCRAM-SHA-512\n      \
                 sasl.username: lagwatch\n      sasl.password: \"${{TEST_WRONG}}\"\n      \
                 ssl.ca.location: \"{}\"\n",
                e.get("CA")
            ),
            &["SCRAM-SHA-512", "uthentication failed"],
        ),
        (
            "expired",
            "SSL",
            format!(
                "      security.protocol: SSL\n      ssl.ca.location: \"{}\"\n      \
                 ssl.certificate.location: \"{}\"\n      ssl.key.location: \"{}\"\n",
                e.get("CA"),
                e.get("EXPIRED_CLIENT_CERT"),
                e.get("EXPIRED_CLIENT_KEY")
            ),
            &["TLS", "the broker refused the handshake"],
        ),
    ];
    let port = free_port();
    let mut yaml = format!("listen: \"127.0.0.1:{port}\"\npoll_interval: 1s\nclusters:\n");
    for (name, listener, client, _) in &clusters {
        yaml.push_str(&format!(
            "  - name: {name}\n    bootstrap_servers: \"{}\"\n    poll_timeout: 5s\n    client:\n{client}",
            e.get(listener)
        ));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), "lagwatch.yaml", &yaml);
    let mut proc = Proc::run(&path, &["--log-level", "debug"], &[("TEST_WRONG", wrong)]);
    wait_listening(port, Duration::from_secs(30)).await;
    let addr = ([127, 0, 0, 1], port).into();
    let metrics = wait_for(Duration::from_secs(60), "both clusters down", || async {
        let t = scrape(addr).await;
        let down = |c: &str| metric(&t, "lagwatch_cluster_up", &[("cluster", c)]) == Some(0.0);
        (down("badpass") && down("expired")).then_some(t)
    })
    .await;
    wait_for(Duration::from_secs(60), "a warning per cluster", || async {
        let lines = proc.lines();
        let warned = |c: &str| {
            lines
                .iter()
                .any(|l| l.contains("WARN") && l.contains(&format!("cluster=\"{c}\"")))
        };
        (warned("badpass") && warned("expired")).then_some(())
    })
    .await;
    // A few more polls: the fault is logged when it starts, not on every poll.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (_, api) = http_get(addr, "/api/v1/status").await;
    proc.signal(libc::SIGTERM);
    proc.wait(Duration::from_secs(30));
    let lines = proc.lines();
    for (name, listener, _, says) in &clusters {
        let faults: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains(&format!("cluster=\"{name}\"")) && l.contains("WARN"))
            .collect();
        assert!(
            !faults.is_empty(),
            "{name}: a warning line:\n{}",
            lines.join("\n")
        );
        assert!(
            faults.len() <= 2,
            "{name}: logged once per change, not every poll:\n{faults:#?}"
        );
        let first = faults[0];
        // The last broker tried is named (every one was tried, and each refused).
        let tried = e.get(listener).split(',').any(|a| first.contains(a));
        assert!(tried, "{name}: names a broker: {first}");
        for s in *says {
            assert!(first.contains(s), "{name}: says `{s}`: {first}");
        }
    }
    for (what, text) in [
        ("logs", lines.join("\n")),
        ("/metrics", metrics),
        ("/api/v1/status", api),
    ] {
        assert!(!text.contains(wrong), "{what} leaks the password");
        assert!(
            !text.contains(e.get("LAGWATCH_PASSWORD")),
            "{what} leaks a password"
        );
    }
}

/// The whole lagwatch over OIDC: exact lag, and 30 s of complete polls with 12-second
/// tokens, every request on the fast path (librdkafka, which this build cannot give OIDC,
/// is never started).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauthbearer_oidc_end_to_end_on_the_fast_path() {
    let _brokers = shared().await;
    let (idp, endpoint) = token_endpoint().await;
    let client = Client::new(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanisms", "OAUTHBEARER"),
        ("sasl.oauthbearer.method", "oidc"),
        ("sasl.oauthbearer.token.endpoint.url", &endpoint),
        ("sasl.oauthbearer.client.id", "lw-client"),
        ("sasl.oauthbearer.client.secret", CLIENT_SECRET),
    ]);
    let p = unique("oidc");
    let (topic, group) = (format!("{p}-t"), format!("{p}-g"));
    ktool(&["create-topic", "--topic", &topic, "--partitions", "2"]);
    ktool(&["produce", "--topic", &topic, "--count", "20"]);
    commit(&group, &topic, "0=3,1=4");
    let yaml = format!(
        "    groups: {{ include: [\"^{p}\"] }}\n    topics: {{ include: [\"^{p}\"] }}\n{}",
        client.yaml()
    );
    let lw = Lagwatch::start(env().get("SASL_PLAINTEXT"), &yaml).await;
    crate::kafka::conforms(&lw, &[&group], &[&topic], 3).await;
    let until = Instant::now() + Duration::from_secs(2 * TOKEN_LIFE + 6);
    let mut polls = 0;
    while Instant::now() < until {
        let (m, s) = lw.fresh().await;
        assert_eq!(s["clusters"][0]["partial"], false, "poll {polls}: {s}");
        let fast = [("cluster", "kafka"), ("client", "fast")];
        assert_eq!(
            sample(&m, "lagwatch_kafka_client_info", &fast),
            Some("1"),
            "poll {polls}"
        );
        polls += 1;
    }
    crate::kafka::conforms(&lw, &[&group], &[&topic], 3).await;
    let tokens = idp.received_requests().await.unwrap_or_default().len();
    assert!(
        tokens >= 3,
        "{tokens} token(s) in {}s of {TOKEN_LIFE}-second tokens",
        2 * TOKEN_LIFE + 6
    );
}

/// OAUTHBEARER with a token another process keeps in a file (lagwatch's own
/// `sasl.oauthbearer.token.file`, which `validate` leaves to the fast path): exact lag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauthbearer_token_file_exact_on_the_fast_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token");
    std::fs::write(&file, unsecured_jwt("lagwatch", 600)).expect("token file");
    let client = Client::new(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanisms", "OAUTHBEARER"),
        ("sasl.oauthbearer.token.file", &file.display().to_string()),
    ]);
    exact_on_the_fast_path("SASL_PLAINTEXT", client).await;
}
