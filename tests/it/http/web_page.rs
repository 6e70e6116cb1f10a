//! The web page in real headless Chromium: `tests/browser` (node's test runner driving
//! playwright-core and axe-core) against lagwatch on the librdkafka mock cluster, with
//! basic auth on. This file builds the scenario — a backlogged consumer draining, one
//! that catches up when the browser tests say so, a healthy one, a hostile group name
//! and a trigger-capped Spark query with a slow batch — runs `node --test` with the URLs in env vars and asserts its exit code.
//!
//! Needs `bash .ci/install-browser` (Debian's chromium + `npm ci`); skipped with a note
//! when that has not run, and fails instead under CI.

use crate::support::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::{Offset, TopicPartitionList};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOPIC: &str = "transactions";
/// Produced before any consumer runs: the seed incident, scaled down.
const BACKLOG: i64 = 6_000;
/// A group name no page may render as markup.
const HOSTILE: &str = "<img src=x onerror=alert(1)>";
/// A Spark query (its checkpoint written by [`spark_checkpoint`]) on the same topic.
const SPARK: &str = "spark:replay";
/// Records per micro-batch of that query: the trigger cap lagwatch must infer.
const SPARK_CAP: i64 = 1_000;
const USER: &str = "viewer";
const PASS: &str = "page-pass";

/// Where a group commits: from (log end, seconds since start, catch-up signal seen).
type Target = fn(i64, f64, bool) -> i64;

fn cfg(bootstrap: &str, hash: &str, checkpoint: &Path) -> lagwatch::config::Config {
    config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 1s
clusters:
  - name: mock
    bootstrap_servers: "{bootstrap}"
    poll_timeout: 5s
    groups:
      names: [seed, catching-up, steady, "{HOSTILE}"]
    spark_queries:
      - name: replay
        checkpoint: "{}"
rules:
  lag_warning: 200
  lag_critical: 1000
  rate_window: 5s
  for_polls: 2
  overrides:
    # The Spark query's backlog is a few batches: backlogged from 500 on.
    - group: "^spark:"
      backlog_min_messages: 500
      backlog_min_seconds: 1
web:
  basic_auth_users:
    {USER}: "{hash}"
notifiers:
  - name: console
    kind: console
"#,
        checkpoint.display()
    ))
}

/// A Spark checkpoint like the seed's, scaled down: batches 0..=4 of [`SPARK_CAP`] records
/// each, 10 s apart and committed, and batch 5 in flight for 100 s, so lagwatch sees a
/// trigger-capped query (equal batches, a backlog behind them) whose batch is slow
/// (100 s against a 10 s median). Written once: the age only grows, the reasons hold.
fn spark_checkpoint(root: &Path) {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let put = |rel: String, body: String| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    };
    for id in 0..=5i64 {
        let planned = now_ms - (150 - 10 * id) * 1000;
        let meta = format!(r#"{{"batchWatermarkMs":0,"batchTimestampMs":{planned},"conf":{{}}}}"#);
        let end = SPARK_CAP * (id + 1);
        put(
            format!("offsets/{id}"),
            format!("v1\n{meta}\n{{\"{TOPIC}\":{{\"0\":{end}}}}}"),
        );
        if id < 5 {
            put(
                format!("commits/{id}"),
                "v1\n{\"nextBatchWatermarkMs\":0}".to_owned(),
            );
        }
    }
}

/// Where the browser tests live, and whether their dependencies are installed.
fn browser_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing: Vec<String> = [
        (
            dir.join("node_modules/playwright-core"),
            "npm ci in tests/browser",
        ),
        (dir.join("node_modules/axe-core"), "npm ci in tests/browser"),
        (PathBuf::from(&chromium), "Debian's chromium"),
    ]
    .into_iter()
    .filter(|(p, _)| !p.exists())
    .map(|(p, what)| format!("{} ({what})", p.display()))
    .collect();
    if missing.is_empty() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").is_err(),
        "missing {missing:?}: run `bash .ci/install-browser`"
    );
    eprintln!("skipping the browser tests, missing {missing:?}: run `bash .ci/install-browser`");
    None
}

