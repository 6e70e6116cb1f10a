//! Per-poll lookups that replace string-keyed tree searches: a fast hasher for the model's
//! maps, and an index from topic partition to its position in the snapshot.

use crate::snapshot::{PartitionOffsets, Snapshot, TopicPartition};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Whether two topic names are equal; names shared from one snapshot skip the compare.
pub(crate) fn same_topic(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

/// FxHash, as in rustc: keys here are short topic and group names hashed tens of thousands
/// of times per poll, where SipHash costs most of a lookup. The keys come from the
/// monitored cluster's own metadata, so flooding protection buys little here.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fx(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the entropy in the high bits; buckets are picked by the low.
        self.0.rotate_left(26)
    }
}

/// A `HashMap` with the fast hasher.
pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;
/// A `HashSet` with the fast hasher.
pub(crate) type FxSet<K> = HashSet<K, BuildHasherDefault<Fx>>;

/// The snapshot's partitions in order, with each topic's run of positions.
pub(crate) struct SnapIndex<'s> {
    /// Partitions in snapshot order: by topic, then partition.
    pub parts: Vec<(&'s TopicPartition, &'s PartitionOffsets)>,
    /// Each topic's positions in `parts`, in topic order.
    pub runs: Vec<std::ops::Range<usize>>,
    /// Topic name to its index in `runs`.
    topics: FxMap<&'s str, usize>,
}

impl<'s> SnapIndex<'s> {
    /// The index of `snap`.
    pub fn of(snap: &'s Snapshot) -> Self {
        let parts: Vec<_> = snap.partitions.iter().collect();
        let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
        let mut topics = FxMap::default();
        for (i, (tp, _)) in parts.iter().enumerate() {
            match runs.last_mut() {
                Some(r) if parts[r.start].0.topic == tp.topic => r.end = i + 1,
                _ => {
                    topics.insert(&*tp.topic, runs.len());
                    runs.push(i..i + 1);
                }
            }
        }
        SnapIndex {
            parts,
            runs,
            topics,
        }
    }

    /// Positions of `topic`'s partitions in `parts`, if the snapshot has the topic.
    pub fn topic(&self, topic: &str) -> Option<std::ops::Range<usize>> {
        Some(self.runs[*self.topics.get(topic)?].clone())
    }

    /// Position of `partition` within a topic's `run`.
    pub fn find_in(&self, run: &std::ops::Range<usize>, partition: i32) -> Option<usize> {
        let in_run = &self.parts[run.clone()];
        // Partitions are usually 0..n, so the id is the offset into the run.
        let dense = usize::try_from(partition)
            .ok()
            .filter(|&p| in_run.get(p).is_some_and(|(k, _)| k.partition == partition));
        let at = match dense {
            Some(p) => p,
            None => in_run
                .binary_search_by_key(&partition, |(k, _)| k.partition)
                .ok()?,
        };
        Some(run.start + at)
    }

    /// Partitions of `topic` in the snapshot.
    pub fn topic_len(&self, topic: &str) -> usize {
        self.topics.get(topic).map_or(0, |&r| self.runs[r].len())
    }
}
