//! Time lag: how long ago the log end passed a group's committed offset, i.e. the age of
//! the oldest message the group has not consumed. Found from the partition's log-end
//! history; message timestamps are not read (that would cost a fetch per partition).

use crate::model::history::Sample;
use crate::snapshot::Timestamp;
use crate::view::TimeLagMethod;

/// The time-lag finding for one group-partition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeLag {
    /// Committed is at the log end: no time lag.
    CaughtUp,
    /// The log end passed the committed offset at `at`.
    Since {
        /// Unix seconds when the oldest unconsumed message was written.
        at: Timestamp,
        /// Interpolated inside the history or extrapolated beyond it.
        method: TimeLagMethod,
    },
    /// No history to judge from.
    Unknown,
}

impl TimeLag {
    /// Seconds of time lag at `now` (never negative) and how it was found.
    pub fn at(&self, now: Timestamp) -> (Option<f64>, Option<TimeLagMethod>) {
        match *self {
            TimeLag::CaughtUp => (Some(0.0), Some(TimeLagMethod::CaughtUp)),
            TimeLag::Since { at, method } => (Some((now - at).max(0.0)), Some(method)),
            TimeLag::Unknown => (None, None),
        }
    }
}

/// When the log end passed `committed`.
///
/// `history` is the partition's log-end series, oldest first, non-decreasing, ending with
/// the current read; `anchor` is the first sample ever seen of that series (older than the
/// history once the ring has moved on); `produce_rate` is the partition's rate.
pub fn time_lag<I>(
    committed: i64,
    log_end: i64,
    history: I,
    anchor: Option<Sample>,
    produce_rate: Option<f64>,
) -> TimeLag
where
    I: Iterator<Item = Sample>,
{
    if committed >= log_end {
        return TimeLag::CaughtUp;
    }
    let mut below: Option<Sample> = None;
    for s in history {
        if s.v > committed {
            return match below {
                Some(b) => TimeLag::Since {
                    at: b.t + (committed - b.v) as f64 / (s.v - b.v) as f64 * (s.t - b.t),
                    method: TimeLagMethod::Interpolated,
                },
                None => before_history(committed, s, anchor, produce_rate),
            };
        }
        below = Some(s);
    }
    // The log end read now is past `committed`, but no sample is: the current read did not
    // make it into the history (out of order). The newest sample bounds the crossing.
    match below {
        Some(n) => TimeLag::Since {
            at: n.t,
            method: TimeLagMethod::Interpolated,
        },
        None => TimeLag::Unknown,
    }
}

