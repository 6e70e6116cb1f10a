//! The backlog gauges when several coordinators share one notifier's name: with
//! `shard_clusters` each cluster has its own coordinator and queue, and
//! `lagwatch_notifier_queue_length{notifier}` must count all of them, not whichever
//! coordinator wrote last.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A backlog: its length and when its oldest message was made.
type Backlog = (usize, Option<f64>);

/// Each coordinator's share of each notifier's backlog, by (notifier, coordinator).
#[derive(Debug, Default)]
pub struct Parts {
    parts: Mutex<BTreeMap<(String, u64), Backlog>>,
}

/// A coordinator's id among the parts (unique within the process).
pub fn new_part() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Parts {
    /// Records `part`'s backlog of `notifier` and returns the whole backlog of it.
    pub fn set(&self, notifier: &str, part: u64, len: usize, oldest: Option<f64>) -> Backlog {
        let mut p = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        p.insert((notifier.to_owned(), part), (len, oldest));
        total(
            p.range((notifier.to_owned(), 0)..=(notifier.to_owned(), u64::MAX))
                .map(|(_, v)| *v),
        )
    }
}

/// The sum of the lengths and the oldest of the oldest times.
fn total(parts: impl Iterator<Item = Backlog>) -> Backlog {
    parts.fold((0, None), |(n, old), (len, at)| {
        let oldest = match (old, at) {
            (Some(a), Some(b)) => Some(f64::min(a, b)),
            (a, b) => a.or(b),
        };
        (n + len, oldest)
    })
}

#[cfg(test)]
mod tests {
    use super::Parts;

    #[test]
    fn the_backlog_sums_the_parts_of_one_notifier() {
        let p = Parts::default();
        // (notifier, part, len, oldest, total expected, why)
        let cases = [
            (
                "hook",
                1,
                2,
                Some(10.0),
                (2, Some(10.0)),
                "one part: as it is",
            ),
            (
                "hook",
                2,
                1,
                Some(5.0),
                (3, Some(5.0)),
                "a second cluster adds",
            ),
            (
                "mail",
                1,
                4,
                Some(1.0),
                (4, Some(1.0)),
                "another notifier is apart",
            ),
            (
                "hook",
                2,
                0,
                None,
                (2, Some(10.0)),
                "a part emptied (demoted)",
            ),
            ("hook", 1, 0, None, (0, None), "all empty"),
        ];
        for (n, part, len, oldest, want, why) in cases {
            assert_eq!(p.set(n, part, len, oldest), want, "{why}");
        }
    }
}
