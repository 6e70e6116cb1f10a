use super::*;

fn body(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    f(&mut w);
    w.into_bytes()
}

#[test]
fn request_header_is_v1_for_classic_and_v2_for_flexible_versions() {
    let classic = frame(LIST_OFFSETS, 2, 7, "lw", &[0xAA]).unwrap();
    assert_eq!(
        classic,
        vec![0, 0, 0, 13, 0, 2, 0, 2, 0, 0, 0, 7, 0, 2, b'l', b'w', 0xAA],
        "size, api key, version, correlation id, client id, body"
    );
    let flexible = frame(OFFSET_FETCH, 8, 7, "lw", &[0xAA]).unwrap();
    assert_eq!(
        flexible,
        vec![0, 0, 0, 14, 0, 9, 0, 8, 0, 0, 0, 7, 0, 2, b'l', b'w', 0, 0xAA],
        "the client id stays a classic string; an empty tag section follows it"
    );
}

#[test]
fn find_coordinator_v4_request_lists_every_group() {
    let b = find_coordinator_request(&["a", "bc"]);
    assert_eq!(b, vec![0, 3, 2, b'a', 3, b'b', b'c', 0]);
}

#[test]
fn find_coordinator_v4_response_is_decoded() {
    let b = body(|w| {
        w.i32(0);
        w.compact_array_len(Some(2));
        w.compact_string("g1");
        w.i32(3);
        w.compact_string("broker-3");
        w.i32(9092);
        w.i16(0);
        w.compact_array_len(None); // null error message
        w.no_tags();
        w.compact_string("g2");
        w.i32(-1);
        w.compact_string("");
        w.i32(-1);
        w.i16(15);
        w.compact_string("not available");
        w.no_tags();
        w.no_tags();
    });
    let got = find_coordinator_response(&mut Reader::new(&b)).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0],
        Coordinator {
            key: "g1".into(),
            node_id: 3,
            host: "broker-3".into(),
            port: 9092,
            error_code: 0,
            error_message: None,
        }
    );
    assert_eq!(got[1].error_code, 15);
    assert_eq!(got[1].error_message.as_deref(), Some("not available"));
}

#[test]
fn offset_fetch_v8_request_spells_all_topics_as_a_null_array() {
    let b = offset_fetch_request(&[
        GroupFetch {
            group: "g",
            topics: None,
        },
        GroupFetch {
            group: "h",
            topics: Some(vec![("t", vec![0, 1])]),
        },
    ]);
    assert_eq!(
        b,
        vec![
            3, // two groups
            2, b'g', 0, 0, // "g", null topics, tags
            2, b'h', 2, 2, b't', 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, // "h": t[0,1]
            0, 0, // require_stable false, tags
        ]
    );
}

fn offset_fetch_answer() -> Vec<u8> {
    body(|w| {
        w.i32(0);
        w.compact_array_len(Some(2));
        // group "g": topic "t" partitions 0 (offset 42) and 1 (no commit)
        w.compact_string("g");
        w.compact_array_len(Some(1));
        w.compact_string("t");
        w.compact_array_len(Some(2));
        for (p, off) in [(0, 42i64), (1, -1)] {
            w.i32(p);
            w.i64(off);
            w.i32(-1);
            w.compact_string("");
            w.i16(0);
            w.no_tags();
        }
        w.no_tags();
        w.i16(0);
        w.no_tags();
        // group "h": moved coordinator, no topics
        w.compact_string("h");
        w.compact_array_len(Some(0));
        w.i16(16);
        w.no_tags();
        w.no_tags();
    })
}

#[test]
fn offset_fetch_v8_response_is_decoded_per_group() {
    let got = offset_fetch_response(&mut Reader::new(&offset_fetch_answer())).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].group, "g");
    assert_eq!(
        got[0].partitions,
        vec![
            CommittedPartition {
                topic: "t".into(),
                partition: 0,
                offset: 42,
                error_code: 0
            },
            CommittedPartition {
                topic: "t".into(),
                partition: 1,
                offset: -1,
                error_code: 0
            },
        ]
    );
    assert_eq!(got[1].error_code, 16);
    assert!(is_coordinator_moved(got[1].error_code));
}

