//! The `clusters:` section: one Kafka cluster each, what to watch in it, how to reach it,
//! and the Spark queries whose checkpoints are read beside it.

use super::bounds;
use super::reader::{join, Cx, MapView};
use super::refusals;
use super::security::{self, AwsMskIam, KafkaClient};
use super::timelag::{self, TimeLagConfig};
use super::yaml::Node;
use regex::Regex;
use std::time::Duration;

const CLUSTER_KEYS: &[&str] = &[
    "name",
    "bootstrap_servers",
    "groups",
    "topics",
    "client",
    "poll_timeout",
    "spark_queries",
    "batched_offsets",
    "kafka_client",
    "aws_msk_iam",
    "time_lag",
    "time_lag_budget",
    "topic_config_refresh",
    "topic_retention",
];

const SPARK_KEYS: &[&str] = &["name", "group", "checkpoint", "s3"];
const S3_KEYS: &[&str] = &[
    "endpoint",
    "region",
    "access_key_id",
    "secret_access_key",
    "allow_http",
];

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
    /// Which client reads the cluster: the fast path (a few batched requests per broker,
    /// Kafka >= 3.0) or librdkafka (one request per group).
    pub kafka_client: KafkaClient,
    /// AWS MSK IAM authentication (fast path only).
    pub aws_msk_iam: Option<AwsMskIam>,
    /// How time lag is found, and how often topic settings are read.
    pub time_lag: TimeLagConfig,
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
            .field("kafka_client", &self.kafka_client)
            .field("aws_msk_iam", &self.aws_msk_iam)
            .field("time_lag", &self.time_lag)
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
    /// The topics watched when none are configured: all but Kafka's internal `__` topics.
    pub fn default_topics() -> Self {
        Filter {
            include: Vec::new(),
            exclude: vec![internal_topics()],
        }
    }

    /// A filter from include and exclude patterns given as text (command-line flags).
    pub fn from_patterns(include: &[String], exclude: &[String]) -> Result<Self, FlagError> {
        let compile = |v: &[String]| -> Result<Vec<Regex>, FlagError> {
            v.iter()
                .map(|s| Regex::new(s).map_err(|e| FlagError::Regex(s.clone(), e)))
                .collect()
        };
        Ok(Filter {
            include: compile(include)?,
            exclude: compile(exclude)?,
        })
    }

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

/// An include/exclude filter from a mapping with those keys.
pub(super) fn read_filter(cx: &mut Cx<'_>, m: MapView<'_>, path: &str) -> Filter {
    Filter {
        include: cx.opt_regex_list(m, path, "include"),
        exclude: cx.opt_regex_list(m, path, "exclude"),
    }
}

pub(super) fn read_cluster(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    interval: Duration,
) -> Option<ClusterConfig> {
    let m = cx.map(node, path, CLUSTER_KEYS)?;
    let name = cx.req_string(m, path, "name");
    let bootstrap_servers = cx.req_string(m, path, "bootstrap_servers");
    if let (Some(b), Some(n)) = (&bootstrap_servers, m.get("bootstrap_servers")) {
        for hp in not_host_ports(b) {
            cx.error(
                n.pos,
                &join(path, "bootstrap_servers"),
                format!("`{hp}` is not host:port"),
            );
        }
    }
    let mut named = Vec::new();
    let groups = match m.get("groups") {
        Some(g) => {
            let gp = join(path, "groups");
            match cx.map(g, &gp, &["names", "include", "exclude"]) {
                Some(gm) => {
                    named = cx.opt_string_list(gm, &gp, "names");
                    let names: Vec<String> = named.iter().map(|(s, _)| s.clone()).collect();
                    let filter = read_filter(cx, gm, &gp);
                    let discover = names.is_empty() || gm.get("include").is_some();
                    GroupFilter {
                        names,
                        discover,
                        filter,
                    }
                }
                None => GroupFilter {
                    discover: true,
                    ..Default::default()
                },
            }
        }
        None => GroupFilter {
            discover: true,
            ..Default::default()
        },
    };
    let topics = match m.get("topics") {
        Some(t) => {
            let tp = join(path, "topics");
            cx.map(t, &tp, &["include", "exclude"])
                .map(|tm| read_filter(cx, tm, &tp))
                .unwrap_or_default()
        }
        None => Filter::default_topics(),
    };
    let client = cx.opt_string_map(m, path, "client");
    // Unset, it follows the interval, within what librdkafka accepts for its socket timeout.
    let poll_timeout = cx
        .opt_duration(m, path, "poll_timeout", bounds::POLL_TIMEOUT)
        .unwrap_or(bounds::POLL_TIMEOUT.clamp(interval));
    let kafka_client = read_kafka_client(cx, m, path, &client);
    let aws_msk_iam = super::msk::read(cx, m, path, bootstrap_servers.as_deref());
    if aws_msk_iam.is_some() && kafka_client == KafkaClient::Librdkafka {
        cx.error(
            m.pos,
            &join(path, "aws_msk_iam"),
            "librdkafka cannot make MSK IAM tokens: drop `kafka_client: librdkafka`",
        );
    }
    let mut queries = Vec::new();
    for (qp, qn) in cx.opt_list(m, path, "spark_queries") {
        if let Some(q) = read_spark(cx, qn, &qp) {
            queries.push((qp, qn, q));
        }
    }
    refusals::spark_names(cx, &queries, &named);
    let c = ClusterConfig {
        name: name?,
        bootstrap_servers: bootstrap_servers?,
        groups,
        topics,
        client,
        poll_timeout,
        spark_queries: queries.into_iter().map(|(_, _, q)| q).collect(),
        kafka_client,
        aws_msk_iam,
        time_lag: timelag::read(cx, m, path),
    };
    refusals::client_properties(cx, m.get("client"), path, &c);
    Some(c)
}

