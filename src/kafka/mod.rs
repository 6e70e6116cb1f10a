//! Reads one Kafka cluster with one client and O(brokers) round trips per poll.

pub mod direct;
pub mod ffi;
pub mod wire;

use crate::config::ClusterConfig;
use crate::snapshot::{
    GroupSnapshot, PartitionOffsets, PollError, Snapshot, Stage, TopicPartition,
};
use crate::spark::SparkReader;
use direct::{Broker, Direct};
use ffi::{OffsetSpec, OffsetsRequest};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;

/// Committed-offset requests kept in flight at once on the one client.
const OFFSET_FETCH_IN_FLIGHT: usize = 200;

/// Why a whole poll failed (nothing usable was read).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The client could not be created (bad `client:` properties).
    #[error("cannot create the Kafka client: {0}")]
    Client(String),
    /// The previous poll of this cluster is still running (it overran its timeout).
    #[error("the previous poll is still running; skipping this one")]
    Busy,
    /// A Spark query's checkpoint location is unusable (bad URL, object store setup).
    #[error("spark query: {0}")]
    Spark(#[from] crate::spark::SparkError),
    /// No broker answered the metadata request.
    #[error("cannot reach the cluster ({bootstrap}): {message}")]
    Unreachable {
        /// The bootstrap servers tried.
        bootstrap: String,
        /// librdkafka's error.
        message: String,
    },
}

/// Something that produces snapshots of one cluster; Kafka in production, fakes in tests.
#[async_trait::async_trait]
pub trait ClusterReader: Send + Sync {
    /// Reads everything watched in one poll.
    async fn read(&self) -> Result<Snapshot, ReadError>;
}

/// The rdkafka-backed reader of one cluster.
pub struct KafkaReader {
    cfg: ClusterConfig,
    admin: Arc<AdminClient<DefaultClientContext>>,
    spark: Arc<SparkReader>,
    // A timed-out poll keeps running on its blocking thread; this keeps a second one from
    // starting on the same client until it is done.
    busy: Arc<AtomicBool>,
    describe_cache: Arc<DescribeCache>,
    // Batched offset requests, when the cluster is plaintext and the config allows them.
    direct: Option<Arc<Mutex<DirectState>>>,
}

/// The batched path's connections, and the last reason it could not be used.
struct DirectState {
    direct: Direct,
    unsupported: Option<String>,
}

impl DirectState {
    /// Logs (once per reason) that a step falls back to librdkafka.
    fn fell_back(&mut self, cluster: &str, why: String) {
        if self.unsupported.as_deref() != Some(why.as_str()) {
            tracing::info!(
                cluster,
                "batched offset requests unavailable ({why}); using one request per group"
            );
            self.unsupported = Some(why);
        }
    }
}

/// Whether the batched path can talk to this cluster: it speaks plain TCP only.
fn batched_allowed(cfg: &ClusterConfig) -> bool {
    cfg.batched_offsets
        && cfg
            .client
            .iter()
            .filter(|(k, _)| k == "security.protocol")
            .all(|(_, v)| v.eq_ignore_ascii_case("plaintext"))
}

/// Group descriptions with the time they were read.
type DescribeCache = Mutex<HashMap<String, (ffi::GroupDescription, Instant)>>;

/// How long a group description is reused before the group is described again.
const DESCRIBE_TTL: Duration = Duration::from_secs(60);

