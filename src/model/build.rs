//! Derives one poll's view from the snapshot and the tracked history.

use super::index::{same_topic, FxMap, SnapIndex};
use super::track::{Faults, GroupPartitionTrack, GroupTrack, PartitionTrack, Tracks};
use crate::config::{RulesConfig, Thresholds};
use crate::model::lag::partition_lag;
use crate::model::rates::{drain_eta, slope, sum_known, throughput_ratio, KnownSum, RateWindow};
use crate::model::rules::{evaluate, severity, Facts};
use crate::model::spark;
use crate::model::timelag::{time_lag, TimeLag};
use crate::snapshot::{
    FirstRecord, GroupSnapshot, GroupSource, PartitionOffsets, Snapshot, Timestamp, TopicConfig,
    TopicPartition,
};
use crate::view::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What every derivation of one poll shares.
pub(super) struct Ctx<'a> {
    /// Thresholds per group×topic.
    pub rules: &'a RulesConfig,
    /// Shortest sample span a rate may rest on.
    pub min_span: f64,
    /// The injected clock.
    pub now: Timestamp,
    /// First unconsumed records read this poll, by partition and position.
    pub records: &'a BTreeMap<(TopicPartition, i64), FirstRecord>,
    /// Topic retention settings, when read.
    pub configs: &'a BTreeMap<Arc<str>, TopicConfig>,
}

impl Ctx<'_> {
    fn window(&self, th: &Thresholds) -> RateWindow {
        RateWindow {
            window: th.rate_window.as_secs_f64(),
            min_span: self.min_span,
        }
    }
}

/// One snapshot partition as the topic view saw it, by position in the snapshot.
struct Slot<'s, 't> {
    /// Log start and end read this poll.
    offsets: &'s PartitionOffsets,
    /// The window of the topic-level rate.
    window: RateWindow,
    /// The topic-level produce rate, reused by groups on the same window.
    rate: Option<f64>,
    /// The partition's history.
    track: Option<&'t PartitionTrack>,
}

/// The whole cluster view.
pub(super) fn view(
    ctx: &Ctx<'_>,
    tracks: &mut Tracks,
    snap: &Snapshot,
    idx: &SnapIndex<'_>,
    faults: &Faults<'_>,
) -> ClusterView {
    let Tracks {
        partitions: ptracks,
        groups: gtracks,
        ..
    } = tracks;
    let mut slots: Vec<Slot<'_, '_>> = Vec::with_capacity(idx.parts.len());
    let mut topics: Vec<TopicView> = Vec::with_capacity(idx.runs.len());
    for run in &idx.runs {
        let topic = &idx.parts[run.start].0.topic;
        // Topic-level rates use the thresholds of a topic-only match (no group).
        let w = ctx.window(ctx.rules.for_group_topic("", topic));
        let mut partitions = Vec::with_capacity(run.len());
        let topic_tracks = ptracks.get(&**topic);
        for &(tp, off) in &idx.parts[run.clone()] {
            let track = Tracks::partition(topic_tracks, tp.partition);
            let rate = track.and_then(|p| slope(p.log_end.iter(), ctx.now, &w));
            slots.push(Slot {
                offsets: off,
                window: w,
                rate,
                track,
            });
            partitions.push(PartitionView {
                partition: tp.partition,
                log_start: off.log_start,
                log_end: off.log_end,
                produce_rate: rate,
            });
        }
        let config = ctx.configs.get(topic);
        topics.push(TopicView {
            topic: topic.clone(),
            produce_rate: sum_known(partitions.iter().map(|p| p.produce_rate)),
            retention_seconds: config.and_then(TopicConfig::retention_seconds),
            retention_bytes: config.and_then(|c| c.retention_bytes.filter(|_| c.delete)),
            partitions,
        });
    }
    let groups = snap
        .groups
        .values()
        .map(|g| group_view(ctx, gtracks, idx, &slots, faults, g))
        .collect();
    ClusterView {
        cluster: snap.cluster.clone(),
        taken_at: snap.taken_at,
        up: true,
        partial: !snap.errors.is_empty(),
        errors: snap.errors.clone(),
        topics,
        groups,
    }
}

/// A group's commits on snapshot partitions:
/// (position in the snapshot, position among the group's commits, partition, committed).
type Commits<'s> = Vec<(usize, usize, &'s TopicPartition, i64)>;

