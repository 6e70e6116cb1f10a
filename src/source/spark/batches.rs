//! The recent micro-batches of a query, from its offsets log (pure).

use super::parse::OffsetLog;
use crate::snapshot::SparkBatch;

/// How many of the latest `offsets/<N>` files are read for batch durations and sizes:
/// ten complete batches and the one in flight.
pub const HISTORY: usize = 11;

/// The batch list from the recent offset logs, oldest first. `logs` holds each batch id
/// with its parsed log (None when it could not be read); `committed` says whether
/// `commits/<id>` exists.
pub fn batches(
    logs: &[(u64, Option<&OffsetLog>)],
    committed: impl Fn(u64) -> bool,
) -> Vec<SparkBatch> {
    let mut out = Vec::with_capacity(logs.len());
    let mut prev: Option<(u64, Option<&OffsetLog>)> = None;
    for &(id, log) in logs {
        let records = match (prev, log) {
            // Only the batch just before this one bounds what this one read.
            (Some((p, Some(before))), Some(now)) if p + 1 == id => {
                Some(records_between(before, now))
            }
            _ => None,
        };
        out.push(SparkBatch {
            id,
            planned_at: log
                .and_then(|l| l.batch_timestamp_ms)
                .map(|ms| ms as f64 / 1000.0),
            records,
            committed: committed(id),
        });
        prev = Some((id, log));
    }
    out
}

/// Records between two consecutive batches' end offsets, over the partitions both name: a
/// partition new in `now` has no known start (Spark starts it where its option says).
pub fn records_between(before: &OffsetLog, now: &OffsetLog) -> i64 {
    now.kafka
        .iter()
        .filter_map(|(tp, &end)| before.kafka.get(tp).map(|&start| (end - start).max(0)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::TopicPartition;

    fn log(ts: Option<i64>, offs: &[(&str, i32, i64)]) -> OffsetLog {
        OffsetLog {
            version: 1,
            batch_timestamp_ms: ts,
            kafka: offs
                .iter()
                .map(|&(t, p, o)| (TopicPartition::new(t, p), o))
                .collect(),
            ..OffsetLog::default()
        }
    }

    #[test]
    fn records_between_rows() {
        // (before, now, records); each row says why.
        let rows = [
            // the seed: 10,000 over three partitions
            (
                log(None, &[("t", 0, 0), ("t", 1, 0), ("t", 2, 0)]),
                log(None, &[("t", 0, 3334), ("t", 1, 3333), ("t", 2, 3333)]),
                10_000,
            ),
            // idle batch: nothing moved
            (log(None, &[("t", 0, 5)]), log(None, &[("t", 0, 5)]), 0),
            // a partition added between the batches has no known start: not counted
            (
                log(None, &[("t", 0, 5)]),
                log(None, &[("t", 0, 9), ("t", 1, 100)]),
                4,
            ),
            // a partition that went backwards (topic recreated) counts nothing, not minus
            (
                log(None, &[("t", 0, 50)]),
                log(None, &[("t", 0, 10), ("u", 0, 0)]),
                0,
            ),
            // two topics add up
            (
                log(None, &[("a", 0, 1), ("b", 0, 1)]),
                log(None, &[("a", 0, 3), ("b", 0, 4)]),
                5,
            ),
        ];
        for (i, (b, n, want)) in rows.iter().enumerate() {
            assert_eq!(records_between(b, n), *want, "row {i}");
        }
    }

    #[test]
    fn batch_list() {
        let l0 = log(Some(1_000), &[("t", 0, 0)]);
        let l1 = log(Some(11_000), &[("t", 0, 10_000)]);
        let l3 = log(Some(31_000), &[("t", 0, 30_000)]);
        let l4 = log(None, &[("t", 0, 40_000)]);
        let logs = [
            (0, Some(&l0)),
            (1, Some(&l1)),
            (2, None), // unreadable: neither it nor its successor has a size
            (3, Some(&l3)),
            (4, Some(&l4)), // written without batchTimestampMs
        ];
        let got = batches(&logs, |id| id < 4);
        let want = [
            (0, Some(1.0), None, true), // the first read: start unknown
            (1, Some(11.0), Some(10_000), true),
            (2, None, None, true),
            (3, Some(31.0), None, true),    // its predecessor unreadable
            (4, None, Some(10_000), false), // in flight
        ];
        assert_eq!(got.len(), want.len());
        for (b, (id, at, records, committed)) in got.iter().zip(want) {
            assert_eq!(
                (b.id, b.planned_at, b.records, b.committed),
                (id, at, records, committed)
            );
        }
        // A gap in ids (purged or missing file) bounds nothing either.
        let got = batches(&[(5, Some(&l0)), (7, Some(&l1))], |_| true);
        assert_eq!(got[1].records, None);
    }
}