/// Clears the busy flag when the blocking read ends, however it ends.
struct BusyGuard(Arc<AtomicBool>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Builds the librdkafka client config: user `client:` properties win over our defaults.
pub fn client_config(cfg: &ClusterConfig) -> ClientConfig {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", &cfg.bootstrap_servers);
    cc.set("client.id", "lagwatch");
    cc.set(
        "socket.timeout.ms",
        cfg.poll_timeout.as_millis().max(1000).to_string(),
    );
    // librdkafka logs each failed connect; our poller reports faults once per change instead.
    cc.set("log_level", "3");
    // KIP-714 client metrics would add a GetTelemetrySubscriptions/PushTelemetry exchange
    // per broker for an admin client that nobody monitors; the user may turn it back on.
    cc.set("enable.metrics.push", "false");
    for (k, v) in &cfg.client {
        cc.set(k, v);
    }
    cc
}

impl KafkaReader {
    /// Creates the one client of this cluster (no network I/O yet).
    pub fn new(cfg: ClusterConfig) -> Result<Self, ReadError> {
        let admin: AdminClient<DefaultClientContext> = client_config(&cfg)
            .create()
            .map_err(|e| ReadError::Client(redact_client_error(&e.to_string(), &cfg)))?;
        let env = |k: &str| std::env::var(k).ok();
        // Half the poll budget: the Kafka reads after it need the rest.
        let spark = SparkReader::new(&cfg.spark_queries, &env, cfg.poll_timeout / 2)?;
        Ok(KafkaReader {
            admin: Arc::new(admin),
            busy: Arc::new(AtomicBool::new(false)),
            describe_cache: Arc::new(Mutex::new(HashMap::new())),
            spark: Arc::new(spark),
            direct: batched_allowed(&cfg).then(|| {
                Arc::new(Mutex::new(DirectState {
                    direct: Direct::new(),
                    unsupported: None,
                }))
            }),
            cfg,
        })
    }

    fn read_blocking(
        cfg: &ClusterConfig,
        admin: &AdminClient<DefaultClientContext>,
        describe_cache: &DescribeCache,
        direct: Option<&Mutex<DirectState>>,
    ) -> Result<Snapshot, ReadError> {
        let timeout = cfg.poll_timeout;
        let client = admin.inner();
        let mut snap = Snapshot::new(cfg.name.clone(), 0.0);

        let md = client
            .fetch_metadata(None, timeout)
            .map_err(|e| ReadError::Unreachable {
                bootstrap: cfg.bootstrap_servers.clone(),
                message: e.to_string(),
            })?;
        let mut topic_parts: Vec<(String, i32)> = Vec::new();
        let mut topic_arcs: HashMap<String, Arc<str>> = HashMap::new();
        let brokers: HashMap<i32, Broker> = md
            .brokers()
            .iter()
            .map(|b| {
                (
                    b.id(),
                    Broker {
                        host: b.host().to_owned(),
                        port: b.port(),
                    },
                )
            })
            .collect();
        let mut leaders: HashMap<(String, i32), Broker> = HashMap::new();
        for t in md.topics() {
            if t.error().is_some() || !cfg.topics.matches(t.name()) {
                continue;
            }
            topic_arcs.insert(t.name().to_owned(), Arc::from(t.name()));
            for p in t.partitions() {
                topic_parts.push((t.name().to_owned(), p.id()));
                if let Some(b) = brokers.get(&p.leader()) {
                    leaders.insert((t.name().to_owned(), p.id()), b.clone());
                }
            }
        }
        let mut brokers: Vec<Broker> = brokers.into_values().collect();
        brokers.sort();
        let mut direct = direct.map(|d| d.lock().unwrap_or_else(|p| p.into_inner()));
        topic_parts.sort();

        // Groups: explicit names plus, when asked, discovery.
        let mut names: Vec<String> = cfg.groups.names.clone();
        let mut states: HashMap<String, String> = HashMap::new();
        let mut discovered: Vec<String> = Vec::new();
        if cfg.groups.discover {
            match ffi::list_consumer_groups(client, timeout) {
                Ok((listed, errors)) => {
                    for e in errors {
                        snap.errors.push(PollError {
                            stage: Stage::ListGroups,
                            subject: None,
                            message: e,
                        });
                    }
                    for g in listed {
                        if cfg.groups.filter.matches(&g.name) && !names.contains(&g.name) {
                            states.insert(g.name.clone(), g.state);
                            discovered.push(g.name);
                        }
                    }
                }
                Err(e) => snap.errors.push(PollError {
                    stage: Stage::ListGroups,
                    subject: None,
                    message: e,
                }),
            }
        }
        let explicit = names.len();
        names.extend(discovered);

        // State and members change slowly, and each description costs the broker a
        // coordinator lookup and a request per group: re-describe a group only when its
        // cached description is older than DESCRIBE_TTL or its listed state changed.
        let now = Instant::now();
        let mut cache = describe_cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|name, _| names.contains(name));
        let stale: Vec<String> = names
            .iter()
            .filter(|n| match cache.get(*n) {
                None => true,
                Some((d, at)) => {
                    now.duration_since(*at) > DESCRIBE_TTL
                        || states
                            .get(*n)
                            .is_some_and(|s| s != "Unknown" && *s != d.state)
                }
            })
            .cloned()
            .collect();
        // Batched per coordinator when possible; what that cannot describe (KIP-848 groups,
        // older brokers) goes to librdkafka, one request per group.
        let mut descriptions = HashMap::new();
        let mut per_group = stale;
        if let Some(d) = direct.as_mut().filter(|_| !per_group.is_empty()) {
            match d
                .direct
                .describe(&brokers, &per_group, Instant::now() + timeout)
            {
                Ok(found) => {
                    per_group.clear();
                    for (name, r) in found {
                        match r {
                            Ok(desc) => {
                                descriptions.insert(name, Ok(desc));
                            }
                            Err(_) => per_group.push(name),
                        }
                    }
                }
                Err(why) => d.fell_back(&cfg.name, why.0),
            }
        }
        descriptions.extend(ffi::describe_consumer_groups(client, &per_group, timeout));
        for (name, d) in &descriptions {
            if let Ok(d) = d {
                cache.insert(name.clone(), (d.clone(), now));
            }
        }
        for name in &names {
            if let Some((d, _)) = cache.get(name) {
                descriptions
                    .entry(name.clone())
                    .or_insert_with(|| Ok(d.clone()));
            }
        }
        drop(cache);
        let mut requests = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let (state, members) = match descriptions.get(name) {
                Some(Ok(d)) => (d.state.clone(), Some(d.members)),
                Some(Err(e)) => {
                    if !is_unsupported(e) {
                        snap.errors.push(PollError {
                            stage: Stage::DescribeGroups,
                            subject: Some(name.clone()),
                            message: e.clone(),
                        });
                    }
                    (
                        states
                            .get(name)
                            .cloned()
                            .unwrap_or_else(|| "Unknown".into()),
                        None,
                    )
                }
                None => (
                    states
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| "Unknown".into()),
                    None,
                ),
            };
            snap.groups.insert(
                name.clone(),
                GroupSnapshot::kafka(name.clone(), state, members),
            );
            // A named group is asked for the watched partitions; with none watched there is
            // nothing to ask (librdkafka rejects an empty list), and nothing to lag on.
            if i < explicit && topic_parts.is_empty() {
                continue;
            }
            requests.push(OffsetsRequest {
                group: name.clone(),
                partitions: (i < explicit).then(|| topic_parts.clone()),
            });
        }

        // Committed offsets first, end offsets after: lag is then never negative.
        let batched = direct.as_mut().and_then(|d| {
            match d
                .direct
                .committed(&brokers, &requests, Instant::now() + timeout)
            {
                Ok(c) => Some(c),
                Err(why) => {
                    d.fell_back(&cfg.name, why.0);
                    None
                }
            }
        });
        let committed = batched.unwrap_or_else(|| {
            ffi::list_consumer_group_offsets(client, &requests, OFFSET_FETCH_IN_FLIGHT, timeout)
        });
        for (req, res) in requests.iter().zip(committed) {
            match res {
                Ok(offsets) => {
                    let Some(g) = snap.groups.get_mut(&req.group) else {
                        continue;
                    };
                    for ((t, p), off) in offsets {
                        if let Some(arc) = topic_arcs.get(&t) {
                            g.committed.insert(
                                TopicPartition {
                                    topic: arc.clone(),
                                    partition: p,
                                },
                                off,
                            );
                        }
                    }
                }
                Err(e) => {
                    snap.errors.push(PollError {
                        stage: Stage::CommittedOffsets,
                        subject: Some(req.group.clone()),
                        message: e,
                    });
                    snap.unreadable_groups.push(req.group.clone());
                }
            }
        }

        let batched = direct.as_mut().and_then(|d| {
            match d
                .direct
                .log_offsets(&topic_parts, &leaders, Instant::now() + timeout)
            {
                Ok((e, l)) => Some((Ok(e), Ok(l))),
                Err(why) => {
                    d.fell_back(&cfg.name, why.0);
                    None
                }
            }
        });
        drop(direct);
        let (earliest, latest) = batched.unwrap_or_else(|| {
            std::thread::scope(|s| {
                let e = s.spawn(|| {
                    ffi::list_offsets(client, &topic_parts, OffsetSpec::Earliest, timeout)
                });
                let l = ffi::list_offsets(client, &topic_parts, OffsetSpec::Latest, timeout);
                (
                    e.join()
                        .unwrap_or_else(|_| Err("ListOffsets earliest panicked".into())),
                    l,
                )
            })
        });
        snap.taken_at = crate::now();
        let (earliest, latest) = match (earliest, latest) {
            (Ok(e), Ok(l)) => (e, l),
            (Err(e), _) | (_, Err(e)) => {
                snap.errors.push(PollError {
                    stage: Stage::LogOffsets,
                    subject: None,
                    message: e,
                });
                (HashMap::new(), HashMap::new())
            }
        };
        let mut failed_parts = 0usize;
        let mut first_failure = None;
        for (t, p) in &topic_parts {
            let key = (t.clone(), *p);
            match (earliest.get(&key), latest.get(&key)) {
                (Some(Ok(s)), Some(Ok(e))) => {
                    let Some(arc) = topic_arcs.get(t) else {
                        continue;
                    };
                    snap.partitions.insert(
                        TopicPartition {
                            topic: arc.clone(),
                            partition: *p,
                        },
                        PartitionOffsets {
                            log_start: (*s).min(*e),
                            log_end: *e,
                        },
                    );
                }
                (a, b) => {
                    failed_parts += 1;
                    if first_failure.is_none() {
                        let why = match (a, b) {
                            (Some(Err(x)), _) | (_, Some(Err(x))) => x.clone(),
                            _ => "no answer".to_owned(),
                        };
                        first_failure = Some(format!("{t}/{p}: {why}"));
                    }
                }
            }
        }
        if failed_parts > 0 && !earliest.is_empty() {
            snap.errors.push(PollError {
                stage: Stage::LogOffsets,
                subject: None,
                message: format!(
                    "{failed_parts} of {} partitions without offsets (first: {})",
                    topic_parts.len(),
                    first_failure.unwrap_or_default()
                ),
            });
        }
        Ok(snap)
    }
}