/// `kafka_client` (`auto`, `fast`, `librdkafka`), or its older spelling `batched_offsets:
/// false`; `fast` is refused here when the `client:` properties need librdkafka, so a
/// forced fast path never quietly turns into the slow one.
fn read_kafka_client(
    cx: &mut Cx<'_>,
    m: MapView<'_>,
    path: &str,
    client: &[(String, String)],
) -> KafkaClient {
    let batched = cx.opt_bool(m, path, "batched_offsets");
    let field = join(path, "kafka_client");
    let chosen = match cx.opt_string(m, path, "kafka_client") {
        None => None,
        Some(v) => match KafkaClient::parse(&v) {
            Some(k) => Some(k),
            None => {
                let pos = m.get("kafka_client").map_or(m.pos, |n| n.pos);
                cx.error(
                    pos,
                    &field,
                    format!("`{v}` is not one of auto, fast, librdkafka"),
                );
                None
            }
        },
    };
    let k = match (chosen, batched) {
        (Some(KafkaClient::Fast), Some(false)) => {
            let pos = m.get("batched_offsets").map_or(m.pos, |n| n.pos);
            cx.error(
                pos,
                &join(path, "batched_offsets"),
                "`batched_offsets: false` contradicts `kafka_client: fast`; keep one",
            );
            KafkaClient::Fast
        }
        (Some(k), _) => k,
        (None, Some(false)) => KafkaClient::Librdkafka,
        (None, _) => KafkaClient::Auto,
    };
    if k == KafkaClient::Fast {
        if let Err(why) = security::from_client(client) {
            let pos = m.get("kafka_client").map_or(m.pos, |n| n.pos);
            cx.error(
                pos,
                &field,
                format!("`fast` cannot read this cluster: {why}; use `auto` or `librdkafka`"),
            );
        }
    }
    k
}

fn read_spark(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<SparkQueryConfig> {
    let m = cx.map(node, path, SPARK_KEYS)?;
    let name = cx.req_string(m, path, "name");
    let group = cx.opt_string(m, path, "group");
    let checkpoint = super::env::opt_text(cx, m, path, "checkpoint");
    if m.get("checkpoint").is_none() {
        cx.error(
            m.pos,
            &join(path, "checkpoint"),
            "missing required key `checkpoint`",
        );
    }
    let s3 = match m.get("s3") {
        Some(n) => {
            let sp = join(path, "s3");
            cx.map(n, &sp, S3_KEYS).map(|sm| S3Config {
                endpoint: cx.opt_string(sm, &sp, "endpoint"),
                region: cx.opt_string(sm, &sp, "region"),
                access_key_id: cx.opt_string(sm, &sp, "access_key_id"),
                secret_access_key: cx.opt_string(sm, &sp, "secret_access_key"),
                allow_http: cx.opt_bool(sm, &sp, "allow_http").unwrap_or(false),
            })
        }
        None => None,
    };
    let name = name?;
    let checkpoint = checkpoint?;
    let q = SparkQueryConfig {
        group: group.unwrap_or_else(|| format!("spark:{name}")),
        name,
        checkpoint: checkpoint.value.clone(),
        s3,
    };
    let pos = super::value_pos(node, "checkpoint");
    refusals::checkpoint(cx, pos, &join(path, "checkpoint"), &checkpoint);
    Some(q)
}

/// Kafka's internal topics (`__consumer_offsets`, `__transaction_state`, ...).
fn internal_topics() -> Regex {
    // A literal that compiles: the one place `expect` stands for a programming error.
    Regex::new("^__").expect("`^__` is a valid regex")
}

/// The entries of a `host:port[,host:port...]` list that are not host:port.
pub(super) fn not_host_ports(list: &str) -> Vec<&str> {
    list.split(',')
        .map(str::trim)
        .filter(|hp| {
            !hp.rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
        })
        .collect()
}

/// A cluster given by command-line flags instead of a file.
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    /// A `--group`/`--topic` regex does not compile.
    #[error("invalid regex `{0}`: {1}")]
    Regex(String, regex::Error),
    /// `--bootstrap-servers` is not host:port.
    #[error("`{0}` is not host:port")]
    Bootstrap(String),
}

impl ClusterConfig {
    /// The librdkafka client config: user `client:` properties win over our defaults.
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        let mut cc = rdkafka::ClientConfig::new();
        cc.set("bootstrap.servers", &self.bootstrap_servers);
        cc.set("client.id", "lagwatch");
        cc.set(
            "socket.timeout.ms",
            self.poll_timeout.as_millis().max(1000).to_string(),
        );
        // librdkafka logs each failed connect; our poller reports faults once per change.
        cc.set("log_level", "3");
        // KIP-714 client metrics would add a GetTelemetrySubscriptions/PushTelemetry exchange
        // per broker for an admin client that nobody monitors; the user may turn it back on.
        cc.set("enable.metrics.push", "false");
        for (k, v) in &self.client {
            cc.set(k, v);
        }
        cc
    }

    /// A cluster with every default, as a file naming only these would give.
    pub fn with_defaults(name: &str, bootstrap_servers: &str, poll_timeout: Duration) -> Self {
        ClusterConfig {
            name: name.to_owned(),
            bootstrap_servers: bootstrap_servers.to_owned(),
            groups: GroupFilter {
                discover: true,
                ..Default::default()
            },
            topics: Filter::default_topics(),
            client: Vec::new(),
            poll_timeout,
            spark_queries: Vec::new(),
            kafka_client: KafkaClient::Auto,
            aws_msk_iam: None,
            time_lag: TimeLagConfig::default(),
        }
    }
}
