//! Log offsets on the fast path land at the position of the partition they answer for,
//! whatever order the leaders answer in.

use super::*;
use crate::snapshot::TopicPartition;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

const LO: i16 = ApiKey::ListOffsets as i16;

/// A leader answering every asked partition with `offset(topic, partition, timestamp)`
/// (an error code when negative), topics and partitions in reverse order, plus one
/// partition nobody asked about.
fn leader(offset: fn(&str, i32, i64) -> i64) -> (Broker, Log) {
    broker(MODERN, move |_, _, v, mut body| {
        let req = ListOffsetsRequest::decode(&mut body, v).unwrap();
        let mut topics: Vec<ListOffsetsTopicResponse> = req
            .topics
            .iter()
            .map(|t| {
                let mut parts: Vec<ListOffsetsPartitionResponse> = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let o = offset(&t.name, p.partition_index, p.timestamp);
                        ListOffsetsPartitionResponse::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(if o < 0 { -o as i16 } else { 0 })
                            .with_offset(o.max(-1))
                    })
                    .collect();
                parts.push(
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(99)
                        .with_offset(7),
                );
                parts.reverse();
                ListOffsetsTopicResponse::default()
                    .with_name(t.name.clone())
                    .with_partitions(parts)
            })
            .collect();
        topics.reverse();
        Reply::Body(enc(&ListOffsetsResponse::default().with_topics(topics), v))
    })
}

#[test]
fn each_answer_lands_at_its_partitions_position() {
    // Earliest (-2) is partition * 10, latest (-1) partition * 10 + 5; on `b`, topic "y"
    // partition 1 answers NOT_LEADER_OR_FOLLOWER (6) for both.
    let (a, a_log) = leader(|_, p, ts| i64::from(p) * 10 + if ts == -1 { 5 } else { 0 });
    let (b, b_log) = leader(|t, p, ts| match (t, p) {
        ("y", 1) => -6,
        _ => 100 + i64::from(p) * 10 + if ts == -1 { 5 } else { 0 },
    });
    let parts: Vec<TopicPartition> = [("x", 0), ("x", 1), ("x", 2), ("y", 0), ("y", 1), ("z", 0)]
        .iter()
        .map(|&(t, p)| TopicPartition::new(t, p))
        .collect();
    // x/0, x/2 and y/0 on a; x/1 and y/1 on b; z/0 without a leader.
    let leaders = [Some(0), Some(1), Some(0), Some(0), Some(1), None];
    let mut d = Batched::new(Default::default());
    let (earliest, latest) = d.log_offsets(&parts, &leaders, &[a, b], soon()).unwrap();
    // (why, position, earliest, latest; Err: a part of the error text)
    type Want = Result<i64, &'static str>;
    let cases: &[(&str, usize, Want, Want)] = &[
        ("first of a's topic x", 0, Ok(0), Ok(5)),
        ("x/1 is b's, between two of a's", 1, Ok(110), Ok(115)),
        ("a answered x/2 before x/0", 2, Ok(20), Ok(25)),
        ("another topic on a", 3, Ok(0), Ok(5)),
        ("b's error is y/1's alone", 4, Err("(6)"), Err("(6)")),
        (
            "no leader: not asked of anyone",
            5,
            Err("no leader"),
            Err("no leader"),
        ),
    ];
    assert_eq!((earliest.len(), latest.len()), (parts.len(), parts.len()));
    for (why, i, want_e, want_l) in cases {
        for (got, want) in [(&earliest[*i], want_e), (&latest[*i], want_l)] {
            let got = got.as_ref().unwrap_or_else(|| panic!("{why}: no answer"));
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{why}"),
                (Err(g), Err(w)) => assert!(g.contains(w), "{why}: {g}"),
                _ => panic!("{why}: got {got:?}, want {want:?}"),
            }
        }
    }
    assert_eq!(
        count(&a_log, LO),
        2,
        "earliest and latest, one request each"
    );
    assert_eq!(count(&b_log, LO), 2);
}

#[test]
fn requests_made_when_sent_are_made_again_for_a_reconnect() {
    // ListOffsets requests are dropped once encoded; when the kept connection turns out
    // dead at the next poll, the retry on a new one must have them again, whole.
    let asked = Arc::new(Mutex::new(0));
    let (b, log) = broker(MODERN, move |_, conn, v, mut body| {
        let mut n = asked.lock().unwrap();
        *n += 1;
        if conn == 0 && *n == 3 {
            return Reply::HangUp;
        }
        let req = ListOffsetsRequest::decode(&mut body, v).unwrap();
        let topics = req
            .topics
            .iter()
            .map(|t| {
                let parts = t
                    .partitions
                    .iter()
                    .map(|p| {
                        ListOffsetsPartitionResponse::default()
                            .with_partition_index(p.partition_index)
                            .with_offset(i64::from(p.partition_index) * 10 - p.timestamp)
                    })
                    .collect();
                ListOffsetsTopicResponse::default()
                    .with_name(t.name.clone())
                    .with_partitions(parts)
            })
            .collect();
        Reply::Body(enc(&ListOffsetsResponse::default().with_topics(topics), v))
    });
    let parts: Vec<TopicPartition> = (0..3).map(|p| TopicPartition::new("x", p)).collect();
    let leaders = [Some(0); 3];
    let mut d = Batched::new(Default::default());
    for poll in ["first", "second, after a reconnect"] {
        let (earliest, latest) = d
            .log_offsets(&parts, &leaders, std::slice::from_ref(&b), soon())
            .unwrap();
        for p in 0..3 {
            // Earliest asks timestamp -2, latest -1.
            let want = (i64::from(p as i32) * 10 + 2, i64::from(p as i32) * 10 + 1);
            let got = (earliest[p].clone(), latest[p].clone());
            assert_eq!(
                got,
                (Some(Ok(want.0)), Some(Ok(want.1))),
                "{poll} poll, x/{p}"
            );
        }
    }
    let seen: Vec<(i16, usize)> = log.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![(LO, 0), (LO, 0), (LO, 0), (LO, 1), (LO, 1)],
        "both requests sent again on the new connection"
    );
}
