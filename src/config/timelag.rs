//! How a cluster's time lag is found: from the first unconsumed record's timestamp (a small
//! Fetch per lagging partition, bounded per poll) or estimated from lagwatch's own log-end
//! history; and how often topic retention settings are read.

use super::bounds;
use super::reader::{join, Cx, MapView};
use regex::Regex;
use std::time::Duration;

/// How time lag is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLagSource {
    /// Read the record at each lagging position; estimate where it cannot be read.
    Record,
    /// Never fetch records: estimate from the log-end history.
    Estimate,
}

/// The cluster's time-lag settings.
#[derive(Debug, Clone)]
pub struct TimeLagConfig {
    /// Record or estimate.
    pub source: TimeLagSource,
    /// Partitions fetched at most per poll; the rest wait their turn (cached answers cost
    /// nothing, so a stuck consumer is fetched once).
    pub max_partitions: usize,
    /// Bytes asked for at most per poll (the sum of the partitions' limits).
    pub max_bytes: i64,
    /// How often topic retention settings are described.
    pub topic_config_refresh: Duration,
    /// Time retention of topics whose settings the brokers do not give (no DescribeConfigs
    /// permission, a broker without it): topic regex and retention, first match wins.
    pub topic_retention: Vec<(Regex, Duration)>,
}

impl PartialEq for TimeLagConfig {
    fn eq(&self, o: &Self) -> bool {
        let pats = |c: &Self| -> Vec<(String, Duration)> {
            c.topic_retention
                .iter()
                .map(|(r, d)| (r.as_str().to_owned(), *d))
                .collect()
        };
        self.source == o.source
            && self.max_partitions == o.max_partitions
            && self.max_bytes == o.max_bytes
            && self.topic_config_refresh == o.topic_config_refresh
            && pats(self) == pats(o)
    }
}

impl TimeLagConfig {
    /// The declared retention of `topic`, if a `topic_retention` pattern matches it.
    pub fn declared_retention(&self, topic: &str) -> Option<Duration> {
        self.topic_retention
            .iter()
            .find(|(r, _)| r.is_match(topic))
            .map(|(_, d)| *d)
    }
}

impl Default for TimeLagConfig {
    fn default() -> Self {
        TimeLagConfig {
            source: TimeLagSource::Record,
            max_partitions: 5000,
            max_bytes: 32 << 20,
            topic_config_refresh: Duration::from_secs(300),
            topic_retention: Vec::new(),
        }
    }
}

/// Reads the keys from a cluster's mapping.
pub(super) fn read(cx: &mut Cx<'_>, m: MapView<'_>, path: &str) -> TimeLagConfig {
    let mut c = TimeLagConfig::default();
    if let Some(v) = cx.opt_string(m, path, "time_lag") {
        match v.as_str() {
            "record" => c.source = TimeLagSource::Record,
            "estimate" => c.source = TimeLagSource::Estimate,
            _ => {
                let pos = m.get("time_lag").map_or(m.pos, |n| n.pos);
                cx.error(
                    pos,
                    &join(path, "time_lag"),
                    format!("`{v}` is not one of record, estimate"),
                );
            }
        }
    }
    if let Some(n) = m.get("time_lag_budget") {
        let bp = join(path, "time_lag_budget");
        if let Some(bm) = cx.map(n, &bp, &["partitions", "bytes"]) {
            if let Some(p) = cx.opt_int(bm, &bp, "partitions", 1, 1_000_000) {
                c.max_partitions = usize::try_from(p).unwrap_or(c.max_partitions);
            }
            if let Some(b) = cx.opt_int(bm, &bp, "bytes", 65_536, 1 << 30) {
                c.max_bytes = b;
            }
        }
    }
    if let Some(d) = cx.opt_duration(
        m,
        path,
        "topic_config_refresh",
        bounds::TOPIC_CONFIG_REFRESH,
    ) {
        c.topic_config_refresh = d;
    }
    let pos = m.get("topic_retention").map_or(m.pos, |n| n.pos);
    let field = join(path, "topic_retention");
    for (pattern, value) in cx.opt_string_map(m, path, "topic_retention") {
        let re = Regex::new(&pattern);
        let d = humantime::parse_duration(&value);
        match (re, d) {
            (Ok(re), Ok(d)) => c.topic_retention.push((re, d)),
            (Err(e), _) => cx.error(pos, &field, format!("invalid regex `{pattern}`: {e}")),
            (_, Err(e)) => cx.error(
                pos,
                &join(&field, &pattern),
                format!("`{value}` is not a duration: {e}"),
            ),
        }
    }
    c
}