fn group_view(
    ctx: &Ctx<'_>,
    gtracks: &mut FxMap<String, GroupTrack>,
    idx: &SnapIndex<'_>,
    slots: &[Slot<'_, '_>],
    faults: &Faults<'_>,
    g: &GroupSnapshot,
) -> GroupView {
    let track = match gtracks.get_mut(g.name.as_str()) {
        Some(track) => track,
        None => gtracks.entry(g.name.clone()).or_default(),
    };
    let unreadable = faults.unreadable.contains(g.name.as_str());
    let mut topics = Vec::new();
    let mut parts: Commits<'_> = Vec::new();
    let mut commits = g.committed.iter().enumerate().peekable();
    // Committed offsets are ordered by (topic, partition): each topic is one run.
    while let Some((_, (first, _))) = commits.peek() {
        let topic = &first.topic;
        parts.clear();
        let run = idx.topic(topic);
        while let Some((n, (tp, &c))) = commits.next_if(|(_, (tp, _))| same_topic(&tp.topic, topic))
        {
            if let Some(i) = run.as_ref().and_then(|r| idx.find_in(r, tp.partition)) {
                parts.push((i, n, tp, c));
            }
        }
        if parts.is_empty() {
            continue;
        }
        let th = ctx.rules.for_group_topic(&g.name, topic);
        let mut t = topic_view(ctx, th, track, slots, g, topic, &parts);
        let h = match track.topics.get_mut(topic) {
            Some(h) => h,
            None => track.topics.entry(topic.clone()).or_default(),
        };
        // An unreadable group's offsets are last poll's: no new verdict from stale data.
        let (status, mut reasons) = if unreadable {
            h.current()
        } else {
            h.step(t.status, std::mem::take(&mut t.reasons), th.for_polls)
        };
        t.settling = h.settling();
        if parts.len() < idx.topic_len(topic) {
            reasons.push(Reason::NoCommit);
        }
        t.status = status;
        t.reasons = reasons;
        topics.push(t);
    }
    let error = faults.source_errors.get(g.name.as_str()).copied();
    let (source_status, source_reasons) = match error {
        Some(_) => track.source.step(
            severity(Reason::SourceError),
            vec![Reason::SourceError],
            ctx.rules.for_group_topic(&g.name, "").for_polls,
        ),
        None => track.source.step(Status::Ok, Vec::new(), 1),
    };
    let mut reasons: Vec<Reason> = topics
        .iter()
        .flat_map(|t| t.reasons.iter().copied())
        .chain(source_reasons)
        .collect();
    reasons.sort_by_key(|r| (std::cmp::Reverse(severity(*r)), *r));
    reasons.dedup();
    GroupView {
        group: g.name.clone(),
        source: g.source,
        state: g.state,
        group_type: g.group_type,
        members: g.members,
        lag: (!topics.is_empty()).then(|| topics.iter().map(|t| t.lag).sum()),
        max_lag_seconds: max_known(topics.iter().map(|t| t.max_lag_seconds)),
        status: topics
            .iter()
            .map(|t| t.status)
            .chain([source_status])
            .max()
            .unwrap_or_default(),
        reasons,
        error: error.map(str::to_owned),
        source_status,
        settling: track.source.settling() || topics.iter().any(|t| t.settling),
        last_commit_age_seconds: match g.source {
            GroupSource::Spark => g.last_commit_at.map(|c| (ctx.now - c).max(0.0)),
            GroupSource::Kafka => None,
        },
        spark: spark::stats(&g.batches, ctx.now),
        topics,
    }
}

/// One group×topic with its raw (pre-hysteresis) status and reasons.
fn topic_view(
    ctx: &Ctx<'_>,
    th: &Thresholds,
    track: &mut GroupTrack,
    slots: &[Slot<'_, '_>],
    g: &GroupSnapshot,
    topic: &Arc<str>,
    parts: &Commits<'_>,
) -> GroupTopicView {
    let now = ctx.now;
    let w = ctx.window(th);
    let window = w.window;
    let mut f = Facts::default();
    let (mut produce, mut consume) = (KnownSum::default(), KnownSum::default());
    let mut last_change = f64::NEG_INFINITY;
    let mut lagging_since = f64::INFINITY;
    let mut partitions = Vec::with_capacity(parts.len());
    for &(i, n, tp, committed) in parts {
        let slot = &slots[i];
        let off = slot.offsets;
        let l = partition_lag(committed, off.log_start, off.log_end);
        let ptrack = slot.track;
        let prate = if slot.window == w {
            slot.rate
        } else {
            ptrack.and_then(|p| slope(p.log_end.iter(), now, &w))
        };
        produce.add(prate);
        let read = ctx
            .records
            .get(&(tp.clone(), committed.max(off.log_start)))
            .filter(|_| committed < off.log_end);
        let fresh = match read {
            Some(r) => record_time_lag(*r, now),
            None => ptrack
                .map(|p| {
                    time_lag(
                        committed,
                        off.log_end,
                        p.log_end.iter(),
                        Some(p.anchor),
                        prate,
                    )
                })
                .unwrap_or(TimeLag::Unknown),
        };
        let oldest = match ctx.records.get(&(tp.clone(), off.log_start)) {
            Some(FirstRecord::Found(oldest)) if read.is_none() => Some(oldest.at),
            _ => None,
        };
        let fresh = oldest.map_or(fresh, |o| cap_at_oldest(fresh, o));
        let tl = match track.partition_mut(n, tp) {
            Some(gp) => {
                consume.add(slope(gp.committed.iter(), now, &w));
                facts_from_track(
                    &mut f,
                    gp,
                    l.lag,
                    now,
                    window,
                    &mut last_change,
                    &mut lagging_since,
                );
                // A remembered estimate predates what retention has since deleted: cap it too.
                let tl = remembered_time_lag(gp, committed, fresh);
                oldest.map_or(tl, |o| cap_at_oldest(tl, o))
            }
            None => {
                consume.add(None);
                fresh
            }
        };
        let (lag_seconds, lag_seconds_method) = tl.at(now);
        f.lag += l.lag;
        f.messages_lost += l.messages_lost;
        f.position += (committed.min(off.log_end) - off.log_start).max(0);
        f.retained += (off.log_end - off.log_start).max(0);
        partitions.push(GroupPartitionView {
            partition: tp.partition,
            committed,
            log_start: off.log_start,
            log_end: off.log_end,
            lag: l.lag,
            lag_seconds,
            lag_seconds_method,
            messages_lost: l.messages_lost,
            inflight_lag: g
                .inflight
                .get(tp)
                .map(|&o| partition_lag(o, off.log_start, off.log_end).lag),
        });
    }
    f.produce_rate = produce.total();
    f.consume_rate = consume.total();
    f.idle_for = idle_for(g, track, now, last_change, lagging_since);
    f.drain_eta = drain_eta(f.lag, f.consume_rate, f.produce_rate);
    f.spark = spark::stats(&g.batches, now);
    let max_lag_seconds = max_known(partitions.iter().map(|p| p.lag_seconds));
    let retention_seconds = ctx
        .configs
        .get(topic)
        .and_then(TopicConfig::retention_seconds);
    f.retention_headroom = retention_seconds
        .zip(max_lag_seconds)
        .map(|(r, age)| r - age);
    let (status, reasons) = evaluate(&f, th);
    GroupTopicView {
        topic: topic.clone(),
        lag: f.lag,
        max_lag_seconds,
        produce_rate: f.produce_rate,
        consume_rate: f.consume_rate,
        throughput_ratio: throughput_ratio(f.consume_rate, f.produce_rate),
        drain_eta_seconds: f.drain_eta,
        retention_seconds,
        retention_headroom_seconds: f.retention_headroom,
        status,
        reasons,
        settling: false,
        partitions,
    }
}

