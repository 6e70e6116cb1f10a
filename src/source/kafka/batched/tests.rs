//! The batched path's recovery logic against scripted brokers on 127.0.0.1 (real TCP, real
//! framing, answers encoded by the same codec): coordinator moves, dropped connections, old
//! brokers, broken answers. The happy path and exact offsets are proven against tansu in
//! tests/it/source/batched_offsets.rs and against Kafka in tests/it/kafka.

use super::*;
use crate::snapshot::ResourceType;
use crate::source::kafka::types::OffsetsRequest;
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, GroupId, OffsetFetchRequest, OffsetFetchResponse,
    ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{decode_request_header_from_buffer, Decodable, Encodable};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod consumer;
mod log_offsets;
mod metadata;
mod sasl;
mod share;

/// What a scripted broker does with one request: answer with this body, or hang up.
enum Reply {
    Body(Bytes),
    HangUp,
}

/// Every request a scripted broker received: (API key, connection number).
type Log = Arc<Mutex<Vec<(i16, usize)>>>;

const FC: i16 = ApiKey::FindCoordinator as i16;
const OF: i16 = ApiKey::OffsetFetch as i16;

/// `msg` encoded at `version`.
fn enc<M: Encodable>(msg: &M, version: i16) -> Bytes {
    let mut b = BytesMut::new();
    msg.encode(&mut b, version).unwrap();
    b.freeze()
}

/// A broker on a free loopback port that answers ApiVersions with `versions` and every other request with `script(api_key, connection number,
/// version, request body)`.
fn broker(
    versions: &'static [(ApiKey, i16, i16)],
    script: impl Fn(i16, usize, i16, Bytes) -> Reply + Send + Sync + 'static,
) -> (Broker, Log) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let seen = log.clone();
    let script = Arc::new(script);
    std::thread::spawn(move || {
        for (n, s) in l.incoming().enumerate() {
            let Ok(mut s) = s else { return };
            let (script, seen) = (script.clone(), seen.clone());
            std::thread::spawn(move || loop {
                let mut size = [0u8; 4];
                if s.read_exact(&mut size).is_err() {
                    return;
                }
                let mut req = vec![0u8; i32::from_be_bytes(size) as usize];
                if s.read_exact(&mut req).is_err() {
                    return;
                }
                let mut req = Bytes::from(req);
                let h = decode_request_header_from_buffer(&mut req).unwrap();
                let api = ApiKey::try_from(h.request_api_key).unwrap();
                let v = h.request_api_version;
                let (reply, header_v) = if api == ApiKey::ApiVersions {
                    let keys = versions
                        .iter()
                        .map(|(k, min, max)| {
                            ApiVersion::default()
                                .with_api_key(*k as i16)
                                .with_min_version(*min)
                                .with_max_version(*max)
                        })
                        .collect();
                    let answer = ApiVersionsResponse::default().with_api_keys(keys);
                    (Reply::Body(enc(&answer, v)), 0)
                } else {
                    seen.lock().unwrap().push((h.request_api_key, n));
                    let reply = script(h.request_api_key, n, v, req);
                    (reply, api.response_header_version(v))
                };
                let Reply::Body(body) = reply else { return };
                let header = ResponseHeader::default().with_correlation_id(h.correlation_id);
                let mut frame = BytesMut::new();
                header.encode(&mut frame, header_v).unwrap();
                frame.extend_from_slice(&body);
                let mut out = (frame.len() as i32).to_be_bytes().to_vec();
                out.extend_from_slice(&frame);
                if s.write_all(&out).is_err() {
                    return;
                }
            });
        }
    });
    let b = Broker {
        host: "127.0.0.1".into(),
        port: i32::from(port),
    };
    (b, log)
}

const MODERN: &[(ApiKey, i16, i16)] = &[
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::OffsetFetch, 0, 9),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListOffsets, 0, 9),
];

/// A FindCoordinator answer placing each group at its broker.
fn coordinators_answer(groups: &[(&str, &Broker)], version: i16) -> Bytes {
    let coordinators = groups
        .iter()
        .map(|(g, at)| {
            Coordinator::default()
                .with_key(g.to_string().into())
                .with_node_id(BrokerId(1))
                .with_host(at.host.clone().into())
                .with_port(at.port)
        })
        .collect();
    let answer = FindCoordinatorResponse::default().with_coordinators(coordinators);
    enc(&answer, version)
}

fn find_coordinator_answer(group: &str, at: &Broker, version: i16) -> Bytes {
    coordinators_answer(&[(group, at)], version)
}

