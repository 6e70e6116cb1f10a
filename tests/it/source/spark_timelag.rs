//! A Spark query gets the same exact time lag as a Kafka group: the record at the
//! checkpoint's offset is read, and its age reported with the method `record`.

use super::spark_mock::spark_config;
use super::timelag_tansu::{now_ms, produce_stamped};
use crate::support::*;
use rdkafka::mocking::MockCluster;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spark_queries_get_the_records_age() {
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic("transactions", 1, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    let minute = 60_000;
    let first = now_ms() - 30 * minute;
    // Ten records a minute apart, the first 30 minutes ago (the seed's backlog was produced
    // over 30 minutes); the query has processed the first four.
    produce_stamped(&bs, "transactions", 10, first, minute, "lz4");
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("q");
    std::fs::create_dir_all(root.join("offsets")).expect("mkdir");
    std::fs::create_dir_all(root.join("commits")).expect("mkdir");
    let meta = r#"{"batchWatermarkMs":0,"batchTimestampMs":1700000000000,"conf":{}}"#;
    std::fs::write(
        root.join("offsets/0"),
        format!("v1\n{meta}\n{{\"transactions\":{{\"0\":4}}}}"),
    )
    .expect("offsets");
    std::fs::write(root.join("commits/0"), "v1\n{\"nextBatchWatermarkMs\":0}").expect("commit");
    let running = lagwatch::app::start(spark_config(
        &bs,
        &format!(
            "      - name: seed\n        checkpoint: \"{}\"\n",
            root.display()
        ),
    ))
    .await
    .expect("start");
    let addr = running.addr;
    let (part, taken) = wait_for(
        Duration::from_secs(20),
        "the query's record time lag",
        || async {
            let (_, body) = http_get(addr, "/api/v1/status").await;
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            let g = v["clusters"][0]["groups"]
                .as_array()?
                .iter()
                .find(|g| g["group"] == "spark:seed")?
                .clone();
            let p = g["topics"][0]["partitions"][0].clone();
            (p["lag_seconds_method"] == "record")
                .then(|| (p, v["clusters"][0]["taken_at"].as_f64().unwrap_or(0.0)))
        },
    )
    .await;
    let want = taken - (first + 4 * minute) as f64 / 1000.0;
    let got = part["lag_seconds"].as_f64().expect("lag_seconds");
    assert!((got - want).abs() < 5.0, "{got} s, want {want} s: {part}");
    running.stop().await;
}