/// Stall and rewind facts of one partition, folded into the topic's.
fn facts_from_track(
    f: &mut Facts,
    gp: &GroupPartitionTrack,
    lag: i64,
    now: Timestamp,
    window: f64,
    last_change: &mut f64,
    lagging_since: &mut f64,
) {
    *last_change = last_change.max(gp.last_change_at);
    if lag > 0 {
        if let Some(since) = gp.lagging_since {
            *lagging_since = lagging_since.min(since);
            // Unchanged while lagging: a consumer idle at the log end is not stuck until
            // something arrives for it to read.
            let stuck = now - gp.last_change_at.max(since);
            f.stuck_for = Some(f.stuck_for.map_or(stuck, |s: f64| s.max(stuck)));
        }
    }
    if gp.rewound_at.is_some_and(|t| t >= now - window) {
        f.rewound = true;
    }
}

/// How long the group has shown no sign of consuming while lagging, by the best evidence
/// its source offers: Spark batch commits, Kafka membership, else commits.
fn idle_for(
    g: &GroupSnapshot,
    track: &GroupTrack,
    now: Timestamp,
    last_change: f64,
    lagging_since: f64,
) -> Option<f64> {
    if !lagging_since.is_finite() {
        return None;
    }
    let last_life = match g.source {
        GroupSource::Spark => g.last_commit_at?,
        GroupSource::Kafka => match (g.members, track.empty_since) {
            (_, Some(empty)) => empty,
            (Some(_), None) => return None,
            (None, None) => last_change,
        },
    };
    Some(now - last_life.max(lagging_since))
}

/// Time lag from the first unconsumed record: its timestamp, never in the future (a
/// producer's clock ahead of ours); transaction markers alone mean nothing to consume.
fn record_time_lag(r: FirstRecord, now: Timestamp) -> TimeLag {
    match r {
        FirstRecord::Found(s) => TimeLag::Since {
            at: s.at.min(now),
            method: TimeLagMethod::Record,
        },
        FirstRecord::NoData => TimeLag::CaughtUp,
    }
}

/// An estimate is never older than the oldest record still in the log.
fn cap_at_oldest(tl: TimeLag, oldest: Timestamp) -> TimeLag {
    match tl {
        TimeLag::Since { at, method } if at < oldest => TimeLag::Since { at: oldest, method },
        other => other,
    }
}

/// The time lag to report: a crossing that left the history keeps its best estimate, so an
/// unchanged offset ages at one second per second instead of drifting with the ring.
fn remembered_time_lag(gp: &mut GroupPartitionTrack, committed: i64, fresh: TimeLag) -> TimeLag {
    let out = match (fresh, gp.time_lag) {
        (
            TimeLag::Since {
                at,
                method: TimeLagMethod::Extrapolated,
            },
            Some((c, TimeLag::Since { at: old, method })),
        ) if c == committed => {
            if method == TimeLagMethod::Interpolated || old < at {
                TimeLag::Since { at: old, method }
            } else {
                fresh
            }
        }
        _ => fresh,
    };
    gp.time_lag = Some((committed, out));
    out
}

fn max_known(v: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    v.flatten()
        .fold(None, |m, x| Some(m.map_or(x, |m: f64| m.max(x))))
}