/// Commits for `group` on `TOPIC`/0 every 200 ms at `target(log end, seconds since start,
/// caught-up signal seen)`, never past the log end, until `stop`.
fn committer(
    bs: String,
    group: &'static str,
    produced: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
    signal: PathBuf,
    target: Target,
) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let started = Instant::now();
    let mut committed = -1;
    while !stop.load(Ordering::Relaxed) {
        let end = BACKLOG + produced.load(Ordering::Relaxed);
        let to = target(end, started.elapsed().as_secs_f64(), signal.exists()).min(end);
        if to != committed {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(TOPIC, 0, Offset::Offset(to))
                .expect("tpl");
            if c.commit(&tpl, CommitMode::Sync).is_ok() {
                committed = to;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `node --test` in `dir` with `env`, killing it after `limit`; returns (success, output).
fn run_node(dir: &Path, env: &[(&str, String)], limit: Duration) -> (bool, String) {
    let out = tempfile::NamedTempFile::new().expect("output file");
    // One file description for stdout and stderr keeps their order (a shared offset), and
    // a file never fills up and blocks the child like a pipe nobody reads.
    let file = out.reopen().expect("reopen");
    let err = file.try_clone().expect("clone");
    let mut child = Command::new("node")
        .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .expect("spawn node (is Node.js installed?)");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait node") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(out.path()).unwrap_or_default();
    match status {
        Some(s) => (s.success(), text),
        None => (false, format!("{text}\n(killed after {limit:?})")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_in_headless_chromium() {
    let Some(dir) = browser_dir() else {
        return;
    };
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic(TOPIC, 1, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    produce(&bs, TOPIC, 0, BACKLOG as usize, false);

    let tmp = tempfile::tempdir().expect("tempdir");
    let signal = tmp.path().join("catch-up");
    let produced = Arc::new(AtomicI64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = vec![std::thread::spawn({
        let (bs, produced, stop) = (bs.clone(), produced.clone(), stop.clone());
        move || produce_steadily(&bs, TOPIC, &produced, &stop)
    })];
    // (group, committed offset as a function of (log end, seconds, caught-up signal))
    let groups: [(&'static str, Target); 4] = [
        // Replays from 0 at 1.5x the producer's pace (measured, so the machine's load does
        // not change the story): draining, yet critical for minutes.
        ("seed", |end, _, _| (end - BACKLOG) * 3 / 2),
        // Stuck far behind until the browser test drops the signal file, then caught up.
        (
            "catching-up",
            |end, _, go| if go { end } else { BACKLOG - 1_000 },
        ),
        ("steady", |end, _, _| end),
        (HOSTILE, |_, _, _| BACKLOG - 300),
    ];
    for (group, target) in groups {
        let (bs, produced, stop, signal) =
            (bs.clone(), produced.clone(), stop.clone(), signal.clone());
        threads.push(std::thread::spawn(move || {
            committer(bs, group, produced, stop, signal, target)
        }));
    }

    let checkpoint = tmp.path().join("spark-checkpoint");
    spark_checkpoint(&checkpoint);
    let hash = bcrypt::hash(PASS, 4).expect("hash");
    let running = lagwatch::app::start(cfg(&bs, &hash, &checkpoint))
        .await
        .expect("start");
    // Rates need two polls; the page is tested once every number is there.
    wait_for(Duration::from_secs(60), "all groups with rates", || {
        let snap = running.state.snapshot();
        let ready = snap
            .get("mock")
            .and_then(|c| c.view.clone())
            .is_some_and(|v| {
                v.groups.len() == 5
                    && v.groups
                        .iter()
                        .all(|g| g.topics.iter().all(|t| t.consume_rate.is_some()))
            });
        std::future::ready(ready.then_some(()))
    })
    .await;

    let env = [
        ("LAGWATCH_URL", format!("http://{}", running.addr)),
        ("LAGWATCH_USER", USER.to_owned()),
        ("LAGWATCH_PASS", PASS.to_owned()),
        ("LAGWATCH_CLUSTER", "mock".to_owned()),
        ("LAGWATCH_POLL_SECONDS", "1".to_owned()),
        ("LAGWATCH_SEED_GROUP", "seed".to_owned()),
        ("LAGWATCH_CATCHUP_GROUP", "catching-up".to_owned()),
        ("LAGWATCH_CATCHUP_SIGNAL", signal.display().to_string()),
        ("LAGWATCH_HOSTILE_GROUP", HOSTILE.to_owned()),
        ("LAGWATCH_SPARK_GROUP", SPARK.to_owned()),
    ];
    if let Some(secs) = std::env::var("LAGWATCH_WEB_HOLD")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        let vars: Vec<String> = env.iter().map(|(k, v)| format!("{k}='{v}'")).collect();
        eprintln!(
            "scenario up for {secs} s; in tests/browser:\n{} node --test",
            vars.join(" ")
        );
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
    let (ok, output) =
        tokio::task::spawn_blocking(move || run_node(&dir, &env, Duration::from_secs(600)))
            .await
            .expect("node runner");
    eprintln!("---- node --test (tests/browser) ----\n{output}\n---- end ----");

    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("traffic thread");
    }
    running.stop().await;
    assert!(ok, "the browser tests failed (output above)");
    // The signal was really used: the catch-up was driven from the browser side.
    assert!(
        signal.exists(),
        "the live-update test never signalled the catch-up"
    );
}
