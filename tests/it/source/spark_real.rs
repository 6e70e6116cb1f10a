//! The seed incident for real: pyspark Structured Streaming (`startingOffsets=earliest`,
//! `maxOffsetsPerTrigger=10000`, a sink that takes a known time per batch, checkpoint on
//! local disk) over a 300,000-message backlog on the real Kafka cluster, read by lagwatch
//! from its checkpoint and Kafka. Every number lagwatch reports about the query is held
//! against Spark's own StreamingQueryProgress (tests/spark/seed_query.py writes it).
//!
//! Needs `bash .ci/install-spark` (CI exports `LAGWATCH_TEST_SPARK_PYTHON` and
//! `LAGWATCH_TEST_SPARK_JARS`); without them the test is skipped locally and fails in CI.

use crate::kafka::harness::{env, ktool, parallel, shared, unique};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const PARTITIONS: i32 = 3;
const PER_PARTITION: i64 = 100_000;
const CAP: i64 = 10_000;
/// What the sink sleeps per batch, on top of reading it.
const SINK_SECONDS: f64 = 2.0;
const GROUP: &str = "spark:seed";

/// The venv's python and the connector jars, or None (with a note) outside CI.
fn spark_env() -> Option<(String, String)> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        get("LAGWATCH_TEST_SPARK_PYTHON"),
        get("LAGWATCH_TEST_SPARK_JARS"),
    ) {
        (Some(py), Some(jars)) => Some((py, jars)),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "LAGWATCH_TEST_SPARK_PYTHON/_JARS are not set: run the suite with `bash .ci/run`"
            );
            eprintln!(
                "LAGWATCH_TEST_SPARK_PYTHON/_JARS not set: skipping the real Spark test \
                 (`bash .ci/install-spark` prints both)"
            );
            None
        }
    }
}

/// The pyspark query process, killed on drop; its output goes to a log shown on failure.
struct Query {
    child: Child,
    control: PathBuf,
    log: PathBuf,
}

