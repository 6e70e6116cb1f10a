//! Bounded rings of (time, offset) samples: memory stays flat however long lagwatch runs.
//!
//! One ring per partition (log end) and per group-partition (committed). A ring holds at
//! most [`RingPolicy::capacity`] samples covering the longest rate window plus a margin;
//! when polls are more frequent than the capacity allows, close samples are merged into
//! the newest one so the window stays covered with evenly spaced points.

use crate::snapshot::Timestamp;

/// No ring ever holds more samples than this, whatever the window and poll interval.
pub const HARD_CAP: usize = 32;

/// One observation of an offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When it was read (Unix seconds).
    pub t: Timestamp,
    /// The offset read.
    pub v: i64,
}

impl Sample {
    /// A sample from parts.
    pub fn new(t: Timestamp, v: i64) -> Self {
        Sample { t, v }
    }
}

/// How much history a ring keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RingPolicy {
    /// Seconds of history kept: the longest rate window plus a margin.
    pub keep: f64,
    /// Samples a ring holds at most.
    pub capacity: usize,
    /// The newest sample is overwritten while it is closer than this to the one before it.
    pub min_gap: f64,
}

impl RingPolicy {
    /// A policy for the longest `window` read by any rule, polled every `poll_interval`.
    pub fn new(window: f64, poll_interval: f64) -> Self {
        let poll = poll_interval.max(1e-3);
        let window = window.max(poll);
        // The margin keeps one sample at or just before the window start despite poll jitter.
        let keep = window + (2.0 * poll).max(0.1 * window);
        let per_poll = |span: f64| (span / poll).ceil().min(1e6) as usize + 2;
        // Every poll fits when the window does; the margin is then best effort (the cap
        // drops the oldest). Only a window too long for the cap thins samples out.
        let (capacity, min_gap) = if per_poll(window) <= HARD_CAP {
            (per_poll(keep).clamp(3, HARD_CAP), 0.0)
        } else {
            (HARD_CAP, keep / (HARD_CAP - 2) as f64)
        };
        RingPolicy {
            keep,
            capacity,
            min_gap,
        }
    }
}

/// What [`Ring::push`] did with a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Added as a new point.
    Appended,
    /// Overwrote the newest point (it was too close to the one before).
    Merged,
    /// The value went backwards: history before it no longer describes this series.
    Reset,
    /// Older than the newest sample: out of order, dropped.
    Ignored,
}

/// Times a packed sample can hold exactly: multiples of 1/1024 s (see [`crate::runtime::now`]).
const TICKS_PER_SECOND: f64 = 1024.0;

/// A bounded, time-ordered series of samples.
///
/// A contiguous buffer rather than a `VecDeque`: rings are read (rates, time lag) far more
/// than written, slice scans are the cheapest reads, and dropping the oldest of at most
/// [`HARD_CAP`] samples is one short memmove. Allocated once at the policy's capacity.
///
/// There is a ring per partition and per group-partition, so the samples are most of the
/// model's memory. A sample is therefore packed in 8 bytes, as two 32-bit steps from the
/// ring's base: the time in 1/1024 s ticks and the offset. Every value read back is the one
/// pushed, bit for bit; a sample that does not fit (a time off the tick grid, a span over
/// 48 days or 2^32 offsets even after rebasing) turns the ring into plain samples until it
/// is next cleared.
#[derive(Debug, Clone)]
pub struct Ring {
    store: Store,
}

#[derive(Debug, Clone)]
enum Store {
    Packed {
        base_t: Timestamp,
        base_v: i64,
        steps: Vec<u64>,
    },
    Wide(Vec<Sample>),
}

impl Default for Ring {
    fn default() -> Self {
        Ring {
            store: Store::Packed {
                base_t: 0.0,
                base_v: 0,
                steps: Vec::new(),
            },
        }
    }
}

/// `s` as steps from the base, when they fit and give `s` back exactly.
fn pack(base_t: Timestamp, base_v: i64, s: Sample) -> Option<u64> {
    let ticks = (s.t - base_t) * TICKS_PER_SECOND;
    if !(0.0..=f64::from(u32::MAX)).contains(&ticks) || ticks.fract() != 0.0 {
        return None;
    }
    let ticks = ticks as u32;
    let dv = u32::try_from(s.v.checked_sub(base_v)?).ok()?;
    let packed = (u64::from(ticks) << 32) | u64::from(dv);
    (unpack(base_t, base_v, packed) == s).then_some(packed)
}

fn unpack(base_t: Timestamp, base_v: i64, packed: u64) -> Sample {
    let ticks = (packed >> 32) as u32;
    let dv = packed as u32;
    Sample {
        t: base_t + f64::from(ticks) / TICKS_PER_SECOND,
        v: base_v + i64::from(dv),
    }
}

impl Store {
    fn len(&self) -> usize {
        match self {
            Store::Packed { steps, .. } => steps.len(),
            Store::Wide(w) => w.len(),
        }
    }

