//! Pure parsing of Spark Structured Streaming offset-log files (`offsets/<N>`) and of the
//! Kafka source's initial offsets (`sources/<id>/0`).
//!
//! Format (Spark's HDFSMetadataLog / OffsetSeqLog): line 1 `v1` or `v2`, line 2 the batch
//! metadata JSON, then one line per source in plan order. A v1 source line is the source's
//! offset JSON or `-` (no offset yet); a v2 line is `<sourceId>:<json or ->`. The Kafka
//! source writes `{"topic":{"partition":next_offset}}`; other sources write other JSON.

use crate::snapshot::TopicPartition;
use std::collections::BTreeMap;

/// Highest offset-log version lagwatch understands.
pub const MAX_VERSION: u32 = 2;

/// What one `offsets/<N>` file says about the Kafka positions of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetLog {
    /// Offset-log format version (1 or 2).
    pub version: u32,
    /// When Spark planned the batch (ms since epoch), from the metadata line.
    pub batch_timestamp_ms: Option<i64>,
    /// End offset (next offset to read) per Kafka partition, merged over all Kafka sources.
    pub kafka: BTreeMap<TopicPartition, i64>,
    /// Sources with an offset that is not Kafka's (e.g. `rate`): ignored.
    pub other_sources: usize,
    /// Sources written as `-` (no offset yet).
    pub empty_sources: usize,
    /// Source lines in all, Kafka or not: source ids run from 0 to this.
    pub sources: usize,
}

/// Why an offset-log file could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not UTF-8 text.
    #[error("not UTF-8 text")]
    NotText,
    /// The file is empty.
    #[error("empty file")]
    Empty,
    /// Line 1 is not `v<number>`.
    #[error("line 1 is not a version header like `v1`: {0:?}")]
    BadVersion(String),
    /// Written by a newer Spark than lagwatch understands.
    #[error("unsupported offset log version v{0} (lagwatch reads v1 and v2)")]
    UnsupportedVersion(u32),
    /// Line 2 is missing or not a JSON object.
    #[error("line 2 (batch metadata) is missing or not a JSON object (truncated file?)")]
    BadMetadata,
    /// No source line after the metadata.
    #[error("no source lines after the metadata (truncated file?)")]
    NoSources,
    /// A source line is not JSON, `-`, or (v2) `id:json`.
    #[error("line {line}: source offset is not valid JSON (truncated file?): {snippet:?}")]
    BadSource {
        /// 1-based line number.
        line: usize,
        /// The start of the line, for the error message.
        snippet: String,
    },
    /// A Kafka source whose offset for a partition is not an integer.
    #[error("line {line}: offset of {topic}/{partition} is not an integer: {value}")]
    BadOffset {
        /// 1-based line number.
        line: usize,
        /// Topic name.
        topic: String,
        /// Partition key as written.
        partition: String,
        /// The value, shortened.
        value: String,
    },
}

/// The batch id of a log file name; only plain integers are batches (`.N.crc`, `N.tmp` are not).
pub fn batch_id(file_name: &str) -> Option<u64> {
    if file_name.is_empty() || !file_name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    file_name.parse().ok()
}

/// Parses raw file bytes; see [`parse_offset_log`].
pub fn parse_offset_log_bytes(bytes: &[u8]) -> Result<OffsetLog, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ParseError::NotText)?;
    parse_offset_log(text)
}

/// Parses the text of one `offsets/<N>` file.
pub fn parse_offset_log(text: &str) -> Result<OffsetLog, ParseError> {
    // Spark writes `\n` and no trailing newline; tolerate `\r\n` and a final newline.
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let header = lines.next().unwrap_or_default();
    if header.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let version = parse_version(header)?;
    let meta_line = lines.next().ok_or(ParseError::BadMetadata)?;
    let meta: serde_json::Value =
        serde_json::from_str(meta_line).map_err(|_| ParseError::BadMetadata)?;
    let meta = meta.as_object().ok_or(ParseError::BadMetadata)?;
    let mut log = OffsetLog {
        version,
        batch_timestamp_ms: meta.get("batchTimestampMs").and_then(|v| v.as_i64()),
        ..OffsetLog::default()
    };
    let mut sources = 0usize;
    for (i, line) in lines.enumerate() {
        let line_no = i + 3;
        if line.trim().is_empty() {
            continue;
        }
        sources += 1;
        let body = if version >= 2 {
            source_body_v2(line)
        } else {
            line
        };
        let body = body.trim();
        if body == "-" {
            log.empty_sources += 1;
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|_| ParseError::BadSource {
                line: line_no,
                snippet: line.chars().take(60).collect(),
            })?;
        let shaped =
            kafka_offsets(&value).map_err(|(topic, partition, value)| ParseError::BadOffset {
                line: line_no,
                topic,
                partition,
                value,
            })?;
        match shaped {
            Some(offsets) => {
                for (tp, off) in offsets {
                    // One topic read by two sources (e.g. a self-join): the slower one decides
                    // how far behind the query is.
                    log.kafka
                        .entry(tp)
                        .and_modify(|o| *o = (*o).min(off))
                        .or_insert(off);
                }
            }
            None => log.other_sources += 1,
        }
    }
    if sources == 0 {
        return Err(ParseError::NoSources);
    }
    log.sources = sources;
    Ok(log)
}

