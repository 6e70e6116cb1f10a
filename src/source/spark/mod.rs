//! Spark Structured Streaming queries, read from their checkpoints as virtual groups.
//!
//! Spark never commits its Kafka offsets to a consumer group; its position lives in the
//! checkpoint: `offsets/<N>` is written when batch N is planned, `commits/<N>` once it
//! finished. The committed position is the offsets of the highest N with a commit; a
//! higher `offsets/<N>` without a commit is the batch in flight. `parse` is the pure
//! file parser, `store` reaches local directories and S3-compatible buckets.

pub mod batches;
pub mod parse;
pub mod store;

use crate::config::{EnvLookup, SparkQueryConfig};
use crate::snapshot::{
    GroupSnapshot, GroupSource, GroupState, GroupType, PollError, Snapshot, SparkBatch, Stage,
    Timestamp, TopicPartition,
};
use batches::{batches, HISTORY};
use object_store::ObjectMeta;
use parse::{parse_initial_offsets, parse_offset_log_bytes, OffsetLog, ParseError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{Checkpoint, StoreError};

/// Sources of one query looked at for initial offsets: a query joins a handful at most.
const MAX_SOURCES: usize = 16;

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
    /// Parsed offset logs of recent batches by id, with the size and time of the file they
    /// came from: a file is written once, so each poll reads only the new batches.
    cache: Mutex<BTreeMap<u64, Cached>>,
}

/// One parsed offset log and what identifies the file it was read from.
#[derive(Debug)]
struct Cached {
    size: u64,
    modified: i64,
    log: Arc<OffsetLog>,
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
            cache: Mutex::new(BTreeMap::new()),
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
            g.committed = self.read_offsets(meta, c).await?.kafka.clone();
            g.last_commit_at = commits.get(&c).map(mtime);
        }
        if let Some(l) = p.inflight {
            if let Some(meta) = offsets.get(&l) {
                let log = self.read_offsets(meta, l).await?;
                g.inflight = log.kafka.clone();
                if p.committed.is_none() {
                    // The first batch is running: without its start the query would show no
                    // lag while it replays a whole backlog in one batch (the seed without
                    // maxOffsetsPerTrigger). It resumes from there if it dies: its place.
                    g.committed = self.initial_offsets(log.sources).await?;
                }
            }
        }
        g.batches = self.recent_batches(&offsets, &commits).await;
        tracing::trace!(query = %self.name, ?p, "spark checkpoint read");
        Ok(g)
    }

    /// Where the Kafka sources' first batch starts: `sources/<id>/0` of each source, merged
    /// like the offset log's sources (the slower one decides).
    async fn initial_offsets(
        &self,
        sources: usize,
    ) -> Result<BTreeMap<TopicPartition, i64>, SparkError> {
        let mut out = BTreeMap::new();
        for id in 0..sources.min(MAX_SOURCES) {
            let dir = format!("sources/{id}");
            let files = self.checkpoint.list(&dir).await?;
            // Not every source type writes one.
            let Some(meta) = files.get(&0) else {
                continue;
            };
            let bytes = self.checkpoint.read(&dir, meta).await?;
            let parsed = parse_initial_offsets(&bytes).map_err(|source| SparkError::Parse {
                what: self.checkpoint.describe(&dir, "0"),
                source,
            })?;
            for (tp, off) in parsed.into_iter().flatten() {
                out.entry(tp)
                    .and_modify(|o: &mut i64| *o = (*o).min(off))
                    .or_insert(off);
            }
        }
        Ok(out)
    }

    /// The latest batches for durations and sizes. An older file that cannot be read only
    /// leaves its batch without numbers: the positions above are what must not be wrong.
    async fn recent_batches(
        &self,
        offsets: &BTreeMap<u64, ObjectMeta>,
        commits: &BTreeMap<u64, ObjectMeta>,
    ) -> Vec<SparkBatch> {
        let recent: Vec<(&u64, &ObjectMeta)> = offsets.iter().rev().take(HISTORY).collect();
        let reads = recent
            .iter()
            .rev()
            .map(|&(&id, meta)| async move { (id, self.read_offsets(meta, id).await.ok()) });
        let logs = futures::future::join_all(reads).await;
        if let Ok(mut cache) = self.cache.lock() {
            // Spark purges old batches; so does the cache.
            let oldest = logs.first().map_or(0, |(id, _)| *id);
            cache.retain(|id, _| *id >= oldest);
        }
        let refs: Vec<(u64, Option<&OffsetLog>)> =
            logs.iter().map(|(id, l)| (*id, l.as_deref())).collect();
        batches(&refs, |id| commits.contains_key(&id))
    }

    async fn read_offsets(&self, meta: &ObjectMeta, id: u64) -> Result<Arc<OffsetLog>, SparkError> {
        let (size, modified) = (meta.size, meta.last_modified.timestamp_millis());
        let hit = self.cache.lock().ok().and_then(|c| {
            c.get(&id)
                .filter(|c| c.size == size && c.modified == modified)
                .map(|c| c.log.clone())
        });
        if let Some(log) = hit {
            return Ok(log);
        }
        let bytes = self.checkpoint.read("offsets", meta).await?;
        let log = parse_offset_log_bytes(&bytes).map_err(|source| SparkError::Parse {
            what: self.checkpoint.describe("offsets", &id.to_string()),
            source,
        })?;
        let log = Arc::new(log);
        if let Ok(mut c) = self.cache.lock() {
            let entry = Cached {
                size,
                modified,
                log: log.clone(),
            };
            c.insert(id, entry);
        }
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
        batches: Vec::new(),
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
