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

/// A bounded, time-ordered series of samples.
///
/// A contiguous `Vec` rather than a `VecDeque`: rings are read (rates, time lag) far more
/// than written, slice scans are the cheapest reads, and dropping the oldest of at most
/// [`HARD_CAP`] samples is one short memmove. Allocated once at the policy's capacity.
#[derive(Debug, Clone, Default)]
pub struct Ring {
    samples: Vec<Sample>,
}

impl Ring {
    /// An empty ring.
    pub fn new() -> Self {
        Ring::default()
    }

    /// Adds a sample; a value below the previous one starts the series afresh.
    pub fn push(&mut self, s: Sample, policy: &RingPolicy) -> Pushed {
        let Some(&last) = self.samples.last() else {
            if self.samples.capacity() == 0 {
                self.samples.reserve_exact(policy.capacity);
            }
            self.samples.push(s);
            return Pushed::Appended;
        };
        if s.t < last.t {
            return Pushed::Ignored;
        }
        if s.v < last.v {
            // A reset group or a recreated topic: a slope across it would be nonsense.
            self.samples.clear();
            self.samples.push(s);
            return Pushed::Reset;
        }
        let n = self.samples.len();
        let provisional =
            s.t == last.t || (n >= 2 && last.t - self.samples[n - 2].t < policy.min_gap);
        if provisional {
            self.samples[n - 1] = s;
            return Pushed::Merged;
        }
        // Make room first so the allocation never grows past the capacity.
        let excess = (n + 1).saturating_sub(policy.capacity.max(1));
        self.samples.drain(..excess.min(n));
        self.samples.push(s);
        Pushed::Appended
    }

    /// Drops samples older than the policy keeps, as seen at `now`.
    pub fn prune(&mut self, now: Timestamp, policy: &RingPolicy) {
        let oldest = now - policy.keep;
        let old = self.samples.iter().take_while(|s| s.t < oldest).count();
        let drop = old.min(self.samples.len().saturating_sub(1));
        if drop > 0 {
            self.samples.drain(..drop);
        }
    }

    /// Samples, oldest first.
    pub fn iter(&self) -> std::iter::Copied<std::slice::Iter<'_, Sample>> {
        self.samples.iter().copied()
    }

    /// The newest sample.
    pub fn last(&self) -> Option<Sample> {
        self.samples.last().copied()
    }

    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the ring holds no sample.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn policy_cases() {
        // (window, poll) -> (capacity, merges?); each row says why.
        let rows = [
            // 300 s window at 10 s polls (the defaults): every poll kept, 310 s covered.
            (300.0, 10.0, 32, false),
            // 60 s at 10 s: few samples, no merging needed.
            (60.0, 10.0, 10, false),
            // 2 s window at 250 ms (integration tests): 12+2 samples.
            (2.0, 0.25, 12, false),
            // 5 min at 1 s: capped, so samples are thinned to cover the window.
            (300.0, 1.0, HARD_CAP, true),
            // Window shorter than a poll: stretched to one poll.
            (1.0, 10.0, 5, false),
        ];
        for (w, p, cap, merges) in rows {
            let pol = RingPolicy::new(w, p);
            assert_eq!(pol.capacity, cap, "window {w} poll {p}");
            assert_eq!(pol.min_gap > 0.0, merges, "window {w} poll {p}");
        }
    }

    #[test]
    fn push_cases() {
        let pol = RingPolicy::new(60.0, 10.0);
        let mut r = Ring::new();
        assert_eq!(r.push(Sample::new(0.0, 10), &pol), Pushed::Appended);
        assert_eq!(r.push(Sample::new(10.0, 20), &pol), Pushed::Appended);
        // Same instant twice (a re-read): the newer value wins, no duplicate point.
        assert_eq!(r.push(Sample::new(10.0, 25), &pol), Pushed::Merged);
        // A clock step backwards must not reorder the series.
        assert_eq!(r.push(Sample::new(5.0, 30), &pol), Pushed::Ignored);
        assert_eq!(r.len(), 2);
        // Offset went backwards (group reset): history is cut there.
        assert_eq!(r.push(Sample::new(20.0, 3), &pol), Pushed::Reset);
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![Sample::new(20.0, 3)]);
    }

    #[test]
    fn prune_keeps_window_plus_margin_and_at_least_one() {
        let pol = RingPolicy::new(60.0, 10.0); // keep = 80 s
        let mut r = Ring::new();
        for i in 0..20 {
            r.push(Sample::new(i as f64 * 10.0, i), &pol);
        }
        r.prune(190.0, &pol);
        assert_eq!(r.iter().next().map(|s| s.t), Some(110.0));
        // A long outage leaves one sample: the last thing known.
        r.prune(10_000.0, &pol);
        assert_eq!(r.len(), 1);
    }

    proptest! {
        // Memory stays bounded and the window stays covered, however often lagwatch polls.
        #[test]
        fn bounded_and_covering(window in 1.0f64..900.0, poll in 0.05f64..30.0, n in 1usize..2000) {
            let pol = RingPolicy::new(window, poll);
            let mut r = Ring::new();
            let mut t = 0.0;
            for i in 0..n {
                t = i as f64 * poll;
                r.push(Sample::new(t, i as i64), &pol);
                r.prune(t, &pol);
                prop_assert!(r.len() <= pol.capacity);
                prop_assert!(r.len() <= HARD_CAP);
            }
            let first = r.iter().next().map(|s| s.t).unwrap_or(t);
            let covered = t - first;
            let w = window.max(poll);
            // Either all history since start, or at least the window.
            prop_assert!(first == 0.0 || covered >= w - 1e-9, "covered {covered} of {w}");
        }
    }
}
