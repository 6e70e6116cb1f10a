//! HTTP surface: content negotiation, golden /metrics output, readiness, API 404s, promtool lint.

use crate::support::*;
use lagwatch::config::RulesConfig;
use lagwatch::metrics::Metrics;
use lagwatch::model::Model;
use lagwatch::snapshot::{
    GroupSnapshot, GroupSource, GroupState, GroupType, PartitionOffsets, ShareGroupSnapshot,
    SharePartition, Snapshot, SparkBatch, TopicPartition,
};
use lagwatch::state::AppState;
use std::sync::Arc;

/// A fixed snapshot: two topics, a lagging KIP-848 group, a caught-up classic group with
/// data loss, a share group, and a Spark query with a batch in flight.
pub(super) fn fixture() -> Snapshot {
    let mut s = Snapshot::new("prod", 1_700_000_000.0);
    for (t, p, start, end) in [
        ("orders", 0, 0, 100),
        ("orders", 1, 0, 250),
        ("events", 0, 40, 90),
    ] {
        s.partitions.insert(
            TopicPartition::new(t, p),
            PartitionOffsets {
                log_start: start,
                log_end: end,
            },
        );
    }
    let mut billing = GroupSnapshot::kafka("billing", "Stable", Some(2));
    billing.group_type = GroupType::Consumer;
    billing
        .committed
        .insert(TopicPartition::new("orders", 0), 60);
    billing
        .committed
        .insert(TopicPartition::new("orders", 1), 250);
    let mut audit = GroupSnapshot::kafka("audit", "Empty", Some(0));
    audit.group_type = GroupType::Classic;
    audit.committed.insert(TopicPartition::new("events", 0), 10);
    s.groups.insert("billing".into(), billing);
    // billing's members as ConsumerGroupDescribe tells them: who holds which partition
    // (kafka-lag-exporter's member labels are read from this).
    s.members.insert(
        "billing".into(),
        vec![lagwatch::snapshot::Member {
            member_id: "m-1".into(),
            group_instance_id: None,
            client_id: "billing-app".into(),
            host: "/10.0.0.7".into(),
            assignment: Some([("orders".to_owned(), vec![0])].into()),
        }],
    );
    s.groups.insert("audit".into(), audit);
    let mut jobs = ShareGroupSnapshot {
        name: "jobs".into(),
        state: "Stable".into(),
        members: Some(2),
        partitions: Default::default(),
    };
    jobs.partitions.insert(
        TopicPartition::new("orders", 0),
        SharePartition {
            start_offset: 90,
            lag: Some(3),
        },
    );
    s.share_groups.insert("jobs".into(), jobs);
    // A Spark query: batches of 100 records every 10 s, batch 4 in flight for 5 s.
    let mut etl = GroupSnapshot::kafka("spark:etl", GroupState::Unknown, None);
    etl.source = GroupSource::Spark;
    etl.committed.insert(TopicPartition::new("events", 0), 50);
    etl.inflight.insert(TopicPartition::new("events", 0), 70);
    etl.last_commit_at = Some(1_699_999_994.0);
    etl.batches = (0..5u64)
        .map(|id| SparkBatch {
            id,
            planned_at: Some(1_699_999_955.0 + 10.0 * id as f64),
            records: (id > 0).then_some(100),
            committed: id < 4,
        })
        .collect();
    s.groups.insert("spark:etl".into(), etl);
    s
}

fn render(openmetrics: bool) -> String {
    render_with(&lagwatch::config::MetricsConfig::default(), openmetrics)
}

/// The fixture's exposition with a `metrics:` section.
pub(super) fn render_with(cfg: &lagwatch::config::MetricsConfig, openmetrics: bool) -> String {
    let state = AppState::new(["prod"]);
    let metrics = Metrics::with_config(state.clone(), cfg);
    // One poll: hysteresis off so the fixture's statuses are confirmed at once.
    let mut rules = RulesConfig::default();
    rules.defaults.for_polls = 1;
    let snap = fixture();
    let view = Model::new(rules, std::time::Duration::from_secs(15)).update(&snap, 1_700_000_000.0);
    state.update("prod", |c| {
        c.view = Some(Arc::new(view));
        c.details = Some(Arc::new(lagwatch::view::KafkaDetails::of(&snap)));
        c.up = true;
        c.polled = true;
        c.last_success = Some(1_700_000_000.0);
    });
    metrics.render(openmetrics).expect("render")
}

