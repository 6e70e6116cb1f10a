//! What the model remembers between polls, and how each snapshot updates it: sample
//! rings, when each committed offset last moved, membership, hysteresis. Anything the
//! snapshot no longer holds is forgotten, except what a fault kept from being read.

use super::index::{same_topic, FxMap, FxSet, SnapIndex};
use crate::model::history::{Pushed, Ring, RingPolicy, Sample};
use crate::model::rules::Hysteresis;
use crate::model::timelag::TimeLag;
use crate::snapshot::{
    GroupSnapshot, GroupSource, GroupState, Snapshot, Stage, Timestamp, TopicPartition,
};
use std::ops::Range;
use std::sync::Arc;

/// One partition's log-end history.
#[derive(Debug)]
pub(crate) struct PartitionTrack {
    /// Log end over time.
    pub log_end: Ring,
    /// The first log end seen (since the last reset): bounds time lag beyond the ring.
    pub anchor: Sample,
}

/// One group's position on one partition over time.
#[derive(Debug)]
pub(crate) struct GroupPartitionTrack {
    /// Committed offset over time.
    pub committed: Ring,
    /// The committed offset last seen.
    pub last_value: i64,
    /// When the committed offset last changed (first seen counts as a change).
    pub last_change_at: Timestamp,
    /// Since when lag > 0 without a break, as seen by the polls.
    pub lagging_since: Option<Timestamp>,
    /// When the committed offset last went backwards.
    pub rewound_at: Option<Timestamp>,
    /// The time lag found for `last_value`; reused once the crossing leaves the history.
    pub time_lag: Option<(i64, TimeLag)>,
}

/// One group's memory.
#[derive(Debug, Default)]
pub(crate) struct GroupTrack {
    /// Since when the group has had no member (Kafka groups whose members are known).
    pub empty_since: Option<Timestamp>,
    /// Per partition with a commit, in the order of the group's commits (by topic, then
    /// partition): reading one poll walks it alongside the snapshot instead of hashing.
    pub partitions: Vec<(TopicPartition, GroupPartitionTrack)>,
    /// Reported status per topic.
    pub topics: FxMap<Arc<str>, Hysteresis>,
    /// Reported status of reading the group itself (a Spark checkpoint that fails).
    pub source: Hysteresis,
    /// Whether `partitions` matches this poll's commits one to one (false when the
    /// group's offsets could not be read): lookups then need no key compare.
    aligned: bool,
}

/// Partition tracks of one topic, indexed by partition number: Kafka numbers a topic's
/// partitions 0..n, so a poll hashes each topic name once instead of every partition.
pub(crate) type TopicTracks = Vec<Option<PartitionTrack>>;

/// Everything one cluster's model remembers.
#[derive(Debug, Default)]
pub(crate) struct Tracks {
    /// Per watched topic, per partition.
    pub partitions: FxMap<Arc<str>, TopicTracks>,
    /// How many partitions `partitions` tracks.
    pub tracked: usize,
    /// Per group.
    pub groups: FxMap<String, GroupTrack>,
}

/// Which parts of a snapshot are stale copies of the previous poll rather than reads.
pub(crate) struct Faults<'a> {
    /// Log offsets of some partitions were carried over.
    pub log_offsets: bool,
    /// Group discovery failed: groups not found were carried over.
    pub list_groups: bool,
    /// Groups whose committed offsets were carried over.
    pub unreadable: FxSet<&'a str>,
    /// Why a group's own source (a Spark checkpoint) could not be read, by group.
    pub source_errors: FxMap<&'a str, &'a str>,
}

impl<'a> Faults<'a> {
    /// The faults of `snap`.
    pub fn of(snap: &'a Snapshot) -> Self {
        let has = |stage| snap.errors.iter().any(|e| e.stage == stage);
        Faults {
            log_offsets: has(Stage::LogOffsets),
            list_groups: has(Stage::ListGroups),
            unreadable: snap.unreadable_groups.iter().map(String::as_str).collect(),
            source_errors: snap
                .errors
                .iter()
                .filter(|e| e.stage == Stage::SparkCheckpoint)
                .filter_map(|e| Some((e.subject.as_deref()?, e.message.as_str())))
                .collect(),
        }
    }
}

