//! Faults of the chat service: an outage never loses an incident's opening or resolution;
//! undelivered messages are kept, retried, folded when the queue is full, and exposed.
//! Webhooks are real local HTTP servers (wiremock) that record what they receive.

use lagwatch::config::NotifierKind::Slack;
use lagwatch::config::{Filter, NotifierConfig, NotifierKind, Severity};
use lagwatch::metrics::{Metrics, NotifierLabel, NotifyLabels};
use lagwatch::notify::deliver::RetryPolicy;
use lagwatch::notify::{Coordinator, Options};
use lagwatch::snapshot::GroupSource;
use lagwatch::state::AppState;
use lagwatch::view::Reason::LagCritical;
use lagwatch::view::Status::{Critical, Ok as Healthy};
use lagwatch::view::*;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const T0: f64 = 1_700_000_000.0;

/// A complete, up view of cluster `prod`: (group, status, lag) with topic `t`.
fn view(rows: &[(&str, Status, i64)]) -> ClusterView {
    let groups = rows
        .iter()
        .map(|(g, status, lag)| GroupView {
            group: g.to_string(),
            source: GroupSource::Kafka,
            state: "Stable".into(),
            group_type: Default::default(),
            members: Some(1),
            lag: Some(*lag),
            max_lag_seconds: None,
            status: *status,
            reasons: Vec::new(),
            error: None,
            source_status: Healthy,
            settling: false,
            last_commit_age_seconds: None,
            spark: None,
            topics: vec![GroupTopicView {
                topic: Arc::from("t"),
                lag: *lag,
                max_lag_seconds: None,
                produce_rate: Some(100.0),
                consume_rate: Some(150.0),
                throughput_ratio: Some(1.5),
                drain_eta_seconds: None,
                retention_seconds: None,
                retention_headroom_seconds: None,
                status: *status,
                reasons: if *status == Healthy {
                    vec![]
                } else {
                    vec![LagCritical]
                },
                settling: false,
                partitions: Vec::new(),
            }],
        })
        .collect();
    ClusterView {
        cluster: "prod".into(),
        taken_at: 0.0,
        up: true,
        partial: false,
        errors: Vec::new(),
        topics: Vec::new(),
        groups,
    }
}

fn notifier(name: &str, kind: NotifierKind, url: String, queue_size: usize) -> NotifierConfig {
    NotifierConfig {
        name: name.into(),
        kind,
        url: Some(url),
        groups: Filter::default(),
        topics: Filter::default(),
        min_severity: Severity::Warning,
        dashboard_url: None,
        repeat_interval: Duration::from_secs(3600),
        queue_size,
        timeout: Duration::from_millis(500),
        urls: Vec::new(),
        headers: Vec::new(),
        secret: None,
        routing_key: None,
        reasons: Vec::new(),
    }
}

/// Retries in milliseconds; "give up" (the old behaviour) would come after 3 attempts.
fn fast() -> Options {
    Options {
        retry: RetryPolicy {
            max_attempts: 3,
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
            max_retry_after: Duration::from_millis(50),
        },
        ..Options::default()
    }
}

fn metrics() -> Arc<Metrics> {
    Metrics::new(AppState::new([]))
}

fn outcome(m: &Metrics, notifier: &str, outcome: &str) -> u64 {
    m.notifications
        .get_or_create(&NotifyLabels {
            notifier: notifier.into(),
            outcome: outcome.into(),
        })
        .get()
}

fn label(n: &str) -> NotifierLabel {
    NotifierLabel { notifier: n.into() }
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Bodies of the requests that were answered 2xx (the server answers by order of arrival).
async fn delivered(s: &MockServer, failures_first: usize) -> Vec<String> {
    s.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .skip(failures_first)
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.body).expect("json body");
            v["text"].as_str().unwrap_or("").to_owned()
        })
        .collect()
}

/// Answers 503 and 429 (alternating) `n` times, then 200.
async fn down_for(n: u64) -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("maintenance"))
        .up_to_n_times(n / 2)
        .with_priority(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0.01"))
        .up_to_n_times(n - n / 2)
        .with_priority(2)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(3)
        .mount(&s)
        .await;
    s
}

