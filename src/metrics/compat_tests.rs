//! The pure parts of the compat mapping: the max lag, and who holds a partition.

use super::*;
use crate::view::{GroupPartitionView, GroupTopicView, Status};

fn gp(partition: i32, lag: i64) -> GroupPartitionView {
    GroupPartitionView {
        partition,
        committed: 0,
        log_start: 0,
        log_end: lag,
        lag,
        lag_seconds: None,
        lag_seconds_method: None,
        messages_lost: 0,
        inflight_lag: None,
    }
}

/// Topics with the lags of their partitions.
type Topics<'a> = &'a [(&'a str, &'a [i64])];

fn group(topics: Topics<'_>) -> GroupView {
    GroupView {
        group: "g".into(),
        source: GroupSource::Kafka,
        state: Default::default(),
        group_type: Default::default(),
        members: None,
        lag: None,
        max_lag_seconds: None,
        status: Status::Ok,
        reasons: Vec::new(),
        error: None,
        source_status: Status::Ok,
        settling: false,
        last_commit_age_seconds: None,
        spark: None,
        topics: topics
            .iter()
            .map(|(t, lags)| GroupTopicView {
                topic: (*t).into(),
                lag: lags.iter().sum(),
                max_lag_seconds: None,
                produce_rate: None,
                consume_rate: None,
                throughput_ratio: None,
                drain_eta_seconds: None,
                retention_seconds: None,
                retention_headroom_seconds: None,
                status: Status::Ok,
                reasons: Vec::new(),
                settling: false,
                partitions: lags
                    .iter()
                    .enumerate()
                    .map(|(i, l)| gp(i as i32, *l))
                    .collect(),
            })
            .collect(),
    }
}

#[test]
fn max_lag_is_the_worst_partition_of_any_topic() {
    // (topics with partition lags, expected, why)
    let cases: [(Topics<'_>, Option<i64>, &str); 4] = [
        (
            &[("a", &[1, 7, 3])],
            Some(7),
            "worst partition, not the sum",
        ),
        (
            &[("a", &[1]), ("b", &[0, 9])],
            Some(9),
            "across every topic of the group",
        ),
        (
            &[("a", &[0, 0])],
            Some(0),
            "a caught-up group has max lag 0, not no series",
        ),
        (
            &[],
            None,
            "no partition: no series, as kafka-lag-exporter shows none",
        ),
    ];
    for (topics, want, why) in cases {
        assert_eq!(max_partition_lag(&group(topics)), want, "{why}");
    }
}

fn member(id: &str, assignment: Option<&[(&str, &[i32])]>) -> Member {
    Member {
        member_id: id.into(),
        group_instance_id: None,
        client_id: format!("client-{id}"),
        host: "/10.0.0.1".into(),
        assignment: assignment.map(|a| {
            a.iter()
                .map(|(t, ps)| ((*t).to_owned(), ps.to_vec()))
                .collect()
        }),
    }
}

#[test]
fn partitions_are_labelled_with_the_member_that_holds_them() {
    let mut members = BTreeMap::new();
    members.insert(
        "g".to_owned(),
        vec![
            member("m1", Some(&[("orders", &[0, 1][..])])),
            member("m2", Some(&[("orders", &[2][..]), ("events", &[0][..])])),
            member("classic", None),
        ],
    );
    let owners = assignments(&members);
    // (group, topic, partition, member id, why)
    let cases = [
        ("g", "orders", 1, Some("m1"), "described assignment"),
        (
            "g",
            "events",
            0,
            Some("m2"),
            "a member may hold several topics",
        ),
        (
            "g",
            "orders",
            3,
            None,
            "unassigned partition: empty member labels",
        ),
        (
            "h",
            "orders",
            0,
            None,
            "another group's partitions are not this group's",
        ),
    ];
    for (g, t, p, want, why) in cases {
        let got = owners.get(&(g, t, p)).map(|m| m.member_id.as_str());
        assert_eq!(got, want, "{why}");
    }
    assert_eq!(
        owners.len(),
        4,
        "a classic member's opaque assignment adds nothing"
    );
}

#[test]
fn every_compat_family_has_one_mapping() {
    for c in Compat::ALL {
        for f in c.families() {
            let n = MAPPINGS.iter().filter(|(name, _)| name == f).count();
            assert_eq!(n, 1, "{f}");
        }
    }
}
