//! The page's charts: a short, bounded per-group series fed with every published view.
//!
//! Group-level only (one point per group per poll, never per partition), because this
//! is kept for every group all the time: at 1,000 groups the series must stay a few MiB.
//! A point is 24 bytes (lag exact as `i64`, rates and times as `f32`, which charts need no
//! more than), so [`POINTS`] points are ~2.9 KB per group. Times live once per cluster:
//! every group of a cluster gets exactly one point per view (a gap when a partial poll
//! lacks it), so a group's points line up with the newest of its cluster's times.

use crate::snapshot::Timestamp;
use crate::view::{ClusterView, GroupView};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};

/// Points kept per group (and times per cluster): one per poll, the oldest dropped.
pub const POINTS: usize = 120;

/// Bytes every group's points may take together (16 MiB). Past ~5,800 groups each group
/// keeps fewer than [`POINTS`], so the charts' memory stops growing with the group count
/// (at 10,000 groups 120 points each would be ~28 MiB); Prometheus keeps the long history.
pub const BUDGET_BYTES: usize = 16 << 20;

/// Points a group keeps however many groups share the budget.
pub const MIN_POINTS: usize = 30;

/// Marks a point where the group was missing from a partial poll.
const GAP: i64 = -1;

/// One poll's group totals.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    /// Total lag (messages); [`GAP`] when the poll did not report the group.
    lag: i64,
    /// Σ produce rate over the group's topics (messages/s); NaN = unknown.
    produce: f32,
    /// Σ consume rate over the group's topics (messages/s); NaN = unknown.
    consume: f32,
    /// Worst drain ETA over its topics (s); +Inf = never; NaN = unknown.
    eta: f32,
    /// Worst time lag (s); NaN = unknown.
    time_lag: f32,
}

impl Point {
    const MISSING: Point = Point {
        lag: GAP,
        produce: f32::NAN,
        consume: f32::NAN,
        eta: f32::NAN,
        time_lag: f32::NAN,
    };

    fn of(g: &GroupView) -> Point {
        // A sum over topics is only meaningful when every topic's rate is known; a partial
        // sum would draw a fake drop.
        let sum = |f: fn(&crate::view::GroupTopicView) -> Option<f64>| {
            let mut total = 0.0;
            for t in &g.topics {
                total += f(t)?;
            }
            (!g.topics.is_empty()).then_some(total)
        };
        let eta = g.topics.iter().try_fold(None::<f64>, |worst, t| {
            t.drain_eta_seconds
                .map(|e| Some(worst.map_or(e, |w: f64| w.max(e))))
        });
        Point {
            lag: g.lag.unwrap_or(GAP),
            produce: opt32(sum(|t| t.produce_rate)),
            consume: opt32(sum(|t| t.consume_rate)),
            eta: opt32(eta.flatten()),
            time_lag: opt32(g.max_lag_seconds),
        }
    }
}

fn opt32(v: Option<f64>) -> f32 {
    v.map_or(f32::NAN, |x| x as f32)
}

/// One cluster's times and its groups' points.
#[derive(Debug, Default)]
struct ClusterSeries {
    times: VecDeque<Timestamp>,
    groups: HashMap<String, VecDeque<Point>>,
}

/// Every cluster's series; pure (the caller holds the lock and supplies the views).
#[derive(Debug)]
pub struct History {
    clusters: HashMap<String, ClusterSeries>,
    /// Bytes all points may take together.
    budget: usize,
    /// Points each group keeps now: [`POINTS`] while the budget allows.
    cap: usize,
}

impl Default for History {
    fn default() -> Self {
        History::with_budget(BUDGET_BYTES)
    }
}

/// Points per group when `groups` share `budget` bytes: [`MIN_POINTS`] to [`POINTS`].
pub fn points_per_group(budget: usize, groups: usize) -> usize {
    (budget / (std::mem::size_of::<Point>() * groups.max(1))).clamp(MIN_POINTS, POINTS)
}

impl History {
    /// An empty history within [`BUDGET_BYTES`].
    pub fn new() -> Self {
        History::default()
    }

    /// An empty history whose points take at most `budget` bytes (beyond [`MIN_POINTS`]
    /// per group).
    pub fn with_budget(budget: usize) -> Self {
        History {
            clusters: HashMap::new(),
            budget,
            cap: POINTS,
        }
    }

    /// Points each group keeps at most, with the groups held now.
    pub fn points_per_group(&self) -> usize {
        self.cap
    }