/// The crossing predates the history whose oldest sample is `first`.
fn before_history(
    committed: i64,
    first: Sample,
    anchor: Option<Sample>,
    produce_rate: Option<f64>,
) -> TimeLag {
    // Bounds from what was seen: the anchor is before or after the crossing.
    let mut not_after = first.t;
    let mut not_before = f64::NEG_INFINITY;
    let mut from_anchor = None;
    if let Some(a) = anchor.filter(|a| a.t < first.t) {
        if a.v > committed {
            not_after = not_after.min(a.t);
        } else {
            not_before = a.t;
            from_anchor =
                Some(a.t + (committed - a.v) as f64 / (first.v - a.v) as f64 * (first.t - a.t));
        }
    }
    let estimate = match produce_rate {
        Some(r) if r > 0.0 => first.t - (first.v - committed) as f64 / r,
        // An idle producer says nothing about when the backlog was written: take what the
        // anchor says, else the latest time it can have been (a lower bound on the age).
        _ => from_anchor.unwrap_or(not_after),
    };
    TimeLag::Since {
        at: estimate.clamp(not_before, not_after),
        method: TimeLagMethod::Extrapolated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use TimeLagMethod::*;

    fn h(points: &[(f64, i64)]) -> Vec<Sample> {
        points.iter().map(|&(t, v)| Sample::new(t, v)).collect()
    }

    #[test]
    fn cases() {
        // Log end grows 100 msg/s from offset 1000 at t=100 to 2000 at t=110.
        let steady = h(&[(100.0, 1000), (105.0, 1500), (110.0, 2000)]);
        // (why, committed, log_end, history, anchor, rate, now) -> (seconds, method)
        type Row<'a> = (
            &'a str,
            i64,
            i64,
            Vec<Sample>,
            Option<Sample>,
            Option<f64>,
            f64,
            (Option<f64>, Option<TimeLagMethod>),
        );
        let rows: Vec<Row> = vec![
            (
                "caught up: 0, whatever the history",
                2000,
                2000,
                steady.clone(),
                None,
                Some(100.0),
                110.0,
                (Some(0.0), Some(CaughtUp)),
            ),
            (
                "committed past end (race): caught up",
                2001,
                2000,
                steady.clone(),
                None,
                None,
                110.0,
                (Some(0.0), Some(CaughtUp)),
            ),
            (
                "inside history: offset 1750 was written at 107.5",
                1750,
                2000,
                steady.clone(),
                None,
                Some(100.0),
                110.0,
                (Some(2.5), Some(Interpolated)),
            ),
            (
                "exactly on a sample: written at 105",
                1500,
                2000,
                steady.clone(),
                None,
                Some(100.0),
                110.0,
                (Some(5.0), Some(Interpolated)),
            ),
            (
                "older than history: extrapolated at 100 msg/s",
                500,
                2000,
                steady.clone(),
                None,
                Some(100.0),
                110.0,
                (Some(15.0), Some(Extrapolated)),
            ),
            (
                "idle topic with lag: age grows with now, not 0",
                1500,
                2000,
                h(&[(100.0, 1000), (105.0, 2000), (200.0, 2000), (300.0, 2000)]),
                None,
                Some(0.0),
                1000.0,
                (Some(897.5), Some(Interpolated)),
            ),
            (
                "idle topic, crossing before history, no anchor: lower bound = oldest sample",
                500,
                2000,
                h(&[(200.0, 2000), (300.0, 2000)]),
                None,
                Some(0.0),
                1000.0,
                (Some(800.0), Some(Extrapolated)),
            ),
            (
                "anchor already past committed: the crossing is before the anchor",
                500,
                2000,
                h(&[(200.0, 2000), (300.0, 2000)]),
                Some(Sample::new(10.0, 900)),
                Some(0.0),
                1000.0,
                (Some(990.0), Some(Extrapolated)),
            ),
            (
                "anchor below committed, idle now: interpolated between anchor and history",
                1500,
                2000,
                h(&[(200.0, 2000), (300.0, 2000)]),
                Some(Sample::new(100.0, 1000)),
                Some(0.0),
                1000.0,
                (Some(850.0), Some(Extrapolated)),
            ),
            (
                "fast extrapolation can't go before an anchor that was below committed",
                1500,
                2000,
                h(&[(200.0, 2000), (300.0, 2000)]),
                Some(Sample::new(190.0, 1000)),
                Some(1.0),
                1000.0,
                (Some(810.0), Some(Extrapolated)),
            ),
            (
                "unknown produce rate, no anchor: lower bound",
                500,
                2000,
                steady.clone(),
                None,
                None,
                110.0,
                (Some(10.0), Some(Extrapolated)),
            ),
            (
                "no history at all: unknown",
                10,
                20,
                vec![],
                None,
                None,
                110.0,
                (None, None),
            ),
        ];
        for (why, c, e, hist, anchor, rate, now, want) in rows {
            let got = time_lag(c, e, hist.into_iter(), anchor, rate).at(now);
            assert_eq!(got, want, "{why}");
        }
    }

    proptest! {
        // Time lag is never negative and never beyond the anchor's age when the anchor had
        // already passed the committed offset.
        #[test]
        fn never_negative(
            committed in 0i64..10_000,
            steps in prop::collection::vec((0.1f64..100.0, 0i64..1000), 1..20),
            rate in prop::option::of(0.0f64..1000.0),
            extra in 0.0f64..1000.0,
        ) {
            let mut t = 1.7e9;
            let mut v = 0;
            let hist: Vec<Sample> = steps.iter().map(|&(dt, dv)| { t += dt; v += dv; Sample::new(t, v) }).collect();
            let end = v;
            let now = t + extra;
            let (secs, _) = time_lag(committed, end, hist.into_iter(), None, rate).at(now);
            prop_assert!(secs.unwrap_or(0.0) >= 0.0);
        }
    }
}