#[test]
fn every_truncation_of_a_valid_answer_is_an_error_not_a_panic() {
    let full = offset_fetch_answer();
    for cut in 0..full.len() {
        assert!(
            offset_fetch_response(&mut Reader::new(&full[..cut])).is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn list_offsets_v2_round_trip() {
    let req = list_offsets_request(&[("t", vec![3])], LATEST).unwrap();
    assert_eq!(
        req,
        vec![
            0xff, 0xff, 0xff, 0xff, 0, // replica -1, read_uncommitted
            0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 3, // t[3]
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // timestamp -1
        ]
    );
    let b = body(|w| {
        w.i32(0);
        w.array_len(1).unwrap();
        w.string("t").unwrap();
        w.array_len(1).unwrap();
        w.i32(3);
        w.i16(6);
        w.i64(-1);
        w.i64(1234);
    });
    let got = list_offsets_response(&mut Reader::new(&b)).unwrap();
    assert_eq!(
        got,
        vec![LogOffset {
            topic: "t".into(),
            partition: 3,
            error_code: 6,
            offset: 1234
        }]
    );
    assert_eq!(error_name(6), "NOT_LEADER_OR_FOLLOWER (6)");
}

#[test]
fn api_versions_v0_answer_gives_ranges() {
    let b = body(|w| {
        w.i16(0);
        w.array_len(2).unwrap();
        for (k, min, max) in [(OFFSET_FETCH, 0, 9), (FIND_COORDINATOR, 0, 3)] {
            w.i16(k);
            w.i16(min);
            w.i16(max);
        }
    });
    let v = api_versions_response(&mut Reader::new(&b)).unwrap();
    assert!(supports(&v, OFFSET_FETCH, OFFSET_FETCH_VERSION));
    assert!(
        !supports(&v, FIND_COORDINATOR, FIND_COORDINATOR_VERSION),
        "a broker with FindCoordinator v3 cannot batch lookups"
    );
    assert!(!supports(&v, LIST_OFFSETS, 2), "absent = unsupported");
}

#[test]
fn describe_groups_v5_reads_members_and_keeps_librdkafka_state_names() {
    assert_eq!(
        describe_groups_request(&["g"]),
        vec![2, 2, b'g', 0, 0],
        "one group, no authorized operations, no tags"
    );
    let b = body(|w| {
        w.i32(0);
        w.compact_array_len(Some(2));
        w.i16(0);
        w.compact_string("g");
        w.compact_string("Stable");
        w.compact_string("consumer");
        w.compact_string("range");
        w.compact_array_len(Some(2));
        for m in ["m1", "m2"] {
            w.compact_string(m);
            w.compact_array_len(None); // null group_instance_id
            w.compact_string("client");
            w.compact_string("/10.0.0.1");
            w.compact_string("meta"); // bytes share the compact string encoding
            w.compact_string("assignment");
            w.no_tags();
        }
        w.i32(i32::MIN);
        w.no_tags();
        w.i16(69);
        w.compact_string("new-protocol");
        w.compact_string("");
        w.compact_string("");
        w.compact_string("");
        w.compact_array_len(Some(0));
        w.i32(i32::MIN);
        w.no_tags();
        w.no_tags();
    });
    let got = describe_groups_response(&mut Reader::new(&b)).unwrap();
    assert_eq!(
        got[0],
        DescribedGroup {
            group: "g".into(),
            error_code: 0,
            state: GroupState::Stable,
            members: 2,
            member_list: ["m1", "m2"]
                .map(|m| crate::snapshot::Member {
                    member_id: m.into(),
                    group_instance_id: None,
                    client_id: "client".into(),
                    host: "/10.0.0.1".into(),
                })
                .to_vec(),
        }
    );
    assert_eq!(
        got[1].error_code, 69,
        "KIP-848 groups are not classic groups"
    );
    assert_eq!(got[1].state, GroupState::Unknown);
}

proptest::proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = offset_fetch_response(&mut Reader::new(&b));
        let _ = find_coordinator_response(&mut Reader::new(&b));
        let _ = list_offsets_response(&mut Reader::new(&b));
        let _ = api_versions_response(&mut Reader::new(&b));
        let _ = describe_groups_response(&mut Reader::new(&b));
    }
}