impl Tracks {
    /// Records one snapshot's offsets and forgets what was deleted.
    pub fn observe(
        &mut self,
        snap: &Snapshot,
        idx: &SnapIndex<'_>,
        faults: &Faults<'_>,
        now: Timestamp,
        policy: &RingPolicy,
    ) {
        let t = snap.taken_at;
        for run in &idx.runs {
            let topic = &idx.parts[run.start].0.topic;
            // Look up before inserting: the name is cloned only for a new topic.
            let tracks = match self.partitions.get_mut(&**topic) {
                Some(tracks) => tracks,
                None => self.partitions.entry(topic.clone()).or_default(),
            };
            for &(tp, off) in &idx.parts[run.clone()] {
                // Kafka partition numbers are never negative.
                let Ok(p) = usize::try_from(tp.partition) else {
                    continue;
                };
                if tracks.len() <= p {
                    tracks.resize_with(p + 1, || None);
                }
                let s = Sample::new(t, off.log_end);
                let track = match &mut tracks[p] {
                    Some(track) => track,
                    slot @ None => {
                        self.tracked += 1;
                        slot.insert(PartitionTrack {
                            log_end: Ring::new(),
                            anchor: s,
                        })
                    }
                };
                // A carried-over value is last poll's read, not a new observation at `t`.
                let stale = faults.log_offsets && track.log_end.last().is_some_and(|l| l.v == s.v);
                if !stale && track.log_end.push(s, policy) == Pushed::Reset {
                    track.anchor = s;
                }
                track.log_end.prune(now, policy);
            }
        }
        // Every snapshot partition is tracked now: equal counts mean nothing was deleted.
        if !faults.log_offsets && self.tracked != idx.parts.len() {
            self.forget_deleted(idx);
        }
        for g in snap.groups.values() {
            let track = match self.groups.get_mut(g.name.as_str()) {
                Some(track) => track,
                None => self.groups.entry(g.name.clone()).or_default(),
            };
            let empty = g.state == GroupState::Empty || g.members == Some(0);
            if g.source == GroupSource::Kafka && empty {
                track.empty_since.get_or_insert(t);
            } else {
                track.empty_since = None;
            }
            if faults.unreadable.contains(g.name.as_str()) {
                track.aligned = false;
                continue;
            }
            track.align(g, t);
            // Commits are ordered by topic: the topic is looked up once per run.
            let mut run: Option<(&Arc<str>, Option<Range<usize>>)> = None;
            for ((_, gp), (tp, &c)) in track.partitions.iter_mut().zip(&g.committed) {
                let s = Sample::new(t, c);
                let topic_run = match &run {
                    Some((topic, r)) if same_topic(topic, &tp.topic) => r,
                    _ => &run.insert((&tp.topic, idx.topic(&tp.topic))).1,
                };
                let pos = topic_run
                    .as_ref()
                    .and_then(|r| idx.find_in(r, tp.partition));
                gp.committed.push(s, policy);
                gp.committed.prune(now, policy);
                if c != gp.last_value {
                    if c < gp.last_value {
                        gp.rewound_at = Some(t);
                    }
                    gp.last_change_at = t;
                    gp.last_value = c;
                }
                let lagging = pos.is_some_and(|i| idx.parts[i].1.log_end > c);
                if lagging {
                    gp.lagging_since.get_or_insert(t);
                } else {
                    gp.lagging_since = None;
                }
            }
            if !track.topics.is_empty() {
                // Commits are ordered by topic: each topic is one run.
                let mut topics: Vec<&Arc<str>> = Vec::new();
                for tp in g.committed.keys() {
                    if topics.last() != Some(&&tp.topic) {
                        topics.push(&tp.topic);
                    }
                }
                track
                    .topics
                    .retain(|topic, _| topics.binary_search(&topic).is_ok());
            }
        }
        if !faults.list_groups && self.groups.len() != snap.groups.len() {
            self.groups.retain(|name, _| {
                snap.groups.contains_key(name) || faults.unreadable.contains(name.as_str())
            });
        }
    }
}

