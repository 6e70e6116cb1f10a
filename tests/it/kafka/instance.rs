//! lagwatch in-process (`lagwatch::app::start`) against the test cluster, and what it
//! serves: `/metrics` parsed into exact samples, `/api/v1/status` as JSON.

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A running lagwatch watching one cluster named `kafka`.
pub struct Lagwatch {
    running: Option<lagwatch::app::Running>,
    addr: std::net::SocketAddr,
}

/// Samples keyed by `name{label="v",...}` with labels sorted, values as text (exact integers).
pub type Samples = BTreeMap<String, String>;

impl Lagwatch {
    /// Starts lagwatch polling every second; `cluster_yaml` is the body of the cluster entry
    /// (indented by 4 spaces) after `name` and `bootstrap_servers`.
    pub async fn start(bootstrap: &str, cluster_yaml: &str) -> Lagwatch {
        let yaml = format!(
            "listen: 127.0.0.1:0\npoll_interval: 1s\nclusters:\n  - name: kafka\n    \
             bootstrap_servers: \"{bootstrap}\"\n    poll_timeout: 10s\n{cluster_yaml}"
        );
        let env = |k: &str| std::env::var(k).ok();
        let cfg = lagwatch::config::from_str("conformance.yaml", &yaml, &env)
            .unwrap_or_else(|e| panic!("config: {e}\n{yaml}"));
        let running = lagwatch::app::start(cfg).await.expect("lagwatch starts");
        Lagwatch {
            addr: running.addr,
            running: Some(running),
        }
    }

    /// Watches groups and topics starting with `prefix` over PLAINTEXT.
    pub async fn watching(prefix: &str) -> Lagwatch {
        let yaml = format!(
            "    groups: {{ include: [\"^{prefix}\"] }}\n    topics: {{ include: [\"^{prefix}\"] }}\n"
        );
        Lagwatch::start(crate::kafka::harness::env().plaintext(), &yaml).await
    }

    /// Watches groups and topics starting with `prefix` as user `lagwatch` over
    /// SASL_PLAINTEXT (SCRAM-SHA-512), read by `kafka_client` (`fast` or `librdkafka`).
    pub async fn watching_over_sasl(prefix: &str, kafka_client: &str) -> Lagwatch {
        let e = crate::kafka::harness::env();
        let yaml = format!(
            "    groups: {{ include: [\"^{prefix}\"] }}\n    topics: {{ include: [\"^{prefix}\"] }}\n    \
             kafka_client: {kafka_client}\n    client:\n      security.protocol: SASL_PLAINTEXT\n      \
             sasl.mechanisms: SCRAM-SHA-512\n      sasl.username: lagwatch\n      \
             sasl.password: \"{}\"\n",
            e.get("LAGWATCH_PASSWORD")
        );
        Lagwatch::start(e.get("SASL_PLAINTEXT"), &yaml).await
    }

    async fn get(&self, path: &str) -> String {
        let r = reqwest::get(format!("http://{}{path}", self.addr))
            .await
            .expect("lagwatch answers");
        r.text().await.expect("body")
    }

    /// `/api/v1/status`.
    pub async fn status(&self) -> Value {
        serde_json::from_str(&self.get("/api/v1/status").await).expect("status JSON")
    }

    /// `/metrics`, parsed.
    pub async fn metrics(&self) -> Samples {
        parse(&self.get("/metrics").await)
    }

    /// Metrics and status of one poll that started after `after` (Unix seconds): both read
    /// between two equal `taken_at`s, so they describe the same poll.
    pub async fn poll_after(&self, after: f64) -> (Samples, Value) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s1 = self.status().await;
            let t1 = s1["clusters"][0]["taken_at"].as_f64().unwrap_or(0.0);
            if t1 > after {
                let m = self.metrics().await;
                let s2 = self.status().await;
                if s2["clusters"][0]["taken_at"].as_f64() == Some(t1) {
                    return (m, s2);
                }
            }
            assert!(
                Instant::now() < deadline,
                "lagwatch did not poll after {after}: {s1}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Metrics and status of a poll that started after now.
    pub async fn fresh(&self) -> (Samples, Value) {
        self.poll_after(now()).await
    }
}

impl Drop for Lagwatch {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            // Stopping needs the runtime; a test that ends by panicking still frees its ports.
            if let Ok(h) = tokio::runtime::Handle::try_current() {
                h.spawn(r.stop());
            }
        }
    }
}

/// Unix time now.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Parses the classic text format into samples with sorted labels.
pub fn parse(text: &str) -> Samples {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(head, v)| {
            let key = match head.split_once('{') {
                Some((name, rest)) => {
                    let mut labels: Vec<&str> = rest
                        .trim_end_matches('}')
                        .split("\",")
                        .map(|s| s.trim_end_matches('"'))
                        .filter(|s| !s.is_empty())
                        .collect();
                    labels.sort_unstable();
                    key(
                        name,
                        &labels
                            .iter()
                            .map(|l| l.split_once("=\"").unwrap_or((l, "")))
                            .collect::<Vec<_>>(),
                    )
                }
                None => head.to_owned(),
            };
            (key, v.to_owned())
        })
        .collect()
}

/// The sample key of `name` with these labels.
pub fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    l.sort_unstable();
    format!("{name}{{{}}}", l.join(","))
}

/// The value of one sample, when present.
pub fn sample<'a>(m: &'a Samples, name: &str, labels: &[(&str, &str)]) -> Option<&'a str> {
    m.get(&key(name, labels)).map(String::as_str)
}

/// Samples of `name` whose labels include all of `labels`.
pub fn samples_of<'a>(m: &'a Samples, name: &str, labels: &[(&str, &str)]) -> Vec<&'a String> {
    let prefix = format!("{name}{{");
    m.keys()
        .filter(|k| k.starts_with(&prefix))
        .filter(|k| {
            labels
                .iter()
                .all(|(l, v)| k.contains(&format!("{l}=\"{v}\"")))
        })
        .collect()
}
