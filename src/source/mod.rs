//! Where snapshots come from: one [`Reader`] per cluster reads its Spark checkpoints and
//! then its Kafka offsets, and merges them into one [`Snapshot`].
//!
//! The read order is the one rule every source obeys: positions before log ends. Kafka
//! commits are read before log end offsets (in `kafka`), and Spark checkpoints before both,
//! so no lag is ever negative because a position was read after the log end it is
//! compared with.

pub mod kafka;
pub mod spark;

use crate::config::ClusterConfig;
use crate::snapshot::{PartitionOffsets, Snapshot, Stage, TopicPartition};
use kafka::KafkaReader;
use spark::SparkReader;
use std::collections::BTreeMap;
use std::sync::Arc;

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
    Spark(#[from] spark::SparkError),
    /// No broker answered the metadata request.
    #[error("cannot reach the cluster ({bootstrap}): {message}")]
    Unreachable {
        /// The bootstrap servers tried.
        bootstrap: String,
        /// The client's error.
        message: String,
    },
    /// The metadata request got no answer within `poll_timeout`: the cluster is slow,
    /// overloaded or blackholed (librdkafka then reports the closed socket as a
    /// "transport failure", which says nothing useful).
    #[error(
        "no answer from the cluster ({bootstrap}) within poll_timeout {}: it is slow or \
         overloaded, or the network drops packets; raise poll_timeout if the cluster is \
         just slow",
        humantime::format_duration(*timeout)
    )]
    Slow {
        /// The bootstrap servers tried.
        bootstrap: String,
        /// The budget that ran out.
        timeout: std::time::Duration,
    },
    /// The blocking poll task ended without an answer (it panicked or was cancelled).
    #[error("the poll task ended without an answer: {0}")]
    Task(String),
}

/// Something that produces snapshots of one cluster; [`Reader`] in production, fakes in
/// tests.
#[async_trait::async_trait]
pub trait ClusterReader: Send + Sync {
    /// Reads everything watched in one poll.
    async fn read(&self) -> Result<Snapshot, ReadError>;
}

/// The reader of one configured cluster: its Spark queries, then Kafka.
pub struct Reader {
    kafka: KafkaReader,
    spark: Arc<SparkReader>,
}

impl Reader {
    /// Creates the cluster's Kafka client and Spark checkpoint stores (no network I/O yet).
    pub fn new(cfg: ClusterConfig) -> Result<Self, ReadError> {
        let env = |k: &str| std::env::var(k).ok();
        // Half the poll budget: the Kafka reads after it need the rest.
        let spark = SparkReader::new(&cfg.spark_queries, &env, cfg.poll_timeout / 2)?;
        Ok(Reader {
            kafka: KafkaReader::new(cfg)?,
            spark: Arc::new(spark),
        })
    }
}

#[async_trait::async_trait]
impl ClusterReader for Reader {
    async fn read(&self) -> Result<Snapshot, ReadError> {
        let busy = self.kafka.claim()?;
        let spark = if self.spark.is_empty() {
            Vec::new()
        } else {
            self.spark.read_all().await
        };
        // Spark's positions join the Kafka commits whose first records are read.
        let positions = spark
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .flat_map(|g| g.committed.iter())
            .map(|(tp, o)| (tp.topic.to_string(), tp.partition, *o))
            .collect();
        let mut snap = self.kafka.read(busy, positions).await?;
        spark::merge_into(&mut snap, spark);
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
