//! Signals on the real binary: SIGHUP re-reads the config (valid → applied, invalid →
//! old one kept with file:line in the log, unbindable `listen` → old one restarted);
//! SIGTERM flushes or persists pending notifications within `shutdown_timeout`, exit 0.

use crate::support::binary::*;
use crate::support::*;
use rdkafka::mocking::MockCluster;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// /metrics, or None while the server is restarting during a reload.
async fn try_scrape(port: u16) -> Option<String> {
    let r = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?;
    r.text().await.ok()
}

async fn wait_up(port: u16, cluster: &str) {
    wait_for(T, &format!("cluster {cluster} up"), || async {
        let t = try_scrape(port).await?;
        (metric(&t, "lagwatch_cluster_up", &[("cluster", cluster)]) == Some(1.0)).then_some(())
    })
    .await;
}

fn cluster_yaml(name: &str, bs: &str) -> String {
    format!(
        "  - name: {name}\n    bootstrap_servers: \"{bs}\"\n    poll_timeout: 2s\n    groups: {{names: [billing]}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_valid_configs_and_keeps_the_old_one_otherwise() {
    lagwatch::runtime::rustls_provider();
    let a = MockCluster::new(1).expect("mock");
    let b = MockCluster::new(1).expect("mock");
    for m in [&a, &b] {
        m.create_topic("orders", 1, 1).expect("topic");
        commit(&m.bootstrap_servers(), "billing", &[("orders", 0, 0)]);
    }
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let head = format!("listen: \"127.0.0.1:{port}\"\npoll_interval: 200ms\nclusters:\n");
    let v1 = format!("{head}{}", cluster_yaml("a", &a.bootstrap_servers()));
    let path = write_config(dir.path(), "lagwatch.yaml", &v1);
    let mut proc = Proc::run(&path, &["--log-level", "info"], &[]);
    wait_up(port, "a").await;

    // A second cluster appears after SIGHUP.
    let v2 = format!("{v1}{}", cluster_yaml("b", &b.bootstrap_servers()));
    write_config(dir.path(), "lagwatch.yaml", &v2);
    let mark = proc.mark();
    proc.signal(libc::SIGHUP);
    proc.wait_line(mark, &["reload applied"], T).await;
    wait_up(port, "b").await;
    wait_up(port, "a").await;

    // A broken config: rejected with file:line, the running one stays.
    let broken = v2.replace("poll_interval: 200ms", "poll_interval: soon");
    write_config(dir.path(), "lagwatch.yaml", &broken);
    let mark = proc.mark();
    proc.signal(libc::SIGHUP);
    let line = proc.wait_line(mark, &["reload rejected"], T).await;
    let where_ = format!("{}:2:", path.display());
    let all = proc.lines_since(mark).join("\n");
    assert!(
        all.contains(&where_),
        "the error names file:line `{where_}`:\n{line}\n{all}"
    );
    assert!(all.contains("poll_interval"), "and the field:\n{all}");
    wait_up(port, "b").await;

    // A `listen` that cannot be bound: the previous config is started again.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port();
    write_config(
        dir.path(),
        "lagwatch.yaml",
        &v2.replace(
            &format!("127.0.0.1:{port}"),
            &format!("127.0.0.1:{taken_port}"),
        ),
    );
    let mark = proc.mark();
    proc.signal(libc::SIGHUP);
    proc.wait_line(mark, &["reload failed", "previous config"], T)
        .await;
    wait_listening(port, T).await;
    wait_up(port, "b").await;

    let mark = proc.mark();
    proc.signal(libc::SIGTERM);
    let status = proc.wait(T);
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        proc.lines_since(mark).join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_persists_an_undeliverable_notification_and_exits_zero() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    lagwatch::runtime::rustls_provider();
    let mock = MockCluster::new(1).expect("mock");
    mock.create_topic("orders", 1, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    produce(&bs, "orders", 0, 200, false);
    commit(&bs, "billing", &[("orders", 0, 0)]);
    // Slower than the shutdown budget: the message cannot be delivered before exit.
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(20)))
        .mount(&slack)
        .await;
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let path = write_config(
        dir.path(),
        "lagwatch.yaml",
        &format!(
            r#"
listen: "127.0.0.1:{port}"
poll_interval: 200ms
shutdown_timeout: 1s
state_dir: "{}"
rules: {{lag_warning: 100, lag_critical: 100000, for_polls: 1}}
clusters:
{}notifiers:
  - name: slack
    kind: slack
    url: "{}/hook"
    timeout: 30s
"#,
            state.display(),
            cluster_yaml("mock", &bs),
            slack.uri()
        ),
    );
    let mut proc = Proc::run(&path, &["--log-level", "info"], &[]);
    wait_for(T, "the webhook is being called", || async {
        let n = slack.received_requests().await.unwrap_or_default().len();
        (n > 0).then_some(())
    })
    .await;
    proc.signal(libc::SIGTERM);
    // shutdown_timeout is 1 s; T only bounds a hang.
    let status = proc.wait(T);
    assert_eq!(status.code(), Some(0), "{}", proc.lines().join("\n"));
    let saved = std::fs::read_to_string(state.join("notifications.json")).expect("state file");
    let v: serde_json::Value = serde_json::from_str(&saved).expect("json");
    let pending = v.to_string();
    assert!(
        pending.contains("billing"),
        "the undelivered warning is kept for the next start: {saved}"
    );
    assert!(
        proc.lines()
            .iter()
            .any(|l| l.contains("undelivered notifications kept")),
        "the shutdown says what it left behind"
    );
    assert!(
        !saved.contains(&slack.uri()),
        "the webhook URL is not persisted"
    );
}