impl Query {
    fn start(py: &str, jars: &str, topic: &str, dir: &Path) -> Query {
        let control = dir.join("control");
        let log = dir.join("spark.log");
        let out = std::fs::File::create(&log).expect("spark log");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/spark/seed_query.py");
        let child = Command::new(py)
            .arg(script)
            .args(["--bootstrap", env().plaintext(), "--topic", topic])
            .arg("--checkpoint")
            .arg(dir.join("checkpoint"))
            .arg("--progress")
            .arg(dir.join("progress.jsonl"))
            .arg("--control")
            .arg(&control)
            .args(["--jars", jars, "--max-offsets", &CAP.to_string()])
            .args(["--batch-seconds", &SINK_SECONDS.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("spawn pyspark");
        Query {
            child,
            control,
            log,
        }
    }

    fn signal(&self, name: &str) {
        std::fs::write(self.control.join(name), b"").expect("control file");
    }

    /// Waits for the script's marker `name`, failing with its log if it exits first.
    async fn wait_marker(&mut self, name: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.control.join(name).exists() {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "pyspark exited ({st}) before `{name}`:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no `{name}` in {timeout:?}:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Query {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spark's progress lines of the first query.
fn progress(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("progress.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|p| p["phase"] == "first")
        .collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn within(got: f64, want: f64, frac: f64, what: &str) {
    assert!(
        (got - want).abs() <= frac * want.abs(),
        "{what}: lagwatch says {got}, expected {want} within {}%",
        frac * 100.0
    );
}

/// lagwatch in-process, its status as JSON.
struct Lw {
    running: Option<lagwatch::app::Running>,
}

impl Lw {
    async fn status(&self) -> Value {
        let addr = self.running.as_ref().map(|r| r.addr).expect("running");
        let body = reqwest::get(format!("http://{addr}/api/v1/status"))
            .await
            .expect("lagwatch answers")
            .text()
            .await
            .expect("body");
        serde_json::from_str(&body).expect("status JSON")
    }

    async fn group(&self) -> Value {
        let s = self.status().await;
        s["clusters"][0]["groups"]
            .as_array()
            .and_then(|gs| gs.iter().find(|g| g["group"] == GROUP))
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Polls the group until `ok` holds (1 s apart), returning it.
    async fn until(&self, what: &str, timeout: Duration, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let g = self.group().await;
            if ok(&g) {
                return g;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: never within {timeout:?}; last: {g}"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

impl Drop for Lw {
    fn drop(&mut self) {
        if let (Some(r), Ok(h)) = (self.running.take(), tokio::runtime::Handle::try_current()) {
            h.spawn(r.stop());
        }
    }
}

fn has(g: &Value, reason: &str) -> bool {
    g["reasons"]
        .as_array()
        .is_some_and(|r| r.iter().any(|x| x == reason))
}

/// The webhook's alerts with `change` = `what`.
async fn changes(hook: &MockServer, what: &str) -> usize {
    let reqs = hook.received_requests().await.unwrap_or_default();
    reqs.iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .flat_map(|v| v["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["change"] == what && a["group"] == GROUP)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spark_seed_incident_on_real_kafka() {
    let Some((py, jars)) = spark_env() else {
        return;
    };
    let t0 = Instant::now();
    let _brokers = shared().await;
    let topic = unique("spark-seed");
    let p = PARTITIONS.to_string();
    ktool(&["create-topic", "--topic", &topic, "--partitions", &p]);
    let n = PER_PARTITION.to_string();
    parallel((0..PARTITIONS).collect(), |part| {
        let part = part.to_string();
        ktool(&[
            "produce",
            "--topic",
            &topic,
            "--partition",
            &part,
            "--count",
            &n,
        ]);
    });
    let backlog = PER_PARTITION * i64::from(PARTITIONS);
    eprintln!("produced {backlog} records in {:?}", t0.elapsed());

    let dir = tempfile::tempdir().expect("tempdir");
    let mut query = Query::start(&py, &jars, &topic, dir.path());
    // lagwatch starts once the first batch committed: a missing checkpoint is (rightly) an
    // error, and a query without a batch has no position yet.
    query.wait_marker("started", Duration::from_secs(180)).await;
    let first_commit = dir.path().join("checkpoint/commits/0");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !first_commit.exists() {
        if let Ok(Some(st)) = query.child.try_wait() {
            panic!("pyspark exited ({st}):\n{}", query.log_tail());
        }
        assert!(
            Instant::now() < deadline,
            "no first batch:\n{}",
            query.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "spark query's first batch committed after {:?}",
        t0.elapsed()
    );

    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let rules = format!(
        r#"rules:
  lag_warning: 50000
  lag_critical: 150000
  backlog_min_messages: 10000
  backlog_replay_fraction: 0.5
  rate_window: 20s
  stopped_after: 10s
  for_polls: 2
notifiers:
  - name: hook
    kind: webhook
    url: "{hook}/hook"
    min_severity: warning
"#,
        hook = hook.uri(),
    );
    let cfg = query_config(&topic, "seed", &dir.path().join("checkpoint"), &rules);
    let lw = Lw {
        running: Some(lagwatch::app::start(cfg).await.expect("lagwatch starts")),
    };
    let watching = Instant::now();

    // 1. The replay: every reason of the seed, once the rate window is full.
    let g = lw
        .until("the seed's reasons", Duration::from_secs(120), |g| {
            ["backlog_replay", "spark_trigger_capped"]
                .iter()
                .all(|r| has(g, r))
                && (has(g, "lag_critical") || has(g, "lag_warning"))
                && !g["topics"][0]["consume_rate"].is_null()
                && watching.elapsed() > Duration::from_secs(22)
        })
        .await;
    eprintln!("seed reasons after {:?}: {}", t0.elapsed(), g["reasons"]);
    let t = &g["topics"][0];
    let (lag, consume) = (f(&t["lag"]), f(&t["consume_rate"]));
    let produce = t["produce_rate"].as_f64().unwrap_or(0.0);
    let spark = &g["spark"];
    let (duration, per_batch) = (
        f(&spark["batch_duration_seconds"]),
        f(&spark["records_per_batch"]),
    );
    let batches = progress(dir.path());
    assert!(
        batches.len() >= 4,
        "Spark reported {} batches",
        batches.len()
    );
    let sp_rows = median(batches.iter().map(|b| f(&b["numInputRows"])).collect());
    let sp_ms = median(
        batches
            .iter()
            .skip(1) // batch 0 includes the query's start
            .map(|b| f(&b["durationMs"]["triggerExecution"]))
            .collect(),
    );
    let sp_rate = median(
        batches
            .iter()
            .skip(1)
            .map(|b| f(&b["processedRowsPerSecond"]))
            .collect(),
    );
    eprintln!(
        "lagwatch: lag {lag}, consume {consume:.0}/s, produce {produce:.0}/s, ETA {} s, \
         batch {duration:.2} s, {per_batch} records/batch, cap {}, in flight {}; Spark: \
         {sp_rows} rows/batch, {sp_ms} ms/batch, {sp_rate:.0} rows/s over {} batches",
        t["drain_eta_seconds"],
        spark["trigger_cap"],
        spark["inflight_batch_age_seconds"],
        batches.len()
    );
    // Records per batch: the cap as Spark prorates it over three equal partitions.
    assert_eq!(
        per_batch, sp_rows,
        "records per batch vs Spark's numInputRows"
    );
    within(
        per_batch,
        CAP as f64,
        0.01,
        "records per batch vs maxOffsetsPerTrigger",
    );
    assert_eq!(
        f(&spark["trigger_cap"]),
        sp_rows,
        "the inferred cap: {spark}"
    );
    within(
        duration,
        sp_ms / 1000.0,
        0.2,
        "batch duration vs Spark's triggerExecution",
    );
    assert!(
        duration >= SINK_SECONDS,
        "a batch takes at least the sink's sleep: {duration}"
    );
    within(
        consume,
        per_batch / duration,
        0.2,
        "consume rate vs records / batch time",
    );
    within(
        consume,
        sp_rate,
        0.2,
        "consume rate vs Spark's processedRowsPerSecond",
    );
    let eta = f(&t["drain_eta_seconds"]);
    within(
        eta,
        lag / (consume - produce),
        0.2,
        "drain ETA vs lag / (consume - produce)",
    );
    within(eta, lag / sp_rate, 0.2, "drain ETA vs lag / Spark's rate");
    // The in-flight batch shows: the sink sleeps most of every batch.
    let g = lw
        .until("a batch in flight", Duration::from_secs(30), |g| {
            !g["spark"]["inflight_batch_age_seconds"].is_null()
                && g["topics"][0]["partitions"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().all(|p| !p["inflight_lag"].is_null()))
        })
        .await;
    let inflight: i64 = g["topics"][0]["partitions"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| p["lag"].as_i64().unwrap_or(0) - p["inflight_lag"].as_i64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    within(
        inflight as f64,
        sp_rows,
        0.0,
        "records of the batch in flight",
    );

    // 2. The operator stops the query: `stopped` once no batch committed for stopped_after.
    query.signal("stop");
    query.wait_marker("stopped", Duration::from_secs(60)).await;
    let stopped_at = Instant::now();
    let g = lw
        .until("stopped", Duration::from_secs(60), |g| has(g, "stopped"))
        .await;
    let waited = stopped_at.elapsed().as_secs_f64();
    eprintln!("stopped after {waited:.1} s: {}", g["reasons"]);
    assert!(f(&g["last_commit_age_seconds"]) > 10.0, "{g}");

    // 3. Restarted from latest on a new checkpoint: back to ok, the incident resolves.
    query.signal("restart");
    query
        .wait_marker("restarted", Duration::from_secs(60))
        .await;
    lw.until("ok again", Duration::from_secs(90), |g| {
        g["status"] == "ok" && g["lag"] == 0
    })
    .await;
    // The new checkpoint has no committed batch for a moment, so the group×topic leaves a
    // complete poll: the incident closes as `gone` ("no longer reported") or, when a poll
    // never saw that moment, as `resolved`. Either way it closes once.
    let closed = || async { changes(&hook, "resolved").await + changes(&hook, "gone").await };
    let deadline = Instant::now() + Duration::from_secs(30);
    while closed().await == 0 {
        assert!(Instant::now() < deadline, "the incident never closed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A little longer: nothing more may arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    eprintln!(
        "notifications: {} opened, {} resolved, {} gone",
        changes(&hook, "opened").await,
        changes(&hook, "resolved").await,
        changes(&hook, "gone").await
    );
    assert_eq!(changes(&hook, "opened").await, 1, "one incident opened");
    assert_eq!(closed().await, 1, "and closed once");
    query.signal("quit");
    // 300,000 records are worth giving back to the shared cluster.
    ktool(&["delete-topic", "--topic", &topic]);
    eprintln!("spark_seed_incident_on_real_kafka took {:?}", t0.elapsed());
}

/// lagwatch's config for one Spark query `name` over the topic named exactly `topic` on
/// the shared Kafka cluster (no Kafka group watched), checkpoint `cp`, polled every second;
/// `tail` is the YAML after `clusters:` (rules, notifiers).
pub(super) fn query_config(
    topic: &str,
    name: &str,
    cp: &Path,
    tail: &str,
) -> lagwatch::config::Config {
    let yaml = format!(
        r#"listen: 127.0.0.1:0
poll_interval: 1s
clusters:
  - name: kafka
    bootstrap_servers: "{bs}"
    poll_timeout: 10s
    groups: {{ names: [unused] }}
    topics: {{ include: ["^{topic}$"] }}
    spark_queries:
      - name: {name}
        checkpoint: "{cp}"
{tail}"#,
        bs = env().plaintext(),
        cp = cp.display(),
    );
    let envf = |k: &str| std::env::var(k).ok();
    lagwatch::config::from_str("spark-query.yaml", &yaml, &envf)
        .unwrap_or_else(|e| panic!("config: {e}\n{yaml}"))
}
