//! The configuration: typed, defaulted and validated, with file:line errors. Each section
//! has its own file with its types, defaults and reader; this one reads the root.

mod actions;
pub mod bounds;
mod cluster;
mod coordination;
mod env;
mod error;
mod location;
mod metrics;
mod msk;
mod notifier_fields;
mod notifiers;
mod reader;
mod refusals;
mod rules;
pub mod security;
pub mod timelag;
mod web;
pub mod yaml;

pub use actions::{ActionConfig, ActionOn};
pub use cluster::{ClusterConfig, Filter, FlagError, GroupFilter, S3Config, SparkQueryConfig};
pub use coordination::CoordinationConfig;
pub use env::{did_you_mean, expand_env, EnvLookup};
pub use error::{ConfigError, ConfigErrors};
pub use location::{parse_location, Location};
pub use metrics::{Compat, Granularity, GranularityOverride, MetricsConfig, METRIC_NAMES};
pub use notifiers::{NotifierConfig, NotifierKind, Severity, PAGERDUTY_EVENTS_URL, REASON_NAMES};
pub use reader::{Cx, MapView, Scalar};
pub use rules::{RuleOverride, RulesConfig, Thresholds};
pub use web::{TlsFiles, WebConfig};

use reader::join;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use yaml::Node;

const ROOT_KEYS: &[&str] = &[
    "listen",
    "poll_interval",
    "clusters",
    "rules",
    "notifiers",
    "state_dir",
    "shutdown_timeout",
    "web",
    "actions",
    "metrics",
    "coordination",
];

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
    /// Commands run on incident transitions.
    pub actions: Vec<ActionConfig>,
    /// Which families /metrics emits, and how finely.
    pub metrics: MetricsConfig,
    /// Several replicas sharing one notifier; none = a single replica.
    pub coordination: Option<CoordinationConfig>,
}

impl Config {
    /// The config of one cluster given on the command line (`check --bootstrap-servers`):
    /// every default a file would get, groups and topics filtered by the given regexes.
    pub fn for_bootstrap(
        bootstrap_servers: &str,
        groups: &[String],
        topics: &[String],
        poll_interval: Duration,
        poll_timeout: Duration,
    ) -> Result<Config, FlagError> {
        if let Some(bad) = cluster::not_host_ports(bootstrap_servers).first() {
            return Err(FlagError::Bootstrap((*bad).to_owned()));
        }
        let mut c = ClusterConfig::with_defaults("default", bootstrap_servers, poll_timeout);
        c.groups.filter = Filter::from_patterns(groups, &[])?;
        if !topics.is_empty() {
            c.topics = Filter::from_patterns(topics, &[])?;
        }
        Ok(Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            poll_interval,
            clusters: vec![c],
            rules: RulesConfig::default(),
            notifiers: Vec::new(),
            state_dir: None,
            shutdown_timeout: Duration::from_secs(1),
            web: WebConfig::default(),
            actions: Vec::new(),
            metrics: MetricsConfig::default(),
            coordination: None,
        })
    }
}

/// Reads and validates a config file; every problem is reported with file, line and field.
pub fn load_file(path: &std::path::Path) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: file.clone(),
            line: 0,
            column: 0,
            field: String::new(),
            message: format!("cannot read the file: {e}"),
        }])
    })?;
    let env = |k: &str| std::env::var(k).ok();
    from_str(&file, &text, &env)
}

/// Parses config text; `file` is only used in messages, `env` resolves `${VAR}`.
pub fn from_str(file: &str, text: &str, env: EnvLookup<'_>) -> Result<Config, ConfigErrors> {
    let parsed = yaml::parse(text).map_err(|e| {
        let pos = e.pos.unwrap_or_default();
        ConfigErrors(vec![ConfigError {
            file: file.to_owned(),
            line: pos.line,
            column: pos.column,
            field: String::new(),
            message: format!("invalid YAML: {}", e.message),
        }])
    })?;
    let mut cx = Cx::new(file, env);
    for p in &parsed.problems {
        cx.error(p.pos, &p.field, p.message.clone());
    }
    let root = parsed.root;
    let config = read_root(&mut cx, &root);
    cx.finish()?;
    config.ok_or_else(|| ConfigErrors(Vec::new()))
}

