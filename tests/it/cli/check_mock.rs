//! `lagwatch check` as a user runs it (the real binary) against the librdkafka mock cluster:
//! exact table and JSON for a known setup, and every exit code (0 ok, 1 warning, 2 critical,
//! 3 unreachable).

use crate::support::*;
use rdkafka::mocking::MockCluster;
use std::process::{Command, Output};

/// orders/0 has 300 records, orders/1 has 100; three groups at known positions.
fn setup(mock: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>) -> String {
    mock.create_topic("orders", 2, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    produce(&bs, "orders", 0, 300, false);
    produce(&bs, "orders", 1, 100, false);
    commit(&bs, "ok-group", &[("orders", 0, 300), ("orders", 1, 100)]);
    commit(&bs, "warn-group", &[("orders", 0, 290), ("orders", 1, 100)]);
    commit(&bs, "crit-group", &[("orders", 0, 50), ("orders", 1, 50)]);
    bs
}

/// A config naming one group (the mock has no ListGroups), with small thresholds.
fn config_file(dir: &tempfile::TempDir, bootstrap: &str, group: &str) -> std::path::PathBuf {
    let path = dir.path().join(format!("{group}.yaml"));
    std::fs::write(
        &path,
        format!(
            r#"
clusters:
  - name: mock
    bootstrap_servers: "{bootstrap}"
    groups:
      names: ["{group}"]
rules:
  lag_warning: 10
  lag_critical: 200
"#
        ),
    )
    .expect("write config");
    path
}

/// The binary under test; `LAGWATCH_BIN` points at another build (e.g. an installed one, or
/// when a shared target dir's `debug/lagwatch` belongs to another checkout).
fn bin() -> String {
    std::env::var("LAGWATCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_lagwatch").to_owned())
}

fn check(args: &[&str]) -> Output {
    Command::new(bin())
        .arg("check")
        .args(["--interval", "200ms", "--timeout", "2s"])
        .args(args)
        .output()
        .expect("run lagwatch check")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Both streams, for failure messages.
fn both(o: &Output) -> String {
    format!(
        "{}\n--- stderr:\n{}",
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn table_json_and_exit_codes_on_the_mock_cluster() {
    let mock = MockCluster::new(1).expect("mock cluster");
    let bs = setup(&mock);
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = |g: &str| config_file(&dir, &bs, g).to_string_lossy().into_owned();

    // Rows: (group, exit code, why)
    let rows = [
        ("ok-group", 0, "caught up on both partitions"),
        ("warn-group", 1, "lag 10 = lag_warning"),
        ("crit-group", 2, "lag 300 >= lag_critical 200"),
    ];
    for (group, code, why) in rows {
        let out = check(&["--config", &cfg(group)]);
        assert_eq!(out.status.code(), Some(code), "{why}: {}", both(&out));
    }

    let out = check(&["--config", &cfg("crit-group"), "--per-partition"]);
    let text = stdout(&out);
    // Not a terminal: no colors, no progress indicator.
    assert!(!text.contains('\x1b'), "{text}");
    assert!(
        out.stderr.iter().all(|b| *b != b'\r'),
        "no spinner off a TTY"
    );
    let want = "\
cluster mock

GROUP       TOPIC   PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG
crit-group  orders  0          50              300             250
crit-group  orders  1          50              100             50
";
    assert!(text.starts_with(want), "{text}");
    let totals = text
        .lines()
        .find(|l| l.starts_with("crit-group  orders  300 "))
        .unwrap_or_else(|| panic!("no totals row: {text}"));
    assert!(totals.ends_with("critical"), "{totals}");
    assert!(
        text.contains("CRITICAL crit-group / orders: lag_critical\n  lag: 300 messages\n"),
        "{text}"
    );
    assert!(
        text.contains("  action: Compare the consume rate"),
        "{text}"
    );

    let out = check(&["--config", &cfg("crit-group"), "--output", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["schema_version"], 1);
    let c = &v["clusters"][0];
    assert_eq!(
        (c["cluster"].as_str(), c["up"].as_bool()),
        (Some("mock"), Some(true))
    );
    let g = &c["groups"][0];
    assert_eq!(g["group"], "crit-group");
    assert_eq!(g["lag"], 300);
    assert_eq!(g["status"], "critical");
    assert_eq!(g["reasons"], serde_json::json!(["lag_critical"]));
    let t = &g["topics"][0];
    assert_eq!(
        (t["topic"].as_str(), t["lag"].as_i64()),
        (Some("orders"), Some(300))
    );
    // Two polls: rates are measured (nothing was produced or consumed in between).
    assert_eq!(t["produce_rate"], 0.0);
    assert_eq!(t["consume_rate"], 0.0);
    let parts: Vec<(i64, i64, i64, i64)> = t["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| {
            let n = |k: &str| p[k].as_i64().unwrap_or(-1);
            (n("partition"), n("committed"), n("log_end"), n("lag"))
        })
        .collect();
    assert_eq!(parts, vec![(0, 50, 300, 250), (1, 50, 100, 50)]);
}

#[test]
fn unreachable_cluster_exits_3_without_hanging() {
    let port = free_port();
    let out = check(&["--bootstrap-servers", &format!("127.0.0.1:{port}")]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        stdout(&out).contains("cluster default: UNREACHABLE ("),
        "{}",
        stdout(&out)
    );
    let out = check(&[
        "--bootstrap-servers",
        &format!("127.0.0.1:{port}"),
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["clusters"][0]["up"], false);
    assert!(v["clusters"][0]["error"].is_string(), "{v}");
}

#[test]
fn bad_arguments_exit_4() {
    let out = check(&["--bootstrap-servers", "no-port"]);
    assert_eq!(out.status.code(), Some(4));
    let out = check(&["--bootstrap-servers", "127.0.0.1:9", "--group", "("]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid regex `(`"));
}

#[test]
fn a_filter_that_matches_nothing_exits_5_with_a_message() {
    let mock = MockCluster::new(1).expect("mock cluster");
    let bs = setup(&mock);
    let dir = tempfile::tempdir().expect("tempdir");
    // A typo of `ok-group`: the cluster is reachable, but nothing is checked.
    let cfg = config_file(&dir, &bs, "ok-grup");
    let out = check(&["--config", &cfg.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(5), "{}", both(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing checked in cluster `mock`"),
        "{}",
        both(&out)
    );
}
