//! The history rings' tests: policies, pushes, pruning, and packing against plain samples.

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

/// The ring as it was before samples were packed: plain samples, same rules. The
/// packed ring must behave exactly like it.
#[derive(Default)]
struct Plain(Vec<Sample>);

impl Plain {
    fn push(&mut self, s: Sample, policy: &RingPolicy) -> Pushed {
        let Some(&last) = self.0.last() else {
            self.0.push(s);
            return Pushed::Appended;
        };
        if s.t < last.t {
            return Pushed::Ignored;
        }
        if s.v < last.v {
            self.0.clear();
            self.0.push(s);
            return Pushed::Reset;
        }
        let n = self.0.len();
        if s.t == last.t || (n >= 2 && last.t - self.0[n - 2].t < policy.min_gap) {
            self.0[n - 1] = s;
            return Pushed::Merged;
        }
        let excess = (n + 1).saturating_sub(policy.capacity.max(1));
        self.0.drain(..excess.min(n));
        self.0.push(s);
        Pushed::Appended
    }

    fn prune(&mut self, now: Timestamp, policy: &RingPolicy) {
        let old = self
            .0
            .iter()
            .take_while(|s| s.t < now - policy.keep)
            .count();
        self.0.drain(..old.min(self.0.len().saturating_sub(1)));
    }
}

fn bits(samples: impl Iterator<Item = Sample>) -> Vec<(u64, i64)> {
    samples.map(|s| (s.t.to_bits(), s.v)).collect()
}

#[test]
fn packing_cases() {
    let t0 = 1_764_553_600.0;
    let big = i64::from(u32::MAX);
    // (why, capacity-setting window and poll, pushes (time, offset), packed at the end)
    type Row = (&'static str, (f64, f64), Vec<(f64, i64)>, bool);
    let rows: Vec<Row> = vec![
        (
            "poll times on the 1/1024 s grid pack",
            (300.0, 10.0),
            (0..40).map(|i| (t0 + 10.0 * i as f64, 1_000 * i)).collect(),
            true,
        ),
        (
            "clock times (runtime::now) are on the grid",
            (300.0, 10.0),
            vec![
                (crate::runtime::now(), 5),
                (crate::runtime::now() + 10.0, 7),
            ],
            true,
        ),
        (
            "a time off the grid keeps plain samples",
            (300.0, 10.0),
            vec![(0.0, 1), (0.1, 2)],
            false,
        ),
        (
            "2^32 offsets from the base rebase once the oldest is dropped",
            // A window shorter than the poll: 5 samples held.
            (1.0, 10.0),
            (0..7).map(|i| (10.0 * i as f64, big / 5 * i)).collect(),
            true,
        ),
        (
            "2^32 offsets within the samples held keep plain samples",
            (300.0, 10.0),
            vec![(0.0, 0), (10.0, big + 1)],
            false,
        ),
        (
            "a reset after plain samples packs again",
            (300.0, 10.0),
            vec![(0.0, 0), (10.0, big + 1), (20.0, 3), (30.0, 4)],
            true,
        ),
        (
            "offsets far from zero pack: steps are from the base",
            (300.0, 10.0),
            vec![(0.0, i64::MAX - 10), (10.0, i64::MAX)],
            true,
        ),
    ];
    for (why, (w, p), pushes, packed) in rows {
        let pol = RingPolicy::new(w, p);
        let (mut r, mut plain) = (Ring::new(), Plain::default());
        for (t, v) in pushes {
            let s = Sample::new(t, v);
            assert_eq!(r.push(s, &pol), plain.push(s, &pol), "{why}");
        }
        assert_eq!(bits(r.iter()), bits(plain.0.iter().copied()), "{why}");
        assert_eq!(r.is_packed(), packed, "{why}");
    }
}

proptest! {
    // Packing never changes a value read back, whatever the times and offsets: every
    // rate, time lag and ETA computed from a ring stays bit for bit the same.
    #[test]
    fn packed_rings_read_back_exactly(
        window in 1.0f64..900.0,
        poll in prop::sample::select(vec![0.25, 1.0, 2.0, 10.0, 0.1, 3.3]),
        steps in prop::collection::vec(
            (0u32..3, prop::sample::select(vec![0i64, 1, 1_000, 1 << 31, 1 << 33, -5])),
            1..300,
        ),
    ) {
        let pol = RingPolicy::new(window, poll);
        let (mut r, mut plain) = (Ring::new(), Plain::default());
        let (mut t, mut v) = (1_764_553_600.0, 1i64 << 40);
        for (jitter, dv) in steps {
            // Mostly on the poll grid; sometimes a re-read or a step off the tick grid.
            t += match jitter { 0 => poll, 1 => 0.0, _ => poll + 1e-3 };
            v += dv;
            let s = Sample::new(t, v);
            prop_assert_eq!(r.push(s, &pol), plain.push(s, &pol));
            r.prune(t, &pol);
            plain.prune(t, &pol);
            prop_assert_eq!(bits(r.iter()), bits(plain.0.iter().copied()));
            prop_assert_eq!(r.last().map(|s| (s.t.to_bits(), s.v)), plain.0.last().map(|s| (s.t.to_bits(), s.v)));
            prop_assert!(r.len() <= pol.capacity.max(1));
        }
    }
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
