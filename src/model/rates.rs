//! Rates (messages/s) from offset samples, and what follows from them: throughput ratio
//! and drain ETA. Pure functions of samples and an injected `now`.

use crate::model::history::Sample;
use crate::snapshot::Timestamp;

/// Which samples a rate may use and how much time they must span to be trusted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateWindow {
    /// Seconds before `now` that count.
    pub window: f64,
    /// Samples must span at least this many seconds (about one poll), else the rate is unknown.
    pub min_span: f64,
}

/// Least-squares slope (messages/s) of the samples within `w.window` before `now`.
///
/// None until two samples span `w.min_span`: an unknown rate is never reported as 0.
/// Least squares over every sample in the window, not first-to-last, so one late or missed
/// poll moves the rate little.
pub fn slope<I>(samples: I, now: Timestamp, w: &RateWindow) -> Option<f64>
where
    I: Iterator<Item = Sample> + Clone,
{
    let from = now - w.window;
    let inside = samples.filter(move |s| s.t >= from && s.t <= now);
    // One pass for the count, span and sums, one for the moments: two scans, not three.
    // Centred on the first sample: Unix seconds squared would eat the f64 precision.
    let (mut n, mut first, mut t_last) = (0usize, None::<Sample>, 0.0);
    let (mut st, mut sv) = (0.0, 0.0);
    for s in inside.clone() {
        let f = *first.get_or_insert(s);
        n += 1;
        t_last = s.t;
        st += s.t - f.t;
        sv += (s.v - f.v) as f64;
    }
    let Sample { t: t0, v: v0 } = first?;
    if n < 2 || t_last - t0 < w.min_span || t_last <= t0 {
        return None;
    }
    let (mt, mv) = (st / n as f64, sv / n as f64);
    let (mut num, mut den) = (0.0, 0.0);
    for s in inside {
        let dt = s.t - t0 - mt;
        num += dt * ((s.v - v0) as f64 - mv);
        den += dt * dt;
    }
    (den > 0.0).then(|| num / den)
}

/// Sum of rates, unknown if any part is unknown (a partial sum would understate the rate).
pub fn sum_known(rates: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let mut sum = KnownSum::default();
    for r in rates {
        sum.add(r);
    }
    sum.total()
}

/// [`sum_known`] fed one rate at a time, so callers need not collect the rates first.
#[derive(Debug, Clone, Copy, Default)]
pub struct KnownSum {
    total: f64,
    any: bool,
    unknown: bool,
}

impl KnownSum {
    /// Adds one rate; an unknown one makes the sum unknown.
    pub fn add(&mut self, rate: Option<f64>) {
        match rate {
            Some(r) if !self.unknown => {
                self.total += r;
                self.any = true;
            }
            _ => self.unknown = true,
        }
    }

    /// The sum: unknown when any rate was, or when there were none.
    pub fn total(&self) -> Option<f64> {
        (self.any && !self.unknown).then_some(self.total)
    }
}

/// consume / produce, when both are known and the producer writes at all.
pub fn throughput_ratio(consume: Option<f64>, produce: Option<f64>) -> Option<f64> {
    match (consume, produce) {
        (Some(c), Some(p)) if p > 0.0 => Some(c / p),
        _ => None,
    }
}

