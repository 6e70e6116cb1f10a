//! Metadata on the fast path: bootstrap servers as configured, the answer as lagwatch reads
//! it, and which error a poll reports when no broker answers.

use super::*;
use crate::source::kafka::batched::metadata::{bootstrap_brokers, cluster_metadata, MetadataError};
use crate::source::kafka::types::{TopicId, TopicMetadata};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::MetadataResponse;

const MD: i16 = ApiKey::Metadata as i16;

const WITH_METADATA: &[(ApiKey, i16, i16)] = &[(ApiKey::Metadata, 0, 13)];

fn b(host: &str, port: i32) -> Broker {
    Broker {
        host: host.into(),
        port,
    }
}

#[test]
fn bootstrap_servers_are_read_as_librdkafka_reads_them() {
    // (why, bootstrap_servers, expected brokers)
    let cases: &[(&str, &str, Vec<Broker>)] = &[
        ("one server", "k1:9092", vec![b("k1", 9092)]),
        (
            "a list, spaces around commas",
            "k1:9092, k2:9093",
            vec![b("k1", 9092), b("k2", 9093)],
        ),
        (
            "a security-protocol prefix",
            "PLAINTEXT://k1:9092",
            vec![b("k1", 9092)],
        ),
        (
            "an IPv6 host in brackets",
            "[::1]:9092",
            vec![b("::1", 9092)],
        ),
        (
            "entries without a usable port are left out",
            "k1,k2:x,k3:70000,k4:1",
            vec![b("k4", 1)],
        ),
        ("nothing configured", "", vec![]),
    ];
    for (why, servers, want) in cases {
        assert_eq!(&bootstrap_brokers(servers), want, "{why}");
    }
}

fn topic(name: Option<&str>, id: u128, code: i16, parts: &[(i32, i32)]) -> MetadataResponseTopic {
    let partitions = parts
        .iter()
        .map(|(p, leader)| {
            MetadataResponsePartition::default()
                .with_partition_index(*p)
                .with_leader_id(BrokerId(*leader))
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(name.map(|n| TopicName(n.to_string().into())))
        .with_topic_id(TopicId::from_u128(id))
        .with_error_code(code)
        .with_partitions(partitions)
}

fn answer(at: &Broker, topics: Vec<MetadataResponseTopic>) -> MetadataResponse {
    let broker = MetadataResponseBroker::default()
        .with_node_id(BrokerId(1))
        .with_host(at.host.clone().into())
        .with_port(at.port);
    MetadataResponse::default()
        .with_brokers(vec![broker])
        .with_topics(topics)
}

#[test]
fn a_metadata_answer_keeps_brokers_topics_leaders_and_ids() {
    let at = b("k1", 9092);
    let topics = vec![
        topic(Some("orders"), 7, 0, &[(0, 1), (1, -1)]),
        topic(Some("old"), 0, 0, &[(0, 1)]),
        topic(Some("broken"), 8, 3, &[]),
        topic(None, 9, 0, &[(0, 1)]),
    ];
    let md = cluster_metadata(answer(&at, topics)).unwrap();
    assert_eq!(md.brokers, vec![(1, at)]);
    let want = vec![
        TopicMetadata {
            name: "orders".into(),
            id: Some(TopicId::from_u128(7)),
            failed: false,
            partitions: vec![(0, 1), (1, -1)],
        },
        // The nil id: a broker before Metadata v10 names no ids.
        TopicMetadata {
            name: "old".into(),
            id: None,
            failed: false,
            partitions: vec![(0, 1)],
        },
        TopicMetadata {
            name: "broken".into(),
            id: Some(TopicId::from_u128(8)),
            failed: true,
            partitions: vec![],
        },
        // The nameless topic (only ever an answer to a request by id) is left out.
    ];
    assert_eq!(md.topics, want);
    let refused = answer(&b("k1", 1), vec![]).with_error_code(31);
    assert!(cluster_metadata(refused).is_err(), "a v13 top-level error");
}

#[test]
fn the_first_metadata_goes_to_a_bootstrap_server_then_to_advertised_brokers() {
    let advertised = Arc::new(Mutex::new(None::<Broker>));
    let adv = advertised.clone();
    let (bootstrap, boot_log) = broker(WITH_METADATA, move |api, _, v, _| {
        assert_eq!((api, v), (MD, 13));
        let at = adv.lock().unwrap().clone().unwrap();
        Reply::Body(enc(
            &answer(&at, vec![topic(Some("t"), 1, 0, &[(0, 1)])]),
            v,
        ))
    });
    let (real, real_log) = broker(WITH_METADATA, move |_, _, v, _| {
        Reply::Body(enc(&answer(&b("127.0.0.1", 1), vec![]), v))
    });
    *advertised.lock().unwrap() = Some(real.clone());
    let dead = b("127.0.0.1", 1);
    let mut d = Batched::new(Default::default());
    // A dead bootstrap server first: the next one answers.
    let md = d.metadata(&[dead, bootstrap.clone()], soon()).unwrap();
    assert_eq!(md.brokers[0].1, real);
    assert_eq!(count(&boot_log, MD), 1);
    d.metadata(&[bootstrap], soon()).unwrap();
    assert_eq!(
        count(&boot_log, MD),
        1,
        "the bootstrap server is not asked again"
    );
    assert_eq!(count(&real_log, MD), 1, "the advertised broker is");
    assert_eq!(d.take_sent()["Metadata"], 2);
}

#[test]
fn no_answer_is_unreachable_or_slow_as_the_poll_reports_them() {
    let dead = b("127.0.0.1", 1);
    let mut d = Batched::new(Default::default());
    match d.metadata(std::slice::from_ref(&dead), soon()) {
        Err(MetadataError::Unreachable(why)) => assert!(why.contains("127.0.0.1:1"), "{why}"),
        other => panic!("refused connection: {other:?}"),
    }
    assert!(
        matches!(d.metadata(&[], soon()), Err(MetadataError::Unreachable(_))),
        "no bootstrap server at all"
    );
    // A broker that takes the connection and never answers Metadata.
    let (silent, _) = broker(WITH_METADATA, |_, _, _, _| {
        std::thread::sleep(Duration::from_secs(3));
        Reply::HangUp
    });
    let deadline = Instant::now() + Duration::from_millis(300);
    assert_eq!(d.metadata(&[silent], deadline), Err(MetadataError::Slow));
}
