//! The poll's record-time and topic-settings steps, and what they keep between polls: the
//! first record found at each (partition, position), so a stuck consumer costs one Fetch,
//! and the topics' retention settings, described every `topic_config_refresh`.

use super::Poll;
use crate::config::timelag::{TimeLagConfig, TimeLagSource};
use crate::snapshot::{FirstRecord, RecordStamp, TopicConfig, TopicPartition};
use crate::source::kafka::batched::configs::ConfigAnswer;
use crate::source::kafka::batched::records::{RecordAnswer, RecordAsk};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

/// A partition's first byte limit: most producers' batches (16 KiB before compression) fit.
const FIRST_LIMIT: i32 = 16 << 10;
/// The largest limit a partition grows to (Kafka's default `max.message.bytes` is ~1 MiB).
const MAX_LIMIT: i32 = 8 << 20;

/// A position whose first record is wanted: the partition and the offset.
pub type Key = (TopicPartition, i64);

/// What the record-time step keeps between polls.
#[derive(Debug, Default)]
pub struct RecordCache {
    found: HashMap<Key, FirstRecord>,
    /// Partitions whose batches did not fit the first limit: the limit that fits.
    limits: HashMap<TopicPartition, i32>,
    /// The last key asked for: the next poll starts after it, so a budget smaller than the
    /// lagging partitions serves them all in turn.
    cursor: Option<Key>,
    /// The oldest record kept per partition, by the log start it was read at: (log start,
    /// its time), asked again only when the log start moves.
    oldest: HashMap<TopicPartition, (i64, Option<f64>)>,
    /// Topics already logged as unreadable (logged once, not every poll).
    refused: HashSet<Arc<str>>,
    /// Retention settings, and when they were read.
    configs: BTreeMap<Arc<str>, TopicConfig>,
    configs_at: Option<Instant>,
    /// The map the last snapshot got: handed out again while nothing in it changes.
    published: Arc<BTreeMap<Key, FirstRecord>>,
}

impl RecordCache {
    /// The keys of `wanted` (sorted, without repeats) to fetch this poll: not known yet, at
    /// most the budget's partitions and bytes (at least one), starting after the last
    /// poll's cursor. Forgets what is no longer wanted. Pure apart from the cache itself.
    pub fn plan(&mut self, wanted: &[Key], cfg: &TimeLagConfig) -> Vec<(Key, i32)> {
        self.found.retain(|k, _| wanted.binary_search(k).is_ok());
        let unknown: Vec<&Key> = wanted
            .iter()
            .filter(|k| !self.found.contains_key(*k))
            .collect();
        let start = match &self.cursor {
            Some(c) => unknown.partition_point(|k| *k <= c),
            None => 0,
        };
        let mut out = Vec::new();
        let mut bytes: i64 = 0;
        for k in unknown[start..].iter().chain(unknown[..start].iter()) {
            let limit = self.limits.get(&k.0).copied().unwrap_or(FIRST_LIMIT);
            if out.len() >= cfg.max_partitions
                || (!out.is_empty() && bytes + i64::from(limit) > cfg.max_bytes)
            {
                break;
            }
            bytes += i64::from(limit);
            out.push(((*k).clone(), limit));
        }
        if let Some((k, _)) = out.last() {
            self.cursor = Some(k.clone());
        }
        out
    }

    /// Keeps a fetch's answer; an answer that needs a bigger limit stays unknown and asks
    /// again next poll with it. Returns the answer when it means "not allowed".
    pub fn learn(&mut self, key: Key, answer: RecordAnswer) -> Option<RecordAnswer> {
        match answer {
            RecordAnswer::Read(r) => {
                self.found.insert(key, r);
                None
            }
            RecordAnswer::TooSmall(n) => {
                self.limits.insert(key.0, n.min(MAX_LIMIT));
                None
            }
            other => Some(other),
        }
    }

    /// The first record known at `key`.
    pub fn get(&self, key: &Key) -> Option<FirstRecord> {
        self.found.get(key).copied()
    }

