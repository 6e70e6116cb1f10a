//! The one lag function every path calls.

/// Lag of one group on one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLag {
    /// `log_end - committed`, never negative.
    pub lag: i64,
    /// `log_start - committed` when the committed offset fell below the log start, else 0.
    pub messages_lost: i64,
    /// The committed offset was beyond log end (a race or a truncated log): lag clamped to 0.
    pub clamped: bool,
}

/// Lag from a committed offset (the next offset to consume) and the partition's log bounds.
pub fn partition_lag(committed: i64, log_start: i64, log_end: i64) -> PartitionLag {
    let raw = log_end.saturating_sub(committed);
    PartitionLag {
        lag: raw.max(0),
        messages_lost: log_start.saturating_sub(committed).max(0),
        clamped: raw < 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cases() {
        // (committed, start, end) -> (lag, lost, clamped); each row says why.
        let rows = [
            ((100, 0, 150), (50, 0, false)),   // ordinary lag
            ((150, 0, 150), (0, 0, false)),    // caught up
            ((160, 0, 150), (0, 0, true)),     // committed read after a truncation: clamp
            ((10, 40, 150), (140, 30, false)), // retention deleted 30 unread messages
            ((0, 0, 0), (0, 0, false)),        // empty partition
        ];
        for ((c, s, e), (lag, lost, clamped)) in rows {
            assert_eq!(
                partition_lag(c, s, e),
                PartitionLag {
                    lag,
                    messages_lost: lost,
                    clamped
                },
                "committed={c} start={s} end={e}"
            );
        }
    }

    proptest! {
        #[test]
        fn never_negative(c in any::<i64>(), s in any::<i64>(), e in any::<i64>()) {
            let l = partition_lag(c, s, e);
            prop_assert!(l.lag >= 0);
            prop_assert!(l.messages_lost >= 0);
        }
    }
}
