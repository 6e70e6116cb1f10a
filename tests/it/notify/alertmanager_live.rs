//! End to end with Debian's real Alertmanager: lagwatch posts an incident to its
//! `/api/v2/alerts`, Alertmanager routes it to a webhook receiver (a recording wiremock
//! server), and the resolution reaches the receiver too.
//!
//! Needs `ALERTMANAGER_BIN` (exported by `.ci/run`) or `/usr/bin/prometheus-alertmanager`;
//! skipped without either unless `CI` is set.

use crate::support::free_port;
use crate::support::notifiers::*;
use lagwatch::config::NotifierKind::Alertmanager;
use lagwatch::notify::Coordinator;
use lagwatch::view::Reason::{BacklogReplay, LagCritical};
use lagwatch::view::Status::{Critical, Ok as Healthy};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const DEBIAN_PATH: &str = "/usr/bin/prometheus-alertmanager";

fn alertmanager_bin() -> Option<String> {
    if let Ok(b) = std::env::var("ALERTMANAGER_BIN") {
        if !b.is_empty() {
            return Some(b);
        }
    }
    if std::path::Path::new(DEBIAN_PATH).exists() {
        return Some(DEBIAN_PATH.to_owned());
    }
    assert!(
        std::env::var("CI").is_err(),
        "ALERTMANAGER_BIN is not set: run the suite with `bash .ci/run`"
    );
    eprintln!("no alertmanager binary: skipping the live Alertmanager test");
    None
}

/// Alertmanager on a free loopback port, killed on drop.
struct Am {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Drop for Am {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Am {
    fn start(bin: &str, dir: &std::path::Path, receiver: &str) -> Am {
        // Short group timings so the test sees notifications within seconds.
        let cfg = format!(
            "route:\n  receiver: hook\n  group_by: [alertname, cluster, group, topic]\n  \
             group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: hook\n    webhook_configs:\n      - url: \"{receiver}\"\n        \
             send_resolved: true\n"
        );
        std::fs::write(dir.join("alertmanager.yml"), cfg).expect("write config");
        let port = free_port();
        let log = dir.join("alertmanager.log");
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new(bin)
            .arg(format!(
                "--config.file={}",
                dir.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // No gossip: a single instance needs no cluster port.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("spawn alertmanager");
        Am {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    async fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let ok = reqwest::get(format!("{}/-/ready", self.base))
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "alertmanager not ready: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The alerts of every notification the receiver got, with the notification's status.
async fn received(s: &MockServer) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for r in s.received_requests().await.unwrap_or_default() {
        let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        for a in v["alerts"].as_array().into_iter().flatten() {
            out.push((a["status"].as_str().unwrap_or("").to_owned(), a.clone()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn alertmanager_routes_lagwatchs_alert_and_its_resolution_to_a_webhook() {
    let Some(bin) = alertmanager_bin() else {
        return;
    };
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let am = Am::start(&bin, dir.path(), &format!("{}/am-hook", receiver.uri()));
    lagwatch::runtime::rustls_provider();
    am.wait_ready().await;
    let m = metrics();
    let c = Coordinator::start(
        &[notifier("am", Alertmanager, Some(am.base.clone()))],
        Default::default(),
        None,
        m.clone(),
        fast(),
    )
    .expect("start");
    let t0 = now();
    c.observe(
        &view(&[(
            "spark:etl",
            "transactions",
            Critical,
            &[BacklogReplay, LagCritical],
            3_000_000,
        )]),
        t0,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let firing = loop {
        let got = received(&receiver).await;
        if let Some((_, a)) = got.iter().find(|(s, _)| s == "firing") {
            break a.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no firing notification; lagwatch sent {}, alertmanager log:\n{}",
            outcome(&m, "am", "sent"),
            std::fs::read_to_string(&am.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (k, want) in [
        ("alertname", "KafkaConsumerLag"),
        ("cluster", "prod"),
        ("group", "spark:etl"),
        ("topic", "transactions"),
        ("severity", "critical"),
        ("reason", "backlog_replay"),
    ] {
        assert_eq!(firing["labels"][k], want, "label {k}");
    }
    assert!(firing["annotations"]["runbook_action"]
        .as_str()
        .is_some_and(|s| s.contains("spark.read")));
    c.observe(
        &view(&[("spark:etl", "transactions", Healthy, &[], 3)]),
        now(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = received(&receiver).await;
        if let Some((_, a)) = got.iter().find(|(s, _)| s == "resolved") {
            assert_eq!(a["labels"], firing["labels"], "the same alert resolved");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no resolved notification: {:?}",
            got.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.shutdown(Duration::from_secs(1)).await;
}
