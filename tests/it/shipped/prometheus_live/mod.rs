//! The shipped dashboards and rules evaluated by a real Prometheus scraping a live lagwatch
//! that watches the in-process librdkafka mock cluster: every dashboard query parses and
//! returns data, every rule parses and evaluates without error, and the alerts that the
//! scenario sets up are pending or firing (and none fires for a caught-up consumer).
//!
//! Needs `PROMETHEUS_BIN` (set by `.ci/run`); skipped without it unless `CI` is set.

use crate::support::*;
use rdkafka::mocking::MockCluster;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod compat;
mod granularity;
mod rules_copy;
mod server;
mod traffic;

use server::{active_alerts, eval, prometheus_bin, Prometheus};
use traffic::{committer, producer, spark_checkpoint, Traffic, BACKLOG};

/// Dashboard targets that may legitimately be empty here, with the reason; the scenario
/// below produces data for every other panel.
const NO_DATA_ALLOWED: &[(&str, &str)] = &[(
    // Both "Members" panels (stat and time series) of the group detail.
    "lagwatch-group-detail.json / Members / A",
    "member counts come from DescribeConsumerGroups, which the librdkafka mock cluster \
     lacks, so lagwatch_group_members is absent by design (unknown is not 0)",
)];

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
    # The mock has no topic settings: a one-hour retention is declared, so the stuck group
    # (its oldest unread message a minute old) has under an hour of headroom.
    topic_retention:
      "^events$": 1h
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
    /// The panel says it needs topic or partition granularity (or the variable reads a
    /// per-topic family), so it may be empty at group granularity.
    finer: bool,
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
                    finer: p["description"].as_str().is_some_and(|d| {
                        d.contains("Needs topic") || d.contains("Needs partition")
                    }),
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
                    finer: c[1].contains("_topic_") || c[1].contains("_partition_"),
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
        ("LagwatchRetentionRisk", "stuck"),
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
    // The same verdict from lagwatch's own status engine, as Prometheus stored it.
    let ok = r#"lagwatch_group_topic_status{group="caughtup", topic="events", status="ok"} == 1"#;
    assert_eq!(eval(&prom, ok, false).await, Ok(1), "caughtup is ok");
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
