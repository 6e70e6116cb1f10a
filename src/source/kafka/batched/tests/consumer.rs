//! KIP-848 groups: the ConsumerGroupDescribe answer as lagwatch reads it (pure, case
//! tables), and one request per coordinator for many groups (scripted broker).

use super::*;
use crate::snapshot::{GroupState, GroupType};
use crate::source::kafka::batched::consumer::{assignment, consumer_description};
use crate::source::kafka::types::TopicId;
use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member as WireMember, TopicPartitions,
};
use kafka_protocol::messages::{ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse};
use std::collections::BTreeMap;

const CGD: i16 = ApiKey::ConsumerGroupDescribe as i16;

const KIP848: &[(ApiKey, i16, i16)] = &[
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
];

fn id(n: u128) -> TopicId {
    TopicId::from_u128(n)
}

/// Topic ids the poll's Metadata knows: 1 = orders, 2 = events.
fn known_topics() -> HashMap<TopicId, String> {
    [(id(1), "orders".to_owned()), (id(2), "events".to_owned())].into()
}

/// An assignment of (topic id, name in the answer, partitions).
fn assigned(parts: &[(u128, &str, &[i32])]) -> Assignment {
    let tps = parts
        .iter()
        .map(|(i, name, ps)| {
            TopicPartitions::default()
                .with_topic_id(id(*i))
                .with_topic_name(TopicName(name.to_string().into()))
                .with_partitions(ps.to_vec())
        })
        .collect();
    Assignment::default().with_topic_partitions(tps)
}

fn member(n: &str, a: Assignment) -> WireMember {
    WireMember::default()
        .with_member_id(format!("m-{n}").into())
        .with_client_id(format!("client-{n}").into())
        .with_client_host("/10.0.0.1".to_string().into())
        .with_assignment(a)
}

fn group(name: &str, code: i16, state: &str, members: Vec<WireMember>) -> DescribedGroup {
    DescribedGroup::default()
        .with_group_id(GroupId(name.to_string().into()))
        .with_error_code(code)
        .with_group_state(state.to_string().into())
        .with_members(members)
}

#[test]
fn assignments_are_named_by_the_metadata_topic_ids() {
    // (why, assignment in the answer, expected topic -> partitions)
    type Case<'a> = (
        &'a str,
        &'a [(u128, &'a str, &'a [i32])],
        &'a [(&'a str, &'a [i32])],
    );
    let cases: &[Case<'_>] = &[
        (
            "ids the Metadata knows take its names, partitions sorted",
            &[(1, "", &[2, 0]), (2, "", &[1])],
            &[("events", &[1]), ("orders", &[0, 2])],
        ),
        (
            "the Metadata's name wins over the answer's (one poll, one naming)",
            &[(1, "stale-name", &[0])],
            &[("orders", &[0])],
        ),
        (
            "an id created after the Metadata was read takes the answer's name",
            &[(9, "fresh", &[0])],
            &[("fresh", &[0])],
        ),
        (
            "an unknown id without a name (a deleted topic) is left out",
            &[(9, "", &[0]), (1, "", &[3])],
            &[("orders", &[3])],
        ),
        ("no partitions: an empty assignment", &[], &[]),
    ];
    for (why, parts, want) in cases {
        let got = assignment(assigned(parts), &known_topics());
        let want: BTreeMap<String, Vec<i32>> = want
            .iter()
            .map(|(t, ps)| ((*t).to_owned(), ps.to_vec()))
            .collect();
        assert_eq!(got, want, "{why}");
    }
}

