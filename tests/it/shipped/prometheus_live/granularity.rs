//! The shipped dashboards at `metrics.granularity: group` on a real Prometheus: every panel
//! that does not say it needs topic or partition granularity still gets data.

use super::server::{eval, prometheus_bin, Prometheus};
use super::traffic::spark_checkpoint;
use super::{dashboard_targets, NO_DATA_ALLOWED};
use crate::support::*;
use rdkafka::mocking::MockCluster;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_have_data_at_group_granularity() {
    let Some(bin) = prometheus_bin() else { return };
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic("orders", 2, 1).expect("topic");
    // The Spark query's topic: its batch families are per query, so they exist here too.
    mock.create_topic("events", 1, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    produce(&bs, "events", 0, 20, false);
    let tmp = tempfile::tempdir().expect("tmp");
    let checkpoint = tmp.path().join("checkpoint");
    spark_checkpoint(&checkpoint);
    produce(&bs, "orders", 0, 50, false);
    produce(&bs, "orders", 1, 50, false);
    commit(&bs, "billing", &[("orders", 0, 10), ("orders", 1, 50)]);
    let cfg = config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 500ms
clusters:
  - name: mock
    bootstrap_servers: "{bs}"
    poll_timeout: 5s
    groups:
      names: [billing]
    spark_queries:
      - name: etl
        checkpoint: "{}"
notifiers:
  - name: console
    kind: console
metrics:
  granularity: group
"#,
        checkpoint.display()
    ));
    let running = lagwatch::app::start(cfg).await.expect("start lagwatch");
    let prom = Prometheus::start(&bin, tmp.path(), running.addr, "groups: []\n");
    // Nothing per topic or partition is exported at all.
    let text = scrape(running.addr).await;
    assert!(
        !text.contains("topic=") && !text.contains("partition="),
        "{text}"
    );
    let targets: Vec<_> = dashboard_targets()
        .into_iter()
        .filter(|t| !t.finer)
        .collect();
    assert!(targets.len() > 10, "most panels work at group granularity");
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let mut missing = Vec::new();
        for t in &targets {
            match eval(&prom, &t.expr, t.range).await {
                Ok(0) if NO_DATA_ALLOWED.iter().any(|(w, _)| *w == t.what) => {}
                Ok(0) => missing.push(format!("no data: {} `{}`", t.what, t.expr)),
                Ok(_) => {}
                Err(e) if e.contains("no answer") => missing.push(e),
                Err(e) => panic!("{} does not evaluate: {e}\n  {}", t.what, t.expr),
            }
        }
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}\nprometheus log:\n{}",
            missing.join("\n"),
            prom.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(prom);
    running.stop().await;
}
