//! The versions the fast path negotiates with Kafka 4.4: per API the highest that the broker
//! and lagwatch both speak (a broker of another release picks others; tansu's are checked in
//! source::batched_offsets).

use crate::kafka::harness::env;
use kafka_protocol::messages::ApiKey;
use lagwatch::source::kafka::batched::wire::conn::Conn;
use std::time::{Duration, Instant};

#[test]
fn every_broker_speaks_the_newest_versions_lagwatch_implements() {
    // (API, version expected with Kafka 4.4, why)
    let expected = [
        (
            ApiKey::FindCoordinator,
            Some(6),
            "Kafka 4.4 speaks 0-6; so do we",
        ),
        (
            ApiKey::OffsetFetch,
            Some(9),
            "Kafka 4.4 speaks 10, which names topics by id",
        ),
        (
            ApiKey::DescribeGroups,
            Some(6),
            "v6 answers GROUP_ID_NOT_FOUND for KIP-848 groups",
        ),
        (
            ApiKey::ListOffsets,
            Some(10),
            "Kafka 4.4 speaks 11, the codec 10",
        ),
        (ApiKey::ListGroups, Some(5), "the types filter (KIP-1043)"),
        (
            ApiKey::Metadata,
            Some(13),
            "topic ids (v10+) and a top-level error",
        ),
        (
            ApiKey::ConsumerGroupDescribe,
            Some(1),
            "KIP-848 groups, many per request",
        ),
        (
            ApiKey::ShareGroupDescribe,
            Some(1),
            "share groups (KIP-932)",
        ),
        (
            ApiKey::DescribeShareGroupOffsets,
            Some(1),
            "v1 carries the broker's lag (KIP-1226), decoded by hand",
        ),
    ];
    for node in 1..=3 {
        let addr = env().get(&format!("NODE{node}_PLAINTEXT"));
        let (host, port) = addr.rsplit_once(':').expect("host:port");
        let deadline = Instant::now() + Duration::from_secs(10);
        let conn = Conn::connect(
            host,
            port.parse().expect("port"),
            "conformance",
            &Default::default(),
            deadline,
        )
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        for (api, want, why) in expected {
            assert_eq!(conn.version(api), want, "node {node} {api:?}: {why}");
        }
    }
}
