//! The configuration: typed, defaulted and validated, with file:line errors.

mod cx;
mod load;
mod web;
pub mod yaml;

pub use cx::{did_you_mean, expand_env, ConfigError, ConfigErrors, Cx, EnvLookup, MapView};
pub use load::{from_str, load_file};
pub use web::{TlsFiles, WebConfig};

use regex::Regex;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The whole configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP address for /metrics, /healthz, /readyz and /api.
    pub listen: SocketAddr,
    /// Time between two polls of a cluster.
    pub poll_interval: Duration,
    /// Clusters to watch; names are unique.
    pub clusters: Vec<ClusterConfig>,
    /// Status thresholds, globally and per group/topic.
    pub rules: RulesConfig,
    /// Slack / Discord / console targets.
    pub notifiers: Vec<NotifierConfig>,
    /// Where incident state survives restarts; none = in memory only.
    pub state_dir: Option<PathBuf>,
    /// How long shutdown may take to flush pending notifications.
    pub shutdown_timeout: Duration,
    /// HTTPS and basic auth for the HTTP server.
    pub web: WebConfig,
}

/// One Kafka cluster and what to watch in it.
#[derive(Clone)]
pub struct ClusterConfig {
    /// Label value `cluster` on every series.
    pub name: String,
    /// `host:port[,host:port...]`.
    pub bootstrap_servers: String,
    /// Which consumer groups to report.
    pub groups: GroupFilter,
    /// Which topics to report.
    pub topics: Filter,
    /// librdkafka properties passed through (SASL/TLS); values may be secrets.
    pub client: Vec<(String, String)>,
    /// Upper bound for one poll of this cluster.
    pub poll_timeout: Duration,
    /// Spark Structured Streaming queries whose checkpoints are read as virtual groups.
    pub spark_queries: Vec<SparkQueryConfig>,
    /// Read offsets with a few batched requests per broker (plaintext, Kafka >= 3.0).
    pub batched_offsets: bool,
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `client` holds SASL/TLS passwords: show which keys are set, never the values.
        let client: Vec<&str> = self.client.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ClusterConfig")
            .field("name", &self.name)
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("groups", &self.groups)
            .field("topics", &self.topics)
            .field("client_keys", &client)
            .field("poll_timeout", &self.poll_timeout)
            .field("spark_queries", &self.spark_queries)
            .field("batched_offsets", &self.batched_offsets)
            .finish()
    }
}

/// Include/exclude regex filter; empty include means everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Names matching any of these are kept (all when empty).
    pub include: Vec<Regex>,
    /// Names matching any of these are dropped, even if included.
    pub exclude: Vec<Regex>,
}

impl Filter {
    /// Whether `name` passes the filter.
    pub fn matches(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|r| r.is_match(name)))
            && !self.exclude.iter().any(|r| r.is_match(name))
    }
}

/// Group selection: explicit names (no discovery needed) and/or regex discovery.
#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    /// Groups asked for by name; they skip discovery (works without ListGroups).
    pub names: Vec<String>,
    /// Whether to discover groups with ListConsumerGroups (false when only names are given).
    pub discover: bool,
    /// Regex filter applied to discovered groups.
    pub filter: Filter,
}

/// Thresholds of the status engine; defaults are the seed incident's.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Lag (messages) at or above which a group/topic is `warning`.
    pub lag_warning: i64,
    /// Lag (messages) at or above which a group/topic is `critical`.
    pub lag_critical: i64,
    /// A backlogged consumer must consume at least this many times the produce rate.
    pub headroom: f64,
    /// Lag below this is never "backlogged" (a caught-up consumer's normal jitter).
    pub backlog_min_messages: i64,
    /// Lag must also exceed this much production time to count as backlogged.
    pub backlog_min_seconds: f64,
    /// Window over which rates are computed and stalls are judged.
    pub rate_window: Duration,
    /// No commit for this long with lag > 0 (or no members) means `stopped`.
    pub stopped_after: Duration,
    /// Consecutive polls a new status must hold before it is reported.
    pub for_polls: u32,
    /// Consumer within this fraction of the retained log from its start = replaying a backlog.
    pub backlog_replay_fraction: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            lag_warning: 100_000,
            lag_critical: 1_000_000,
            headroom: 1.2,
            backlog_min_messages: 10_000,
            backlog_min_seconds: 60.0,
            rate_window: Duration::from_secs(300),
            stopped_after: Duration::from_secs(900),
            for_polls: 2,
            backlog_replay_fraction: 0.1,
        }
    }
}

