//! The batch history of a real Spark 4.1.1 Kafka checkpoint (tests/fixtures/spark/
//! spark-4.1.1-kafka-capped: maxOffsetsPerTrigger=10000 over 3 × 10,000 records) as the
//! reader gives it to the model: ids, `batchTimestampMs`, records per batch, commits.

use lagwatch::config::SparkQueryConfig;
use lagwatch::snapshot::SparkBatch;
use lagwatch::source::spark::QueryReader;
use std::path::Path;
use std::time::Duration;

const FIXTURE: &str = "tests/fixtures/spark/spark-4.1.1-kafka-capped";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let dst = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).expect("copy");
        }
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn reader(root: &Path) -> QueryReader {
    let cfg = SparkQueryConfig {
        name: "q".into(),
        group: "spark:q".into(),
        checkpoint: root.display().to_string(),
        s3: None,
    };
    QueryReader::new(&cfg, &no_env, Duration::from_secs(5)).expect("open")
}

async fn batches(root: &Path) -> Vec<SparkBatch> {
    reader(root).read().await.expect("read").batches
}

fn rows(b: &[SparkBatch]) -> Vec<(u64, Option<i64>, bool)> {
    b.iter().map(|b| (b.id, b.records, b.committed)).collect()
}

#[tokio::test]
async fn a_real_capped_kafka_checkpoint_gives_batch_sizes_and_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("cp");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE), &root);
    let b = batches(&root).await;
    // Batch 0's start is in sources/0/0, not in the offsets log: no size. 3 × 3,333 is the
    // cap as Spark prorates it (rounded down per partition); batch 3 read the 3 left over.
    assert_eq!(
        rows(&b),
        vec![
            (0, None, true),
            (1, Some(9_999), true),
            (2, Some(9_999), true),
            (3, Some(3), true)
        ]
    );
    let at: Vec<f64> = b.iter().filter_map(|b| b.planned_at).collect();
    assert_eq!(
        at.len(),
        4,
        "every Spark 4.1 offsets file has batchTimestampMs"
    );
    assert!(
        at.windows(2).all(|w| w[1] > w[0]),
        "planned in order: {at:?}"
    );

    // Batch 3 not committed yet: in flight, still with its planned size.
    std::fs::remove_file(root.join("commits/3")).expect("rm");
    assert_eq!(rows(&batches(&root).await)[3], (3, Some(3), false));

    // Spark purged batch 0 (and left a .tmp and a .crc behind): batch 1 loses its size,
    // the others keep theirs.
    for f in ["offsets/0", "commits/0"] {
        std::fs::remove_file(root.join(f)).expect("rm");
    }
    std::fs::write(root.join("offsets/.4.tmp"), "v1\n{").expect("tmp");
    assert_eq!(
        rows(&batches(&root).await),
        vec![(1, None, true), (2, Some(9_999), true), (3, Some(3), false)]
    );
}

/// Before batch 0 commits, the query's position is where batch 0 starts (sources/0/0): a
/// first batch that takes the whole backlog shows its lag from the start.
#[tokio::test]
async fn a_first_batch_in_flight_starts_from_the_initial_offsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("cp");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE), &root);
    for b in 1..=3 {
        std::fs::remove_file(root.join(format!("offsets/{b}"))).expect("rm");
        std::fs::remove_file(root.join(format!("commits/{b}"))).expect("rm");
    }
    std::fs::remove_file(root.join("commits/0")).expect("rm");
    let q = reader(&root);
    let g = q.read().await.expect("read");
    let positions = |m: &std::collections::BTreeMap<lagwatch::snapshot::TopicPartition, i64>| {
        m.iter()
            .map(|(tp, o)| (tp.partition, *o))
            .collect::<Vec<_>>()
    };
    assert_eq!(positions(&g.committed), vec![(0, 0), (1, 0), (2, 0)]);
    assert_eq!(
        positions(&g.inflight),
        vec![(0, 3_333), (1, 3_333), (2, 3_333)]
    );

    // A broken initial-offsets file is this query's error, never a silent zero lag.
    std::fs::write(root.join("sources/0/0"), b"\0v1\n{\"t\":{\"0\":true}}").expect("write");
    let err = q.read().await.expect_err("broken sources/0/0");
    assert!(err.to_string().contains("sources/0/0"), "{err}");

    // Once batch 0 commits, its offsets are the position and sources/0/0 is not read.
    std::fs::write(root.join("commits/0"), b"v1\n{\"nextBatchWatermarkMs\":0}").expect("commit");
    let g = q.read().await.expect("read");
    assert_eq!(
        positions(&g.committed),
        vec![(0, 3_333), (1, 3_333), (2, 3_333)]
    );
}
