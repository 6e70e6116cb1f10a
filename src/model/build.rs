//! Derives one poll's view from the snapshot and the tracked history.

use super::track::{Faults, GroupPartitionTrack, Tracks};
use crate::config::RulesConfig;
use crate::lag::partition_lag;
use crate::rates::{drain_eta, slope, sum_known, throughput_ratio, RateWindow};
use crate::rules::{evaluate, severity, Facts};
use crate::snapshot::{GroupSnapshot, GroupSource, Snapshot, Timestamp, TopicPartition};
use crate::timelag::{time_lag, TimeLag};
use crate::view::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What every derivation of one poll shares.
pub(super) struct Ctx<'a> {
    /// Thresholds per group×topic.
    pub rules: &'a RulesConfig,
    /// Shortest sample span a rate may rest on.
    pub min_span: f64,
    /// The injected clock.
    pub now: Timestamp,
}

impl Ctx<'_> {
    fn window(&self, group: &str, topic: &str) -> RateWindow {
        RateWindow {
            window: self
                .rules
                .for_group_topic(group, topic)
                .rate_window
                .as_secs_f64(),
            min_span: self.min_span,
        }
    }
}

/// Partition produce rates as computed for the topic view, reused by groups on the same window.
type TopicRates<'s> = HashMap<&'s TopicPartition, (RateWindow, Option<f64>)>;

/// The whole cluster view.
pub(super) fn view(
    ctx: &Ctx<'_>,
    tracks: &mut Tracks,
    snap: &Snapshot,
    faults: &Faults<'_>,
) -> ClusterView {
    let mut topics: BTreeMap<Arc<str>, TopicView> = BTreeMap::new();
    let mut rates: TopicRates<'_> = HashMap::with_capacity(snap.partitions.len());
    let mut counts: HashMap<&Arc<str>, usize> = HashMap::new();
    for (tp, off) in &snap.partitions {
        // Topic-level rates use the thresholds of a topic-only match (no group).
        let w = ctx.window("", &tp.topic);
        let rate = tracks
            .partitions
            .get(tp)
            .and_then(|p| slope(p.log_end.iter(), ctx.now, &w));
        rates.insert(tp, (w, rate));
        *counts.entry(&tp.topic).or_default() += 1;
        topics
            .entry(tp.topic.clone())
            .or_insert_with(|| TopicView {
                topic: tp.topic.clone(),
                produce_rate: None,
                partitions: Vec::new(),
            })
            .partitions
            .push(PartitionView {
                partition: tp.partition,
                log_start: off.log_start,
                log_end: off.log_end,
                produce_rate: rate,
            });
    }
    for t in topics.values_mut() {
        t.produce_rate = sum_known(t.partitions.iter().map(|p| p.produce_rate));
    }
    let groups = snap
        .groups
        .values()
        .map(|g| group_view(ctx, tracks, snap, faults, &rates, &counts, g))
        .collect();
    ClusterView {
        cluster: snap.cluster.clone(),
        taken_at: snap.taken_at,
        up: true,
        partial: !snap.errors.is_empty(),
        errors: snap.errors.clone(),
        topics: topics.into_values().collect(),
        groups,
    }
}

fn group_view(
    ctx: &Ctx<'_>,
    tracks: &mut Tracks,
    snap: &Snapshot,
    faults: &Faults<'_>,
    rates: &TopicRates<'_>,
    counts: &HashMap<&Arc<str>, usize>,
    g: &GroupSnapshot,
) -> GroupView {
    // Committed offsets are ordered by (topic, partition): each topic is one run.
    let mut by_topic: BTreeMap<&Arc<str>, Vec<(&TopicPartition, i64)>> = BTreeMap::new();
    for (tp, &c) in &g.committed {
        if snap.partitions.contains_key(tp) {
            by_topic.entry(&tp.topic).or_default().push((tp, c));
        }
    }
    let unreadable = faults.unreadable.contains(g.name.as_str());
    let mut topics = Vec::with_capacity(by_topic.len());
    for (topic, parts) in by_topic {
        let mut t = topic_view(ctx, tracks, snap, rates, g, topic, &parts);
        let track = tracks.groups.entry(g.name.clone()).or_default();
        let h = track.topics.entry(topic.clone()).or_default();
        let th = ctx.rules.for_group_topic(&g.name, topic);
        // An unreadable group's offsets are last poll's: no new verdict from stale data.
        let (status, mut reasons) = if unreadable {
            h.current()
        } else {
            h.step(t.status, std::mem::take(&mut t.reasons), th.for_polls)
        };
        if counts.get(topic).is_some_and(|&n| parts.len() < n) {
            reasons.push(Reason::NoCommit);
        }
        t.status = status;
        t.reasons = reasons;
        topics.push(t);
    }
    let mut reasons: Vec<Reason> = topics
        .iter()
        .flat_map(|t| t.reasons.iter().copied())
        .collect();
    reasons.sort_by_key(|r| (std::cmp::Reverse(severity(*r)), *r));
    reasons.dedup();
    GroupView {
        group: g.name.clone(),
        source: g.source,
        state: g.state.clone(),
        members: g.members,
        lag: topics.iter().map(|t| t.lag).sum(),
        max_lag_seconds: max_known(topics.iter().map(|t| t.max_lag_seconds)),
        status: topics.iter().map(|t| t.status).max().unwrap_or_default(),
        reasons,
        last_commit_age_seconds: match g.source {
            GroupSource::Spark => g.last_commit_at.map(|c| (ctx.now - c).max(0.0)),
            GroupSource::Kafka => None,
        },
        topics,
    }
}

