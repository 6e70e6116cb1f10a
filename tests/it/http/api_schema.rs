//! The JSON API (`/api/v1/*`, schema_version 1) over a real local HTTP server: every field
//! of a view round-trips, and unknown clusters/groups get clear JSON 404s.

use crate::support::*;
use lagwatch::config::RulesConfig;
use lagwatch::http::{self, HttpCtx};
use lagwatch::metrics::Metrics;
use lagwatch::model::Model;
use lagwatch::snapshot::{GroupSnapshot, PartitionOffsets, Snapshot, TopicPartition};
use lagwatch::state::AppState;
use lagwatch::view::{ClusterView, GroupView};
use serde_json::Value;
use std::sync::Arc;

/// Two polls 10 s apart: `billing` reads 50 of 100 new records on orders/0 (rates known),
/// `audit` is below the log start on events/0 (data loss).
fn view() -> ClusterView {
    let snap = |at: f64, grown: i64, read: i64| {
        let mut s = Snapshot::new("prod", at);
        for (t, p, start, end) in [
            ("orders", 0, 0, 200_000 + grown),
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
        billing
            .committed
            .insert(TopicPartition::new("orders", 0), 1_000 + read);
        billing
            .committed
            .insert(TopicPartition::new("orders", 1), 250);
        let mut audit = GroupSnapshot::kafka("audit", "Empty", Some(0));
        audit.committed.insert(TopicPartition::new("events", 0), 10);
        s.groups.insert("billing".into(), billing);
        s.groups.insert("audit".into(), audit);
        s
    };
    let mut rules = RulesConfig::default();
    rules.defaults.for_polls = 1;
    let mut m = Model::new(rules, std::time::Duration::from_secs(5));
    m.update(&snap(1_700_000_000.0, 0, 0), 1_700_000_000.0);
    m.update(&snap(1_700_000_010.0, 100, 50), 1_700_000_010.0)
}

async fn serve(v: ClusterView) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    // The test's reqwest client needs the crypto provider lagwatch installs at start.
    lagwatch::runtime::rustls_provider();
    let state = AppState::new(["prod", "never-polled"]);
    state.update("prod", |c| {
        c.view = Some(Arc::new(v));
        c.up = true;
        c.polled = true;
        c.last_success = Some(1_700_000_010.0);
    });
    let metrics = Metrics::new(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let ctx = HttpCtx {
        state,
        metrics,
        auth: None,
    };
    tokio::spawn(http::serve(listener, ctx, None, async {
        let _ = rx.await;
    }));
    (addr, tx)
}

fn opt(x: Option<f64>) -> Value {
    x.map_or(Value::Null, |x| {
        if x.is_infinite() {
            Value::from("inf")
        } else {
            Value::from(x)
        }
    })
}

/// Compares every field of a group in the JSON with the view it came from.
fn assert_group(j: &Value, g: &GroupView) {
    let name = &g.group;
    assert_eq!(j["group"], g.group.as_str(), "{name}");
    assert_eq!(j["state"], g.state.as_str(), "{name}");
    assert_eq!(
        j["members"],
        g.members.map_or(Value::Null, Value::from),
        "{name}"
    );
    assert_eq!(j["lag"], g.lag.map_or(Value::Null, Value::from), "{name}");
    assert_eq!(j["max_lag_seconds"], opt(g.max_lag_seconds), "{name}");
    assert_eq!(j["status"], g.status.as_str(), "{name}");
    let reasons: Vec<&str> = g.reasons.iter().map(|r| r.as_str()).collect();
    assert_eq!(j["reasons"], serde_json::json!(reasons), "{name}");
    let topics = j["topics"].as_array().expect("topics");
    assert_eq!(topics.len(), g.topics.len(), "{name}");
    for (jt, t) in topics.iter().zip(&g.topics) {
        assert_eq!(jt["topic"], &*t.topic);
        assert_eq!(jt["lag"], t.lag);
        assert_eq!(jt["max_lag_seconds"], opt(t.max_lag_seconds));
        assert_eq!(jt["produce_rate"], opt(t.produce_rate));
        assert_eq!(jt["consume_rate"], opt(t.consume_rate));
        assert_eq!(jt["throughput_ratio"], opt(t.throughput_ratio));
        assert_eq!(jt["drain_eta_seconds"], opt(t.drain_eta_seconds));
        assert_eq!(jt["status"], t.status.as_str());
        let reasons: Vec<&str> = t.reasons.iter().map(|r| r.as_str()).collect();
        assert_eq!(jt["reasons"], serde_json::json!(reasons));
        let parts = jt["partitions"].as_array().expect("partitions");
        assert_eq!(parts.len(), t.partitions.len());
        for (jp, p) in parts.iter().zip(&t.partitions) {
            assert_eq!(jp["partition"], p.partition);
            assert_eq!(jp["committed"], p.committed);
            assert_eq!(jp["log_start"], p.log_start);
            assert_eq!(jp["log_end"], p.log_end);
            assert_eq!(jp["lag"], p.lag);
            assert_eq!(jp["lag_seconds"], opt(p.lag_seconds));
            assert_eq!(jp["messages_lost"], p.messages_lost);
        }
    }
}

#[tokio::test]
async fn status_and_group_documents_round_trip_the_view() {
    let v = view();
    // The fixture must exercise the interesting shapes, or the round trip proves little.
    let billing = v
        .groups
        .iter()
        .find(|g| g.group == "billing")
        .expect("billing");
    assert!(billing.topics[0].produce_rate.is_some_and(|r| r > 0.0));
    assert_eq!(billing.topics[0].drain_eta_seconds, Some(f64::INFINITY));
    let audit = v.groups.iter().find(|g| g.group == "audit").expect("audit");
    assert!(audit.topics[0].partitions[0].messages_lost > 0);

    let (addr, stop) = serve(v.clone()).await;
    let (code, body) = http_get(addr, "/api/v1/status").await;
    assert_eq!(code, 200, "{body}");
    let j: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(j["schema_version"], 1);
    let clusters = j["clusters"].as_array().expect("clusters");
    // Every configured cluster is listed, polled or not (BTreeMap order).
    assert_eq!(clusters.len(), 2);
    let never = &clusters[0];
    assert_eq!(never["cluster"], "never-polled");
    assert_eq!(
        (never["up"].as_bool(), never["taken_at"].is_null()),
        (Some(false), true)
    );
    let prod = &clusters[1];
    assert_eq!(prod["cluster"], "prod");
    assert_eq!(prod["up"], true);
    assert_eq!(prod["partial"], v.partial);
    assert_eq!(prod["taken_at"], v.taken_at);
    let groups = prod["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), v.groups.len());
    for (jg, g) in groups.iter().zip(&v.groups) {
        assert_group(jg, g);
    }

    let (code, body) = http_get(addr, "/api/v1/clusters/prod/groups/billing").await;
    assert_eq!(code, 200, "{body}");
    let j: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        (
            j["schema_version"].as_u64(),
            j["cluster"].as_str(),
            j["up"].as_bool()
        ),
        (Some(1), Some("prod"), Some(true))
    );
    assert_group(&j["group"], billing);
    let _ = stop.send(());
}

#[tokio::test]
async fn unknown_names_get_json_404s_that_say_what_is_missing() {
    let (addr, stop) = serve(view()).await;
    // Rows: (path, error message, why)
    let rows = [
        (
            "/api/v1/clusters/nope/groups/billing",
            "no cluster named `nope`",
            "cluster not configured",
        ),
        (
            "/api/v1/clusters/prod/groups/nope",
            "no group named `nope` in cluster `prod`",
            "group not reported",
        ),
        (
            "/api/v1/clusters/never-polled/groups/billing",
            "cluster `never-polled` has not been polled successfully yet",
            "configured but no data yet: not the same as absent",
        ),
    ];
    for (path, msg, why) in rows {
        let (code, body) = http_get(addr, path).await;
        assert_eq!(code, 404, "{why}");
        let j: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{why}: {e}: {body}"));
        assert_eq!(j["error"], msg, "{why}");
    }
    let (code, _) = http_get(addr, "/api/v1/nothing-here").await;
    assert_eq!(code, 404);
    let _ = stop.send(());
}