    fn get(&self, i: usize) -> Option<Sample> {
        match self {
            Store::Packed {
                base_t,
                base_v,
                steps,
            } => steps.get(i).map(|&p| unpack(*base_t, *base_v, p)),
            Store::Wide(w) => w.get(i).copied(),
        }
    }

    fn drop_oldest(&mut self, n: usize) {
        match self {
            Store::Packed { steps, .. } => drop(steps.drain(..n.min(steps.len()))),
            Store::Wide(w) => drop(w.drain(..n.min(w.len()))),
        }
    }

    /// Replaces the newest sample.
    fn set_last(&mut self, s: Sample) {
        let keep = self.len().saturating_sub(1);
        match self {
            Store::Packed { steps, .. } => steps.truncate(keep),
            Store::Wide(w) => w.truncate(keep),
        }
        self.append(s);
    }

    /// Appends `s`, rebasing or widening when it does not fit.
    fn append(&mut self, s: Sample) {
        if let Store::Packed {
            base_t,
            base_v,
            steps,
        } = self
        {
            if steps.is_empty() {
                (*base_t, *base_v) = (s.t, s.v);
            }
            if let Some(p) = pack(*base_t, *base_v, s) {
                steps.push(p);
                return;
            }
            // Rebase on the oldest sample held: the oldest ones may have been dropped.
            let all: Vec<Sample> = steps.iter().map(|&p| unpack(*base_t, *base_v, p)).collect();
            if let Some(first) = all.first() {
                let repacked: Option<Vec<u64>> = all
                    .iter()
                    .chain(std::iter::once(&s))
                    .map(|&x| pack(first.t, first.v, x))
                    .collect();
                if let Some(r) = repacked {
                    steps.clear();
                    steps.extend(r);
                    (*base_t, *base_v) = (first.t, first.v);
                    return;
                }
            }
            let mut wide = Vec::with_capacity(steps.capacity());
            wide.extend(all);
            wide.push(s);
            *self = Store::Wide(wide);
            return;
        }
        if let Store::Wide(w) = self {
            w.push(s);
        }
    }

    fn reserve(&mut self, capacity: usize) {
        match self {
            Store::Packed { steps, .. } if steps.capacity() == 0 => steps.reserve_exact(capacity),
            Store::Wide(w) if w.capacity() == 0 => w.reserve_exact(capacity),
            _ => {}
        }
    }

    /// Empties the ring; a cleared ring packs again.
    fn clear(&mut self) {
        match self {
            Store::Packed { steps, .. } => steps.clear(),
            Store::Wide(w) => {
                let capacity = w.capacity();
                *self = Store::Packed {
                    base_t: 0.0,
                    base_v: 0,
                    steps: Vec::with_capacity(capacity),
                };
            }
        }
    }
}

impl Ring {
    /// An empty ring.
    pub fn new() -> Self {
        Ring::default()
    }

    /// Adds a sample; a value below the previous one starts the series afresh.
    pub fn push(&mut self, s: Sample, policy: &RingPolicy) -> Pushed {
        let Some(last) = self.last() else {
            self.store.reserve(policy.capacity);
            self.store.append(s);
            return Pushed::Appended;
        };
        if s.t < last.t {
            return Pushed::Ignored;
        }
        if s.v < last.v {
            // A reset group or a recreated topic: a slope across it would be nonsense.
            self.store.clear();
            self.store.append(s);
            return Pushed::Reset;
        }
        let n = self.len();
        let provisional = s.t == last.t
            || (n >= 2
                && self
                    .store
                    .get(n - 2)
                    .is_some_and(|p| last.t - p.t < policy.min_gap));
        if provisional {
            self.store.set_last(s);
            return Pushed::Merged;
        }
        // Make room first so the allocation never grows past the capacity.
        let excess = (n + 1).saturating_sub(policy.capacity.max(1));
        self.store.drop_oldest(excess.min(n));
        self.store.append(s);
        Pushed::Appended
    }

    /// Drops samples older than the policy keeps, as seen at `now`.
    pub fn prune(&mut self, now: Timestamp, policy: &RingPolicy) {
        let oldest = now - policy.keep;
        let old = self.iter().take_while(|s| s.t < oldest).count();
        let drop = old.min(self.len().saturating_sub(1));
        if drop > 0 {
            self.store.drop_oldest(drop);
        }
    }

    /// Samples, oldest first.
    pub fn iter(&self) -> Samples<'_> {
        Samples {
            store: &self.store,
            next: 0,
        }
    }

    /// The newest sample.
    pub fn last(&self) -> Option<Sample> {
        self.store.get(self.len().checked_sub(1)?)
    }

    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether the ring holds no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the samples are packed (8 bytes each) rather than plain (16).
    pub fn is_packed(&self) -> bool {
        matches!(self.store, Store::Packed { .. })
    }
}

/// A ring's samples, oldest first.
#[derive(Debug, Clone)]
pub struct Samples<'a> {
    store: &'a Store,
    next: usize,
}

impl Iterator for Samples<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        let s = self.store.get(self.next)?;
        self.next += 1;
        Some(s)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.store.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Samples<'_> {}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
