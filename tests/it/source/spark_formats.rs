//! What real Spark writes for each way a Kafka source names its input, read by lagwatch:
//! `subscribePattern` over two topics, `assign` of two of three partitions, and two Kafka
//! sources in one query (tests/spark/formats_query.py, one Spark session, a few short
//! `availableNow` queries). lagwatch's committed positions must equal the sources'
//! `endOffset` in Spark's last StreamingQueryProgress, and its records per batch Spark's
//! `numInputRows`. Run on pyspark 4.1 (with a query whose sink stalls one batch:
//! `spark_batch_slow` must fire and clear, and with one checkpoint written to moto's S3
//! through Hadoop's S3A) and on pyspark 3.5 (the offset log it writes). Every query but the
//! slow one runs with `minBatchesToRetain` 2: Spark deletes its old batches as it goes.
//!
//! Needs `bash .ci/install-spark` (4.1) and `bash .ci/install-spark 3.5`; CI exports
//! `LAGWATCH_TEST_SPARK_PYTHON`/`_JARS` and `LAGWATCH_TEST_SPARK35_PYTHON`/`_JARS`.

use super::spark_s3::Moto;
use crate::kafka::harness::{env, ktool, parallel, shared, unique};
use lagwatch::config::{S3Config, SparkQueryConfig};
use lagwatch::snapshot::{GroupSnapshot, TopicPartition};
use lagwatch::source::spark::QueryReader;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The slow query's sink stalls its batch 3 this long; every other batch sleeps 1 s.
const STALL_SECONDS: u64 = 30;

/// The venv's python and the connector jars from `<prefix>_PYTHON` / `<prefix>_JARS`, or
/// None (with a note) outside CI.
fn spark_env(prefix: &str) -> Option<(String, String)> {
    let get = |k: String| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        get(format!("{prefix}_PYTHON")),
        get(format!("{prefix}_JARS")),
    ) {
        (Some(py), Some(jars)) => Some((py, jars)),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "{prefix}_PYTHON/_JARS are not set: run the suite with `bash .ci/run`"
            );
            eprintln!("{prefix}_PYTHON/_JARS not set: skipping (see .ci/install-spark)");
            None
        }
    }
}

/// The formats script, killed on drop.
struct Script {
    child: Child,
    log: PathBuf,
}

