//! librdkafka's admin calls that rust-rdkafka lacks, as blocking functions over many groups
//! or partitions: requests are sent in chunks or windows on one queue and answers matched
//! back by index until a deadline. The FFI itself is in `librdkafka`; this is safe Rust.
//!
//! The functions block: call them from `spawn_blocking`.

use super::librdkafka::Admin;
use super::types::{
    Broker, CallError, ClusterMetadata, CommittedOffsets, GroupDescription, GroupListing,
    ListOffsetsResult, OffsetSpec, OffsetsRequest, TopicMetadata,
};
use crate::snapshot::TopicPartition;
use rdkafka::client::Client;
use rdkafka::ClientContext;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Groups per DescribeConsumerGroups call.
const DESCRIBE_CHUNK: usize = 500;

/// Partitions per ListOffsets call. librdkafka matches partitions to leaders and answers to
/// requests by linear search (quadratic in the partitions of one call), so large calls are
/// split; each chunk adds one request per broker.
const LIST_OFFSETS_CHUNK: usize = 500;

/// A little past the request timeout, so librdkafka's own timeout answers first.
fn deadline(timeout: Duration) -> Instant {
    Instant::now() + timeout + Duration::from_secs(1)
}

/// Every broker and topic of the cluster, as librdkafka's Metadata reads them (no topic
/// ids: rust-rdkafka does not pass them on).
pub fn metadata<C: ClientContext>(
    client: &Client<C>,
    timeout: Duration,
) -> Result<ClusterMetadata, String> {
    let md = client
        .fetch_metadata(None, timeout)
        .map_err(|e| e.to_string())?;
    let brokers = md
        .brokers()
        .iter()
        .map(|b| {
            let broker = Broker {
                host: b.host().to_owned(),
                port: b.port(),
            };
            (b.id(), broker)
        })
        .collect();
    let topics = md
        .topics()
        .iter()
        .map(|t| TopicMetadata {
            name: t.name().to_owned(),
            id: None,
            failed: t.error().is_some(),
            partitions: t
                .partitions()
                .iter()
                .map(|p| (p.id(), p.leader()))
                .collect(),
        })
        .collect();
    Ok(ClusterMetadata { brokers, topics })
}

/// Lists consumer groups; returns the valid listings and the per-broker errors.
pub fn list_consumer_groups<C: ClientContext>(
    client: &Client<C>,
    timeout: Duration,
) -> Result<(Vec<GroupListing>, Vec<String>), String> {
    let admin = Admin::new(client);
    admin.list_groups(timeout);
    let ev = admin
        .poll(deadline(timeout))
        .ok_or("ListConsumerGroups timed out")?;
    ev.listed_groups()
}

/// Describes groups in chunks, all in flight at once; per group a description or why not.
pub fn describe_consumer_groups<C: ClientContext>(
    client: &Client<C>,
    names: &[String],
    timeout: Duration,
) -> HashMap<String, Result<GroupDescription, CallError>> {
    let mut out = HashMap::new();
    if names.is_empty() {
        return out;
    }
    let admin = Admin::new(client);
    let chunks: Vec<&[String]> = names.chunks(DESCRIBE_CHUNK).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        admin.describe_groups(chunk, timeout, i);
    }
    let until = deadline(timeout);
    let mut pending: Vec<bool> = vec![true; chunks.len()];
    while pending.iter().any(|p| *p) {
        let Some(ev) = admin.poll(until) else { break };
        let idx = ev.opaque();
        if idx >= pending.len() {
            continue;
        }
        pending[idx] = false;
        if let Some(e) = ev.call_error() {
            for n in chunks[idx] {
                out.insert(n.clone(), Err(e.clone()));
            }
            continue;
        }
        out.extend(ev.described_groups().unwrap_or_default());
    }
    for (i, p) in pending.iter().enumerate() {
        if *p {
            for n in chunks[i] {
                out.entry(n.clone()).or_insert_with(|| {
                    Err(CallError::Failed("DescribeConsumerGroups timed out".into()))
                });
            }
        }
    }
    out
}

/// Fetches committed offsets for many groups, one group per request, at most `in_flight`
/// requests at once on one client.
pub fn list_consumer_group_offsets<C: ClientContext>(
    client: &Client<C>,
    requests: &[OffsetsRequest],
    in_flight: usize,
    timeout: Duration,
) -> Vec<Result<CommittedOffsets, CallError>> {
    let mut out: Vec<Option<Result<CommittedOffsets, CallError>>> = vec![None; requests.len()];
    let admin = Admin::new(client);
    let until = Instant::now() + timeout;
    let mut next = 0usize;
    let mut outstanding = 0usize;
    while next < requests.len() || outstanding > 0 {
        while next < requests.len() && outstanding < in_flight.max(1) {
            match admin.group_offsets(&requests[next], timeout, next) {
                Ok(()) => outstanding += 1,
                Err(e) => out[next] = Some(Err(CallError::Failed(e))),
            }
            next += 1;
        }
        if outstanding == 0 {
            continue;
        }
        let Some(ev) = admin.poll(until) else { break };
        let idx = ev.opaque();
        if idx >= out.len() || out[idx].is_some() {
            continue;
        }
        outstanding -= 1;
        out[idx] = Some(ev.group_offsets());
    }
    out.into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                Err(CallError::Failed(
                    "ListConsumerGroupOffsets timed out".into(),
                ))
            })
        })
        .collect()
}

/// Lists earliest or latest offsets (read_uncommitted) of many partitions: calls of
/// [`LIST_OFFSETS_CHUNK`] partitions, all in flight at once.
pub fn list_offsets<C: ClientContext>(
    client: &Client<C>,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
    timeout: Duration,
) -> Result<ListOffsetsResult, String> {
    let mut out = HashMap::new();
    if partitions.is_empty() {
        return Ok(out);
    }
    let admin = Admin::new(client);
    let chunks: Vec<&[TopicPartition]> = partitions.chunks(LIST_OFFSETS_CHUNK).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        admin.list_offsets(chunk, spec, timeout, i)?;
    }
    let until = deadline(timeout);
    let mut answered = vec![false; chunks.len()];
    let mut pending = chunks.len();
    while pending > 0 {
        let ev = admin.poll(until).ok_or("ListOffsets timed out")?;
        let idx = ev.opaque();
        if idx >= answered.len() || answered[idx] {
            continue;
        }
        answered[idx] = true;
        pending -= 1;
        ev.listed_offsets(&mut out)?;
    }
    Ok(out)
}
