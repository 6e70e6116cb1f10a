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

/// One cluster `mock` polled every 200 ms with the Spark queries of `queries` (YAML list
/// items, indented for `spark_queries:`).
pub(super) fn spark_config(bootstrap: &str, queries: &str) -> lagwatch::config::Config {
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
{queries}"#
    ))
}

fn cfg(bootstrap: &str, q1: &Path, q2: &Path) -> lagwatch::config::Config {
    spark_config(
        bootstrap,
        &format!(
            "      - name: q1\n        checkpoint: \"file://{}\"\n      - name: q2\n        group: \"clicks-job\"\n        checkpoint: \"{}\"\n",
            q1.display(),
            q2.display()
        ),
    )
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
            // No broker lists a Spark query: no group type.
            &[
                ("group", "spark:q1"),
                ("source", "spark"),
                ("type", "unknown")
            ]
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
    assert_eq!(
        errors(&text),
        Some(0.0),
        "no checkpoint error yet (the counter exists at 0)"
    );

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

/// Each way a checkpoint can be broken from the very first poll (issue 22): the query is
/// reported as errored — `lagwatch_source_up 0`, no lag series (unknown is not 0), the
/// reason in the API, status warning once it held `for_polls` — while a good query next to
/// them reads normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_checkpoints_are_errors_never_zero_lag() {
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic("orders", 1, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    produce(&bs, "orders", 0, 20, false);
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = |name: &str| tmp.path().join(name);
    let with_batch = |name: &str, body: &[u8]| {
        std::fs::create_dir_all(dir(name).join("offsets")).expect("mkdir");
        std::fs::write(dir(name).join("offsets/0"), body).expect("write");
        commit(&dir(name), 0);
    };
    // (query, why it cannot be read)
    let cases: [(&str, &str); 7] = [
        ("garbage", "binary garbage instead of an offset log"),
        ("truncated", "JSON cut in the middle"),
        ("v3", "a log version this reader does not know"),
        ("missing", "the checkpoint directory does not exist"),
        ("file", "a file where the checkpoint directory belongs"),
        ("loop", "a symlink pointing at itself"),
        ("badvalue", "an offset that is not a number"),
    ];
    with_batch("garbage", &[0xff, 0x00, 0x13, 0x37, 0xfe]);
    with_batch(
        "truncated",
        format!("v1\n{META}\n{{\"orders\":{{\"0\":5").as_bytes(),
    );
    with_batch(
        "v3",
        format!("v3\n{META}\n{{\"orders\":{{\"0\":5}}}}").as_bytes(),
    );
    std::fs::write(dir("file"), "not a directory").expect("write");
    std::os::unix::fs::symlink(dir("loop"), dir("loop")).expect("symlink");
    with_batch(
        "badvalue",
        format!("v1\n{META}\n{{\"orders\":{{\"0\":\"five\"}}}}").as_bytes(),
    );
    offsets(&dir("good"), 0, r#"{"orders":{"0":15}}"#);
    commit(&dir("good"), 0);

    let queries: String = cases
        .iter()
        .map(|(q, _)| q)
        .chain(&["good"])
        .map(|q| {
            format!(
                "      - name: {q}\n        checkpoint: \"{}\"\n",
                dir(q).display()
            )
        })
        .collect();
    let running = lagwatch::app::start(spark_config(&bs, &queries))
        .await
        .expect("start");
    let addr = running.addr;
    let up = |t: &str, q: &str| {
        metric(
            t,
            "lagwatch_source_up",
            &[("query", format!("spark:{q}").as_str())],
        )
    };
    // for_polls is 2: the warning is confirmed on the second failing poll.
    let status = wait_for(Duration::from_secs(20), "broken queries warned", || async {
        let (_, body) = http_get(addr, "/api/v1/status").await;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let groups = v["clusters"][0]["groups"].as_array()?.clone();
        let warned = groups.iter().filter(|g| g["status"] == "warning").count();
        (warned == cases.len()).then_some(groups)
    })
    .await;
    let text = scrape(addr).await;
    for (q, why) in cases {
        let name = format!("spark:{q}");
        let g = status
            .iter()
            .find(|g| g["group"] == name.as_str())
            .unwrap_or_else(|| panic!("{why}: {name} missing from the API"));
        assert_eq!(up(&text, q), Some(0.0), "{why}");
        assert_eq!(
            metric(&text, "lagwatch_group_lag", &[("group", name.as_str())]),
            None,
            "{why}: an unread query has no lag, not 0"
        );
        assert!(g["lag"].is_null(), "{why}: {g}");
        assert!(
            g["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{why}: {g}"
        );
        assert_eq!(g["reasons"], serde_json::json!(["source_error"]), "{why}");
        assert_eq!(g["source_status"], "warning", "{why}");
    }
    assert_eq!(up(&text, "good"), Some(1.0));
    assert_eq!(
        metric(&text, "lagwatch_group_lag", &[("group", "spark:good")]),
        Some(5.0)
    );
    let good = status
        .iter()
        .find(|g| g["group"] == "spark:good")
        .expect("good query");
    assert!(good["error"].is_null() && good["status"] == "ok", "{good}");

    // The checkpoint gets fixed: the query reads again, its error and warning clear.
    std::fs::remove_file(dir("file")).expect("rm");
    offsets(&dir("file"), 0, r#"{"orders":{"0":20}}"#);
    commit(&dir("file"), 0);
    wait_for(Duration::from_secs(20), "fixed query recovers", || async {
        let t = scrape(addr).await;
        (up(&t, "file") == Some(1.0)
            && metric(&t, "lagwatch_group_lag", &[("group", "spark:file")]) == Some(0.0))
        .then_some(())
    })
    .await;
    running.stop().await;
}
