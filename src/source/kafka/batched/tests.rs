//! The batched path's recovery logic against scripted brokers on 127.0.0.1 (real TCP, real
//! framing): coordinator moves, dropped connections, old brokers, broken answers. The
//! happy path and exact offsets are proven against tansu in tests/it/source/batched_offsets.rs.

use super::wire::codec::{Reader, Writer};
use super::*;
use crate::snapshot::ResourceType;
use crate::source::kafka::types::OffsetsRequest;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a scripted broker does with one request: answer with this body, or hang up.
enum Reply {
    Body(Vec<u8>),
    HangUp,
}

/// Every request a scripted broker received: (API key, connection number).
type Log = Arc<Mutex<Vec<(i16, usize)>>>;

/// A broker on a free loopback port that answers ApiVersions with `versions` and every
/// other request with `script(api_key, connection number, request body)`.
fn broker(
    versions: &'static [(i16, i16, i16)],
    script: impl Fn(i16, usize, &[u8]) -> Reply + Send + Sync + 'static,
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
                let mut r = Reader::new(&req);
                let key = r.i16("key").unwrap();
                let version = r.i16("version").unwrap();
                let id = r.i32("id").unwrap();
                r.string("client").unwrap();
                let flexible = msg::is_flexible(key, version);
                if flexible {
                    r.skip_tags("tags").unwrap();
                }
                let body = &req[req.len() - r.remaining()..];
                let reply = if key == msg::API_VERSIONS {
                    let mut w = Writer::new();
                    w.i16(0);
                    w.array_len(versions.len()).unwrap();
                    for (k, min, max) in versions {
                        w.i16(*k);
                        w.i16(*min);
                        w.i16(*max);
                    }
                    Reply::Body(w.into_bytes())
                } else {
                    seen.lock().unwrap().push((key, n));
                    script(key, n, body)
                };
                let Reply::Body(body) = reply else { return };
                let mut w = Writer::new();
                w.i32(id);
                if flexible {
                    w.no_tags();
                }
                let mut frame = w.into_bytes();
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

const MODERN: &[(i16, i16, i16)] = &[
    (msg::FIND_COORDINATOR, 0, 6),
    (msg::OFFSET_FETCH, 0, 9),
    (msg::DESCRIBE_GROUPS, 0, 5),
    (msg::LIST_OFFSETS, 0, 9),
];

/// A FindCoordinator v4 answer placing each group at its broker.
fn coordinators_answer(groups: &[(&str, &Broker)]) -> Vec<u8> {
    let mut w = Writer::new();
    w.i32(0);
    w.compact_array_len(Some(groups.len()));
    for (g, at) in groups {
        w.compact_string(g);
        w.i32(1);
        w.compact_string(&at.host);
        w.i32(at.port);
        w.i16(0);
        w.compact_array_len(None);
        w.no_tags();
    }
    w.no_tags();
    w.into_bytes()
}

fn find_coordinator_answer(group: &str, at: &Broker) -> Vec<u8> {
    coordinators_answer(&[(group, at)])
}

/// An OffsetFetch v8 answer for one group: group error, or offsets of topic `t`.
fn offsets_answer(group: &str, group_error: i16, offsets: &[(i32, i64, i16)]) -> Vec<u8> {
    let mut w = Writer::new();
    w.i32(0);
    w.compact_array_len(Some(1));
    w.compact_string(group);
    w.compact_array_len(Some(1));
    w.compact_string("t");
    w.compact_array_len(Some(offsets.len()));
    for (p, off, err) in offsets {
        w.i32(*p);
        w.i64(*off);
        w.i32(-1);
        w.compact_array_len(None);
        w.i16(*err);
        w.no_tags();
    }
    w.no_tags();
    w.i16(group_error);
    w.no_tags();
    w.no_tags();
    w.into_bytes()
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
    let (new_home, new_log) = broker(MODERN, |_, _, _| {
        Reply::Body(offsets_answer("g", 0, &[(0, 42, 0)]))
    });
    // The first broker says it coordinates "g", then answers NOT_COORDINATOR for it; its
    // second lookup points at the new coordinator.
    let lookups = Arc::new(Mutex::new(0));
    let (old_home, old_log) = {
        let target = new_home.clone();
        let me: Arc<Mutex<Option<Broker>>> = Arc::default();
        let me2 = me.clone();
        let (b, log) = broker(MODERN, move |key, _, _| match key {
            msg::FIND_COORDINATOR => {
                let mut n = lookups.lock().unwrap();
                *n += 1;
                let at = if *n == 1 {
                    me2.lock().unwrap().clone().unwrap()
                } else {
                    target.clone()
                };
                Reply::Body(find_coordinator_answer("g", &at))
            }
            _ => Reply::Body(offsets_answer("g", 16, &[])),
        });
        *me.lock().unwrap() = Some(b.clone());
        (b, log)
    };
    let mut d = Batched::new();
    let got = d.committed(&[old_home], &all_of("g"), soon()).unwrap();
    assert_eq!(got[0].as_ref().unwrap()[&("t".to_owned(), 0)], 42);
    assert_eq!(count(&old_log, msg::FIND_COORDINATOR), 2, "looked up again");
    assert_eq!(count(&old_log, msg::OFFSET_FETCH), 1);
    assert_eq!(count(&new_log, msg::OFFSET_FETCH), 1, "asked the new one");
}

#[test]
fn a_kept_connection_the_broker_closed_is_replaced_once() {
    // Connection 0 answers the first poll, then hangs up on the next OffsetFetch, as a
    // broker that closed an idle connection between polls would look from here.
    let me: Arc<Mutex<Option<Broker>>> = Arc::default();
    let me2 = me.clone();
    let fetches = Arc::new(Mutex::new(0));
    let (b, log) = broker(MODERN, move |key, conn, _| match key {
        msg::FIND_COORDINATOR => Reply::Body(find_coordinator_answer(
            "g",
            &me2.lock().unwrap().clone().unwrap(),
        )),
        _ => {
            let mut n = fetches.lock().unwrap();
            *n += 1;
            if conn == 0 && *n == 2 {
                return Reply::HangUp;
            }
            Reply::Body(offsets_answer("g", 0, &[(0, 7, 0)]))
        }
    });
    *me.lock().unwrap() = Some(b.clone());
    let mut d = Batched::new();
    let first = d
        .committed(std::slice::from_ref(&b), &all_of("g"), soon())
        .unwrap();
    assert!(first[0].is_ok(), "{first:?}");
    let second = d
        .committed(std::slice::from_ref(&b), &all_of("g"), soon())
        .unwrap();
    assert_eq!(second[0].as_ref().unwrap()[&("t".to_owned(), 0)], 7);
    let seen: Vec<(i16, usize)> = log.lock().unwrap().clone();
    let (fc, of) = (msg::FIND_COORDINATOR, msg::OFFSET_FETCH);
    assert_eq!(
        seen,
        vec![(fc, 0), (of, 0), (of, 0), (of, 1)],
        "the coordinator is remembered; the dead connection is replaced at once"
    );
}

#[test]
fn a_broker_without_batched_versions_sends_the_reader_back_to_librdkafka() {
    let old: &'static [(i16, i16, i16)] =
        &[(msg::FIND_COORDINATOR, 0, 3), (msg::OFFSET_FETCH, 0, 7)];
    let (b, log) = broker(old, |_, _, _| Reply::HangUp);
    let mut d = Batched::new();
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
    let (b, _) = broker(MODERN, move |key, _, body| match key {
        msg::FIND_COORDINATOR => {
            let at = me2.lock().unwrap().clone().unwrap();
            Reply::Body(coordinators_answer(&[("auth", &at), ("part", &at)]))
        }
        msg::OFFSET_FETCH => {
            let mut r = Reader::new(body);
            let n = r.compact_array_len("groups", 1).unwrap();
            let mut w = Writer::new();
            w.i32(0);
            w.compact_array_len(Some(n));
            for (g, ge, pe) in [("auth", 30i16, 0i16), ("part", 0, 3)] {
                w.compact_string(g);
                w.compact_array_len(Some(1));
                w.compact_string("t");
                w.compact_array_len(Some(1));
                w.i32(0);
                w.i64(5);
                w.i32(-1);
                w.compact_array_len(None);
                w.i16(pe);
                w.no_tags();
                w.no_tags();
                w.i16(ge);
                w.no_tags();
            }
            w.no_tags();
            Reply::Body(w.into_bytes())
        }
        // ListOffsets: a truncated answer.
        _ => Reply::Body(vec![0, 0, 0, 0, 0, 0, 0, 9]),
    });
    *me.lock().unwrap() = Some(b.clone());
    let mut d = Batched::new();
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
    assert!(
        auth.to_string().contains("GROUP_AUTHORIZATION_FAILED"),
        "{auth}"
    );
    let part = got[1].as_ref().unwrap_err();
    assert!(matches!(part, CallError::Failed(_)), "{part:?}");
    assert!(
        part.to_string().contains("t/0: UNKNOWN_TOPIC_OR_PARTITION"),
        "{part}"
    );

    let (earliest, latest) = d
        .log_offsets(
            &[("t".to_owned(), 0)],
            &[Some(0)],
            std::slice::from_ref(&b),
            soon(),
        )
        .unwrap();
    for res in [earliest, latest] {
        let e = res[&("t".to_owned(), 0)].as_ref().unwrap_err();
        assert!(e.contains("ListOffsets from 127.0.0.1"), "{e}");
    }
}

#[test]
fn groups_on_two_coordinators_are_asked_of_each_in_the_same_poll() {
    let (a, a_log) = broker(MODERN, |_, _, _| {
        Reply::Body(offsets_answer("ga", 0, &[(0, 1, 0)]))
    });
    let (b, b_log) = broker(MODERN, |_, _, _| {
        Reply::Body(offsets_answer("gb", 0, &[(0, 2, 0)]))
    });
    let (a2, b2) = (a.clone(), b.clone());
    let (lookup, _) = broker(MODERN, move |_, _, _| {
        Reply::Body(coordinators_answer(&[("ga", &a2), ("gb", &b2)]))
    });
    let mut d = Batched::new();
    let reqs: Vec<OffsetsRequest> = ["ga", "gb"].iter().flat_map(|g| all_of(g)).collect();
    let got = d.committed(&[lookup], &reqs, soon()).unwrap();
    assert_eq!(
        got[0].as_ref().unwrap()[&("t".to_owned(), 0)],
        1,
        "ga from a"
    );
    assert_eq!(
        got[1].as_ref().unwrap()[&("t".to_owned(), 0)],
        2,
        "gb from b"
    );
    assert_eq!(count(&a_log, msg::OFFSET_FETCH), 1);
    assert_eq!(count(&b_log, msg::OFFSET_FETCH), 1);
}
