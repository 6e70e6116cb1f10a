//! What a poll read about records themselves rather than offsets: the timestamp of the first
//! unconsumed record of lagging partitions, and the topic settings that say how long records
//! are kept.

use super::Timestamp;

/// The record a Fetch found at or after an offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordStamp {
    /// Its offset: the offset asked for, or the next one kept (compaction, control records).
    pub offset: i64,
    /// When it was written (Unix seconds): the producer's CreateTime, or the broker's time
    /// on a `LogAppendTime` topic.
    pub at: Timestamp,
    /// The time is the broker's append time.
    pub log_append: bool,
}

/// The first data record at or after an offset, as one Fetch read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FirstRecord {
    /// A data record.
    Found(RecordStamp),
    /// Only transaction markers lie between the offset and the high watermark: nothing is
    /// left to consume.
    NoData,
}

/// The settings of one topic that decide how long its records are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TopicConfig {
    /// `retention.ms`; `None` when unlimited (-1).
    pub retention_ms: Option<i64>,
    /// `retention.bytes` (per partition); `None` when unlimited (-1).
    pub retention_bytes: Option<i64>,
    /// `cleanup.policy` contains `delete`: old segments are deleted.
    pub delete: bool,
    /// `cleanup.policy` contains `compact`.
    pub compact: bool,
    /// `message.timestamp.type` is `LogAppendTime`.
    pub log_append_time: bool,
}

impl TopicConfig {
    /// Reads the describe answer's values (`None`: the key was not in the answer); absent
    /// keys take Kafka's defaults.
    pub fn from_values<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        let limit = |k: &str, default: i64| {
            let v = get(k)
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or(default);
            (v >= 0).then_some(v)
        };
        let policy = get("cleanup.policy").unwrap_or("delete");
        let has = |p: &str| policy.split(',').any(|x| x.trim().eq_ignore_ascii_case(p));
        TopicConfig {
            retention_ms: limit("retention.ms", 604_800_000),
            retention_bytes: limit("retention.bytes", -1),
            delete: has("delete"),
            compact: has("compact"),
            log_append_time: get("message.timestamp.type")
                .is_some_and(|t| t.eq_ignore_ascii_case("LogAppendTime")),
        }
    }

    /// Seconds a record is kept by time, when the topic deletes by time.
    pub fn retention_seconds(&self) -> Option<f64> {
        self.retention_ms
            .filter(|_| self.delete)
            .map(|ms| ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_config_cases() {
        // (why, values, retention seconds, retention bytes, compact, log append)
        type Row = (
            &'static str,
            &'static [(&'static str, &'static str)],
            Option<f64>,
            Option<i64>,
            bool,
            bool,
        );
        let rows: &[Row] = &[
            (
                "nothing said: Kafka's 7 days, delete",
                &[],
                Some(604_800.0),
                None,
                false,
                false,
            ),
            (
                "one day",
                &[("retention.ms", "86400000")],
                Some(86_400.0),
                None,
                false,
                false,
            ),
            (
                "unlimited time",
                &[("retention.ms", "-1")],
                None,
                None,
                false,
                false,
            ),
            (
                "compacted only: time retention does not delete",
                &[("cleanup.policy", "compact"), ("retention.ms", "1000")],
                None,
                None,
                true,
                false,
            ),
            (
                "compact,delete: both",
                &[
                    ("cleanup.policy", "compact,delete"),
                    ("retention.ms", "1000"),
                ],
                Some(1.0),
                None,
                true,
                false,
            ),
            (
                "size limit",
                &[("retention.bytes", "1073741824")],
                Some(604_800.0),
                Some(1 << 30),
                false,
                false,
            ),
            (
                "broker time",
                &[("message.timestamp.type", "LogAppendTime")],
                Some(604_800.0),
                None,
                false,
                true,
            ),
        ];
        for (why, values, secs, bytes, compact, append) in rows {
            let c =
                TopicConfig::from_values(|k| values.iter().find(|(n, _)| *n == k).map(|(_, v)| *v));
            assert_eq!(c.retention_seconds(), *secs, "{why}");
            assert_eq!(c.retention_bytes, *bytes, "{why}");
            assert_eq!(c.compact, *compact, "{why}");
            assert_eq!(c.log_append_time, *append, "{why}");
        }
    }
}
