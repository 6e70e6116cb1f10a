//! Committing every group's offsets on real Kafka, fast: simple commits (generation -1, no
//! member id: what `kafka-consumer-groups --reset-offsets` and a consumer without
//! `subscribe` send), no group membership, pipelined over one connection per coordinator.
//!
//! One librdkafka consumer per group spends most of its time starting up and finding its
//! coordinator; at the huge size's 10,000 groups that is the longest part of seeding. Here
//! the coordinators of all groups are found with batched FindCoordinator requests (v4 takes
//! many keys), then each coordinator gets its groups' OffsetCommit requests back to back.

use crate::seed::{committed, group, topic, Size};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ApiKey, FindCoordinatorRequest, FindCoordinatorResponse, GroupId, OffsetCommitRequest,
    OffsetCommitResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// FindCoordinator v4: the first with a batch of keys.
const FIND_V: i16 = 4;
/// OffsetCommit v8: flexible, topics by name (v10 would want topic ids).
const COMMIT_V: i16 = 8;
/// Keys per FindCoordinator request.
const FIND_BATCH: usize = 1000;
/// Commits written before their answers are read. Kafka handles one request of a
/// connection at a time, so this only hides the round trips; the answers (tens of bytes
/// each) fit in the socket buffers while the requests are still being written.
const WINDOW: usize = 200;
/// Error codes that go away by themselves while the offsets topic is created and loaded:
/// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR.
const RETRIABLE: [i16; 3] = [14, 15, 16];

/// A blocking Kafka connection that frames requests and reads answers in order.
struct Conn {
    stream: TcpStream,
    addr: String,
    next_id: i32,
}

impl Conn {
    fn connect(addr: &str) -> Result<Conn, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| format!("configure {addr}: {e}"))?;
        Ok(Conn {
            stream,
            addr: addr.to_owned(),
            next_id: 0,
        })
    }

    /// Appends one framed request to `out`.
    fn frame<R: Encodable>(
        &mut self,
        out: &mut BytesMut,
        api: ApiKey,
        version: i16,
        req: &R,
    ) -> Result<(), String> {
        self.next_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.next_id)
            .with_client_id(Some(StrBytes::from_static_str("bench-seed")));
        let at = out.len();
        out.put_i32(0);
        header
            .encode(out, api.request_header_version(version))
            .and_then(|()| req.encode(out, version))
            .map_err(|e| format!("encoding API {} v{version}: {e}", api as i16))?;
        let size = i32::try_from(out.len() - at - 4).map_err(|_| "request over 2 GiB")?;
        out[at..at + 4].copy_from_slice(&size.to_be_bytes());
        Ok(())
    }

    fn write(&mut self, out: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(out)
            .map_err(|e| format!("write {}: {e}", self.addr))
    }

    /// Reads the next answer's body (answers come in request order).
    fn read<R: Decodable>(&mut self, api: ApiKey, version: i16) -> Result<R, String> {
        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .map_err(|e| format!("read {}: {e}", self.addr))?;
        let n = usize::try_from(i32::from_be_bytes(size)).map_err(|_| "negative size")?;
        let mut body = vec![0u8; n];
        self.stream
            .read_exact(&mut body)
            .map_err(|e| format!("read {}: {e}", self.addr))?;
        let mut buf = Bytes::from(body);
        ResponseHeader::decode(&mut buf, api.response_header_version(version))
            .and_then(|_| R::decode(&mut buf, version))
            .map_err(|e| {
                format!(
                    "decoding API {} v{version} from {}: {e}",
                    api as i16, self.addr
                )
            })
    }
}

