//! Spark Structured Streaming queries, read from their checkpoints as virtual groups.
//!
//! Spark never commits its Kafka offsets to a consumer group; its position lives in the
//! checkpoint: `offsets/<N>` is written when batch N is planned, `commits/<N>` once it
//! finished. The committed position is the offsets of the highest N with a commit; a
//! higher `offsets/<N>` without a commit is the batch in flight. `parse` is the pure
//! file parser, `store` reaches local directories and S3-compatible buckets.

pub mod parse;
pub mod store;

use crate::config::{EnvLookup, SparkQueryConfig};
use crate::snapshot::{
    GroupSnapshot, GroupSource, GroupState, GroupType, PollError, Snapshot, Stage, Timestamp,
};
use object_store::ObjectMeta;
use parse::{parse_offset_log_bytes, OffsetLog, ParseError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use store::{Checkpoint, StoreError};

/// Group state reported for Spark queries: a checkpoint cannot tell whether the query runs.
pub const SPARK_STATE: GroupState = GroupState::Unknown;

/// Why one query's checkpoint could not be read this poll.
#[derive(Debug, thiserror::Error)]
pub enum SparkError {
    /// Opening, listing or reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file is not a valid offset log.
    #[error("{what}: {source}")]
    Parse {
        /// The file.
        what: String,
        /// What is wrong with it.
        source: ParseError,
    },
    /// A commit exists whose offsets file does not.
    #[error("{commit} exists but {offsets} does not")]
    MissingOffsets {
        /// The commit file.
        commit: String,
        /// The missing offsets file.
        offsets: String,
    },
    /// The read ran past its deadline.
    #[error(
        "reading the checkpoint took longer than {}",
        humantime::format_duration(*.0)
    )]
    Timeout(Duration),
}

/// Which batches to read, from the batch ids present in `offsets/` and `commits/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Highest batch with a commit: its offsets are the committed position.
    pub committed: Option<u64>,
    /// Highest planned batch above `committed`: in flight.
    pub inflight: Option<u64>,
}

/// Picks the committed and in-flight batches (pure).
pub fn plan(offsets: &[u64], commits: &[u64]) -> Plan {
    let committed = commits.iter().copied().max();
    let latest = offsets.iter().copied().max();
    let inflight = match (latest, committed) {
        (Some(l), Some(c)) if l > c => Some(l),
        (Some(l), None) => Some(l),
        _ => None,
    };
    Plan {
        committed,
        inflight,
    }
}

/// Reads one query's checkpoint.
#[derive(Debug)]
pub struct QueryReader {
    /// Query name from the config.
    pub name: String,
    /// Group name it is reported as.
    pub group: String,
    checkpoint: Checkpoint,
    noted_other_sources: AtomicBool,
}

impl QueryReader {
    /// Opens the query's checkpoint location (no I/O).
    pub fn new(
        cfg: &SparkQueryConfig,
        env: EnvLookup<'_>,
        timeout: Duration,
    ) -> Result<Self, SparkError> {
        Ok(QueryReader {
            name: cfg.name.clone(),
            group: cfg.group.clone(),
            checkpoint: Checkpoint::open(&cfg.checkpoint, cfg.s3.as_ref(), env, timeout)?,
            noted_other_sources: AtomicBool::new(false),
        })
    }

    /// Reads the committed and in-flight positions.
    pub async fn read(&self) -> Result<GroupSnapshot, SparkError> {
        self.checkpoint.check_local().await?;
        let (offsets, commits) = futures::try_join!(
            self.checkpoint.list("offsets"),
            self.checkpoint.list("commits")
        )?;
        let ids = |m: &BTreeMap<u64, ObjectMeta>| m.keys().copied().collect::<Vec<_>>();
        let p = plan(&ids(&offsets), &ids(&commits));
        let mut g = empty_group(self.group.clone());
        if let Some(c) = p.committed {
            let meta = offsets.get(&c).ok_or_else(|| SparkError::MissingOffsets {
                commit: self.checkpoint.describe("commits", &c.to_string()),
                offsets: self.checkpoint.describe("offsets", &c.to_string()),
            })?;
            g.committed = self.read_offsets(meta, c).await?.kafka;
            g.last_commit_at = commits.get(&c).map(mtime);
        }
        if let Some(l) = p.inflight {
            if let Some(meta) = offsets.get(&l) {
                g.inflight = self.read_offsets(meta, l).await?.kafka;
            }
        }
        tracing::trace!(query = %self.name, ?p, "spark checkpoint read");
        Ok(g)
    }