/// One group's OffsetFetch answer: group error, or offsets of topic `t`
/// as (partition, offset, error).
fn group_answer(
    group: &str,
    group_error: i16,
    offsets: &[(i32, i64, i16)],
) -> OffsetFetchResponseGroup {
    let partitions = offsets
        .iter()
        .map(|(p, off, err)| {
            OffsetFetchResponsePartitions::default()
                .with_partition_index(*p)
                .with_committed_offset(*off)
                .with_error_code(*err)
        })
        .collect();
    let topic = OffsetFetchResponseTopics::default()
        .with_name(TopicName("t".into()))
        .with_partitions(partitions);
    OffsetFetchResponseGroup::default()
        .with_group_id(GroupId(group.to_string().into()))
        .with_topics(vec![topic])
        .with_error_code(group_error)
}

fn offsets_answer(
    group: &str,
    group_error: i16,
    offsets: &[(i32, i64, i16)],
    version: i16,
) -> Bytes {
    let answer =
        OffsetFetchResponse::default().with_groups(vec![group_answer(group, group_error, offsets)]);
    enc(&answer, version)
}

fn all_of(group: &str) -> Vec<OffsetsRequest> {
    vec![OffsetsRequest {
        group: group.into(),
        partitions: None,
    }]
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

fn count(log: &Log, key: i16) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k == key)
        .count()
}

#[test]
fn a_moved_coordinator_is_looked_up_and_asked_again_in_the_same_poll() {
    let (new_home, new_log) = broker(MODERN, |_, _, v, _| {
        Reply::Body(offsets_answer("g", 0, &[(0, 42, 0)], v))
    });
    // The first broker says it coordinates "g", then answers NOT_COORDINATOR for it; its
    // second lookup points at the new coordinator.
    let lookups = Arc::new(Mutex::new(0));
    let (old_home, old_log) = {
        let target = new_home.clone();
        let me: Arc<Mutex<Option<Broker>>> = Arc::default();
        let me2 = me.clone();
        let (b, log) = broker(MODERN, move |key, _, v, _| match key {
            FC => {
                let mut n = lookups.lock().unwrap();
                *n += 1;
                let at = if *n == 1 {
                    me2.lock().unwrap().clone().unwrap()
                } else {
                    target.clone()
                };
                Reply::Body(find_coordinator_answer("g", &at, v))
            }
            _ => Reply::Body(offsets_answer("g", 16, &[], v)),
        });
        *me.lock().unwrap() = Some(b.clone());
        (b, log)
    };
    let mut d = Batched::new(Default::default());
    let got = d.committed(&[old_home], &all_of("g"), soon()).unwrap();
    assert_eq!(got[0].as_ref().unwrap().get("t", 0).unwrap(), 42);
    assert_eq!(count(&old_log, FC), 2, "looked up again");
    assert_eq!(count(&old_log, OF), 1);
    assert_eq!(count(&new_log, OF), 1, "asked the new one");
}

#[test]
fn a_kept_connection_the_broker_closed_is_replaced_once() {
    // Connection 0 answers the first poll, then hangs up on the next OffsetFetch, as a
    // broker that closed an idle connection between polls would look from here.
    let me: Arc<Mutex<Option<Broker>>> = Arc::default();
    let me2 = me.clone();
    let fetches = Arc::new(Mutex::new(0));
    let (b, log) = broker(MODERN, move |key, conn, v, _| match key {
        FC => Reply::Body(find_coordinator_answer(
            "g",
            &me2.lock().unwrap().clone().unwrap(),
            v,
        )),
        _ => {
            let mut n = fetches.lock().unwrap();
            *n += 1;
            if conn == 0 && *n == 2 {
                return Reply::HangUp;
            }
            Reply::Body(offsets_answer("g", 0, &[(0, 7, 0)], v))
        }
    });
    *me.lock().unwrap() = Some(b.clone());
    let mut d = Batched::new(Default::default());
    let first = d
        .committed(std::slice::from_ref(&b), &all_of("g"), soon())
        .unwrap();
    assert!(first[0].is_ok(), "{first:?}");
    let second = d
        .committed(std::slice::from_ref(&b), &all_of("g"), soon())
        .unwrap();
    assert_eq!(second[0].as_ref().unwrap().get("t", 0).unwrap(), 7);
    let seen: Vec<(i16, usize)> = log.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![(FC, 0), (OF, 0), (OF, 0), (OF, 1)],
        "the coordinator is remembered; the dead connection is replaced at once"
    );
}

#[test]
fn a_broker_without_batched_versions_sends_the_reader_back_to_librdkafka() {
    let old: &'static [(ApiKey, i16, i16)] =
        &[(ApiKey::FindCoordinator, 0, 3), (ApiKey::OffsetFetch, 0, 7)];
    let (b, log) = broker(old, |_, _, _, _| Reply::HangUp);
    let mut d = Batched::new(Default::default());
    let e = d.committed(&[b], &all_of("g"), soon()).unwrap_err();
    assert!(e.0.contains("FindCoordinator v4"), "{e:?}");
    assert!(
        log.lock().unwrap().is_empty(),
        "nothing is sent that it cannot read"
    );
}