/// One group×topic with its raw (pre-hysteresis) status and reasons.
fn topic_view(
    ctx: &Ctx<'_>,
    tracks: &mut Tracks,
    snap: &Snapshot,
    rates: &TopicRates<'_>,
    g: &GroupSnapshot,
    topic: &Arc<str>,
    parts: &[(&TopicPartition, i64)],
) -> GroupTopicView {
    let now = ctx.now;
    let th = ctx.rules.for_group_topic(&g.name, topic);
    let w = ctx.window(&g.name, topic);
    let window = w.window;
    let mut f = Facts::default();
    let (mut produce, mut consume) = (Vec::new(), Vec::new());
    let mut last_change = f64::NEG_INFINITY;
    let mut lagging_since = f64::INFINITY;
    let mut partitions = Vec::with_capacity(parts.len());
    let gtrack = tracks.groups.get_mut(&g.name);
    let mut gparts = gtrack.map(|t| &mut t.partitions);
    for &(tp, committed) in parts {
        let Some(off) = snap.partitions.get(tp) else {
            continue;
        };
        let l = partition_lag(committed, off.log_start, off.log_end);
        let ptrack = tracks.partitions.get(tp);
        let prate = match rates.get(tp) {
            Some((rw, r)) if *rw == w => *r,
            _ => ptrack.and_then(|p| slope(p.log_end.iter(), now, &w)),
        };
        produce.push(prate);
        let fresh = ptrack
            .map(|p| {
                time_lag(
                    committed,
                    off.log_end,
                    p.log_end.iter(),
                    Some(p.anchor),
                    prate,
                )
            })
            .unwrap_or(TimeLag::Unknown);
        let gp = gparts.as_mut().and_then(|m| m.get_mut(tp));
        let tl = match gp {
            Some(gp) => {
                consume.push(slope(gp.committed.iter(), now, &w));
                facts_from_track(
                    &mut f,
                    gp,
                    l.lag,
                    now,
                    window,
                    &mut last_change,
                    &mut lagging_since,
                );
                remembered_time_lag(gp, committed, fresh)
            }
            None => {
                consume.push(None);
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
    f.produce_rate = sum_known(produce);
    f.consume_rate = sum_known(consume);
    f.idle_for = idle_for(g, tracks, now, last_change, lagging_since);
    let (status, reasons) = evaluate(&f, th);
    GroupTopicView {
        topic: topic.clone(),
        lag: f.lag,
        max_lag_seconds: max_known(partitions.iter().map(|p| p.lag_seconds)),
        produce_rate: f.produce_rate,
        consume_rate: f.consume_rate,
        throughput_ratio: throughput_ratio(f.consume_rate, f.produce_rate),
        drain_eta_seconds: drain_eta(f.lag, f.consume_rate, f.produce_rate),
        status,
        reasons,
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
    tracks: &Tracks,
    now: Timestamp,
    last_change: f64,
    lagging_since: f64,
) -> Option<f64> {
    if !lagging_since.is_finite() {
        return None;
    }
    let last_life = match g.source {
        GroupSource::Spark => g.last_commit_at?,
        GroupSource::Kafka => match (
            g.members,
            tracks.groups.get(&g.name).and_then(|t| t.empty_since),
        ) {
            (_, Some(empty)) => empty,
            (Some(_), None) => return None,
            (None, None) => last_change,
        },
    };
    Some(now - last_life.max(lagging_since))
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
