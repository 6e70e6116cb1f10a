//! `lagwatch check --bootstrap-servers` (no config file) with group discovery, against tansu;
//! skipped without `TANSU_BIN`.

use crate::support::*;
use std::process::Command;

fn bin() -> String {
    std::env::var("LAGWATCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_lagwatch").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_mode_discovers_groups_by_regex() {
    let Some(tansu) = Tansu::start() else {
        return;
    };
    let bs = tansu.addr.clone();
    create_topic(&bs, "payments", 1).await;
    // One record per batch: tansu's high watermark is exact only then.
    produce(&bs, "payments", 0, 40, true);
    commit(&bs, "fraud-detector", &[("payments", 0, 15)]);
    commit(&bs, "ledger", &[("payments", 0, 40)]);
    let run = |args: &[&str]| {
        Command::new(bin())
            .args(["check", "--bootstrap-servers", &bs, "--interval", "200ms"])
            .args(["--timeout", "5s"])
            .args(args)
            .output()
            .expect("run check")
    };
    let out = run(&["--group", "^fraud", "--per-partition"]);
    let text = String::from_utf8_lossy(&out.stdout);
    // Lag 25 is below every default threshold: ok.
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("fraud-detector  payments  0          15              40              25\n"),
        "{text}"
    );
    assert!(!text.contains("ledger"), "filtered out by --group: {text}");

    let out = run(&["--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let mut groups: Vec<(String, i64)> = v["clusters"][0]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["group"].as_str().unwrap_or("").to_owned(),
                g["lag"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        vec![("fraud-detector".to_owned(), 25), ("ledger".to_owned(), 0)]
    );
}