#[test]
fn golden_metrics_output() {
    // The poll duration histogram of the one cluster exists from the start (count 0).
    // The poll error counters exist at 0 from the start (in hash order, so not golden);
    // known_series_exist_at_zero_from_the_start covers them.
    let text: String = render(false)
        .lines()
        .filter(|l| !l.contains("lagwatch_poll_errors_total"))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/metrics.txt");
    if std::env::var("UPDATE_GOLDEN").is_ok() {
        std::fs::write(path, &text).expect("write golden");
    }
    let golden = std::fs::read_to_string(path).expect("golden file (run with UPDATE_GOLDEN=1)");
    assert_eq!(
        text, golden,
        "metrics output changed; review and rerun with UPDATE_GOLDEN=1"
    );
    assert_eq!(
        metric(
            &text,
            "lagwatch_group_partition_lag",
            &[("group", "billing"), ("partition", "0")]
        ),
        Some(40.0)
    );
    assert_eq!(
        metric(
            &text,
            "lagwatch_group_partition_messages_lost",
            &[("group", "audit")]
        ),
        Some(30.0)
    );
    assert_eq!(
        metric(&text, "lagwatch_group_lag", &[("group", "audit")]),
        Some(80.0)
    );
}

#[test]
fn every_emitted_family_is_declared() {
    for text in [render(false), render(true)] {
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let name = line.split_whitespace().nth(2).unwrap_or("");
            let declared = lagwatch::metrics::METRIC_NAMES.iter().any(|m| {
                *m == name
                    || m.strip_suffix("_total") == Some(name)
                    || m.strip_suffix("_info") == Some(name)
            });
            assert!(declared, "family {name} is emitted but not in METRIC_NAMES");
        }
    }
}

#[test]
fn openmetrics_text_ends_with_eof() {
    let om = render(true);
    assert!(om.trim_end().ends_with("# EOF"), "{om}");
    let classic = render(false);
    assert!(!classic.contains("# EOF"));
}

