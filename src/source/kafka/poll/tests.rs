//! Which clusters take the fast path.

use super::*;
use crate::config::security::Security;

fn cluster(kafka_client: &str, client: &[(&str, &str)]) -> ClusterConfig {
    let mut c = crate::config::from_str(
        "t.yaml",
        &format!("clusters: [{{name: c, bootstrap_servers: 'h:1', kafka_client: {kafka_client}}}]"),
        &|_| None,
    )
    .expect("config")
    .clusters
    .remove(0);
    c.client = client
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    c
}

/// Why, `kafka_client`, `client:` properties, the protocol the fast path speaks (or None).
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], Option<&'a str>);

#[test]
fn the_fast_path_serves_what_it_can_and_the_config_allows() {
    let cases: &[Case<'_>] = &[
        ("default: plaintext", "auto", &[], Some("PLAINTEXT")),
        (
            "TLS on the fast path",
            "auto",
            &[("security.protocol", "SSL")],
            Some("SSL"),
        ),
        (
            "SCRAM over TLS on the fast path",
            "auto",
            &[
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanisms", "SCRAM-SHA-512"),
            ],
            Some("SASL_SSL"),
        ),
        (
            "Kerberos needs librdkafka",
            "auto",
            &[("security.protocol", "sasl_plaintext")],
            None,
        ),
        ("switched off in the config", "librdkafka", &[], None),
    ];
    for (why, kc, client, want) in cases {
        let got = fast_path(&cluster(kc, client)).ok();
        assert_eq!(got.as_ref().map(Security::protocol), *want, "{why}");
    }
}

mod describe_plan {
    use super::super::groups::{probe_as_consumer, DescribePlan};
    use crate::snapshot::{GroupState, GroupType};
    use crate::source::kafka::types::GroupDescription;

    #[test]
    fn each_group_is_described_with_the_request_of_its_listed_type() {
        // (why, listed type, DescribeGroups?, ConsumerGroupDescribe?)
        let cases: &[(&str, GroupType, bool, bool)] = &[
            ("classic: DescribeGroups", GroupType::Classic, true, false),
            (
                "KIP-848: ConsumerGroupDescribe, never DescribeGroups first",
                GroupType::Consumer,
                false,
                true,
            ),
            (
                "no type (named, or ListGroups before v5): DescribeGroups first",
                GroupType::Unknown,
                true,
                false,
            ),
            (
                "streams: no describe request lagwatch speaks; its listed state stands",
                GroupType::Streams,
                false,
                false,
            ),
            (
                "share: described by the share-group step",
                GroupType::Share,
                false,
                false,
            ),
        ];
        for (why, t, classic, consumer) in cases {
            let plan = DescribePlan::of(&["g".to_owned()], |_| *t);
            assert_eq!(
                (!plan.classic.is_empty(), !plan.consumer.is_empty()),
                (*classic, *consumer),
                "{why}"
            );
        }
    }

    #[test]
    fn only_an_untyped_group_described_dead_is_asked_again_as_kip848() {
        let described = |state| GroupDescription {
            name: "g".into(),
            state,
            group_type: GroupType::Unknown,
            members: 0,
            member_list: Vec::new(),
        };
        // (why, described state, listed type, probe?)
        let cases: &[(&str, GroupState, GroupType, bool)] = &[
            (
                "named, not listed, Dead to DescribeGroups: may be KIP-848",
                GroupState::Dead,
                GroupType::Unknown,
                true,
            ),
            (
                "listed classic and Dead: it is gone, nothing to ask",
                GroupState::Dead,
                GroupType::Classic,
                false,
            ),
            (
                "described alive: it is classic",
                GroupState::Stable,
                GroupType::Unknown,
                false,
            ),
        ];
        for (why, state, listed, want) in cases {
            assert_eq!(
                probe_as_consumer(&described(*state), *listed),
                *want,
                "{why}"
            );
        }
    }
}

mod watched {
    use super::super::Watched;
    use crate::source::kafka::batched::Broker;
    use crate::source::kafka::types::{ClusterMetadata, TopicId, TopicMetadata};

    fn b(port: i32) -> Broker {
        Broker {
            host: "k".into(),
            port,
        }
    }

    fn t(name: &str, id: Option<u128>, failed: bool, parts: &[(i32, i32)]) -> TopicMetadata {
        TopicMetadata {
            name: name.into(),
            id: id.map(TopicId::from_u128),
            failed,
            partitions: parts.to_vec(),
        }
    }

    #[test]
    fn watched_partitions_have_leaders_and_every_topic_id_a_name() {
        let md = ClusterMetadata {
            brokers: vec![(2, b(2)), (1, b(1))],
            topics: vec![
                t("w-b", Some(1), false, &[(1, 2), (0, 9)]),
                t("w-a", Some(2), false, &[(0, 1)]),
                t("other", Some(3), false, &[(0, 1)]),
                t("w-broken", Some(4), true, &[(0, 1)]),
                t("w-old", None, false, &[(0, 2)]),
            ],
        };
        let w = Watched::of(md, |t| t.starts_with("w-"));
        assert_eq!(w.brokers, vec![b(1), b(2)], "brokers in a fixed order");
        let parts: Vec<(&str, i32)> = w
            .topic_parts
            .iter()
            .map(|tp| (&*tp.topic, tp.partition))
            .collect();
        assert_eq!(
            parts,
            [("w-a", 0), ("w-b", 0), ("w-b", 1), ("w-old", 0)],
            "watched, sorted; a topic with an error is not watched"
        );
        assert_eq!(
            w.leaders,
            [Some(0), None, Some(1), Some(1)],
            "leader 9 is not a broker of the answer: no leader"
        );
        let mut names: Vec<&str> = w.topic_ids.values().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["other", "w-a", "w-b", "w-broken"],
            "every id is named, watched or not (assignments name any topic)"
        );
    }
}