impl Tracks {
    /// Drops the tracks of partitions the snapshot no longer has.
    fn forget_deleted(&mut self, idx: &SnapIndex<'_>) {
        let mut tracked = 0;
        self.partitions.retain(|topic, tracks| {
            let Some(run) = idx.topic(topic) else {
                return false;
            };
            for (p, slot) in tracks.iter_mut().enumerate() {
                let kept = i32::try_from(p).is_ok_and(|p| idx.find_in(&run, p).is_some());
                if !kept {
                    *slot = None;
                }
            }
            while tracks.last().is_some_and(Option::is_none) {
                tracks.pop();
            }
            tracked += tracks.iter().flatten().count();
            !tracks.is_empty()
        });
        self.tracked = tracked;
    }

    /// The track of `partition` in `tracks`, a topic's entry in `partitions`.
    pub fn partition(tracks: Option<&TopicTracks>, partition: i32) -> Option<&PartitionTrack> {
        tracks?.get(usize::try_from(partition).ok()?)?.as_ref()
    }
}

impl GroupTrack {
    /// Makes `partitions` hold exactly the group's committed partitions, in their order:
    /// new ones start at their first commit, gone ones are forgotten.
    fn align(&mut self, g: &GroupSnapshot, t: Timestamp) {
        self.aligned = true;
        if self.partitions.len() == g.committed.len()
            && same_keys(&self.partitions, g.committed.keys())
        {
            return;
        }
        let mut old: FxMap<TopicPartition, GroupPartitionTrack> =
            std::mem::take(&mut self.partitions).into_iter().collect();
        self.partitions = g
            .committed
            .iter()
            .map(|(tp, &c)| {
                let gp = old.remove(tp).unwrap_or(GroupPartitionTrack {
                    committed: Ring::new(),
                    last_value: c,
                    last_change_at: t,
                    lagging_since: None,
                    rewound_at: None,
                    time_lag: None,
                });
                (tp.clone(), gp)
            })
            .collect();
    }

    /// The track of `tp`, whose commit is the `i`-th of the group's (usually at `i`).
    pub fn partition_mut(
        &mut self,
        i: usize,
        tp: &TopicPartition,
    ) -> Option<&mut GroupPartitionTrack> {
        let at = match self.partitions.get(i) {
            Some(_) if self.aligned => i,
            Some((k, _)) if k == tp => i,
            // Not aligned when this poll could not read the group's offsets.
            _ => self.partitions.binary_search_by(|(k, _)| k.cmp(tp)).ok()?,
        };
        Some(&mut self.partitions[at].1)
    }
}

/// Whether `tracked` holds exactly `keys`, in order. Keys of one snapshot share their
/// topic names, so a topic's name is compared once per run rather than per partition.
fn same_keys<'k, T>(
    tracked: &[(TopicPartition, T)],
    keys: impl Iterator<Item = &'k TopicPartition>,
) -> bool {
    let mut known: Option<(&Arc<str>, &Arc<str>)> = None;
    for ((k, _), tp) in tracked.iter().zip(keys) {
        if k.partition != tp.partition {
            return false;
        }
        let same =
            known.is_some_and(|(a, b)| Arc::ptr_eq(a, &k.topic) && Arc::ptr_eq(b, &tp.topic));
        if !same {
            if k.topic != tp.topic {
                return false;
            }
            known = Some((&k.topic, &tp.topic));
        }
    }
    true
}

impl Tracks {
    /// Samples held in all rings.
    pub fn samples_held(&self) -> usize {
        let parts: usize = self
            .partitions
            .values()
            .flatten()
            .flatten()
            .map(|p| p.log_end.len())
            .sum();
        let groups: usize = self
            .groups
            .values()
            .flat_map(|g| g.partitions.iter())
            .map(|(_, gp)| gp.committed.len())
            .sum();
        parts + groups
    }
}