/// Seconds until `lag` drains: lag / (consume - produce). 0 when there is no lag, +Inf when
/// the consumer does not outpace the producer, None when the rates are unknown.
pub fn drain_eta(lag: i64, consume: Option<f64>, produce: Option<f64>) -> Option<f64> {
    if lag <= 0 {
        return Some(0.0);
    }
    let net = consume? - produce?;
    Some(if net > 0.0 {
        lag as f64 / net
    } else {
        f64::INFINITY
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn series(points: &[(f64, i64)]) -> Vec<Sample> {
        points.iter().map(|&(t, v)| Sample::new(t, v)).collect()
    }

    const W: RateWindow = RateWindow {
        window: 300.0,
        min_span: 5.0,
    };

    #[test]
    fn slope_cases() {
        let t0 = 1.7e9;
        // (samples relative to t0, now - t0) -> rate; each row says why.
        type Row = (&'static str, Vec<(f64, i64)>, f64, Option<f64>);
        let rows: Vec<Row> = vec![
            ("no samples: unknown", vec![], 0.0, None),
            ("one sample: unknown, not 0", vec![(0.0, 5)], 0.0, None),
            (
                "two samples closer than min_span: unknown",
                vec![(0.0, 5), (1.0, 9)],
                1.0,
                None,
            ),
            (
                "two polls: exact",
                vec![(0.0, 0), (10.0, 1000)],
                10.0,
                Some(100.0),
            ),
            (
                "idle topic: a known 0",
                vec![(0.0, 7), (10.0, 7), (20.0, 7)],
                20.0,
                Some(0.0),
            ),
            (
                "missed poll (gap at 20 s): still exact for a steady producer",
                vec![(0.0, 0), (10.0, 1000), (30.0, 3000), (40.0, 4000)],
                40.0,
                Some(100.0),
            ),
            (
                "one late poll (t=21 read as 2000): least squares barely moves",
                vec![
                    (0.0, 0),
                    (10.0, 1000),
                    (21.0, 2000),
                    (30.0, 3000),
                    (40.0, 4000),
                ],
                40.0,
                Some(99.92006394884093),
            ),
            (
                "samples older than the window are ignored",
                vec![(0.0, 0), (400.0, 50_000), (410.0, 50_100), (420.0, 50_200)],
                420.0,
                Some(10.0),
            ),
            (
                "everything older than the window: unknown",
                vec![(0.0, 0), (10.0, 1000)],
                1000.0,
                None,
            ),
        ];
        for (why, pts, now, want) in rows {
            let s: Vec<Sample> = series(&pts)
                .into_iter()
                .map(|s| Sample::new(s.t + t0, s.v))
                .collect();
            let got = slope(s.iter().copied(), now + t0, &W);
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-6, "{why}: got {g}, want {w}"),
                _ => assert_eq!(got, want, "{why}"),
            }
        }
    }

    #[test]
    fn eta_cases() {
        // (lag, consume, produce) -> eta; each row says why.
        let rows = [
            // The seed: 3,000,000 backlog read at 1,000 msg/s, no new production: 50 min.
            (3_000_000, Some(1000.0), Some(0.0), Some(3000.0)),
            // Consumer 1.5x a 1,000 msg/s producer drains 1M in 2,000 s.
            (1_000_000, Some(1500.0), Some(1000.0), Some(2000.0)),
            // Consuming exactly the producer rate never drains a backlog.
            (50_000, Some(1000.0), Some(1000.0), Some(f64::INFINITY)),
            // Slower than the producer: never.
            (50_000, Some(500.0), Some(1000.0), Some(f64::INFINITY)),
            // No lag: nothing to drain, even before rates are known.
            (0, None, None, Some(0.0)),
            // Rates unknown: unknown, never a guess.
            (10, None, Some(5.0), None),
            (10, Some(5.0), None, None),
        ];
        for (lag, c, p, want) in rows {
            assert_eq!(drain_eta(lag, c, p), want, "lag {lag} c {c:?} p {p:?}");
        }
    }

    #[test]
    fn ratio_and_sum_cases() {
        assert_eq!(throughput_ratio(Some(1200.0), Some(1000.0)), Some(1.2));
        // Idle producer: a ratio would divide by zero.
        assert_eq!(throughput_ratio(Some(10.0), Some(0.0)), None);
        assert_eq!(throughput_ratio(None, Some(1.0)), None);
        assert_eq!(sum_known([Some(1.0), Some(2.5)]), Some(3.5));
        // One partition unknown: the topic rate is unknown, not understated.
        assert_eq!(sum_known([Some(1.0), None]), None);
        assert_eq!(sum_known(std::iter::empty()), None);
    }

    /// The three-scan slope this module computed before the scans were fused: the
    /// reference the fused one must match bit for bit.
    fn slope_three_scans(samples: &[Sample], now: Timestamp, w: &RateWindow) -> Option<f64> {
        let from = now - w.window;
        let inside = || samples.iter().filter(|s| s.t >= from && s.t <= now);
        let n = inside().count();
        let t0 = inside().next()?.t;
        let t_last = inside().next_back()?.t;
        if n < 2 || t_last - t0 < w.min_span || t_last <= t0 {
            return None;
        }
        let v0 = inside().next()?.v;
        let (mut st, mut sv) = (0.0, 0.0);
        for s in inside() {
            st += s.t - t0;
            sv += (s.v - v0) as f64;
        }
        let (mt, mv) = (st / n as f64, sv / n as f64);
        let (mut num, mut den) = (0.0, 0.0);
        for s in inside() {
            let dt = s.t - t0 - mt;
            num += dt * ((s.v - v0) as f64 - mv);
            den += dt * dt;
        }
        (den > 0.0).then(|| num / den)
    }

    proptest! {
        // Fusing the scans reorders no float operation: results are identical, not close.
        #[test]
        fn fused_slope_is_bit_identical(
            steps in prop::collection::vec((0.0f64..40.0, -1000i64..100_000), 0..40),
            t0 in 1.6e9f64..1.8e9,
            window in 1.0f64..600.0,
            min_span in 0.0f64..20.0,
            back in 0.0f64..100.0,
        ) {
            let (mut t, mut v) = (t0, 1_000_000i64);
            let s: Vec<Sample> = steps
                .iter()
                .map(|&(dt, dv)| { t += dt; v += dv; Sample::new(t, v) })
                .collect();
            let now = t - back;
            let w = RateWindow { window, min_span };
            let got = slope(s.iter().copied(), now, &w).map(f64::to_bits);
            let want = slope_three_scans(&s, now, &w).map(f64::to_bits);
            prop_assert_eq!(got, want);
        }
    }

    proptest! {
        // A linear series gives its exact rate, whatever the start, rate, spacing and epoch.
        #[test]
        fn linear_series_is_exact(
            start in 0i64..1_000_000_000_000,
            per_poll in 0i64..1_000_000,
            step in 0.1f64..60.0,
            n in 2usize..40,
            t0 in 0.0f64..2e9,
        ) {
            let s: Vec<Sample> = (0..n)
                .map(|i| Sample::new(t0 + i as f64 * step, start + per_poll * i as i64))
                .collect();
            let now = s[n - 1].t;
            let w = RateWindow { window: step * n as f64 + 1.0, min_span: step * 0.5 };
            let got = slope(s.iter().copied(), now, &w);
            let got = got.ok_or_else(|| TestCaseError::fail("rate unknown"))?;
            let want = per_poll as f64 / step;
            // Only float rounding of t0 + i*step separates this from exact.
            prop_assert!((got - want).abs() <= want * 1e-5 + 1e-9, "got {got}, want {want}");
        }

        // The ETA is finite exactly when the consumer outpaces the producer (or lag is 0).
        #[test]
        fn eta_finite_iff_consume_exceeds_produce(
            lag in 0i64..1_000_000_000,
            c in 0.0f64..1e6,
            p in 0.0f64..1e6,
        ) {
            let eta = drain_eta(lag, Some(c), Some(p));
            let eta = eta.ok_or_else(|| TestCaseError::fail("eta unknown"))?;
            prop_assert!(eta >= 0.0);
            prop_assert_eq!(eta.is_finite(), lag == 0 || c > p);
        }
    }
}
