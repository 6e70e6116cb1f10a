//! What a Spark checkpoint says about recent micro-batches: raw facts, nothing derived.

use super::Timestamp;

/// One Spark micro-batch as its checkpoint records it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparkBatch {
    /// Batch id (`offsets/<id>`).
    pub id: u64,
    /// When Spark planned it (`batchTimestampMs`), when written.
    pub planned_at: Option<Timestamp>,
    /// Records it reads: its end offsets minus the previous batch's, summed over the
    /// partitions both name; None when the previous batch's offsets are not known.
    pub records: Option<i64>,
    /// Whether `commits/<id>` exists.
    pub committed: bool,
}