    async fn read_offsets(&self, meta: &ObjectMeta, id: u64) -> Result<OffsetLog, SparkError> {
        let bytes = self.checkpoint.read("offsets", meta).await?;
        let log = parse_offset_log_bytes(&bytes).map_err(|source| SparkError::Parse {
            what: self.checkpoint.describe("offsets", &id.to_string()),
            source,
        })?;
        if log.other_sources > 0 && !self.noted_other_sources.swap(true, Ordering::Relaxed) {
            tracing::debug!(
                query = %self.name,
                sources = log.other_sources,
                "ignoring non-Kafka sources of this Spark query"
            );
        }
        Ok(log)
    }
}

/// A commit file's modification time as Unix seconds (millisecond precision).
fn mtime(m: &ObjectMeta) -> Timestamp {
    m.last_modified.timestamp_millis() as f64 / 1000.0
}

/// A Spark group with no positions yet.
fn empty_group(name: String) -> GroupSnapshot {
    GroupSnapshot {
        name,
        source: GroupSource::Spark,
        state: SPARK_STATE,
        // No broker lists a Spark query: its type is as unknown as its state.
        group_type: GroupType::Unknown,
        members: None,
        committed: BTreeMap::new(),
        inflight: BTreeMap::new(),
        last_commit_at: None,
    }
}

/// All Spark queries of one cluster.
#[derive(Debug, Default)]
pub struct SparkReader {
    queries: Vec<QueryReader>,
    deadline: Duration,
}

impl SparkReader {
    /// Opens every query's location; a malformed location is a startup error.
    pub fn new(
        cfgs: &[SparkQueryConfig],
        env: EnvLookup<'_>,
        deadline: Duration,
    ) -> Result<Self, SparkError> {
        let queries = cfgs
            .iter()
            .map(|c| QueryReader::new(c, env, deadline))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SparkReader { queries, deadline })
    }

    /// Whether no query is configured.
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// Reads every query concurrently, each bounded by the deadline; one failure does not
    /// affect the others.
    pub async fn read_all(&self) -> Vec<(String, Result<GroupSnapshot, SparkError>)> {
        let reads = self.queries.iter().map(|q| async move {
            let r = match tokio::time::timeout(self.deadline, q.read()).await {
                Ok(r) => r,
                Err(_) => Err(SparkError::Timeout(self.deadline)),
            };
            (q.group.clone(), r)
        });
        futures::future::join_all(reads).await
    }
}

/// Puts the read queries into the snapshot. A failed query is marked unreadable (its
/// previous values are carried over) and recorded as a `spark_checkpoint` error.
pub fn merge_into(snap: &mut Snapshot, results: Vec<(String, Result<GroupSnapshot, SparkError>)>) {
    for (group, res) in results {
        match res {
            Ok(g) => {
                snap.groups.insert(group, g);
            }
            Err(e) => {
                tracing::debug!(%group, error = %e, "spark checkpoint unreadable");
                snap.errors.push(PollError {
                    stage: Stage::SparkCheckpoint,
                    subject: Some(group.clone()),
                    message: e.to_string(),
                });
                snap.unreadable_groups.push(group.clone());
                snap.groups.insert(group.clone(), empty_group(group));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let p = |c: Option<u64>, i: Option<u64>| Plan {
            committed: c,
            inflight: i,
        };
        // (offsets ids, commits ids) -> plan; each row says why.
        let rows: [(&[u64], &[u64], Plan); 6] = [
            (&[], &[], p(None, None)),                  // query never planned a batch
            (&[0], &[], p(None, Some(0))),              // first batch still running
            (&[0, 1, 2], &[0, 1, 2], p(Some(2), None)), // idle: everything committed
            (&[0, 1, 2, 3], &[0, 1, 2], p(Some(2), Some(3))), // batch 3 in flight
            (&[97, 98, 99], &[96, 97, 98], p(Some(98), Some(99))), // old batches purged
            (&[5, 6, 7], &[5, 7], p(Some(7), None)),    // the highest commit decides, not gaps
        ];
        for (offsets, commits, want) in rows {
            assert_eq!(plan(offsets, commits), want, "{offsets:?} {commits:?}");
        }
    }

    #[test]
    fn failed_query_is_marked_unreadable_and_others_kept() {
        let mut snap = Snapshot::new("c", 1.0);
        let ok = empty_group("spark:good".into());
        let bad = Err(SparkError::Timeout(Duration::from_secs(1)));
        merge_into(
            &mut snap,
            vec![("spark:good".into(), Ok(ok)), ("spark:bad".into(), bad)],
        );
        assert_eq!(snap.unreadable_groups, vec!["spark:bad".to_owned()]);
        assert_eq!(snap.errors.len(), 1);
        assert_eq!(snap.errors[0].stage, Stage::SparkCheckpoint);
        assert_eq!(snap.errors[0].subject.as_deref(), Some("spark:bad"));
        // Both groups exist so carry-over can restore the failed one's previous values.
        assert!(snap.groups.contains_key("spark:good") && snap.groups.contains_key("spark:bad"));
    }
}