/// Brokers that lack an API answer with one of these; such a gap is not a fault of the poll.
fn is_unsupported(e: &str) -> bool {
    let e = e.to_ascii_lowercase();
    e.contains("unsupported") || e.contains("not supported")
}

/// librdkafka may echo a property value in its error; never let a secret through.
fn redact_client_error(msg: &str, cfg: &ClusterConfig) -> String {
    let mut out = msg.to_owned();
    for (_, v) in &cfg.client {
        if v.len() >= 3 {
            out = out.replace(v.as_str(), "<redacted>");
        }
    }
    out
}

#[async_trait::async_trait]
impl ClusterReader for KafkaReader {
    async fn read(&self) -> Result<Snapshot, ReadError> {
        if self.busy.swap(true, Ordering::AcqRel) {
            return Err(ReadError::Busy);
        }
        let guard = BusyGuard(self.busy.clone());
        // Checkpoints before log end offsets, like Kafka commits: lag is then never negative.
        let spark = if self.spark.is_empty() {
            Vec::new()
        } else {
            self.spark.read_all().await
        };
        let cfg = self.cfg.clone();
        let admin = self.admin.clone();
        let cache = self.describe_cache.clone();
        let direct = self.direct.clone();
        let mut snap = tokio::task::spawn_blocking(move || {
            let _guard = guard;
            Self::read_blocking(&cfg, &admin, &cache, direct.as_deref())
        })
        .await
        .unwrap_or_else(|e| {
            Err(ReadError::Unreachable {
                bootstrap: String::new(),
                message: format!("poll task failed: {e}"),
            })
        })?;
        crate::spark::merge_into(&mut snap, spark);
        Ok(snap)
    }
}