    /// Adds one point per group of `view`. Groups a complete poll no longer reports are
    /// dropped with their points (like their metrics); a partial poll leaves a gap.
    pub fn record(&mut self, view: &ClusterView) {
        let c = self.clusters.entry(view.cluster.clone()).or_default();
        if c.times.back().is_some_and(|&t| view.taken_at <= t) {
            // The same poll published twice (or out of order) would misalign every group.
            return;
        }
        if c.times.len() == POINTS {
            c.times.pop_front();
        }
        c.times.push_back(view.taken_at);
        let complete = view.up && !view.partial;
        let mut seen: HashMap<&str, &GroupView> =
            view.groups.iter().map(|g| (g.group.as_str(), g)).collect();
        // The groups held once this view is in: the other clusters' and this one's.
        let here = if complete {
            view.groups.len()
        } else {
            c.groups.len().max(view.groups.len())
        };
        let elsewhere: usize = self
            .clusters
            .iter()
            .filter(|(name, _)| **name != view.cluster)
            .map(|(_, c)| c.groups.len())
            .sum();
        let cap = points_per_group(self.budget, here + elsewhere);
        self.cap = cap;
        let Some(c) = self.clusters.get_mut(&view.cluster) else {
            return;
        };
        c.groups.retain(|name, points| {
            let point = match seen.remove(name.as_str()) {
                Some(g) => Point::of(g),
                None if complete => return false,
                None => Point::MISSING,
            };
            push(points, point, cap);
            true
        });
        for (name, g) in seen {
            let mut points = VecDeque::with_capacity(cap);
            points.push_back(Point::of(g));
            c.groups.insert(name.to_owned(), points);
        }
    }

    /// The series of one group, oldest first; None when the group has no points.
    pub fn series(&self, cluster: &str, group: &str) -> Option<Series> {
        let c = self.clusters.get(cluster)?;
        let points = c.groups.get(group)?;
        // Points are never more than times: a group's points are the newest times'.
        let times = c
            .times
            .iter()
            .skip(c.times.len().saturating_sub(points.len()));
        let mut s = Series::default();
        for (&t, p) in times.zip(points) {
            s.t.push(t);
            s.lag.push((p.lag != GAP).then_some(p.lag));
            s.produce_rate.push(finite(p.produce));
            s.consume_rate.push(finite(p.consume));
            s.drain_eta_seconds.push(Eta(known(p.eta)));
            s.max_lag_seconds.push(finite(p.time_lag));
        }
        Some(s)
    }

    /// Points held over all groups and clusters (what this grows with).
    pub fn points_held(&self) -> usize {
        self.clusters
            .values()
            .map(|c| c.groups.values().map(VecDeque::len).sum::<usize>())
            .sum()
    }
}

/// Appends `p`, keeping at most `cap` points. Memory is given back once the cap has
/// fallen well below what the group holds, not at every small change of the group count.
fn push(points: &mut VecDeque<Point>, p: Point, cap: usize) {
    while points.len() >= cap {
        points.pop_front();
    }
    points.push_back(p);
    if points.capacity() > cap + cap / 4 {
        points.shrink_to(cap);
    }
}

/// f32 → f64 shows digits that were never measured (100.0 → 100.00000149…): round to
/// what an f32 holds, about 7 significant digits.
fn widen(x: f32) -> f64 {
    let v = f64::from(x);
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 7 - v.abs().log10().ceil() as i32;
    let scale = 10f64.powi(digits.clamp(-300, 300));
    (v * scale).round() / scale
}

fn finite(x: f32) -> Option<f64> {
    x.is_finite().then(|| widen(x))
}

fn known(x: f32) -> Option<f64> {
    (!x.is_nan()).then(|| widen(x))
}

/// A drain ETA in JSON: a number, `"inf"` for never (as in `/api/v1/*`), or null.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eta(pub Option<f64>);

impl Serialize for Eta {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(x) if x.is_infinite() => s.serialize_str("inf"),
            Some(x) => s.serialize_f64(x),
            None => s.serialize_none(),
        }
    }
}

/// One group's series as columns (compact JSON): index i of every column is one poll.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Series {
    /// Poll times (Unix seconds).
    pub t: Vec<f64>,
    /// Total lag; null where a partial poll lacked the group.
    pub lag: Vec<Option<i64>>,
    /// Σ produce rate of its topics (messages/s).
    pub produce_rate: Vec<Option<f64>>,
    /// Σ consume rate of its topics (messages/s).
    pub consume_rate: Vec<Option<f64>>,
    /// Worst drain ETA of its topics (s; "inf" = never).
    pub drain_eta_seconds: Vec<Eta>,
    /// Worst time lag (s).
    pub max_lag_seconds: Vec<Option<f64>>,
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