#[test]
fn errors_are_per_group_and_a_broken_answer_is_an_error_not_a_panic() {
    let me: Arc<Mutex<Option<Broker>>> = Arc::default();
    let me2 = me.clone();
    let (b, _) = broker(MODERN, move |key, _, v, mut body| match key {
        FC => {
            let at = me2.lock().unwrap().clone().unwrap();
            Reply::Body(coordinators_answer(&[("auth", &at), ("part", &at)], v))
        }
        OF => {
            let asked = OffsetFetchRequest::decode(&mut body, v).unwrap();
            assert_eq!(asked.groups.len(), 2, "both groups in one request");
            let groups = vec![
                group_answer("auth", 30, &[(0, 5, 0)]),
                group_answer("part", 0, &[(0, 5, 3)]),
            ];
            let answer = OffsetFetchResponse::default().with_groups(groups);
            Reply::Body(enc(&answer, v))
        }
        // ListOffsets: a truncated answer.
        _ => Reply::Body(Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 9])),
    });
    *me.lock().unwrap() = Some(b.clone());
    let mut d = Batched::new(Default::default());
    let reqs: Vec<OffsetsRequest> = ["auth", "part"].iter().flat_map(|g| all_of(g)).collect();
    let got = d
        .committed(std::slice::from_ref(&b), &reqs, soon())
        .unwrap();
    let auth = got[0].as_ref().unwrap_err();
    assert!(
        matches!(
            auth,
            CallError::Unauthorized {
                resource: ResourceType::Group,
                ..
            }
        ),
        "classified by its code: {auth:?}"
    );
    assert!(auth.to_string().contains("(30)"), "{auth}");
    let part = got[1].as_ref().unwrap_err();
    assert!(matches!(part, CallError::Failed(_)), "{part:?}");
    assert!(part.to_string().starts_with("t/0: "), "{part}");

    let (earliest, latest) = d
        .log_offsets(
            &[crate::snapshot::TopicPartition::new("t", 0)],
            &[Some(0)],
            std::slice::from_ref(&b),
            soon(),
        )
        .unwrap();
    for res in [earliest, latest] {
        let e = res[0].as_ref().unwrap().as_ref().unwrap_err();
        assert!(e.contains("ListOffsets"), "{e}");
    }
}

#[test]
fn groups_on_two_coordinators_are_asked_of_each_in_the_same_poll() {
    let (a, a_log) = broker(MODERN, |_, _, v, _| {
        Reply::Body(offsets_answer("ga", 0, &[(0, 1, 0)], v))
    });
    let (b, b_log) = broker(MODERN, |_, _, v, _| {
        Reply::Body(offsets_answer("gb", 0, &[(0, 2, 0)], v))
    });
    let (a2, b2) = (a.clone(), b.clone());
    let (lookup, _) = broker(MODERN, move |_, _, v, _| {
        Reply::Body(coordinators_answer(&[("ga", &a2), ("gb", &b2)], v))
    });
    let mut d = Batched::new(Default::default());
    let reqs: Vec<OffsetsRequest> = ["ga", "gb"].iter().flat_map(|g| all_of(g)).collect();
    let got = d.committed(&[lookup], &reqs, soon()).unwrap();
    assert_eq!(
        got[0].as_ref().unwrap().get("t", 0).unwrap(),
        1,
        "ga from a"
    );
    assert_eq!(
        got[1].as_ref().unwrap().get("t", 0).unwrap(),
        2,
        "gb from b"
    );
    assert_eq!(count(&a_log, OF), 1);
    assert_eq!(count(&b_log, OF), 1);
}

#[test]
fn a_group_refused_by_find_coordinator_is_unauthorized_not_a_failure() {
    // An ACL without Describe on the group refuses it at FindCoordinator already: the
    // batched path must classify that as the librdkafka path would, by code.
    let (b, log) = broker(MODERN, |_, _, v, _| {
        let refused = Coordinator::default()
            .with_key("denied".to_string().into())
            .with_error_code(30);
        let answer = FindCoordinatorResponse::default().with_coordinators(vec![refused]);
        Reply::Body(enc(&answer, v))
    });
    let mut d = Batched::new(Default::default());
    let got = d.describe(&[b], &["denied".into()], soon()).unwrap();
    assert!(
        matches!(
            got["denied"],
            Err(CallError::Unauthorized {
                resource: ResourceType::Group,
                ..
            })
        ),
        "{got:?}"
    );
    assert_eq!(
        count(&log, ApiKey::DescribeGroups as i16),
        0,
        "nothing more to ask"
    );
}