#[test]
fn promtool_accepts_the_exposition() {
    let Some(promtool) = std::env::var("PROMTOOL_BIN").ok() else {
        assert!(
            std::env::var("CI").is_err(),
            "PROMTOOL_BIN must be set in CI"
        );
        eprintln!("PROMTOOL_BIN not set: skipped");
        return;
    };
    use std::io::Write;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(render(false).as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool output");
    let msg =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    // promtool exits 3 for lint warnings (e.g. naming advice); 1 for invalid exposition.
    assert_ne!(
        out.status.code(),
        Some(1),
        "promtool rejected the exposition: {msg}"
    );
    assert!(!msg.contains("error while linting"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_types_readiness_and_404s() {
    // A cluster nobody listens on: the server must answer anyway, not ready, cluster down.
    let port = free_port();
    let cfg = config(&format!(
        "listen: \"127.0.0.1:0\"\npoll_interval: 200ms\nclusters:\n  - name: nowhere\n    bootstrap_servers: \"127.0.0.1:{port}\"\n    poll_timeout: 1s\n"
    ));
    let running = lagwatch::app::start(cfg).await.expect("start");
    let addr = running.addr;
    let client = reqwest::Client::new();
    let om = client
        .get(format!("http://{addr}/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )
        .send()
        .await
        .expect("get");
    assert_eq!(
        om.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    // RFC 9110 weights: a client preferring the classic format gets it, OpenMetrics listed.
    let prefers_text = client
        .get(format!("http://{addr}/metrics"))
        .header(
            "accept",
            "text/plain;q=1, application/openmetrics-text;q=0.5",
        )
        .send()
        .await
        .expect("get");
    assert_eq!(
        prefers_text.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let classic = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("get");
    assert_eq!(
        classic.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let (code, body) = http_get(addr, "/readyz").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("nowhere"), "{body}");
    assert_eq!(http_get(addr, "/healthz").await.0, 200);
    wait_for(
        std::time::Duration::from_secs(20),
        "cluster_up 0",
        || async {
            (metric(
                &scrape(addr).await,
                "lagwatch_cluster_up",
                &[("cluster", "nowhere")],
            ) == Some(0.0))
            .then_some(())
        },
    )
    .await;
    let (code, body) = http_get(addr, "/api/v1/clusters/nope/groups/g").await;
    assert_eq!(code, 404);
    assert!(body.contains("no cluster named `nope`"), "{body}");
    let (code, body) = http_get(addr, "/api/v1/clusters/nowhere/groups/g").await;
    assert_eq!(code, 404);
    assert!(body.contains("not been polled successfully"), "{body}");
    let (code, body) = http_get(addr, "/api/v1/status").await;
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["clusters"][0]["cluster"], "nowhere");
    assert_eq!(v["clusters"][0]["up"], false);
    running.stop().await;
}

#[test]
fn never_draining_eta_is_plus_inf_in_both_formats() {
    use lagwatch::view::{ClusterView, GroupTopicView, GroupView, Status};
    let view = ClusterView {
        cluster: "prod".into(),
        taken_at: 1.0,
        up: true,
        partial: false,
        errors: Vec::new(),
        topics: Vec::new(),
        groups: vec![GroupView {
            group: "g".into(),
            source: lagwatch::snapshot::GroupSource::Kafka,
            state: "Stable".into(),
            group_type: Default::default(),
            members: Some(1),
            lag: Some(10),
            max_lag_seconds: None,
            status: Status::Critical,
            reasons: Vec::new(),
            error: None,
            source_status: Status::Ok,
            settling: false,
            last_commit_age_seconds: None,
            spark: None,
            topics: vec![GroupTopicView {
                topic: "t".into(),
                lag: 10,
                max_lag_seconds: None,
                produce_rate: Some(5.0),
                consume_rate: Some(1.0),
                throughput_ratio: Some(0.2),
                drain_eta_seconds: Some(f64::INFINITY),
                retention_seconds: None,
                retention_headroom_seconds: None,
                status: Status::Critical,
                reasons: Vec::new(),
                settling: false,
                partitions: Vec::new(),
            }],
        }],
    };
    let state = AppState::new(["prod"]);
    let metrics = Metrics::new(state.clone());
    state.update("prod", |c| c.view = Some(Arc::new(view)));
    for om in [false, true] {
        let text = metrics.render(om).expect("render");
        let line = text
            .lines()
            .find(|l| l.starts_with("lagwatch_group_topic_drain_eta_seconds{"))
            .expect("eta series");
        assert!(line.ends_with(" +Inf"), "{line}");
    }
}

/// Issue 20 §2 (asked by issue 22's hostile user too): counters whose labels the config
/// knows exist at 0 before a first event, so `rate()`/`increase()` see the first error or
/// message and dashboards do not say "No data".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_series_exist_at_zero_from_the_start() {
    let (a, b) = (free_port(), free_port());
    let cfg = config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 1h
clusters:
  - name: east
    bootstrap_servers: "127.0.0.1:{a}"
    poll_timeout: 1s
  - name: west
    bootstrap_servers: "127.0.0.1:{b}"
    poll_timeout: 1s
notifiers:
  - name: team-slack
    kind: slack
    url: "http://127.0.0.1:{a}/services/T0/B0/x"
"#
    ));
    let running = lagwatch::app::start(cfg).await.expect("start");
    let text = scrape(running.addr).await;
    for cluster in ["east", "west"] {
        for stage in lagwatch::snapshot::Stage::ALL {
            let v = metric(
                &text,
                "lagwatch_poll_errors_total",
                &[("cluster", cluster), ("stage", stage.as_str())],
            );
            // The first poll (at start) may already have failed its metadata stage.
            let want_zero = stage != lagwatch::snapshot::Stage::Metadata;
            assert!(
                v.is_some_and(|v| !want_zero || v == 0.0),
                "{cluster}/{}: {v:?}",
                stage.as_str()
            );
        }
    }
    for cluster in ["east", "west"] {
        // Present before any poll finished: count 0 (or 1 once the first failed poll ends).
        let polls = metric(
            &text,
            "lagwatch_poll_duration_seconds_count",
            &[("cluster", cluster)],
        );
        assert!(polls.is_some_and(|n| n <= 1.0), "{cluster}: {polls:?}");
        assert!(
            metric(&text, "lagwatch_cluster_up", &[("cluster", cluster)]).is_some(),
            "{cluster}: cluster_up"
        );
    }
    for outcome in lagwatch::metrics::NOTIFY_OUTCOMES {
        assert_eq!(
            metric(
                &text,
                "lagwatch_notifications_total",
                &[("notifier", "team-slack"), ("outcome", outcome)]
            ),
            Some(0.0),
            "{outcome}"
        );
    }
    assert_eq!(
        metric(
            &text,
            "lagwatch_notifier_queue_length",
            &[("notifier", "team-slack")]
        ),
        Some(0.0)
    );
    running.stop().await;
}
