//! The cluster's metadata on the fast path: one Metadata request (every topic) to a broker
//! already known, or else to a bootstrap server, so a poll of a PLAINTEXT cluster needs
//! librdkafka for nothing.

use super::wire::api::Call;
use super::wire::{error, error_name, WireError};
use super::{Batched, Broker, Outcome, Unsupported};
use crate::source::kafka::types::{ClusterMetadata, TopicMetadata};
use kafka_protocol::messages::{MetadataRequest, MetadataResponse};
use std::time::Instant;

/// Why no metadata was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataError {
    /// The broker does not speak the versions: librdkafka reads the metadata instead.
    Unsupported(Unsupported),
    /// No broker answered: the last one's error.
    Unreachable(String),
    /// The deadline passed before an answer.
    Slow,
}

/// The bootstrap servers of `bootstrap.servers` (`host:port,host:port`, an optional
/// `PLAINTEXT://` in front, IPv6 hosts in brackets); entries without a valid port are
/// left out, and an empty list is the caller's to report.
pub fn bootstrap_brokers(servers: &str) -> Vec<Broker> {
    servers
        .split(',')
        .filter_map(|s| {
            let s = s.trim();
            let s = s.split_once("://").map_or(s, |(_, rest)| rest);
            let (host, port) = s.rsplit_once(':')?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port = port.parse::<u16>().ok()?;
            (!host.is_empty()).then(|| Broker {
                host: host.to_owned(),
                port: i32::from(port),
            })
        })
        .collect()
}

/// A Metadata answer as lagwatch reads it; an error for the whole answer (v13) is an error.
pub fn cluster_metadata(r: MetadataResponse) -> Result<ClusterMetadata, String> {
    if let Some(e) = error(r.error_code) {
        return Err(format!("Metadata: {}", error_name(e)));
    }
    let brokers = r
        .brokers
        .into_iter()
        .map(|b| {
            let broker = Broker {
                host: b.host.to_string(),
                port: b.port,
            };
            (b.node_id.0, broker)
        })
        .collect();
    let topics = r
        .topics
        .into_iter()
        .filter_map(|t| {
            // A null name only answers a request by topic id, which lagwatch never sends.
            let name = t.name?.to_string();
            Some(TopicMetadata {
                name,
                id: Some(t.topic_id).filter(|id| !id.is_nil()),
                failed: error(t.error_code).is_some(),
                partitions: t
                    .partitions
                    .into_iter()
                    .map(|p| (p.partition_index, p.leader_id.0))
                    .collect(),
            })
        })
        .collect();
    Ok(ClusterMetadata { brokers, topics })
}

impl Batched {
    /// Every topic and broker, from the first broker that answers: those of the last
    /// answer (connected ones first), then the bootstrap servers.
    pub fn metadata(
        &mut self,
        bootstrap: &[Broker],
        deadline: Instant,
    ) -> Result<ClusterMetadata, MetadataError> {
        let mut order: Vec<Broker> = self.known.clone();
        order.sort_by_key(|b| !self.conns.contains_key(&b.key()));
        for b in bootstrap {
            if !order.contains(b) {
                order.push(b.clone());
            }
        }
        // Every topic (a null list), and never create one by asking.
        let req = MetadataRequest::default()
            .with_topics(None)
            .with_allow_auto_topic_creation(false);
        let mut last = "no bootstrap server with a host and port".to_owned();
        for b in order {
            let Some(out) = self
                .exchange(
                    vec![(b.clone(), vec![Call::Metadata(req.clone())])],
                    deadline,
                )
                .pop()
            else {
                continue;
            };
            let answers = match out {
                Outcome::Unsupported(why) => {
                    return Err(MetadataError::Unsupported(Unsupported(why)))
                }
                // Every wait is bounded by the poll's deadline: a timeout means it passed.
                Outcome::Failed(WireError::Timeout { .. }) => return Err(MetadataError::Slow),
                Outcome::Failed(e) => {
                    last = e.to_string();
                    continue;
                }
                Outcome::Answered(a) => a,
            };
            let read = answers
                .into_iter()
                .next()
                .ok_or_else(|| format!("{}: no Metadata answer", b.key()))
                .and_then(|a| MetadataResponse::try_from(a).map_err(|e| e.to_string()))
                .and_then(cluster_metadata);
            match read {
                Ok(md) => {
                    self.known = md.brokers.iter().map(|(_, b)| b.clone()).collect();
                    return Ok(md);
                }
                Err(e) => last = format!("{}: {e}", b.key()),
            }
        }
        Err(MetadataError::Unreachable(last))
    }
}
