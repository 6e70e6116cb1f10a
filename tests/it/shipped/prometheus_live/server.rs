//! The Prometheus server under test and its HTTP API.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::support::free_port;

/// The Prometheus binary, or None (with a note) when this machine has none and CI is not set.
pub fn prometheus_bin() -> Option<String> {
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
pub struct Prometheus {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Prometheus {
    pub fn start(bin: &str, dir: &Path, target: std::net::SocketAddr, rules: &str) -> Prometheus {
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

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// GET an API path; the JSON body whatever the HTTP status (errors carry `error`).
    pub async fn api(&self, path: &str, query: &[(&str, &str)]) -> Option<Value> {
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

/// Evaluates `expr`; Err(message) on a query error, Ok(number of series) otherwise.
pub async fn eval(prom: &Prometheus, expr: &str, range: bool) -> Result<usize, String> {
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
pub async fn active_alerts(prom: &Prometheus) -> BTreeSet<(String, String)> {
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
