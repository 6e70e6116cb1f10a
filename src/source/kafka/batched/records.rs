//! The first unconsumed record of lagging partitions: one Fetch per partition leader,
//! carrying every such partition with a small byte limit, read_uncommitted. Only the
//! timestamp is kept; the batch holding the offset is decoded for every codec.

use super::wire::api::Call;
use super::wire::{error, error_name};
use super::{Batched, Broker, Outcome, Unsupported};
use crate::snapshot::{FirstRecord, RecordStamp};
use bytes::{Buf, Bytes};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchResponse, ListOffsetsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// A partition to read one record of: where, from which offset, with how many bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAsk {
    /// Topic name.
    pub topic: String,
    /// Partition id.
    pub partition: i32,
    /// The offset whose record is wanted.
    pub offset: i64,
    /// The partition's byte limit.
    pub max_bytes: i32,
    /// Leader, as an index into the poll's brokers.
    pub leader: usize,
}

/// What one partition's fetch gave.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordAnswer {
    /// The first data record at or after the offset, or that there is none.
    Read(FirstRecord),
    /// The batch holding the offset is larger than the limit: ask again with this many.
    TooSmall(i32),
    /// The principal may not read the topic.
    Unauthorized,
    /// Any other failure (offset out of range, leader moved, a broken batch).
    Failed(String),
}

/// The oldest record kept in a partition: its offset and time (Unix ms).
pub type OldestRecord = (i64, i64);

/// Size of a record batch's header up to and including the record count.
const BATCH_HEADER: usize = 61;

/// What one partition's records say about the first data record at or after `offset`.
/// Pure: `records` is the partition's bytes from a Fetch answer (whole batches, then maybe
/// a partial one cut by the byte limit).
pub fn first_record(mut records: Bytes, offset: i64) -> RecordAnswer {
    let mut saw_marker = false;
    while records.remaining() >= 12 {
        let len = i32::from_be_bytes([records[8], records[9], records[10], records[11]]);
        let Ok(size) = usize::try_from(len).map(|l| l + 12) else {
            return RecordAnswer::Failed(format!("negative batch length {len}"));
        };
        if records.remaining() < size {
            // Cut by the byte limit. A batch that fits nothing yet needs a bigger limit.
            if saw_marker {
                break;
            }
            return RecordAnswer::TooSmall(i32::try_from(size).unwrap_or(i32::MAX));
        }
        let batch = records.split_to(size);
        if size < BATCH_HEADER {
            return RecordAnswer::Failed("record batch shorter than its header".into());
        }
        let magic = batch[16];
        if magic != 2 {
            return RecordAnswer::Failed(format!(
                "message format v{magic} (before Kafka 0.11) is not read"
            ));
        }
        let attributes = i16::from_be_bytes([batch[21], batch[22]]);
        let control = attributes & (1 << 5) != 0;
        let log_append = attributes & (1 << 3) != 0;
        let max_ts = batch.slice(35..43).get_i64();
        let last_offset = batch.slice(0..8).get_i64() + i64::from(batch.slice(23..27).get_i32());
        if last_offset < offset {
            continue;
        }
        if control {
            saw_marker = true;
            continue;
        }
        let mut whole = batch.clone();
        let set = match RecordBatchDecoder::decode(&mut whole) {
            Ok(s) => s,
            Err(e) => return RecordAnswer::Failed(format!("cannot decode a record batch: {e}")),
        };
        if let Some(r) = set.records.iter().find(|r| r.offset >= offset) {
            // On a LogAppendTime batch the records keep the producer's times; the broker's
            // time is the batch's max timestamp (as Kafka's own clients read it).
            let ms = if log_append { max_ts } else { r.timestamp };
            return RecordAnswer::Read(FirstRecord::Found(RecordStamp {
                offset: r.offset,
                at: ms as f64 / 1000.0,
                log_append,
            }));
        }
    }
    if saw_marker {
        RecordAnswer::Read(FirstRecord::NoData)
    } else {
        RecordAnswer::Failed("no record at or after the offset in the answer".into())
    }
}