    /// The first records the snapshot gets for `wanted` (sorted): each one read, else the
    /// oldest record kept as a stand-in at the log start. A record read at a key wins over
    /// a stand-in at the same key (a position at the log start).
    fn first_records(&self, wanted: Vec<Key>) -> BTreeMap<Key, FirstRecord> {
        // `false` (read) sorts before `true` (stand-in), and dedup keeps the first.
        let mut records: Vec<(Key, bool, FirstRecord)> = Vec::with_capacity(wanted.len());
        for k in wanted {
            if let Some(r) = self.get(&k) {
                records.push((k, false, r));
            } else if let Some((start, Some(at))) = self.oldest.get(&k.0) {
                let stand_in = FirstRecord::Found(RecordStamp {
                    offset: *start,
                    at: *at,
                    log_append: false,
                });
                records.push(((k.0.clone(), *start), true, stand_in));
            }
        }
        records.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        records.dedup_by(|later, first| later.0 == first.0);
        // Built from sorted keys in one pass, not by one insert per key.
        records.into_iter().map(|(k, _, r)| (k, r)).collect()
    }
}

impl Poll<'_> {
    /// The first record of every lagging position (Kafka commits read in this poll and
    /// `extra`, the Spark queries' positions) into the snapshot, fetching what is not
    /// cached within the cluster's budget. Positions below the log start read the oldest
    /// record kept. Without the fast path, or with `time_lag: estimate`, nothing is read.
    pub(super) fn record_times(&mut self, extra: &[(String, i32, i64)]) {
        let cfg = &self.cfg.time_lag;
        if cfg.source == TimeLagSource::Estimate {
            return;
        }
        let positions = self
            .snap
            .groups
            .values()
            .flat_map(|g| g.committed.iter().map(|(tp, o)| (tp.clone(), *o)))
            .chain(extra.iter().filter_map(|(t, p, o)| {
                let arc = self.topic_arcs.get(t)?;
                Some((TopicPartition::new(arc.clone(), *p), *o))
            }));
        // A sorted Vec, not a BTreeSet: every later step reads it in order, and one sort
        // costs less than a tree insert per position (100,000 at the huge size).
        let mut wanted: Vec<Key> = positions
            .filter_map(|(tp, committed)| {
                let off = self.snap.partitions.get(&tp)?;
                let at = committed.max(off.log_start);
                (at < off.log_end).then_some((tp, at))
            })
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let deadline = self.deadline();
        let Some(d) = self.batched.as_mut() else {
            return;
        };
        let plan = d.records.plan(&wanted, cfg);
        let mut asks = Vec::with_capacity(plan.len());
        for ((tp, offset), max_bytes) in &plan {
            let Ok(i) = self.topic_parts.binary_search(tp) else {
                continue;
            };
            if let Some(leader) = self.leaders.get(i).copied().flatten() {
                asks.push(RecordAsk {
                    topic: tp.topic.to_string(),
                    partition: tp.partition,
                    offset: *offset,
                    max_bytes: *max_bytes,
                    leader,
                });
            }
        }
        if !asks.is_empty() {
            match d.batched.first_records(&asks, &self.brokers, deadline) {
                Ok(answers) => {
                    for ((t, p, o), a) in answers {
                        let Some(arc) = self.topic_arcs.get(&t) else {
                            continue;
                        };
                        let key = (TopicPartition::new(arc.clone(), p), o);
                        match d.records.learn(key, a) {
                            Some(RecordAnswer::Unauthorized)
                                if d.records.refused.insert(arc.clone()) =>
                            {
                                tracing::warn!(
                                    cluster = %self.cfg.name,
                                    topic = %t,
                                    "no Read permission on the topic: its time lag is \
                                     estimated from lagwatch's log-end history"
                                );
                            }
                            Some(RecordAnswer::Failed(why)) => {
                                tracing::debug!(cluster = %self.cfg.name, topic = %t, partition = p, "first record not read: {why}");
                            }
                            _ => {}
                        }
                    }
                }
                Err(why) => {
                    tracing::debug!(cluster = %self.cfg.name, "Fetch not available ({}): time lag is estimated", why.0);
                }
            }
        }
        // Where the record stays unknown, the estimate stands in; the oldest record kept
        // bounds it (asked with Describe only, once per log start).
        let mut ask_oldest = Vec::new();
        for (tp, _) in wanted.iter().filter(|k| d.records.get(k).is_none()) {
            let Some(off) = self.snap.partitions.get(tp) else {
                continue;
            };
            if d.records
                .oldest
                .get(tp)
                .is_some_and(|(s, _)| *s == off.log_start)
            {
                continue;
            }
            if let Ok(i) = self.topic_parts.binary_search(tp) {
                if let Some(l) = self.leaders.get(i).copied().flatten() {
                    ask_oldest.push((tp.topic.to_string(), tp.partition, l));
                }
            }
        }
        ask_oldest.dedup();
        if !ask_oldest.is_empty() {
            if let Ok(found) = d
                .batched
                .oldest_records(&ask_oldest, &self.brokers, deadline)
            {
                for (t, p, _) in &ask_oldest {
                    let Some(arc) = self.topic_arcs.get(t) else {
                        continue;
                    };
                    let tp = TopicPartition::new(arc.clone(), *p);
                    let Some(tp_off) = self.snap.partitions.get(&tp) else {
                        continue;
                    };
                    // Only the record at the log start itself is the oldest kept.
                    let at = found
                        .get(&(t.clone(), *p))
                        .filter(|(o, _)| *o == tp_off.log_start)
                        .map(|(_, ms)| *ms as f64 / 1000.0);
                    d.records.oldest.insert(tp, (tp_off.log_start, at));
                }
            }
        }
        let records = d.records.first_records(wanted);
        if *d.records.published != records {
            d.records.published = Arc::new(records);
        }
        self.snap.first_records = d.records.published.clone();
    }

    /// The watched topics' retention settings into the snapshot, described again when the
    /// last read is older than `topic_config_refresh`.
    pub(super) fn topic_configs(&mut self) {
        let tl = &self.cfg.time_lag;
        let deadline = self.deadline();
        let watched = &self.topic_arcs;
        if let Some(d) = self.batched.as_mut() {
            let due = d
                .records
                .configs_at
                .is_none_or(|at| at.elapsed() >= tl.topic_config_refresh);
            if due {
                let topics: Vec<&str> = watched.keys().map(String::as_str).collect();
                if let Ok(answers) = d.batched.topic_configs(&topics, &self.brokers, deadline) {
                    let mut read = BTreeMap::new();
                    for (t, a) in answers {
                        let Some(arc) = watched.get(&t) else {
                            continue;
                        };
                        match a {
                            ConfigAnswer::Read(c) => {
                                read.insert(arc.clone(), c);
                            }
                            ConfigAnswer::Unauthorized => {
                                tracing::debug!(cluster = %self.cfg.name, topic = %t, "no DescribeConfigs permission: retention unknown");
                            }
                            ConfigAnswer::Failed(why) => {
                                // Keep the last settings read: a failed refresh is no change.
                                if let Some(c) = d.records.configs.get(arc) {
                                    read.insert(arc.clone(), *c);
                                }
                                tracing::debug!(cluster = %self.cfg.name, topic = %t, "topic settings not read: {why}");
                            }
                        }
                    }
                    d.records.configs = read;
                }
                // Refused or failed, the next try waits the interval too.
                d.records.configs_at = Some(Instant::now());
            }
            self.snap.topic_configs = d
                .records
                .configs
                .iter()
                .filter(|(t, _)| watched.contains_key(t.as_ref()))
                .map(|(t, c)| (t.clone(), *c))
                .collect();
        }
        for (name, arc) in watched {
            if self.snap.topic_configs.contains_key(arc) {
                continue;
            }
            if let Some(r) = tl.declared_retention(name) {
                let ms = i64::try_from(r.as_millis()).unwrap_or(i64::MAX);
                self.snap.topic_configs.insert(arc.clone(), declared(ms));
            }
        }
    }
}

