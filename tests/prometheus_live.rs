//! The shipped dashboards and rules evaluated by a real Prometheus scraping a live lagwatch
//! that watches the in-process librdkafka mock cluster: every dashboard query parses and
//! returns data, every rule parses and evaluates without error, and the alerts that the
//! scenario sets up are pending or firing (and none fires for a caught-up consumer).
//!
//! Needs `PROMETHEUS_BIN` (set by `.ci/run`); skipped without it unless `CI` is set.

mod support;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

#[path = "prometheus_live/rules_copy.rs"]
mod rules_copy;

/// Records on `events` before the consumers start: the backlog the slow ones chase.
const BACKLOG: i64 = 2000;

/// Dashboard targets that may legitimately be empty here, with the reason; the scenario
/// below produces data for every other panel.
const NO_DATA_ALLOWED: &[(&str, &str)] = &[(
    // Both "Members" panels (stat and time series) of the group detail.
    "lagwatch-group-detail.json / Members / A",
    "member counts come from DescribeConsumerGroups, which the librdkafka mock cluster \
     lacks, so lagwatch_group_members is absent by design (unknown is not 0)",
)];

/// The Prometheus binary, or None (with a note) when this machine has none and CI is not set.
fn prometheus_bin() -> Option<String> {
    match std::env::var("PROMETHEUS_BIN") {
        Ok(b) if !b.is_empty() => Some(b),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "PROMETHEUS_BIN is not set: run the suite with `bash .ci/run`"
            );
            eprintln!("PROMETHEUS_BIN not set: skipping the live Prometheus test");
            None
        }
    }
}

/// A Prometheus server on a free loopback port, killed on drop.
struct Prometheus {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Prometheus {
    fn start(bin: &str, dir: &Path, target: std::net::SocketAddr, rules: &str) -> Prometheus {
        std::fs::write(dir.join("rules.yaml"), rules).expect("write rules");
        let cfg = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: [rules.yaml]\n\
             scrape_configs:\n  - job_name: lagwatch\n    scrape_interval: 1s\n    \
             scrape_timeout: 1s\n    static_configs:\n      - targets: [\"{target}\"]\n"
        );
        std::fs::write(dir.join("prometheus.yml"), cfg).expect("write config");
        let port = free_port();
        let log = dir.join("prometheus.log");
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new(bin)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("spawn prometheus");
        Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// GET an API path; the JSON body whatever the HTTP status (errors carry `error`).
    async fn api(&self, path: &str, query: &[(&str, &str)]) -> Option<Value> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), query).ok()?;
        let r = reqwest::get(url).await.ok()?;
        r.json().await.ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Shared state of the traffic threads.
struct Traffic {
    produced: AtomicI64,
    stop: AtomicBool,
}

/// One record per batch to events/0 every ~20 ms, counting what reached the log.
fn producer(bs: String, tr: Arc<Traffic>) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    while !tr.stop.load(Ordering::Relaxed) {
        p.send(BaseRecord::<(), _>::to("events").partition(0).payload("x"))
            .map_err(|(e, _)| e)
            .expect("send");
        p.flush(Duration::from_secs(10)).expect("flush");
        tr.produced.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Commits for `group` on events/0 from `start`, advancing `ratio` × the producer's
/// progress and never past the log end, so the consume/produce ratio is what the test
/// sets however loaded the machine is.
fn committer(bs: String, tr: Arc<Traffic>, group: &'static str, start: i64, ratio: f64) {
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

/// Large records, one per batch: the mock keeps ~5 MB per partition, so the first ones
/// are deleted and the log start moves past a commit at 0 (data loss).
fn produce_big(bs: &str, n: usize) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    let payload = vec![b'x'; 600_000];
    for _ in 0..n {
        p.send(
            BaseRecord::<(), _>::to("big")
                .partition(0)
                .payload(&payload),
        )
        .map_err(|(e, _)| e)
        .expect("send");
        p.flush(Duration::from_secs(10)).expect("flush");
    }
}

/// A Spark checkpoint with batch 0 committed at events/0 = 5 and batch 1 (to 10) in flight.
fn spark_checkpoint(root: &Path) {
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

/// lagwatch's thresholds here are the defaults / 1000 (messages) and 1 s instead of 60 s,
/// the same scaling as the rules copy, so lagwatch and Prometheus agree.
fn cfg(bs: &str, dead: &str, checkpoint: &Path) -> lagwatch::config::Config {
    config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 500ms
clusters:
  - name: mock
    bootstrap_servers: "{bs}"
    poll_timeout: 5s
    groups:
      names: [slow, tight, caughtup, stuck, replay, lost]
    spark_queries:
      - name: etl
        checkpoint: "{}"
  - name: gone
    bootstrap_servers: "{dead}"
    poll_timeout: 1s
    groups:
      names: [orphan]
notifiers:
  - name: console
    kind: console
rules:
  lag_warning: 100
  lag_critical: 1000
  backlog_min_messages: 10
  backlog_min_seconds: 1
  rate_window: 2s
  for_polls: 1
  stopped_after: 60s
  overrides:
    - group: "^stuck$"
      stopped_after: 1s
"#,
        checkpoint.display()
    ))
}

/// One query a dashboard makes: where it comes from and whether Grafana runs it as a range.
struct Target {
    what: String,
    expr: String,
    range: bool,
}

/// Grafana's variables replaced the way a user selecting "All" would see them.
fn substitute(expr: &str) -> String {
    let mut e = expr.to_owned();
    for (var, val) in [
        ("__rate_interval", "30s"),
        ("__interval", "1s"),
        ("__range", "30s"),
        ("cluster", ".*"),
        ("group", ".*"),
        ("topic", ".*"),
    ] {
        e = e
            .replace(&format!("${{{var}}}"), val)
            .replace(&format!("${var}"), val);
    }
    e
}

/// Every panel target and every `label_values(selector, label)` variable query.
fn dashboard_targets() -> Vec<Target> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("dashboards/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let lv = regex::Regex::new(r"^label_values\((.*),\s*(\w+)\)$").expect("regex");
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        let dash: Value = serde_json::from_str(&std::fs::read_to_string(&f).expect("read"))
            .expect("dashboard JSON");
        let mut stack: Vec<&Value> = dash["panels"].as_array().into_iter().flatten().collect();
        while let Some(p) = stack.pop() {
            stack.extend(p["panels"].as_array().into_iter().flatten());
            for t in p["targets"].as_array().into_iter().flatten() {
                out.push(Target {
                    what: format!(
                        "{name} / {} / {}",
                        p["title"].as_str().unwrap_or("?"),
                        t["refId"].as_str().unwrap_or("?")
                    ),
                    expr: substitute(t["expr"].as_str().expect("expr")),
                    range: t["instant"] != true,
                });
            }
        }
        for v in dash["templating"]["list"].as_array().into_iter().flatten() {
            let q = v["query"]["query"].as_str().or(v["query"].as_str());
            if let Some(c) = q.and_then(|q| lv.captures(q.trim())) {
                out.push(Target {
                    what: format!("{name} / variable {}", v["name"]),
                    expr: substitute(&format!("count by ({}) ({})", &c[2], &c[1])),
                    range: false,
                });
            }
        }
    }
    out
}