#[test]
fn a_described_group_maps_to_state_members_and_type() {
    // (why, group answer, expected (code, state, members, type))
    type Case = (
        &'static str,
        DescribedGroup,
        (i16, GroupState, u32, GroupType),
    );
    let ok = |state: &str, n: usize| {
        let members = (0..n)
            .map(|i| member(&i.to_string(), assigned(&[(1, "", &[0])])))
            .collect();
        group("g", 0, state, members)
    };
    let cases: Vec<Case> = vec![
        (
            "a settled group",
            ok("Stable", 2),
            (0, GroupState::Stable, 2, GroupType::Consumer),
        ),
        (
            "KIP-848 computing a new target assignment",
            ok("Assigning", 1),
            (0, GroupState::Assigning, 1, GroupType::Consumer),
        ),
        (
            "KIP-848 members moving to the target",
            ok("Reconciling", 1),
            (0, GroupState::Reconciling, 1, GroupType::Consumer),
        ),
        (
            "no members left",
            ok("Empty", 0),
            (0, GroupState::Empty, 0, GroupType::Consumer),
        ),
        (
            "GROUP_ID_NOT_FOUND: not a consumer group (none, or classic) reads as Dead, \
             no error, no type",
            group("g", 69, "", vec![]),
            (0, GroupState::Dead, 0, GroupType::Unknown),
        ),
        (
            "other errors are passed on for the caller to classify (30: authorization)",
            group("g", 30, "", vec![]),
            (30, GroupState::Unknown, 0, GroupType::Consumer),
        ),
    ];
    for (why, g, (code, state, members, ty)) in cases {
        let (name, got_code, d) = consumer_description(g, &known_topics());
        assert_eq!(name, "g", "{why}");
        assert_eq!(
            (got_code, d.state, d.members, d.group_type),
            (code, state, members, ty),
            "{why}"
        );
        assert_eq!(d.member_list.len() as u32, d.members, "{why}");
    }
}

#[test]
fn a_member_keeps_its_client_id_host_instance_and_assignment() {
    let m = member("a", assigned(&[(2, "", &[4, 1])]))
        .with_instance_id(Some("static-1".to_string().into()));
    let (_, _, d) = consumer_description(group("g", 0, "Stable", vec![m]), &known_topics());
    let got = &d.member_list[0];
    assert_eq!(
        (
            got.member_id.as_str(),
            got.client_id.as_str(),
            got.host.as_str(),
            got.group_instance_id.as_deref()
        ),
        ("m-a", "client-a", "/10.0.0.1", Some("static-1"))
    );
    let want: BTreeMap<String, Vec<i32>> = [("events".to_owned(), vec![1, 4])].into();
    assert_eq!(got.assignment.as_ref(), Some(&want));
}

#[test]
fn many_groups_of_one_coordinator_share_one_request() {
    let at = Arc::new(Mutex::new(None::<Broker>));
    let me = at.clone();
    let (b, log) = broker(KIP848, move |api, _, v, mut body| {
        let me = me.lock().unwrap().clone().unwrap();
        if api == FC {
            return Reply::Body(coordinators_answer(&[("a", &me), ("b", &me)], v));
        }
        assert_eq!((api, v), (CGD, 1), "the newest version both speak");
        let asked = ConsumerGroupDescribeRequest::decode(&mut body, v).unwrap();
        let ids: Vec<String> = asked.group_ids.iter().map(|g| g.to_string()).collect();
        assert_eq!(ids, ["a", "b"], "both groups in one request");
        let groups = vec![
            group(
                "a",
                0,
                "Stable",
                vec![member("1", assigned(&[(1, "", &[0])]))],
            ),
            group("b", 0, "Reconciling", vec![]),
        ];
        let answer = ConsumerGroupDescribeResponse::default().with_groups(groups);
        Reply::Body(enc(&answer, v))
    });
    *at.lock().unwrap() = Some(b.clone());
    let mut d = Batched::new(Default::default());
    let got = d
        .describe_consumer(&[b], &["a".into(), "b".into()], &known_topics(), soon())
        .unwrap();
    assert_eq!(got["a"].as_ref().unwrap().state, GroupState::Stable);
    assert_eq!(got["b"].as_ref().unwrap().state, GroupState::Reconciling);
    assert_eq!(count(&log, CGD), 1);
    assert_eq!(d.take_sent()["ConsumerGroupDescribe"], 1, "counted");
}

#[test]
fn a_broker_without_consumer_group_describe_is_unsupported_not_asked() {
    let at = Arc::new(Mutex::new(None::<Broker>));
    let me = at.clone();
    let (b, log) = broker(MODERN, move |_, _, v, _| {
        let me = me.lock().unwrap().clone().unwrap();
        Reply::Body(find_coordinator_answer("a", &me, v))
    });
    *at.lock().unwrap() = Some(b.clone());
    let mut d = Batched::new(Default::default());
    let e = d
        .describe_consumer(&[b], &["a".into()], &known_topics(), soon())
        .unwrap_err();
    assert!(e.0.contains("ConsumerGroupDescribe"), "{e:?}");
    assert_eq!(count(&log, CGD), 0, "nothing is sent that it cannot read");
}