impl Script {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Waits for `path` to exist, failing with the script's log if it exits or times out.
    async fn wait_for(&mut self, path: &Path, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !path.exists() {
            if let Ok(Some(st)) = self.child.try_wait() {
                assert!(
                    path.exists(),
                    "pyspark exited ({st}) before {}:\n{}",
                    path.display(),
                    self.log_tail()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {} in {timeout:?}:\n{}",
                path.display(),
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Topics `<prefix>-a` (3 partitions × 200), `<prefix>-b` (2 × 150) and, for the slow
/// query, `<prefix>-s` (1 × 600); every KTool run is a JVM start, so they run side by side.
fn topics(prefix: &str, slow: bool) {
    let mut spec = vec![("a", 3, 200), ("b", 2, 150)];
    if slow {
        spec.push(("s", 1, 600));
    }
    parallel(spec.clone(), |(t, parts, _)| {
        let (topic, parts) = (format!("{prefix}-{t}"), parts.to_string());
        ktool(&["create-topic", "--topic", &topic, "--partitions", &parts]);
    });
    let writes: Vec<(String, i32, i32)> = spec
        .iter()
        .flat_map(|(t, parts, per)| (0..*parts).map(move |p| (format!("{prefix}-{t}"), p, *per)))
        .collect();
    parallel(writes, |(topic, p, n)| {
        let (p, n) = (p.to_string(), n.to_string());
        ktool(&[
            "produce",
            "--topic",
            &topic,
            "--partition",
            &p,
            "--count",
            &n,
        ]);
    });
}

/// The topics of [`topics`], given back to the shared cluster.
fn drop_topics(prefix: &str, slow: bool) {
    let names: Vec<&str> = if slow {
        vec!["a", "b", "s"]
    } else {
        vec!["a", "b"]
    };
    parallel(names, |t| {
        ktool(&["delete-topic", "--topic", &format!("{prefix}-{t}")]);
    });
}

fn start(py: &str, jars: &str, prefix: &str, out: &Path, slow: bool, s3a: Option<&str>) -> Script {
    let log = out.join("spark.log");
    std::fs::create_dir_all(out).expect("out dir");
    let file = std::fs::File::create(&log).expect("spark log");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/spark/formats_query.py");
    let mut cmd = Command::new(py);
    cmd.arg(script)
        .args(["--bootstrap", env().plaintext()])
        .args(["--topic-a", &format!("{prefix}-a")])
        .args(["--topic-b", &format!("{prefix}-b")])
        .args(["--pattern", &format!("{prefix}-[ab]")])
        .arg("--out")
        .arg(out)
        .args(["--jars", jars])
        .args(["--min-batches-to-retain", &RETAINED.to_string()]);
    if slow {
        cmd.args(["--slow", &format!("{prefix}-s")])
            .args(["--stall", &STALL_SECONDS.to_string()])
            .args(["--stall-batch", "3"]);
    }
    if let Some(endpoint) = s3a {
        cmd.args(["--s3a-endpoint", endpoint, "--s3a-bucket", BUCKET]);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log"))
        .stderr(file)
        .spawn()
        .expect("spawn pyspark");
    Script { child, log }
}

fn progress(out: &Path, query: &str) -> Vec<Value> {
    std::fs::read_to_string(out.join(query).join("progress.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// The bucket the `s3` query's checkpoint goes to.
const BUCKET: &str = "lagwatch-spark";

async fn read(checkpoint: &str, s3: Option<S3Config>) -> GroupSnapshot {
    let cfg = SparkQueryConfig {
        name: "q".into(),
        group: "spark:q".into(),
        checkpoint: checkpoint.to_owned(),
        s3,
    };
    let no_env = |_: &str| None;
    QueryReader::new(&cfg, &no_env, Duration::from_secs(5))
        .expect("open")
        .read()
        .await
        .unwrap_or_else(|e| panic!("{checkpoint}: {e}"))
}

/// The union of the sources' `endOffset` in one progress report.
fn end_offsets(p: &Value) -> BTreeMap<TopicPartition, i64> {
    let mut out = BTreeMap::new();
    for s in p["sources"].as_array().into_iter().flatten() {
        for (topic, parts) in s["endOffset"].as_object().into_iter().flatten() {
            for (part, off) in parts.as_object().into_iter().flatten() {
                let part: i32 = part.parse().expect("partition");
                out.insert(
                    TopicPartition::new(topic.as_str(), part),
                    off.as_i64().expect("offset"),
                );
            }
        }
    }
    out
}

/// The format queries run with `spark.sql.streaming.minBatchesToRetain` this low, so Spark
/// deletes old batches from the logs while it runs and lagwatch reads what is left.
const RETAINED: u64 = 2;

/// One finished query's checkpoint against Spark's progress; returns the offset log's
/// version line (`v1`, `v2`). With `purged` (the live runs), a query of more batches than
/// [`RETAINED`] must have lost its first ones to Spark's purge, and still compare.
async fn check_query(out: &Path, query: &str, want_partitions: usize, purged: bool) -> String {
    let root = out.join(query).join("checkpoint");
    let snap = read(&root.display().to_string(), None).await;
    compare(out, query, &snap, want_partitions);
    let first = std::fs::read_dir(root.join("offsets"))
        .expect("offsets dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .min()
        .expect("an offsets file");
    let ran = progress(out, query).len() as u64;
    if purged && ran > RETAINED + 1 {
        assert!(
            first > 0 && snap.batches.iter().all(|b| b.id >= first),
            "{query}: Spark ran {ran} batches keeping {RETAINED}: offsets/0 should be gone \
             (first left: {first}); lagwatch read {:?}",
            snap.batches.iter().map(|b| b.id).collect::<Vec<_>>()
        );
        eprintln!("{query}: Spark purged batches below {first}; lagwatch read what was left");
    }
    let text =
        std::fs::read_to_string(root.join(format!("offsets/{first}"))).expect("first offsets file");
    let version = text.lines().next().unwrap_or_default().to_owned();
    eprintln!("{query}: offset log {version}");
    version
}

/// lagwatch's reading of a query's checkpoint against Spark's progress of it.
fn compare(out: &Path, query: &str, snap: &GroupSnapshot, want_partitions: usize) {
    let prog = progress(out, query);
    let last = prog
        .last()
        .unwrap_or_else(|| panic!("{query}: no progress"));
    assert_eq!(
        snap.committed,
        end_offsets(last),
        "{query}: lagwatch's positions vs Spark's last endOffset"
    );
    assert_eq!(snap.committed.len(), want_partitions, "{query}: partitions");
    assert!(snap.inflight.is_empty(), "{query}: nothing in flight");
    let rows: BTreeMap<u64, i64> = prog
        .iter()
        .filter_map(|p| Some((p["batchId"].as_u64()?, p["numInputRows"].as_i64()?)))
        .collect();
    let mut compared = 0;
    for b in &snap.batches {
        if let (Some(r), Some(want)) = (b.records, rows.get(&b.id)) {
            assert_eq!(
                r, *want,
                "{query}: records of batch {} vs numInputRows",
                b.id
            );
            compared += 1;
        }
    }
    assert!(
        compared >= 1,
        "{query}: no batch size compared: {:?}",
        snap.batches
    );
    eprintln!(
        "{query}: {} batches, positions equal Spark's endOffset over {} partitions, {compared} \
         batch sizes equal numInputRows",
        prog.len(),
        snap.committed.len()
    );
}

/// moto and the S3A jars for the `s3` query, or None (with a note) outside CI.
fn s3a_env() -> Option<(Moto, String)> {
    let jars = std::env::var("LAGWATCH_TEST_SPARK_S3A_JARS")
        .ok()
        .filter(|v| !v.is_empty());
    let Some(jars) = jars else {
        assert!(
            std::env::var("CI").is_err(),
            "LAGWATCH_TEST_SPARK_S3A_JARS is not set: run the suite with `bash .ci/run`"
        );
        eprintln!("LAGWATCH_TEST_SPARK_S3A_JARS not set: no S3 checkpoint (.ci/install-spark-s3a)");
        return None;
    };
    Some((Moto::start()?, jars))
}

/// The three format queries of one run (`purged`: run with [`RETAINED`]).
async fn check_formats(out: &Path, purged: bool) -> Vec<String> {
    vec![
        check_query(out, "pattern", 5, purged).await,
        check_query(out, "assign", 2, purged).await,
        check_query(out, "two", 5, purged).await,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spark_4_formats_and_a_slow_batch_on_real_kafka() {
    let Some((py, jars)) = spark_env("LAGWATCH_TEST_SPARK") else {
        return;
    };
    let t0 = Instant::now();
    let _brokers = shared().await;
    let prefix = unique("spark-fmt4");
    topics(&prefix, true);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    // The checkpoint on S3: Spark writes it through S3A to moto, lagwatch reads it back.
    let s3 = s3a_env();
    let mut all_jars = jars.clone();
    if let Some((moto, s3a_jars)) = &s3 {
        lagwatch::runtime::rustls_provider();
        let r = reqwest::Client::new()
            .put(format!("{}/{BUCKET}", moto.endpoint))
            .send()
            .await
            .expect("create bucket");
        assert!(r.status().is_success(), "create bucket: {}", r.status());
        all_jars = format!("{jars},{s3a_jars}");
    }
    let endpoint = s3.as_ref().map(|(m, _)| m.endpoint.clone());
    let mut script = start(&py, &all_jars, &prefix, &out, true, endpoint.as_deref());
    let slow_cp = out.join("slow/checkpoint");
    script
        .wait_for(&slow_cp.join("commits/0"), Duration::from_secs(300))
        .await;
    eprintln!(
        "slow query's first batch committed after {:?}",
        t0.elapsed()
    );
    let cfg = super::spark_real::query_config(
        &format!("{prefix}-s"),
        "slow",
        &slow_cp,
        "rules:\n  for_polls: 2\n",
    );
    let running = lagwatch::app::start(cfg).await.expect("lagwatch starts");
    let group = |running: &lagwatch::app::Running| {
        let snap = running.state.snapshot();
        snap.get("kafka")
            .and_then(|c| c.view.clone())
            .and_then(|v| v.groups.iter().find(|g| g.group == "spark:slow").cloned())
    };
    let slow =
        |g: &lagwatch::view::GroupView| g.reasons.contains(&lagwatch::view::Reason::SparkBatchSlow);
    // The stall: the reason fires while batch 3 runs...
    let deadline = Instant::now() + Duration::from_secs(STALL_SECONDS + 60);
    let fired = loop {
        if let Some(g) = group(&running).filter(|g| slow(g)) {
            break g;
        }
        assert!(
            Instant::now() < deadline,
            "spark_batch_slow never fired; last: {:?}\n{}",
            group(&running).map(|g| (g.reasons, g.spark)),
            script.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let fired_at = t0.elapsed();
    let s = fired.spark.expect("spark stats");
    let (age, median) = (
        s.inflight_batch_age_seconds.expect("age"),
        s.batch_duration_seconds.expect("median"),
    );
    eprintln!("spark_batch_slow after {fired_at:?}: in flight {age:.1} s, median {median:.2} s");
    assert!(age > 3.0 * median && age >= 10.0, "{age} vs {median}");
    // ...and clears once it commits.
    let deadline = Instant::now() + Duration::from_secs(STALL_SECONDS + 60);
    while group(&running).is_some_and(|g| slow(&g)) {
        assert!(
            Instant::now() < deadline,
            "spark_batch_slow never cleared\n{}",
            script.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("spark_batch_slow cleared after {:?}", t0.elapsed());
    running.stop().await;
    // Spark's own numbers for the stall: batch 3 took the stall, the others far less.
    script
        .wait_for(&out.join("done"), Duration::from_secs(600))
        .await;
    let ms = |b: &Value| b["durationMs"]["triggerExecution"].as_f64().unwrap_or(0.0);
    let prog = progress(&out, "slow");
    let stalled = prog.iter().find(|b| b["batchId"] == 3).expect("batch 3");
    assert!(ms(stalled) >= STALL_SECONDS as f64 * 1000.0, "{stalled}");
    assert!(
        ms(stalled) > 3.0 * median * 1000.0,
        "Spark's stalled batch ({} ms) vs lagwatch's median ({median} s)",
        ms(stalled)
    );
    check_query(&out, "slow", 1, false).await;
    let versions = check_formats(&out, true).await;
    assert!(versions.iter().all(|v| v == "v1"), "{versions:?}");
    if let Some((moto, _)) = &s3 {
        let cp = format!("s3a://{BUCKET}/s3/checkpoint");
        let snap = read(&cp, Some(moto.s3())).await;
        compare(&out, "s3", &snap, 3);
    }
    drop_topics(&prefix, true);
    eprintln!("spark 4 formats run took {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spark_3_5_formats_on_real_kafka() {
    let Some((py, jars)) = spark_env("LAGWATCH_TEST_SPARK35") else {
        return;
    };
    let t0 = Instant::now();
    let _brokers = shared().await;
    let prefix = unique("spark-fmt35");
    topics(&prefix, false);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let mut script = start(&py, &jars, &prefix, &out, false, None);
    script
        .wait_for(&out.join("done"), Duration::from_secs(600))
        .await;
    let versions = check_formats(&out, true).await;
    // Spark 3.5 writes offset log v1 (the version line of OffsetSeqLog).
    assert!(versions.iter().all(|v| v == "v1"), "{versions:?}");
    drop_topics(&prefix, false);
    eprintln!("spark 3.5 formats run took {:?}", t0.elapsed());
}

/// Offset log v2 (`spark.sql.streaming.offsetLog.formatVersion=2`: lines `sourceId:json`,
/// in any order) with Kafka sources, as pyspark 4.2.0 wrote it: the three format queries'
/// checkpoints and Spark's progress, kept in tests/fixtures/spark/ (a third Spark line in
/// CI would cost another ~450 MB install).
#[tokio::test]
async fn spark_4_2_offset_log_v2_with_kafka_sources() {
    let out = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/spark/spark-4.2.0-kafka-offsetlog-v2");
    let versions = check_formats(&out, false).await;
    assert!(versions.iter().all(|v| v == "v2"), "{versions:?}");
}