/// Every rule of a rules file: (name, expr, is a recording rule).
fn rule_exprs(yaml: &str) -> Vec<(String, String, bool)> {
    let v: Value = serde_saphyr::from_str(yaml).expect("rules YAML");
    v["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .map(|r| {
            let rec = r["record"].as_str();
            let name = rec.or(r["alert"].as_str()).expect("rule name").to_owned();
            (
                name,
                r["expr"].as_str().expect("expr").to_owned(),
                rec.is_some(),
            )
        })
        .collect()
}

/// Evaluates `expr`; Err(message) on a query error, Ok(number of series) otherwise.
async fn eval(prom: &Prometheus, expr: &str, range: bool) -> Result<usize, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let (start, end) = (format!("{}", now - 30.0), format!("{now}"));
    let body = if range {
        let q = [
            ("query", expr),
            ("start", &start),
            ("end", &end),
            ("step", "1"),
        ];
        prom.api("/api/v1/query_range", &q).await
    } else {
        prom.api("/api/v1/query", &[("query", expr)]).await
    };
    let body = body.ok_or_else(|| "no answer from Prometheus".to_owned())?;
    if body["status"] != "success" {
        return Err(format!("{}: {}", body["errorType"], body["error"]));
    }
    Ok(body["data"]["result"].as_array().map_or(0, Vec::len))
}

