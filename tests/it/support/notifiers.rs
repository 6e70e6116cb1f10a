//! Helpers for the notifier tests: synthetic views, notifier configs, short retry policies.

use lagwatch::config::{Filter, NotifierConfig, NotifierKind, Severity};
use lagwatch::metrics::{Metrics, NotifierLabel, NotifyLabels};
use lagwatch::notify::deliver::RetryPolicy;
use lagwatch::notify::Options;
use lagwatch::snapshot::GroupSource;
use lagwatch::state::AppState;
use lagwatch::view::*;
use std::sync::Arc;
use std::time::Duration;

/// One group×topic row of a synthetic view: (group, topic, status, reasons, lag).
pub type Row<'a> = (&'a str, &'a str, Status, &'a [Reason], i64);

/// A complete, up view of cluster `prod` with one partition per group×topic.
pub fn view(rows: &[Row<'_>]) -> ClusterView {
    let mut groups: Vec<GroupView> = Vec::new();
    for (g, t, status, reasons, lag) in rows {
        let gt = GroupTopicView {
            topic: Arc::from(*t),
            lag: *lag,
            max_lag_seconds: Some(*lag as f64 / 100.0),
            produce_rate: Some(100.0),
            consume_rate: Some(150.0),
            throughput_ratio: Some(1.5),
            drain_eta_seconds: Some(*lag as f64 / 50.0),
            retention_seconds: None,
            retention_headroom_seconds: None,
            status: *status,
            reasons: reasons.to_vec(),
            settling: false,
            partitions: vec![GroupPartitionView {
                partition: 0,
                committed: 1_000,
                log_start: 0,
                log_end: 1_000 + lag,
                lag: *lag,
                lag_seconds: None,
                lag_seconds_method: None,
                messages_lost: 0,
                inflight_lag: None,
            }],
        };
        match groups.iter_mut().find(|x| x.group == *g) {
            Some(x) => x.topics.push(gt),
            None => groups.push(GroupView {
                group: g.to_string(),
                source: GroupSource::Kafka,
                state: "Stable".into(),
                group_type: Default::default(),
                members: Some(1),
                lag: None,
                max_lag_seconds: None,
                status: Status::Ok,
                reasons: Vec::new(),
                error: None,
                source_status: Status::Ok,
                settling: false,
                last_commit_age_seconds: None,
                spark: None,
                topics: vec![gt],
            }),
        }
    }
    for g in &mut groups {
        g.lag = Some(g.topics.iter().map(|t| t.lag).sum());
        g.status = g.topics.iter().map(|t| t.status).max().unwrap_or_default();
    }
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

/// A webhook notifier with test-friendly defaults (short timeout, 1 h reminders).
pub fn notifier(name: &str, kind: NotifierKind, url: Option<String>) -> NotifierConfig {
    NotifierConfig {
        name: name.into(),
        kind,
        url,
        groups: Filter::default(),
        topics: Filter::default(),
        min_severity: Severity::Warning,
        dashboard_url: Some("https://grafana.example/d/lag?var-group={group}".into()),
        repeat_interval: Duration::from_secs(3600),
        queue_size: 100,
        timeout: Duration::from_millis(300),
        urls: Vec::new(),
        headers: Vec::new(),
        secret: None,
        routing_key: None,
        reasons: Vec::new(),
    }
}

/// Retries in milliseconds, not seconds.
pub fn fast() -> Options {
    Options {
        retry: RetryPolicy {
            max_attempts: 5,
            base_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(2),
        },
        ..Options::default()
    }
}

/// Fresh metrics (no clusters).
pub fn metrics() -> Arc<Metrics> {
    Metrics::new(AppState::new([]))
}

/// `lagwatch_notifications_total{notifier, outcome}`.
pub fn outcome(m: &Metrics, notifier: &str, outcome: &str) -> u64 {
    m.notifications
        .get_or_create(&NotifyLabels {
            notifier: notifier.into(),
            outcome: outcome.into(),
        })
        .get()
}

/// `lagwatch_notifier_queue_length{notifier}`.
pub fn queue_length(m: &Metrics, notifier: &str) -> i64 {
    m.queue_length
        .get_or_create(&NotifierLabel {
            notifier: notifier.into(),
        })
        .get()
}

/// Waits (polling every 20 ms, at most 15 s) until `f` holds.
pub async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
