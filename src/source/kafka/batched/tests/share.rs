//! Share groups against a scripted broker: the type of each listed group is kept, and the
//! crate's own v0 DescribeShareGroupOffsets answer reads through the hand-written decoder.

use super::*;
use crate::source::kafka::types::GroupType;
use kafka_protocol::messages::describe_share_group_offsets_response::{
    DescribeShareGroupOffsetsResponseGroup, DescribeShareGroupOffsetsResponsePartition,
    DescribeShareGroupOffsetsResponseTopic,
};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{DescribeShareGroupOffsetsResponse, ListGroupsResponse};

const SHARE_V0: &[(ApiKey, i16, i16)] = &[
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DescribeShareGroupOffsets, 0, 0),
];

const LG: i16 = ApiKey::ListGroups as i16;
const DSGO: i16 = ApiKey::DescribeShareGroupOffsets as i16;

fn listed(name: &str, group_type: &str, state: &str) -> ListedGroup {
    ListedGroup::default()
        .with_group_id(GroupId(name.to_string().into()))
        .with_group_type(group_type.to_string().into())
        .with_group_state(state.to_string().into())
}

#[test]
fn every_listed_group_keeps_its_type() {
    let (b, _) = broker(SHARE_V0, |api, _, v, _| {
        assert_eq!((api, v), (LG, 5));
        let groups = vec![
            listed("s", "share", "Stable"),
            listed("c", "consumer", "Empty"),
            listed("k", "Classic", "Empty"),
        ];
        Reply::Body(enc(&ListGroupsResponse::default().with_groups(groups), v))
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut got, errors) = Batched::new(Default::default())
        .list_typed(&[b], deadline)
        .unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    got.sort_by(|a, b| a.name.cmp(&b.name));
    let types: Vec<_> = got
        .iter()
        .map(|g| (g.name.as_str(), g.group_type))
        .collect();
    assert_eq!(
        types,
        [
            ("c", GroupType::Consumer),
            ("k", GroupType::Classic),
            ("s", GroupType::Share)
        ]
    );
    assert_eq!(got[2].state, crate::snapshot::GroupState::Stable);
}

#[test]
fn a_v0_broker_gives_start_offsets_and_no_lag() {
    let at = Arc::new(Mutex::new(None::<Broker>));
    let me = at.clone();
    let (b, log) = broker(SHARE_V0, move |api, _, v, _| {
        let me = me.lock().unwrap().clone().unwrap();
        if api == FC {
            return Reply::Body(find_coordinator_answer("s", &me, v));
        }
        assert_eq!((api, v), (DSGO, 0));
        let p = DescribeShareGroupOffsetsResponsePartition::default()
            .with_partition_index(1)
            .with_start_offset(42);
        let t = DescribeShareGroupOffsetsResponseTopic::default()
            .with_topic_name(TopicName("t".to_string().into()))
            .with_partitions(vec![p]);
        let g = DescribeShareGroupOffsetsResponseGroup::default()
            .with_group_id(GroupId("s".to_string().into()))
            .with_topics(vec![t]);
        let answer = DescribeShareGroupOffsetsResponse::default().with_groups(vec![g]);
        Reply::Body(enc(&answer, v))
    });
    *at.lock().unwrap() = Some(b.clone());
    let deadline = Instant::now() + Duration::from_secs(5);
    let got = Batched::new(Default::default())
        .share_offsets(&[b], &["s".to_owned()], deadline)
        .unwrap();
    let parts = got["s"].clone().unwrap();
    assert_eq!(
        (
            parts[0].topic.as_str(),
            parts[0].partition,
            parts[0].start_offset,
            parts[0].lag
        ),
        ("t", 1, 42, None)
    );
    let apis: Vec<i16> = log.lock().unwrap().iter().map(|(a, _)| *a).collect();
    assert_eq!(apis, [FC, DSGO]);
}
