use super::*;
use crate::config::RulesConfig;
use crate::model::Model;
use crate::snapshot::{GroupSnapshot, PartitionOffsets, Snapshot, TopicPartition};
use std::sync::Arc;

/// orders/0..1 and a lagging `billing` group; at t=10 s the log grew 100 and billing read 50.
fn snap(at: f64, grown: i64, read: i64) -> Snapshot {
    let mut s = Snapshot::new("prod", at);
    for (p, end) in [(0, 200_000 + grown), (1, 100)] {
        s.partitions.insert(
            TopicPartition::new("orders", p),
            PartitionOffsets {
                log_start: 0,
                log_end: end,
            },
        );
    }
    let mut billing = GroupSnapshot::kafka("billing", "Stable", Some(1));
    billing
        .committed
        .insert(TopicPartition::new("orders", 0), 1_000 + read);
    billing
        .committed
        .insert(TopicPartition::new("orders", 1), 100);
    s.groups.insert("billing".into(), billing);
    s
}

fn clusters(up: bool) -> BTreeMap<String, ClusterStatus> {
    let mut rules = RulesConfig::default();
    rules.defaults.for_polls = 1;
    let mut m = Model::new(rules, std::time::Duration::from_secs(5));
    m.update(&snap(1_000.0, 0, 0), 1_000.0);
    let view = m.update(&snap(1_010.0, 100, 50), 1_010.0);
    let mut c = ClusterStatus {
        view: Some(Arc::new(view)),
        up,
        polled: true,
        last_success: Some(1_010.0),
        last_error: None,
        details: None,
    };
    if !up {
        c.last_error = Some("poll did not finish within 1s".to_owned());
    }
    BTreeMap::from([("prod".to_owned(), c)])
}

fn opts(per_partition: bool) -> TableOptions {
    TableOptions {
        per_partition,
        color: false,
        headroom: 1.2,
    }
}

#[test]
fn table_has_partition_rows_totals_and_the_verdict() {
    let got = table(&clusters(true), opts(true));
    // orders/0: 200,100 - 1,050 = 199,050 lag, consumer 5/s vs producer 10/s: falling behind,
    // at 0.5% of the log: replaying a backlog. Time lag is extrapolated at 10 msg/s.
    let want = "\
cluster prod

GROUP    TOPIC   PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG
billing  orders  0          1050            200100          199050
billing  orders  1          100             100             0

GROUP    TOPIC   LAG     PRODUCE/S  CONSUME/S  RATIO       TIME-LAG     ETA    RETENTION-LEFT  STATUS
billing  orders  199050  10         5          0.50x <1.0  ~5 h 31 min  never  -               critical
";
    assert!(got.starts_with(want), "{got}");
    assert!(
        got.contains(
            "CRITICAL billing / orders: falling_behind, lag_warning, backlog_replay\n  lag: 199,050 messages\n  \
             rates: produce 10 msg/s, consume 5 msg/s; ratio 0.50x: below 1.0x, the lag grows \
             without end\n  drain ETA: never at current rates\n  action: Add consumers/partitions"
        ),
        "{got}"
    );
}

#[test]
fn exit_codes_follow_the_worst_status_and_reachability() {
    // Rows: (clusters, code, why)
    let empty = {
        let mut c = clusters(true);
        if let Some(s) = c.get_mut("prod") {
            let mut v = (**s.view.as_ref().expect("view")).clone();
            v.groups.clear();
            s.view = Some(Arc::new(v));
        }
        c
    };
    let never = BTreeMap::from([("prod".to_owned(), ClusterStatus::default())]);
    let rows = [
        (clusters(true), EXIT_CRITICAL, "falling behind is critical"),
        (
            empty,
            EXIT_NOTHING_CHECKED,
            "no groups: nothing was checked, so a filter typo must not pass as ok",
        ),
        (
            clusters(false),
            EXIT_UNREACHABLE,
            "down outranks the last known status",
        ),
        (never, EXIT_UNREACHABLE, "never read: nothing is known"),
    ];
    for (c, code, why) in rows {
        assert_eq!(exit_code(&c), code, "{why}");
    }
}

#[test]
fn json_is_the_api_document() {
    let c = clusters(true);
    let got: serde_json::Value = serde_json::from_str(&json(&c).expect("json")).expect("parse");
    let api = serde_json::to_value(crate::http::api::status_report(&c)).expect("value");
    assert_eq!(got, api);
    assert_eq!(got["schema_version"], 1);
    assert_eq!(
        got["clusters"][0]["groups"][0]["topics"][0]["drain_eta_seconds"],
        "inf"
    );
}

#[test]
fn unreachable_cluster_and_colors() {
    let got = table(&clusters(false), opts(false));
    assert_eq!(
        got,
        "cluster prod: UNREACHABLE (poll did not finish within 1s)\n"
    );
    let colored = table(
        &clusters(true),
        TableOptions {
            color: true,
            ..opts(false)
        },
    );
    assert!(colored.contains("\x1b[31mbilling  orders"), "{colored}");
    assert!(!table(&clusters(true), opts(false)).contains('\x1b'));
}

#[test]
fn a_capped_spark_query_shows_its_batches_cap_and_action() {
    let mut cs = clusters(true);
    let c = cs.get_mut("prod").expect("prod");
    let mut view = (**c.view.as_ref().expect("view")).clone();
    // The seed's query: 10 s batches of 10,000, batch 3 s in flight, trigger-capped.
    view.groups[0].spark = Some(SparkView {
        batch_duration_seconds: Some(10.0),
        records_per_batch: Some(10_000),
        inflight_batch_age_seconds: Some(3.0),
        trigger_cap: Some(10_000),
    });
    view.groups[0].topics[0].reasons = vec![crate::view::Reason::SparkTriggerCapped];
    c.view = Some(Arc::new(view));
    let got = table(&cs, opts(false));
    let want = "\
  spark batches: ~10 s per batch, 10,000 records per batch, batch in flight for 3 s
  diagnosis: maxOffsetsPerTrigger caps every batch at \u{2248}10,000 records: at ~10 s per batch the query reads at most ~1,000 msg/s
  action: Every Spark batch reads the same number of records (maxOffsetsPerTrigger";
    assert!(got.contains(want), "{got}");
    assert!(got.contains("raise maxOffsetsPerTrigger, or process the backlog in batch"));
}