impl Batched {
    /// One Fetch per leader for `asks`; per (topic, partition, offset) what it gave.
    /// `Unsupported` when a leader does not speak Fetch v4+ (time lag is then estimated).
    pub fn first_records(
        &mut self,
        asks: &[RecordAsk],
        brokers: &[Broker],
        deadline: Instant,
    ) -> Result<HashMap<(String, i32, i64), RecordAnswer>, Unsupported> {
        let mut by_leader: BTreeMap<usize, BTreeMap<&str, Vec<&RecordAsk>>> = BTreeMap::new();
        for a in asks {
            by_leader
                .entry(a.leader)
                .or_default()
                .entry(a.topic.as_str())
                .or_default()
                .push(a);
        }
        let mut out = HashMap::with_capacity(asks.len());
        let mut jobs = Vec::new();
        let mut asked = Vec::new();
        for (leader, topics) in &by_leader {
            match brokers.get(*leader) {
                Some(b) => {
                    jobs.push((b.clone(), vec![Call::Fetch(fetch_request(topics))]));
                    asked.push(topics);
                }
                None => {
                    for a in topics.values().flatten() {
                        let why = RecordAnswer::Failed("partition has no leader".into());
                        out.insert((a.topic.clone(), a.partition, a.offset), why);
                    }
                }
            }
        }
        let outcomes = self.exchange(jobs, deadline);
        for (topics, outcome) in asked.into_iter().zip(outcomes) {
            let offset_of: HashMap<(&str, i32), i64> = topics
                .values()
                .flatten()
                .map(|a| ((a.topic.as_str(), a.partition), a.offset))
                .collect();
            let fail_all = |out: &mut HashMap<_, _>, why: String| {
                for a in topics.values().flatten() {
                    let f = RecordAnswer::Failed(why.clone());
                    out.insert((a.topic.clone(), a.partition, a.offset), f);
                }
            };
            let answers = match outcome {
                Outcome::Unsupported(why) => return Err(Unsupported(why)),
                Outcome::Failed(e) => {
                    fail_all(&mut out, format!("Fetch: {e}"));
                    continue;
                }
                Outcome::Answered(a) => a,
            };
            for r in answers {
                let resp = match FetchResponse::try_from(r) {
                    Ok(r) => r,
                    Err(e) => {
                        fail_all(&mut out, format!("Fetch: {e}"));
                        continue;
                    }
                };
                if let Some(e) = error(resp.error_code) {
                    fail_all(&mut out, format!("Fetch: {}", error_name(e)));
                    continue;
                }
                for t in resp.responses {
                    let topic = t.topic.to_string();
                    for p in t.partitions {
                        let Some(&offset) = offset_of.get(&(topic.as_str(), p.partition_index))
                        else {
                            continue;
                        };
                        let answer = match error(p.error_code) {
                            Some(ResponseError::TopicAuthorizationFailed) => {
                                RecordAnswer::Unauthorized
                            }
                            Some(e) => RecordAnswer::Failed(format!("Fetch: {}", error_name(e))),
                            None => match p.records {
                                Some(r) => first_record(r, offset),
                                // Nothing between the offset and the high watermark read
                                // then: the log end moved back, or the data is gone.
                                None => RecordAnswer::Failed("Fetch answered no records".into()),
                            },
                        };
                        out.insert((topic.clone(), p.partition_index, offset), answer);
                    }
                }
            }
            for a in topics.values().flatten() {
                out.entry((a.topic.clone(), a.partition, a.offset))
                    .or_insert_with(|| {
                        RecordAnswer::Failed("partition missing from the answer".into())
                    });
            }
        }
        Ok(out)
    }
}

impl Batched {
    /// The oldest record kept in each of `parts` (topic, partition, leader index): its
    /// offset and time (ms), from ListOffsets at timestamp 0, "the first record written at
    /// or after the epoch". It needs Describe on the topic, not Read, so it bounds the
    /// estimate where records cannot be fetched.
    pub fn oldest_records(
        &mut self,
        parts: &[(String, i32, usize)],
        brokers: &[Broker],
        deadline: Instant,
    ) -> Result<HashMap<(String, i32), OldestRecord>, Unsupported> {
        let mut by_leader: BTreeMap<usize, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
        for (t, p, l) in parts {
            by_leader
                .entry(*l)
                .or_default()
                .entry(t)
                .or_default()
                .push(*p);
        }
        let (mut jobs, mut asked) = (Vec::new(), Vec::new());
        for (l, topics) in &by_leader {
            if let Some(b) = brokers.get(*l) {
                let req = super::calls::list_offsets(topics, 0, |&p| p);
                jobs.push((b.clone(), vec![Call::ListOffsets(req)]));
                asked.push(l);
            }
        }
        let mut out = HashMap::new();
        for outcome in self.exchange(jobs, deadline) {
            let answers = match outcome {
                Outcome::Unsupported(why) => return Err(Unsupported(why)),
                Outcome::Failed(_) => continue,
                Outcome::Answered(a) => a,
            };
            for r in answers {
                let Ok(resp) = ListOffsetsResponse::try_from(r) else {
                    continue;
                };
                for t in resp.topics {
                    for p in t.partitions {
                        // -1: no record at or after the epoch (an empty log).
                        if p.error_code == 0 && p.offset >= 0 && p.timestamp >= 0 {
                            out.insert(
                                (t.name.to_string(), p.partition_index),
                                (p.offset, p.timestamp),
                            );
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// One Fetch for a leader's partitions: read_uncommitted, no fetch session. Every partition
/// asked has records below its high watermark, so one byte is there at once; the short
/// wait only matters to brokers that answer "nothing yet" to a zero wait (tansu does).
fn fetch_request(topics: &BTreeMap<&str, Vec<&RecordAsk>>) -> FetchRequest {
    let mut total: i64 = 0;
    let topics = topics
        .iter()
        .map(|(t, asks)| {
            let parts = asks
                .iter()
                .map(|a| {
                    total += i64::from(a.max_bytes);
                    FetchPartition::default()
                        .with_partition(a.partition)
                        .with_fetch_offset(a.offset)
                        .with_partition_max_bytes(a.max_bytes)
                        .with_current_leader_epoch(-1)
                        .with_last_fetched_epoch(-1)
                        .with_log_start_offset(-1)
                })
                .collect();
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string((*t).to_owned())))
                .with_partitions(parts)
        })
        .collect();
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(100)
        .with_min_bytes(1)
        .with_max_bytes(i32::try_from(total).unwrap_or(i32::MAX))
        .with_isolation_level(0)
        // Session id 0 with epoch -1: a full fetch that opens no fetch session.
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics)
}

#[cfg(test)]
mod tests;