/// Keeps last poll's values for what this poll could not read, so no series is deleted
/// because of a fault (a partial answer is not an empty one).
pub fn carry_over(snap: &mut Snapshot, prev: Option<&Snapshot>) {
    let Some(prev) = prev else { return };
    for name in snap.unreadable_groups.clone() {
        if let (Some(old), Some(g)) = (prev.groups.get(&name), snap.groups.get_mut(&name)) {
            g.committed = old.committed.clone();
            // Spark positions; empty/None for Kafka groups.
            g.inflight = old.inflight.clone();
            g.last_commit_at = old.last_commit_at;
        }
    }
    if snap.errors.iter().any(|e| e.stage == Stage::LogOffsets) {
        let mut keep: BTreeMap<TopicPartition, PartitionOffsets> = BTreeMap::new();
        for (tp, off) in &prev.partitions {
            if !snap.partitions.contains_key(tp) {
                keep.insert(tp.clone(), *off);
            }
        }
        snap.partitions.extend(keep);
    }
    if snap.errors.iter().any(|e| e.stage == Stage::ListGroups) {
        for (name, g) in &prev.groups {
            snap.groups.entry(name.clone()).or_insert_with(|| g.clone());
        }
    }
}

/// Default timeout for a one-shot client call in tests and tools.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(batched: bool, client: &[(&str, &str)]) -> ClusterConfig {
        let mut c = crate::config::from_str(
            "t.yaml",
            "clusters: [{name: c, bootstrap_servers: 'h:1'}]",
            &|_| None,
        )
        .expect("config")
        .clusters
        .remove(0);
        c.batched_offsets = batched;
        c.client = client
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        c
    }

    #[test]
    fn batched_requests_only_on_plaintext_clusters_that_allow_them() {
        let cases: &[(&str, bool, &[(&str, &str)], bool)] = &[
            ("default: plaintext, allowed", true, &[], true),
            (
                "plaintext spelled out, any case",
                true,
                &[("security.protocol", "PLAINTEXT")],
                true,
            ),
            (
                "TLS needs librdkafka",
                true,
                &[("security.protocol", "SSL")],
                false,
            ),
            (
                "SASL needs librdkafka",
                true,
                &[("security.protocol", "sasl_plaintext")],
                false,
            ),
            ("switched off in the config", false, &[], false),
        ];
        for (why, batched, client, want) in cases {
            assert_eq!(batched_allowed(&cluster(*batched, client)), *want, "{why}");
        }
    }
}
