//! `metrics.compat` through a real Prometheus: lagwatch watching the in-process librdkafka
//! mock cluster with both compat sets on, and for each compat family a PromQL comparison
//! with the native family it maps from (labels renamed with `label_replace`).

use super::server::{eval, prometheus_bin, Prometheus};
use crate::support::*;
use rdkafka::mocking::MockCluster;
use std::time::{Duration, Instant};

/// `x` with label `from` copied to `to`, so it joins a compat family's labels.
fn renamed(x: &str, to: &str, from: &str) -> String {
    format!("label_replace({x}, \"{to}\", \"$1\", \"{from}\", \"(.*)\")")
}

/// (compat family, native expression in the compat family's label names, join labels,
/// must have data here).
fn comparisons() -> Vec<(&'static str, String, &'static str, bool)> {
    let ke = |x: &str| renamed(x, "consumergroup", "group");
    let kle = |x: &str| renamed(x, "cluster_name", "cluster");
    let gp = "cluster, consumergroup, topic, partition";
    let lp = "cluster_name, group, topic, partition";
    vec![
        (
            "kafka_consumergroup_lag",
            ke("lagwatch_group_partition_lag"),
            gp,
            true,
        ),
        (
            "kafka_consumergroup_current_offset",
            ke("lagwatch_group_partition_committed_offset"),
            gp,
            true,
        ),
        (
            "kafka_consumergroup_lag_sum",
            ke("lagwatch_group_topic_lag"),
            "cluster, consumergroup, topic",
            true,
        ),
        // The mock cluster does not describe groups: no member count on either side.
        (
            "kafka_consumergroup_members",
            ke("lagwatch_group_members"),
            "cluster, consumergroup",
            false,
        ),
        (
            "kafka_topic_partition_current_offset",
            "lagwatch_partition_log_end_offset".into(),
            "cluster, topic, partition",
            true,
        ),
        (
            "kafka_topic_partition_oldest_offset",
            "lagwatch_partition_log_start_offset".into(),
            "cluster, topic, partition",
            true,
        ),
        (
            "kafka_topic_partitions",
            "count by (cluster, topic) (lagwatch_partition_log_end_offset)".into(),
            "cluster, topic",
            true,
        ),
        (
            "kafka_consumergroup_group_lag",
            kle("lagwatch_group_partition_lag"),
            lp,
            true,
        ),
        (
            "kafka_consumergroup_group_lag_seconds",
            kle("lagwatch_group_partition_lag_seconds"),
            lp,
            false,
        ),
        (
            "kafka_consumergroup_group_max_lag",
            kle("max by (cluster, group) (lagwatch_group_partition_lag)"),
            "cluster_name, group",
            true,
        ),
        (
            "kafka_consumergroup_group_max_lag_seconds",
            kle("lagwatch_group_max_lag_seconds"),
            "cluster_name, group",
            false,
        ),
        (
            "kafka_consumergroup_group_sum_lag",
            kle("lagwatch_group_lag"),
            "cluster_name, group",
            true,
        ),
        (
            "kafka_partition_latest_offset",
            kle("lagwatch_partition_log_end_offset"),
            "cluster_name, topic, partition",
            true,
        ),
        (
            "kafka_partition_earliest_offset",
            kle("lagwatch_partition_log_start_offset"),
            "cluster_name, topic, partition",
            true,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_families_equal_their_native_values_in_prometheus() {
    let Some(bin) = prometheus_bin() else { return };
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic("orders", 3, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    for (p, n) in [(0, 30), (1, 20), (2, 10)] {
        produce(&bs, "orders", p, n, false);
    }
    commit(
        &bs,
        "billing",
        &[("orders", 0, 5), ("orders", 1, 20), ("orders", 2, 1)],
    );
    commit(&bs, "audit", &[("orders", 0, 30)]);
    let cfg = config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 500ms
clusters:
  - name: mock
    bootstrap_servers: "{bs}"
    poll_timeout: 5s
    groups:
      names: [billing, audit]
metrics:
  compat: [kafka_exporter, kafka_lag_exporter]
"#
    ));
    let running = lagwatch::app::start(cfg).await.expect("start lagwatch");
    let tmp = tempfile::tempdir().expect("tmp");
    let prom = Prometheus::start(&bin, tmp.path(), running.addr, "groups: []\n");

    let deadline = Instant::now() + Duration::from_secs(45);
    let checks = comparisons();
    loop {
        let mut problems = Vec::new();
        for (compat, native, on, needs_data) in &checks {
            let n = |e: String| {
                let prom = &prom;
                async move { eval(prom, &e, false).await }
            };
            match n(compat.to_string()).await {
                Ok(0) if *needs_data => problems.push(format!("{compat}: no data yet")),
                Ok(_) => {}
                Err(e) if e.contains("no answer") => problems.push(e),
                Err(e) => panic!("{compat}: {e}"),
            }
            // Same series on both sides, and no value differs.
            for (what, expr) in [
                ("differs", format!("{compat} != on ({on}) ({native})")),
                (
                    "has no native match",
                    format!("{compat} unless on ({on}) ({native})"),
                ),
                (
                    "is missing",
                    format!("({native}) unless on ({on}) {compat}"),
                ),
            ] {
                match n(expr.clone()).await {
                    Ok(0) => {}
                    Ok(k) => problems.push(format!("{compat}: {k} series {what}: {expr}")),
                    Err(e) if e.contains("no answer") => problems.push(e),
                    Err(e) => panic!("{compat}: {e}\n  {expr}"),
                }
            }
        }
        if problems.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}\nprometheus log:\n{}",
            problems.join("\n"),
            prom.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A spot check against the offsets committed above: billing lags 25 on orders/0.
    let q =
        r#"kafka_consumergroup_lag{consumergroup="billing", topic="orders", partition="0"} == 25"#;
    assert_eq!(eval(&prom, q, false).await, Ok(1), "{q}");
    let q = r#"kafka_consumergroup_group_max_lag{group="billing", cluster_name="mock"} == 25"#;
    assert_eq!(eval(&prom, q, false).await, Ok(1), "{q}");
    drop(prom);
    running.stop().await;
}