/// Commits every group's offsets (see [`committed`]); retries the groups whose
/// coordinator is not ready yet for up to two minutes.
pub fn commit_all(bootstrap: &str, size: &Size) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut pending: Vec<usize> = (0..size.groups).collect();
    let mut boot = Conn::connect(bootstrap)?;
    while !pending.is_empty() {
        if Instant::now() > deadline {
            return Err(format!(
                "{} groups still uncommitted after 120 s (first: {})",
                pending.len(),
                group(pending[0])
            ));
        }
        let (by_coordinator, mut retry) = coordinators(&mut boot, &pending)?;
        let results: Vec<Result<Vec<usize>, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = by_coordinator
                .iter()
                .map(|(addr, groups)| s.spawn(move || commit_at(addr, groups, size)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("commit thread panicked".into()))
                })
                .collect()
        });
        for r in results {
            retry.extend(r?);
        }
        if !retry.is_empty() {
            std::thread::sleep(Duration::from_millis(500));
        }
        retry.sort_unstable();
        pending = retry;
    }
    Ok(())
}

/// Groups by coordinator address, and the groups without a coordinator yet.
type Placement = (BTreeMap<String, Vec<usize>>, Vec<usize>);

fn coordinators(conn: &mut Conn, groups: &[usize]) -> Result<Placement, String> {
    let mut out = BTreeMap::<String, Vec<usize>>::new();
    let mut retry = Vec::new();
    for chunk in groups.chunks(FIND_BATCH) {
        let req = FindCoordinatorRequest::default()
            .with_key_type(0)
            .with_coordinator_keys(
                chunk
                    .iter()
                    .map(|&g| StrBytes::from_string(group(g)))
                    .collect(),
            );
        let mut buf = BytesMut::new();
        conn.frame(&mut buf, ApiKey::FindCoordinator, FIND_V, &req)?;
        conn.write(&buf)?;
        let resp: FindCoordinatorResponse = conn.read(ApiKey::FindCoordinator, FIND_V)?;
        let index: BTreeMap<String, usize> = chunk.iter().map(|&g| (group(g), g)).collect();
        let mut answered = 0;
        for c in resp.coordinators {
            let Some(&g) = index.get(c.key.as_str()) else {
                continue;
            };
            answered += 1;
            if c.error_code == 0 {
                out.entry(format!("{}:{}", c.host.as_str(), c.port))
                    .or_default()
                    .push(g);
            } else if RETRIABLE.contains(&c.error_code) {
                retry.push(g);
            } else {
                return Err(format!(
                    "FindCoordinator for {}: error {}",
                    group(g),
                    c.error_code
                ));
            }
        }
        if answered != chunk.len() {
            return Err(format!(
                "FindCoordinator answered {answered} of {} keys",
                chunk.len()
            ));
        }
    }
    Ok((out, retry))
}

/// Commits `groups` at the coordinator `addr`; returns those to retry.
fn commit_at(addr: &str, groups: &[usize], size: &Size) -> Result<Vec<usize>, String> {
    let mut conn = Conn::connect(addr)?;
    let mut retry = Vec::new();
    for window in groups.chunks(WINDOW) {
        let mut buf = BytesMut::new();
        for &g in window {
            conn.frame(&mut buf, ApiKey::OffsetCommit, COMMIT_V, &request(g, size))?;
        }
        conn.write(&buf)?;
        for &g in window {
            let resp: OffsetCommitResponse = conn.read(ApiKey::OffsetCommit, COMMIT_V)?;
            let codes = resp
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code));
            let mut again = false;
            for code in codes {
                if RETRIABLE.contains(&code) {
                    again = true;
                } else if code != 0 {
                    return Err(format!("OffsetCommit for {}: error {code}", group(g)));
                }
            }
            if again {
                retry.push(g);
            }
        }
    }
    Ok(retry)
}

/// Group `g`'s simple commit: every partition of topic `g % topics`.
fn request(g: usize, size: &Size) -> OffsetCommitRequest {
    let t = g % size.topics;
    let partitions = (0..size.partitions)
        .map(|p| {
            OffsetCommitRequestPartition::default()
                .with_partition_index(p as i32)
                .with_committed_offset(committed(g, t, p))
                .with_committed_leader_epoch(-1)
        })
        .collect();
    OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group(g))))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(StrBytes::from_static_str(""))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic(t))))
            .with_partitions(partitions)])
}