fn read_root(cx: &mut Cx<'_>, root: &Node) -> Option<Config> {
    let m = cx.map(root, "", ROOT_KEYS)?;
    let listen = match cx.opt_string(m, "", "listen") {
        Some(s) => match s.parse() {
            Ok(a) => a,
            Err(_) => {
                let pos = m.get("listen").map(|n| n.pos).unwrap_or_default();
                cx.error(
                    pos,
                    "listen",
                    format!("`{s}` is not an address like 0.0.0.0:9358"),
                );
                default_listen()
            }
        },
        None => default_listen(),
    };
    let poll_interval = cx
        .opt_duration(m, "", "poll_interval", bounds::POLL_INTERVAL)
        .unwrap_or(Duration::from_secs(15));
    let rules = match m.get("rules") {
        Some(n) => rules::read_rules(cx, n, "rules"),
        None => RulesConfig::default(),
    };
    let mut clusters = Vec::new();
    let mut seen = HashSet::new();
    let items = cx.opt_list(m, "", "clusters");
    match m.get("clusters") {
        None => cx.error(
            m.pos,
            "clusters",
            "missing required key `clusters` (at least one cluster)",
        ),
        // `clusters: []` would run and `check` would pass having checked nothing.
        Some(n) if matches!(&n.kind, yaml::Kind::Seq(v) if v.is_empty()) => {
            cx.error(n.pos, "clusters", "at least one cluster is needed")
        }
        Some(_) => {}
    }
    for (path, node) in items {
        if let Some(c) = cluster::read_cluster(cx, node, &path, poll_interval) {
            if !seen.insert(c.name.clone()) {
                cx.error(
                    value_pos(node, "name"),
                    &join(&path, "name"),
                    format!("duplicate cluster name `{}`", c.name),
                );
            }
            clusters.push(c);
        }
    }
    let mut notifiers = Vec::new();
    let mut seen_n = HashSet::new();
    for (path, node) in cx.opt_list(m, "", "notifiers") {
        if let Some(n) = notifiers::read_notifier(cx, node, &path) {
            if !seen_n.insert(n.name.clone()) {
                cx.error(
                    value_pos(node, "name"),
                    &join(&path, "name"),
                    format!("duplicate notifier name `{}`", n.name),
                );
            }
            notifiers.push(n);
        }
    }
    let mut actions = Vec::new();
    let mut seen_a = HashSet::new();
    for (path, node) in cx.opt_list(m, "", "actions") {
        if let Some(a) = actions::read_action(cx, node, &path) {
            if !seen_a.insert(a.name.clone()) {
                cx.error(
                    value_pos(node, "name"),
                    &join(&path, "name"),
                    format!("duplicate action name `{}`", a.name),
                );
            }
            actions.push(a);
        }
    }
    let state_dir = env::opt_text(cx, m, "", "state_dir").map(|dir| {
        let pos = m.get("state_dir").map_or(m.pos, |n| n.pos);
        refusals::state_dir(cx, pos, &dir);
        PathBuf::from(dir.value)
    });
    let shutdown_timeout = cx
        .opt_duration(m, "", "shutdown_timeout", bounds::SHUTDOWN_TIMEOUT)
        .unwrap_or(Duration::from_secs(10));
    let web = m
        .get("web")
        .map(|n| web::read_web(cx, n, "web"))
        .unwrap_or_default();
    let metrics = m
        .get("metrics")
        .map(|n| metrics::read_metrics(cx, n, "metrics"))
        .unwrap_or_default();
    let coordination = m
        .get("coordination")
        .and_then(|n| coordination::read_coordination(cx, n, "coordination", &clusters));
    Some(Config {
        listen,
        poll_interval,
        clusters,
        rules,
        notifiers,
        state_dir,
        shutdown_timeout,
        web,
        actions,
        metrics,
        coordination,
    })
}

/// Where the value of `key` in mapping `node` starts (the node itself when absent).
pub(super) fn value_pos(node: &Node, key: &str) -> yaml::Pos {
    match &node.kind {
        yaml::Kind::Map(entries) => entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, v)| v.pos)
            .unwrap_or(node.pos),
        _ => node.pos,
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 9358))
}

#[cfg(test)]
mod tests;
