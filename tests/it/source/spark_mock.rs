//! Spark queries read from local checkpoints whose offsets point into topics on the
//! librdkafka mock cluster: exact lag and in-flight lag in /metrics, updates as batches
//! are appended, and one broken query not affecting another.

use crate::support::*;
use rdkafka::mocking::MockCluster;
use std::path::Path;
use std::time::Duration;

const META: &str = r#"{"batchWatermarkMs":0,"batchTimestampMs":1700000000000,"conf":{}}"#;

/// Writes like Spark does: a temp file renamed into place, so a poll never sees half a file.
fn put(root: &Path, rel: &str, body: &str) {
    let dst = root.join(rel);
    std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
    let tmp = root.join(format!("{}.tmp", rel.replace('/', "_")));
    std::fs::write(&tmp, body).expect("write");
    std::fs::rename(&tmp, &dst).expect("rename");
}

fn offsets(root: &Path, id: u64, source_line: &str) {
    put(
        root,
        &format!("offsets/{id}"),
        &format!("v1\n{META}\n{source_line}"),
    );
}

fn commit(root: &Path, id: u64) {
    put(
        root,
        &format!("commits/{id}"),
        "v1\n{\"nextBatchWatermarkMs\":0}",
    );
}

fn cfg(bootstrap: &str, q1: &Path, q2: &Path) -> lagwatch::config::Config {
    config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 200ms
clusters:
  - name: mock
    bootstrap_servers: "{bootstrap}"
    poll_timeout: 5s
    groups:
      names: [unused]
    spark_queries:
      - name: q1
        checkpoint: "file://{}"
      - name: q2
        group: "clicks-job"
        checkpoint: "{}"
"#,
        q1.display(),
        q2.display()
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spark_lag_from_checkpoints_updates_and_isolates_a_broken_query() {
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic("orders", 2, 1).expect("topic");
    mock.create_topic("clicks", 1, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    produce(&bs, "orders", 0, 50, false);
    produce(&bs, "orders", 1, 30, false);
    produce(&bs, "clicks", 0, 10, false);

    let tmp = tempfile::tempdir().expect("tmp");
    let (q1, q2) = (tmp.path().join("q1"), tmp.path().join("q2"));
    // q1: batch 0 done, batch 1 planned and running.
    offsets(&q1, 0, r#"{"orders":{"1":30,"0":20}}"#);
    commit(&q1, 0);
    offsets(&q1, 1, r#"{"orders":{"0":35,"1":30}}"#);
    offsets(&q2, 0, r#"{"clicks":{"0":4}}"#);
    commit(&q2, 0);

    let running = lagwatch::app::start(cfg(&bs, &q1, &q2))
        .await
        .expect("start");
    let addr = running.addr;
    let lag = |t: &str, g: &str, topic: &str, p: &str| {
        metric(
            t,
            "lagwatch_group_partition_lag",
            &[("group", g), ("topic", topic), ("partition", p)],
        )
    };
    let inflight = |t: &str, p: &str| {
        metric(
            t,
            "lagwatch_group_partition_inflight_lag",
            &[("group", "spark:q1"), ("partition", p)],
        )
    };

    let text = wait_for(Duration::from_secs(20), "spark:q1 lag", || async {
        let t = scrape(addr).await;
        lag(&t, "spark:q1", "orders", "0").map(|_| t)
    })
    .await;
    assert_eq!(lag(&text, "spark:q1", "orders", "0"), Some(30.0));
    assert_eq!(lag(&text, "spark:q1", "orders", "1"), Some(0.0));
    assert_eq!(
        inflight(&text, "0"),
        Some(15.0),
        "lag once batch 1 completes"
    );
    assert_eq!(inflight(&text, "1"), Some(0.0));
    assert_eq!(
        metric(&text, "lagwatch_group_lag", &[("group", "spark:q1")]),
        Some(30.0)
    );
    assert_eq!(lag(&text, "clicks-job", "clicks", "0"), Some(6.0));
    assert_eq!(
        metric(
            &text,
            "lagwatch_group_info",
            &[("group", "spark:q1"), ("source", "spark")]
        ),
        Some(1.0)
    );
    let age = metric(
        &text,
        "lagwatch_spark_last_commit_age_seconds",
        &[("query", "spark:q1")],
    );
    assert!(age.is_some_and(|a| a >= 0.0), "{text}");

    // Batch 1 commits: its offsets become the position, nothing is in flight any more.
    commit(&q1, 1);
    let text = wait_for(Duration::from_secs(20), "batch 1 committed", || async {
        let t = scrape(addr).await;
        (lag(&t, "spark:q1", "orders", "0") == Some(15.0)).then_some(t)
    })
    .await;
    assert_eq!(inflight(&text, "0"), None);
    let errors = |t: &str| {
        metric(
            t,
            "lagwatch_poll_errors_total",
            &[("cluster", "mock"), ("stage", "spark_checkpoint")],
        )
    };
    assert_eq!(errors(&text), None, "no checkpoint error yet");

    // q1's next batch is garbage; q2 keeps moving meanwhile.
    offsets(&q1, 2, r#"{"orders":{"0":5"#);
    commit(&q1, 2);
    offsets(&q2, 1, r#"{"clicks":{"0":10}}"#);
    commit(&q2, 1);
    let text = wait_for(
        Duration::from_secs(20),
        "q1 errors while q2 updates",
        || async {
            let t = scrape(addr).await;
            (errors(&t).is_some_and(|e| e >= 2.0)
                && lag(&t, "clicks-job", "clicks", "0") == Some(0.0))
            .then_some(t)
        },
    )
    .await;
    // q1 keeps its last good values instead of losing its series.
    assert_eq!(lag(&text, "spark:q1", "orders", "0"), Some(15.0));
    assert_eq!(lag(&text, "spark:q1", "orders", "1"), Some(0.0));
    assert!(metric(
        &text,
        "lagwatch_spark_last_commit_age_seconds",
        &[("query", "spark:q1")]
    )
    .is_some());

    // Spark rewrites the batch (or the next one lands): the next poll reads it.
    offsets(&q1, 2, r#"{"orders":{"0":50,"1":30}}"#);
    wait_for(Duration::from_secs(20), "q1 caught up", || async {
        let t = scrape(addr).await;
        (metric(&t, "lagwatch_group_lag", &[("group", "spark:q1")]) == Some(0.0)).then_some(())
    })
    .await;
    running.stop().await;
}
