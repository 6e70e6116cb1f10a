//! Reads one Kafka cluster with one librdkafka client and a few requests per broker per poll.

pub mod direct;
pub mod ffi;
mod poll;
pub mod wire;

use crate::config::ClusterConfig;
use crate::snapshot::{PartitionOffsets, Snapshot, Stage, TopicPartition};
use crate::spark::SparkReader;
use poll::{DescribeCache, DirectState};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
            direct: poll::batched_allowed(&cfg).then(|| Arc::new(Mutex::new(DirectState::new()))),
            cfg,
        })
    }
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
            poll::read(&cfg, admin.inner(), &cache, direct.as_deref())
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