#[tokio::test]
async fn an_outage_longer_than_the_retries_never_loses_the_opening() {
    // 12 failures: four times what used to be "gave up" (3 attempts).
    let s = down_for(12).await;
    let m = metrics();
    let c = Coordinator::start(
        &[notifier("ops", Slack, s.uri(), 100)],
        Default::default(),
        None,
        m.clone(),
        fast(),
    )
    .expect("start");
    c.observe(&view(&[("g", Critical, 2_000_000)]), T0);
    until("a backlog is exposed while the webhook fails", || {
        outcome(&m, "ops", "retried") >= 4
    })
    .await;
    assert_eq!(m.queue_length.get_or_create(&label("ops")).get(), 1);
    assert_eq!(
        m.oldest_pending.get_or_create(&label("ops")).get(),
        T0,
        "oldest pending message's time: its age is time() - this"
    );
    until("delivered after the outage", || {
        outcome(&m, "ops", "sent") == 1
    })
    .await;
    assert_eq!(outcome(&m, "ops", "failed"), 0, "nothing given up");
    assert!(outcome(&m, "ops", "retried") >= 12);
    assert_eq!(c.pending(), 0);
    assert_eq!(m.queue_length.get_or_create(&label("ops")).get(), 0);
    let got = delivered(&s, 12).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("opened"), "{got:?}");
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_full_queue_folds_news_instead_of_dropping_it() {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&s)
        .await;
    let m = metrics();
    let c = Coordinator::start(
        &[notifier("ops", Slack, s.uri(), 2)],
        Default::default(),
        None,
        m.clone(),
        fast(),
    )
    .expect("start");
    // g opens (in flight, failing), h opens and resolves while the chat is down, k opens.
    c.observe(&view(&[("g", Critical, 2_000_000)]), T0);
    until("in flight", || outcome(&m, "ops", "retried") >= 1).await;
    c.observe(
        &view(&[("g", Critical, 2_000_000), ("h", Critical, 3_000_000)]),
        T0 + 30.0,
    );
    c.observe(
        &view(&[("g", Critical, 2_000_000), ("h", Healthy, 0)]),
        T0 + 90.0,
    );
    c.observe(
        &view(&[
            ("g", Critical, 2_000_000),
            ("h", Healthy, 0),
            ("k", Critical, 4_000_000),
        ]),
        T0 + 120.0,
    );
    assert_eq!(c.pending(), 2, "bounded by queue_size");
    assert_eq!(outcome(&m, "ops", "dropped"), 0, "nothing dropped");
    let failed_so_far = s.received_requests().await.unwrap_or_default().len();
    s.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&s)
        .await;
    until("both delivered", || outcome(&m, "ops", "sent") == 2).await;
    assert!(failed_so_far >= 1);
    let got = delivered(&s, 0).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].contains("opened") && got[0].contains("g / t"),
        "{got:?}"
    );
    assert!(
        got[1].contains("k / t") && got[1].contains("opened"),
        "k's opening kept: {got:?}"
    );
    assert!(
        got[1].contains("h / t")
            && got[1].contains("RESOLVED")
            && got[1].contains("was critical for"),
        "h: one resolution that says how bad it was and for how long: {got:?}"
    );
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn shutdown_with_a_failing_webhook_is_prompt_and_keeps_the_backlog() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&s)
        .await;
    let m = metrics();
    let n = [notifier("ops", Slack, s.uri(), 100)];
    let c = Coordinator::start(&n, Default::default(), Some(dir.path()), m.clone(), fast())
        .expect("start");
    c.observe(&view(&[("g", Critical, 2_000_000)]), T0);
    until("retrying", || outcome(&m, "ops", "retried") >= 5).await;
    let started = std::time::Instant::now();
    let book = c.shutdown(Duration::from_secs(10)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a failing sink does not use up shutdown_timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(book.notifiers["ops"].pending.len(), 1);
    let saved = std::fs::read_to_string(dir.path().join("notifications.json")).expect("state");
    assert!(saved.contains("\"opened\""), "{saved}");
}
