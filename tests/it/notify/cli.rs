//! `lagwatch notify-test` as a user runs it: the real binary, a real local webhook.

use std::process::{Command, Output};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "T0000/B0000/XXXXsecretXXXX";

fn config(dir: &std::path::Path, slack: &str, discord: &str) -> std::path::PathBuf {
    let p = dir.join("lagwatch.yaml");
    let yaml = format!(
        r#"
clusters:
  - name: prod
    bootstrap_servers: "127.0.0.1:9"
notifiers:
  - name: ops-slack
    kind: slack
    url: "{slack}/services/{SECRET}"
  - name: ops-discord
    kind: discord
    url: "{discord}/api/webhooks/{SECRET}"
    dashboard_url: "https://grafana.example/d/lag?var-group={{group}}"
"#
    );
    std::fs::write(&p, yaml).expect("write config");
    p
}

async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_lagwatch"))
            .args(args)
            .output()
            .expect("run lagwatch")
    })
    .await
    .expect("join")
}

#[tokio::test]
async fn sends_the_seed_incident_to_each_notifier() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/services/{SECRET}")))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&slack)
        .await;
    let discord = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&discord)
        .await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config(dir.path(), &slack.uri(), &discord.uri());
    let out = run(vec![
        "notify-test".into(),
        "--config".into(),
        cfg.display().to_string(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ops-slack: sent") && stdout.contains("ops-discord: sent"),
        "{stdout}"
    );
    let body =
        String::from_utf8_lossy(&slack.received_requests().await.unwrap_or_default()[0].body)
            .to_string();
    for want in [
        "spark-streaming-group / transactions",
        "3,000,000",
        "~50 min",
        "backlog_replay",
        "consume 1,000 msg/s",
    ] {
        assert!(body.contains(want), "missing {want} in {body}");
    }
    let body =
        String::from_utf8_lossy(&discord.received_requests().await.unwrap_or_default()[0].body)
            .to_string();
    assert!(
        body.contains("var-group=spark-streaming-group"),
        "dashboard link: {body}"
    );
}

#[tokio::test]
async fn a_failing_webhook_exits_non_zero_without_leaking_the_url() {
    let revoked = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no_service"))
        .mount(&revoked)
        .await;
    // Nothing listens on the Discord address: a connection error, retried then given up.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config(dir.path(), &revoked.uri(), &closed);
    for (only, want) in [
        ("ops-slack", "HTTP 404: no_service"),
        ("ops-discord", "gave up after 3 attempts"),
    ] {
        let out = run(vec![
            "notify-test".into(),
            "--config".into(),
            cfg.display().to_string(),
            "--notifier".into(),
            only.into(),
        ])
        .await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{only}: must fail");
        assert!(
            stderr.contains(&format!("{only}: FAILED")) && stderr.contains(want),
            "{stderr}"
        );
        assert!(
            !stderr.contains("XXXXsecretXXXX"),
            "the webhook URL leaked: {stderr}"
        );
    }
    let out = run(vec![
        "notify-test".into(),
        "--config".into(),
        cfg.display().to_string(),
        "--notifier".into(),
        "nope".into(),
    ])
    .await;
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no notifier named `nope`; configured: ops-slack, ops-discord"));
}