/// Global thresholds plus per group/topic overrides (first match wins per field).
#[derive(Debug, Clone, Default)]
pub struct RulesConfig {
    /// Thresholds used where no override matches.
    pub defaults: Thresholds,
    /// Overrides in file order.
    pub overrides: Vec<RuleOverride>,
}

/// Thresholds that apply to groups/topics matching the regexes.
#[derive(Debug, Clone)]
pub struct RuleOverride {
    /// Group regex (any group when absent).
    pub group: Option<Regex>,
    /// Topic regex (any topic when absent).
    pub topic: Option<Regex>,
    /// The complete thresholds for matches (defaults merged with the fields set).
    pub thresholds: Thresholds,
}

impl RulesConfig {
    /// The thresholds for one group×topic: the first matching override, else the defaults.
    pub fn for_group_topic(&self, group: &str, topic: &str) -> &Thresholds {
        self.overrides
            .iter()
            .find(|o| {
                o.group.as_ref().is_none_or(|r| r.is_match(group))
                    && o.topic.as_ref().is_none_or(|r| r.is_match(topic))
            })
            .map(|o| &o.thresholds)
            .unwrap_or(&self.defaults)
    }
}

/// Where chat notifications go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifierKind {
    /// Slack incoming webhook (Block Kit).
    Slack,
    /// Discord webhook (embeds).
    Discord,
    /// Prints what Slack/Discord would receive to stdout (demo, dry runs).
    Console,
}

/// Severity used for notifier filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Warnings and above.
    Warning,
    /// Critical only.
    Critical,
}

/// One notification target.
#[derive(Clone)]
pub struct NotifierConfig {
    /// Label value `notifier` in metrics and logs.
    pub name: String,
    /// Slack, Discord or console.
    pub kind: NotifierKind,
    /// The webhook URL (a secret: never logged).
    pub url: Option<String>,
    /// Groups to notify about.
    pub groups: Filter,
    /// Topics to notify about.
    pub topics: Filter,
    /// Lowest severity sent.
    pub min_severity: Severity,
    /// Base URL of a dashboard; `{cluster}`, `{group}`, `{topic}` are substituted.
    pub dashboard_url: Option<String>,
    /// Reminder period while an incident stays open.
    pub repeat_interval: Duration,
    /// Pending messages kept per notifier; older ones are dropped and counted.
    pub queue_size: usize,
    /// HTTP timeout of one delivery attempt.
    pub timeout: Duration,
}

impl std::fmt::Debug for NotifierConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifierConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("min_severity", &self.min_severity)
            .field("repeat_interval", &self.repeat_interval)
            .finish_non_exhaustive()
    }
}

/// One Spark Structured Streaming query read from its checkpoint.
#[derive(Clone)]
pub struct SparkQueryConfig {
    /// Query name; reported as group `spark:<name>` unless `group` is set.
    pub name: String,
    /// The group name used in metrics and alerts.
    pub group: String,
    /// Local path, `file://`, `s3://` or `s3a://` URL of the checkpoint root.
    pub checkpoint: String,
    /// Object store settings for s3 URLs.
    pub s3: Option<S3Config>,
}

impl std::fmt::Debug for SparkQueryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparkQueryConfig")
            .field("name", &self.name)
            .field("group", &self.group)
            .field("checkpoint", &self.checkpoint)
            .field("s3", &self.s3.as_ref().map(|_| "<configured>"))
            .finish()
    }
}

/// S3-compatible store settings (credentials are secrets).
#[derive(Clone, Default)]
pub struct S3Config {
    /// Custom endpoint (MinIO etc.).
    pub endpoint: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret key.
    pub secret_access_key: Option<String>,
    /// Allow plain HTTP endpoints.
    pub allow_http: bool,
}

#[cfg(test)]
mod tests;