/// (alertname, group or "") of every pending or firing alert.
async fn active_alerts(prom: &Prometheus) -> BTreeSet<(String, String)> {
    let Some(body) = prom.api("/api/v1/alerts", &[]).await else {
        return BTreeSet::new();
    };
    body["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["state"] == "firing" || a["state"] == "pending")
        .map(|a| {
            let l = &a["labels"];
            let s = |k: &str| l[k].as_str().unwrap_or("").to_owned();
            (s("alertname"), s("group"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_and_rules_on_a_real_prometheus() {
    let Some(bin) = prometheus_bin() else { return };
    let t0 = Instant::now();
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/lagwatch-rules.yaml"),
    )
    .expect("read rules");
    let copy = rules_copy::for_live_test(&shipped);

    let mock = MockCluster::new(1).expect("mock cluster");
    for (t, n) in [("events", 1), ("bulk", 1), ("big", 1)] {
        mock.create_topic(t, n, 1).expect("topic");
    }
    let bs = mock.bootstrap_servers();
    produce(&bs, "events", 0, BACKLOG as usize, false);
    produce(&bs, "bulk", 0, 1000, false);
    produce_big(&bs, 12);
    commit(&bs, "lost", &[("big", 0, 0)]);
    commit(&bs, "stuck", &[("events", 0, 0)]);
    // Near the start of a large backlog: the seed's startingOffsets=earliest replay.
    commit(&bs, "replay", &[("bulk", 0, 10)]);

    let tr = Arc::new(Traffic {
        produced: AtomicI64::new(0),
        stop: AtomicBool::new(false),
    });
    let mut threads = vec![std::thread::spawn({
        let (bs, tr) = (bs.clone(), tr.clone());
        move || producer(bs, tr)
    })];
    // 0.4x: falling behind; 1.1x: draining without headroom; 1.0x from the log end:
    // caught up, which no throughput rule may flag.
    for (group, start, ratio) in [
        ("slow", 0, 0.4),
        ("tight", 0, 1.1),
        ("caughtup", BACKLOG, 1.0),
    ] {
        let (bs, tr) = (bs.clone(), tr.clone());
        threads.push(std::thread::spawn(move || {
            committer(bs, tr, group, start, ratio)
        }));
    }

    let tmp = tempfile::tempdir().expect("tmp");
    let checkpoint = tmp.path().join("checkpoint");
    spark_checkpoint(&checkpoint);
    // Nothing listens there: a cluster that is down, for poll errors and cluster_up 0.
    let dead = format!("127.0.0.1:{}", free_port());
    let running = lagwatch::app::start(cfg(&bs, &dead, &checkpoint))
        .await
        .expect("start lagwatch");
    let prom_dir = tmp.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).expect("mkdir");
    let prom = Prometheus::start(&bin, &prom_dir, running.addr, &copy);

    let expected: BTreeSet<(String, String)> = [
        ("LagwatchLagWarning", "tight"),
        ("LagwatchLagWarning", "replay"),
        ("LagwatchLagCritical", "slow"),
        ("LagwatchLowHeadroom", "tight"),
        ("LagwatchFallingBehind", "slow"),
        ("LagwatchStalled", "stuck"),
        ("LagwatchStopped", "stuck"),
        ("LagwatchDataLoss", "lost"),
        ("LagwatchBacklogReplay", "replay"),
        ("LagwatchClusterDown", ""),
        ("LagwatchPollErrors", ""),
    ]
    .iter()
    .map(|(a, g)| (a.to_string(), g.to_string()))
    .collect();

    // Everything waits for data to exist, so one deadline covers startup and warm-up.
    let deadline = Instant::now() + Duration::from_secs(45);
    let targets = dashboard_targets();
    let rules = rule_exprs(&shipped);
    let (mut checked, mut alerts);
    loop {
        let mut missing = Vec::new();
        alerts = active_alerts(&prom).await;
        missing.extend(
            expected
                .difference(&alerts)
                .map(|(a, g)| format!("alert {a} for group `{g}` not pending/firing")),
        );
        checked = 0;
        for t in &targets {
            match eval(&prom, &t.expr, t.range).await {
                Ok(0) if NO_DATA_ALLOWED.iter().any(|(w, _)| *w == t.what) => {}
                Ok(0) => missing.push(format!("no data: {} `{}`", t.what, t.expr)),
                Ok(_) => {}
                // A query error never heals by waiting, except before Prometheus is up.
                Err(e) if e.contains("no answer") => missing.push(e),
                Err(e) => panic!("{} does not evaluate: {e}\n  {}", t.what, t.expr),
            }
            checked += 1;
        }
        for (name, expr, recording) in &rules {
            match eval(&prom, expr, false).await {
                Ok(0) if *recording => missing.push(format!("recording rule {name}: no data")),
                Ok(_) => {}
                Err(e) if e.contains("no answer") => missing.push(e),
                Err(e) => panic!("rule {name} does not evaluate: {e}\n  {expr}"),
            }
            checked += 1;
        }
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {:?}:\n  {}\nactive alerts: {alerts:?}\nprometheus log:\n{}",
            t0.elapsed(),
            missing.join("\n  "),
            prom.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Prometheus evaluated every rule of the copy itself without errors (e.g. no
    // many-to-many matching), and none of them alerted for the caught-up consumer.
    let body = prom.api("/api/v1/rules", &[]).await.expect("rules API");
    let loaded: Vec<&Value> = body["data"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(loaded.len(), rules.len(), "every rule loaded");
    for r in &loaded {
        assert_eq!(
            r["health"], "ok",
            "rule {} unhealthy: {}",
            r["name"], r["lastError"]
        );
    }
    for (a, g) in &alerts {
        assert_ne!(g, "caughtup", "{a} fired for a caught-up consumer");
        assert!(
            a != "LagwatchExporterDown" && a != "LagwatchNotificationsFailing",
            "{a} fired: {alerts:?}"
        );
    }
    println!(
        "prometheus_live: {} dashboard targets + {} rules = {checked} expressions evaluated, \
         {} alerts active ({} expected), in {:.1?}",
        targets.len(),
        rules.len(),
        alerts.len(),
        expected.len(),
        t0.elapsed()
    );

    tr.stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("traffic thread");
    }
    drop(prom);
    running.stop().await;
}
