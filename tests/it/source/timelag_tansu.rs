//! Exact time lag on tansu: records stamped in the past (CreateTime), compressed batches,
//! groups committed at known offsets; the reported age is the record's.

use crate::support::*;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::time::Duration;

/// Produces records to partition 0 stamped `first_ms + i * step_ms`, each its own batch
/// compressed with `codec` (tansu's high watermark counts batches, not records).
pub(super) fn produce_stamped(
    bs: &str,
    topic: &str,
    n: i64,
    first_ms: i64,
    step_ms: i64,
    codec: &str,
) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("linger.ms", "0")
        .set("batch.num.messages", "1")
        .set("compression.codec", codec)
        .create()
        .expect("producer");
    for i in 0..n {
        let payload = format!("m{i}");
        p.send(
            BaseRecord::<(), _>::to(topic)
                .partition(0)
                .payload(&payload)
                .timestamp(first_ms + i * step_ms),
        )
        .expect("queued");
        p.flush(Duration::from_secs(30)).expect("flush");
    }
    p.flush(Duration::from_secs(30)).expect("flush");
}

pub(super) fn now_ms() -> i64 {
    (lagwatch::runtime::now() * 1000.0) as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_lag_is_read_from_record_timestamps() {
    let Some(broker) = Tansu::start() else {
        return;
    };
    let bs = broker.addr.clone();
    let minute = 60_000;
    let first = now_ms() - 180 * minute;
    let codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
    for c in codecs {
        let topic = format!("tl-{c}");
        create_topic(&bs, &topic, 1).await;
        produce_stamped(&bs, &topic, 10, first, minute, c);
        commit(&bs, &format!("g-{c}"), &[(&topic, 0, 4)]);
    }
    let running = lagwatch::app::start(config(&format!(
        "listen: \"127.0.0.1:0\"\npoll_interval: 300ms\nclusters:\n  - name: tansu\n    \
         bootstrap_servers: \"{bs}\"\n    poll_timeout: 3s\n"
    )))
    .await
    .expect("start");
    let addr = running.addr;
    let status = wait_for(Duration::from_secs(30), "record time lags", || async {
        let (_, body) = http_get(addr, "/api/v1/status").await;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let groups = v["clusters"][0]["groups"].as_array()?.clone();
        let recorded = groups
            .iter()
            .filter(|g| g["topics"][0]["partitions"][0]["lag_seconds_method"] == "record")
            .count();
        (recorded == codecs.len()).then_some(v)
    })
    .await;
    let taken = status["clusters"][0]["taken_at"]
        .as_f64()
        .expect("taken_at");
    // Offset 4 was written four minutes after the first record.
    let want = taken - (first + 4 * minute) as f64 / 1000.0;
    for g in status["clusters"][0]["groups"].as_array().expect("groups") {
        let got = g["topics"][0]["partitions"][0]["lag_seconds"]
            .as_f64()
            .expect("lag_seconds");
        assert!(
            (got - want).abs() < 5.0,
            "{}: {got} s, want {want} s",
            g["group"]
        );
    }
    running.stop().await;
}
