//! What a Spark query's recent micro-batches say: batch duration, records per batch, the
//! age of the batch in flight, and whether `maxOffsetsPerTrigger` caps the batches. Pure.

use crate::snapshot::{SparkBatch, Timestamp};
use crate::view::SparkView;

/// Batches in a row that must read the same record count before a cap is inferred: two
/// equal batches can be chance, three in a row under a backlog are the trigger's limit.
pub const CAPPED_BATCHES: usize = 3;

/// Spark prorates `maxOffsetsPerTrigger` over the partitions and rounds each share, so a
/// capped batch reads the cap give or take a few records: within this fraction is "same".
const CAP_TOLERANCE: f64 = 0.01;

/// An in-flight batch younger than this is never slow: sub-second batches jitter by more
/// than their median, and a poll cannot see that finely anyway.
pub const SLOW_MIN_SECONDS: f64 = 10.0;

/// Statistics from the batches (oldest first); None for a query with no batch. Batch
/// duration runs from one batch's `batchTimestampMs` to the next one's, as Spark plans the
/// next batch when one ends; records per batch count the one in flight; the cap is
/// inferred when the last [`CAPPED_BATCHES`] batches all read the same count (within
/// rounding), and whether it limits anything depends on the lag.
pub fn stats(batches: &[SparkBatch], now: Timestamp) -> Option<SparkView> {
    let last = batches.last()?;
    let durations: Vec<f64> = batches
        .windows(2)
        .filter(|w| w[0].committed && w[0].id + 1 == w[1].id)
        .filter_map(|w| Some(w[1].planned_at? - w[0].planned_at?))
        .filter(|d| *d >= 0.0)
        .collect();
    let records: Vec<i64> = batches.iter().filter_map(|b| b.records).collect();
    let inflight_batch_age_seconds = (!last.committed)
        .then_some(last.planned_at)
        .flatten()
        .map(|at| (now - at).max(0.0));
    Some(SparkView {
        batch_duration_seconds: median_f(durations),
        records_per_batch: median_i(records),
        inflight_batch_age_seconds,
        trigger_cap: inferred_cap(batches),
    })
}

/// The cap, when the last [`CAPPED_BATCHES`] batches in a row read the same count.
fn inferred_cap(batches: &[SparkBatch]) -> Option<i64> {
    let tail = batches.len().checked_sub(CAPPED_BATCHES)?;
    let counts: Vec<i64> = batches[tail..]
        .iter()
        .map(|b| b.records)
        .collect::<Option<_>>()?;
    let (lo, hi) = (*counts.iter().min()?, *counts.iter().max()?);
    (lo > 0 && (hi - lo) as f64 <= hi as f64 * CAP_TOLERANCE).then_some(hi)
}

/// Whether the batch in flight has run longer than `factor` × the median batch duration.
pub fn batch_slow(s: &SparkView, factor: f64) -> bool {
    match (s.inflight_batch_age_seconds, s.batch_duration_seconds) {
        (Some(age), Some(median)) => age >= SLOW_MIN_SECONDS && age > factor * median,
        _ => false,
    }
}

fn median_f(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

fn median_i(mut v: Vec<i64>) -> Option<i64> {
    v.sort_unstable();
    // The lower median: a record count is whole, and with an even count the smaller of the
    // two middle batches is the one that happened.
    let n = v.len();
    (n > 0).then(|| v[(n - 1) / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches `first..` planned every `every` seconds from t=1000, each reading `records`
    /// (None for the first); the last one in flight when `inflight`.
    fn run(first: u64, records: &[Option<i64>], every: f64, inflight: bool) -> Vec<SparkBatch> {
        let n = records.len();
        records
            .iter()
            .enumerate()
            .map(|(i, &r)| SparkBatch {
                id: first + i as u64,
                planned_at: Some(1000.0 + every * i as f64),
                records: r,
                committed: !(inflight && i + 1 == n),
            })
            .collect()
    }

    const K: Option<i64> = Some(10_000);

    #[test]
    fn stats_rows() {
        let st = |d: Option<f64>, r: Option<i64>, a: Option<f64>, c: Option<i64>| SparkView {
            batch_duration_seconds: d,
            records_per_batch: r,
            inflight_batch_age_seconds: a,
            trigger_cap: c,
        };
        // (batches, now, stats); each row says why.
        let rows: Vec<(Vec<SparkBatch>, f64, Option<SparkView>)> = vec![
            // no batch yet: nothing to say
            (vec![], 2000.0, None),
            // the seed: 10 s batches of 10,000, batch 4 in flight for 3 s
            (
                run(0, &[None, K, K, K, K], 10.0, true),
                1043.0,
                Some(st(Some(10.0), K, Some(3.0), K)),
            ),
            // idle query: everything committed, no age; still capped by its history
            (
                run(7, &[K, K, K], 10.0, false),
                5000.0,
                Some(st(Some(10.0), K, None, K)),
            ),
            // Spark's proration rounds: 9,998 and 10,001 are the same cap
            (
                run(
                    0,
                    &[None, Some(9_998), Some(10_001), Some(10_000)],
                    10.0,
                    true,
                ),
                1031.0,
                Some(st(Some(10.0), Some(10_000), Some(1.0), Some(10_001))),
            ),
            // growing batches (no cap, reading what arrived): no cap inferred
            (
                run(0, &[None, Some(800), Some(900), Some(1_000)], 5.0, false),
                1020.0,
                Some(st(Some(5.0), Some(900), None, None)),
            ),
            // empty batches are not a cap of 0
            (
                run(0, &[Some(0), Some(0), Some(0)], 5.0, false),
                1020.0,
                Some(st(Some(5.0), Some(0), None, None)),
            ),
            // two equal batches are not yet a pattern
            (
                run(0, &[None, K, K], 10.0, true),
                1020.0,
                Some(st(Some(10.0), K, Some(0.0), None)),
            ),
            // the first batch in flight: an age, no duration
            (
                run(0, &[None], 10.0, true),
                1004.0,
                Some(st(None, None, Some(4.0), None)),
            ),
        ];
        for (i, (b, now, want)) in rows.into_iter().enumerate() {
            assert_eq!(stats(&b, now), want, "row {i}");
        }
    }

    #[test]
    fn durations_skip_gaps_and_uncommitted() {
        let mut b = run(0, &[None, K, K, K], 10.0, false);
        // batch 2 purged from the listing: 1 -> 3 is two batches, not one
        b.remove(2);
        // a batch without batchTimestampMs bounds nothing
        b[0].planned_at = None;
        let s = stats(&b, 2000.0).map(|s| s.batch_duration_seconds);
        assert_eq!(s, Some(None));
    }

    #[test]
    fn slow_rows() {
        let s = |age: Option<f64>, median: Option<f64>| SparkView {
            inflight_batch_age_seconds: age,
            batch_duration_seconds: median,
            ..SparkView::default()
        };
        // (stats, factor, slow); each row says why.
        let rows = [
            (s(Some(31.0), Some(10.0)), 3.0, true),  // past 3 × 10 s
            (s(Some(30.0), Some(10.0)), 3.0, false), // exactly 3 × is not past it
            (s(Some(25.0), Some(10.0)), 2.0, true),  // the factor is configurable
            (s(Some(9.0), Some(0.1)), 3.0, false),   // under the floor: sub-second jitter
            (s(None, Some(10.0)), 3.0, false),       // nothing in flight
            (s(Some(600.0), None), 3.0, false),      // no completed batch to compare with
        ];
        for (i, (st, factor, want)) in rows.iter().enumerate() {
            assert_eq!(batch_slow(st, *factor), *want, "row {i}");
        }
    }
}
