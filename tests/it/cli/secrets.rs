//! Secrets never leave lagwatch: the real binary runs at `--log-level trace` with a
//! webhook answering 500, a webhook on a closed port, a SASL login the broker cannot
//! complete and an S3 checkpoint on an unreachable endpoint; then every line of stdout and
//! stderr, /metrics, /api/v1/status and `validate` output are searched for the values.

use crate::support::binary::*;
use crate::support::*;
use rdkafka::mocking::MockCluster;
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const T: Duration = Duration::from_secs(30);
const SLACK_TOKEN: &str = "hookSECRETslack7f3a9";
const DISCORD_TOKEN: &str = "hookSECRETdiscord99b1";
const SASL_PASSWORD: &str = "saslSECRET51c2e";
const S3_SECRET: &str = "s3SECRETc0ffee4242";

fn assert_clean(what: &str, text: &str) {
    for s in [SLACK_TOKEN, DISCORD_TOKEN, SASL_PASSWORD, S3_SECRET] {
        assert!(!text.contains(s), "{what} leaks `{s}`:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_metrics_api_or_validate() {
    lagwatch::runtime::rustls_provider();
    let mock = MockCluster::new(1).expect("mock");
    mock.create_topic("orders", 1, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    produce(&bs, "orders", 0, 300, false);
    commit(&bs, "billing", &[("orders", 0, 0)]);
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&slack)
        .await;
    let closed = free_port();
    let s3_closed = free_port();
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        r#"
listen: "127.0.0.1:{port}"
poll_interval: 200ms
rules: {{lag_warning: 100, lag_critical: 100000, for_polls: 1}}
clusters:
  - name: plain
    bootstrap_servers: "{bs}"
    poll_timeout: 2s
    groups: {{names: [billing]}}
    spark_queries:
      - name: q
        checkpoint: "s3://bucket/checkpoints/q"
        s3:
          endpoint: "http://127.0.0.1:{s3_closed}"
          region: "us-east-1"
          access_key_id: "AKIATEST"
          secret_access_key: "${{TEST_S3_SECRET}}"
          allow_http: true
  - name: sasl
    bootstrap_servers: "{bs}"
    poll_timeout: 1s
    groups: {{names: [billing]}}
    client:
      security.protocol: SASL_PLAINTEXT
      sasl.mechanisms: PLAIN
      sasl.username: lagwatch
      sasl.password: "${{TEST_SASL_PASSWORD}}"
notifiers:
  - name: slack
    kind: slack
    url: "{slack}/services/T0/B0/${{TEST_SLACK_TOKEN}}"
    timeout: 2s
  - name: discord
    kind: discord
    url: "http://127.0.0.1:{closed}/api/webhooks/1/${{TEST_DISCORD_TOKEN}}"
    timeout: 2s
"#,
        slack = slack.uri()
    );
    let path = write_config(dir.path(), "lagwatch.yaml", &text);
    let env = [
        ("TEST_SLACK_TOKEN", SLACK_TOKEN),
        ("TEST_DISCORD_TOKEN", DISCORD_TOKEN),
        ("TEST_SASL_PASSWORD", SASL_PASSWORD),
        ("TEST_S3_SECRET", S3_SECRET),
    ];
    let mut proc = Proc::run(&path, &["--log-level", "trace"], &env);
    wait_listening(port, T).await;
    // Every failure path has run: webhook 500s (with retries), the closed port, the SASL
    // cluster's failed polls and the unreachable S3 store.
    let metrics = wait_for(T, "every failure seen", || async {
        let t = scrape(([127, 0, 0, 1], port).into()).await;
        let slack_calls = slack.received_requests().await.unwrap_or_default().len();
        let failed = |n: &str| {
            t.lines().any(|l| {
                l.starts_with("lagwatch_notifications_total")
                    && l.contains(&format!("notifier=\"{n}\""))
                    && !l.contains("outcome=\"sent\"")
                    && !l.ends_with(" 0")
            })
        };
        let sasl_down = metric(&t, "lagwatch_cluster_up", &[("cluster", "sasl")]) == Some(0.0);
        let spark_err = t
            .lines()
            .any(|l| l.starts_with("lagwatch_poll_errors_total") && l.contains("plain"));
        (slack_calls >= 2 && failed("discord") && sasl_down && spark_err).then_some(t)
    })
    .await;
    assert_clean("/metrics", &metrics);
    let (_, api) = http_get(([127, 0, 0, 1], port).into(), "/api/v1/status").await;
    assert_clean("/api/v1/status", &api);
    proc.signal(libc::SIGTERM);
    let status = proc.wait(T);
    let out = proc.lines().join("\n");
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(
        out.contains("TRACE") || out.contains("DEBUG"),
        "trace logging was on"
    );
    assert_clean("stdout/stderr at trace level", &out);

    // `validate`, for a good file and for one whose webhook URL is wrong.
    let bad = text.replace(&format!("url: \"{}", slack.uri()), "url: \"ftp://x");
    let bad_path = write_config(dir.path(), "bad.yaml", &bad);
    for (p, ok) in [(&path, true), (&bad_path, false)] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lagwatch"));
        cmd.args(["--log-level", "trace", "validate", "--config"])
            .arg(p);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let o = cmd.output().expect("validate");
        assert_eq!(o.status.success(), ok, "{o:?}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_clean("validate", &text);
    }
}