/// A topic's settings as `topic_retention` declares them: delete by time, nothing else.
fn declared(retention_ms: i64) -> TopicConfig {
    TopicConfig {
        retention_ms: Some(retention_ms),
        delete: true,
        ..TopicConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: i32, o: i64) -> Key {
        (TopicPartition::new("t", p), o)
    }

    fn budget(partitions: usize, bytes: i64) -> TimeLagConfig {
        TimeLagConfig {
            max_partitions: partitions,
            max_bytes: bytes,
            ..TimeLagConfig::default()
        }
    }

    fn read() -> RecordAnswer {
        RecordAnswer::Read(FirstRecord::Found(RecordStamp {
            offset: 0,
            at: 1.0,
            log_append: false,
        }))
    }

    #[test]
    fn the_budget_rotates_over_every_lagging_partition() {
        let mut c = RecordCache::default();
        let wanted: Vec<Key> = (0..5).map(|p| key(p, 10)).collect();
        let b = budget(2, 1 << 30);
        let polls: Vec<Vec<i32>> = (0..3)
            .map(|_| {
                c.plan(&wanted, &b)
                    .into_iter()
                    .map(|(k, _)| k.0.partition)
                    .collect()
            })
            .collect();
        // (why) nothing learnt: each poll asks the next two, wrapping around.
        assert_eq!(polls, vec![vec![0, 1], vec![2, 3], vec![4, 0]]);
    }

    #[test]
    fn a_known_position_costs_nothing_and_a_moved_one_is_asked() {
        let mut c = RecordCache::default();
        let b = budget(100, 1 << 30);
        let stuck = [key(0, 10)];
        assert_eq!(c.plan(&stuck, &b).len(), 1, "first poll asks");
        assert_eq!(c.learn(key(0, 10), read()), None);
        assert!(
            c.plan(&stuck, &b).is_empty(),
            "stuck consumer: no fetch after the first"
        );
        let moved = [key(0, 11)];
        assert_eq!(c.plan(&moved, &b).len(), 1, "a new position is asked");
        assert_eq!(c.get(&key(0, 10)), None, "the old position is forgotten");
    }

    #[test]
    fn bytes_bound_the_poll_and_a_big_batch_grows_its_limit() {
        let mut c = RecordCache::default();
        let wanted: Vec<Key> = (0..4).map(|p| key(p, 0)).collect();
        let plan = c.plan(&wanted, &budget(100, 2 * i64::from(FIRST_LIMIT)));
        assert_eq!(plan.len(), 2, "two first limits fit the bytes");
        assert_eq!(c.learn(key(0, 0), RecordAnswer::TooSmall(100_000)), None);
        c.cursor = None;
        let plan = c.plan(&wanted, &budget(100, 50_000));
        assert_eq!(
            plan,
            vec![(key(0, 0), 100_000)],
            "a grown limit over the budget still goes alone"
        );
        c.learn(key(1, 0), RecordAnswer::TooSmall(i32::MAX));
        assert_eq!(c.limits[&TopicPartition::new("t", 1)], MAX_LIMIT, "capped");
    }

    #[test]
    fn a_record_read_wins_over_the_oldest_stand_in() {
        fn stamp(offset: i64, at: f64) -> FirstRecord {
            FirstRecord::Found(RecordStamp {
                offset,
                at,
                log_append: false,
            })
        }
        let tp = |p| TopicPartition::new("t", p);
        let mut c = RecordCache::default();
        // p0: read at 10. p1: unknown at 12, oldest kept at 5 -> stand-in at (p1, 5).
        // p2: read at its log start 3, and unknown at 8 with oldest at 3 -> the read wins.
        // p3: unknown, oldest unknown -> nothing.
        c.found.insert(key(0, 10), stamp(10, 100.0));
        c.found.insert(key(2, 3), stamp(3, 30.0));
        c.oldest.insert(tp(1), (5, Some(50.0)));
        c.oldest.insert(tp(2), (3, Some(31.0)));
        c.oldest.insert(tp(3), (0, None));
        let wanted = vec![key(0, 10), key(1, 12), key(2, 3), key(2, 8), key(3, 4)];
        let got: Vec<(Key, FirstRecord)> = c.first_records(wanted).into_iter().collect();
        assert_eq!(
            got,
            vec![
                (key(0, 10), stamp(10, 100.0)),
                (key(1, 5), stamp(5, 50.0)),
                (key(2, 3), stamp(3, 30.0)),
            ]
        );
    }
}
