//! Background traffic on the mock cluster: a steady producer, committers at chosen speeds,
//! retention-driven data loss and a Spark checkpoint.

use crate::support::produce_steadily;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Records on `events` before the consumers start: the backlog the slow ones chase.
pub const BACKLOG: i64 = 2000;
/// Shared state of the traffic threads.
pub struct Traffic {
    /// Records acknowledged on events/0 by the producer thread.
    pub produced: AtomicI64,
    /// Set to end every traffic thread.
    pub stop: AtomicBool,
}

/// The steady producer of the test, feeding `tr.produced` until `tr.stop`.
pub fn producer(bs: String, tr: Arc<Traffic>) {
    produce_steadily(&bs, "events", &tr.produced, &tr.stop);
}

/// Commits for `group` on events/0 from `start`, advancing `ratio` × the producer's
/// progress and never past the log end, so the consume/produce ratio is what the test
/// sets however loaded the machine is.
pub fn committer(bs: String, tr: Arc<Traffic>, group: &'static str, start: i64, ratio: f64) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let (mut pos, mut last_seen, mut committed) = (start as f64, 0i64, -1i64);
    while !tr.stop.load(Ordering::Relaxed) {
        let now = tr.produced.load(Ordering::Relaxed);
        pos = (pos + ratio * (now - last_seen) as f64).min((BACKLOG + now) as f64);
        last_seen = now;
        let target = pos as i64;
        if target != committed {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset("events", 0, Offset::Offset(target))
                .expect("tpl");
            if c.commit(&tpl, CommitMode::Sync).is_ok() {
                committed = target;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Spark checkpoint with batch 0 committed at events/0 = 5 and batch 1 (to 10) in flight.
pub fn spark_checkpoint(root: &Path) {
    let meta = r#"{"batchWatermarkMs":0,"batchTimestampMs":1700000000000,"conf":{}}"#;
    for (rel, body) in [
        (
            "offsets/0",
            format!("v1\n{meta}\n{{\"events\":{{\"0\":5}}}}"),
        ),
        ("commits/0", "v1\n{\"nextBatchWatermarkMs\":0}".to_owned()),
        (
            "offsets/1",
            format!("v1\n{meta}\n{{\"events\":{{\"0\":10}}}}"),
        ),
    ] {
        let dst = root.join(rel);
        std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
        std::fs::write(dst, body).expect("write checkpoint");
    }
}