/// Parses `sources/<id>/0`, where Spark's Kafka source records the offsets its first batch
/// starts from (Spark's KafkaSourceInitialOffsetWriter: a zero byte, `v1`, then the
/// offsets JSON). Until batch 0 commits this is the only position the checkpoint holds.
/// `Ok(None)`: not a Kafka source's file (other sources keep other things there).
pub fn parse_initial_offsets(
    bytes: &[u8],
) -> Result<Option<BTreeMap<TopicPartition, i64>>, ParseError> {
    // The zero byte keeps files readable by Spark 2.1.0 (SPARK-19517); older files lack it.
    let bytes = bytes.strip_prefix(&[0u8]).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| ParseError::NotText)?;
    let (header, body) = text.split_once('\n').unwrap_or((text, ""));
    if header.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    parse_version(header)?;
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body.trim()) else {
        return Ok(None);
    };
    let offsets =
        kafka_offsets(&value).map_err(|(topic, partition, value)| ParseError::BadOffset {
            line: 2,
            topic,
            partition,
            value,
        })?;
    Ok(offsets.map(|o| o.into_iter().collect()))
}

fn parse_version(header: &str) -> Result<u32, ParseError> {
    let bad = || ParseError::BadVersion(header.chars().take(20).collect());
    let digits = header.trim().strip_prefix('v').ok_or_else(bad)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let v: u32 = digits
        .parse()
        .map_err(|_| ParseError::UnsupportedVersion(u32::MAX))?;
    match v {
        0 => Err(bad()),
        1..=MAX_VERSION => Ok(v),
        _ => Err(ParseError::UnsupportedVersion(v)),
    }
}

/// v2 lines are `<sourceId>:<offset>`; a line that starts with JSON or `-` has no id.
fn source_body_v2(line: &str) -> &str {
    let t = line.trim_start();
    if t.starts_with('{') || t.starts_with('[') || t.starts_with('"') || t == "-" {
        return t;
    }
    match line.split_once(':') {
        Some((_, rest)) => rest,
        None => line,
    }
}

/// A Kafka-shaped offset with a value that is not an integer: (topic, partition, value).
type BadKafkaOffset = (String, String, String);

/// The Kafka source's shape: a non-empty object of topics, each an object of
/// `"partition": offset`. Anything else belongs to another source type; the Kafka shape
/// with a value that is not an integer is a broken file, not another source.
fn kafka_offsets(
    v: &serde_json::Value,
) -> Result<Option<Vec<(TopicPartition, i64)>>, BadKafkaOffset> {
    let Some(topics) = v.as_object().filter(|o| !o.is_empty()) else {
        return Ok(None);
    };
    let kafka_shaped = topics.values().all(|parts| {
        parts
            .as_object()
            .is_some_and(|m| m.keys().all(|p| p.parse::<i32>().is_ok()))
    });
    if !kafka_shaped {
        return Ok(None);
    }
    let mut out = Vec::new();
    for (topic, parts) in topics {
        for (p, off) in parts.as_object().into_iter().flatten() {
            let Ok(partition) = p.parse::<i32>() else {
                continue; // checked above: every key is a partition number
            };
            let Some(off) = off.as_i64() else {
                let shown: String = off.to_string().chars().take(40).collect();
                return Err((topic.clone(), p.clone(), shown));
            };
            // Negative values are "earliest"/"latest" markers, not positions.
            if off >= 0 {
                out.push((TopicPartition::new(topic.as_str(), partition), off));
            }
        }
    }
    Ok(Some(out))
}
