//! Group lifecycle: KIP-848 consumer groups, a deleted group.

use crate::kafka::harness::{commit, ktool, shared, spawn_ktool, unique};
use crate::kafka::instance::{sample, samples_of, Lagwatch, Samples};
use crate::kafka::truth::group_json;
use std::collections::BTreeMap;
use std::time::Duration;

const JOIN: Duration = Duration::from_secs(90);

/// Requests of each API lagwatch's batched client sent per poll between two reads of
/// `/metrics` (`lagwatch_kafka_requests_total` over `lagwatch_poll_duration_seconds_count`).
fn requests_per_poll(before: &Samples, after: &Samples) -> BTreeMap<String, f64> {
    let polls = |m: &Samples| {
        let n = sample(
            m,
            "lagwatch_poll_duration_seconds_count",
            &[("cluster", "kafka")],
        );
        n.and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
    };
    let n = polls(after) - polls(before);
    assert!(n >= 1.0, "no poll between the two reads");
    let prefix = "lagwatch_kafka_requests_total{";
    after
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| {
            let was = before
                .get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            let api = k.split("api=\"").nth(1).and_then(|r| r.split('"').next());
            let per_poll = (v.parse::<f64>().unwrap_or(0.0) - was) / n;
            (api.unwrap_or(k).to_owned(), per_poll)
        })
        .collect()
}

/// A KIP-848 group (`group.protocol=consumer`): listed, described (state, members, their
/// assignment) and its lag exact, by the batched client's ConsumerGroupDescribe (not the
/// classic DescribeGroups, which cannot describe it, nor librdkafka): each poll counts one
/// in `lagwatch_kafka_requests_total`, `lagwatch_kafka_client_info` says no step fell back,
/// and only that path reports assignments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_consumer_group_listed_described_and_exact() {
    let _brokers = shared().await;
    let p = unique("kip848");
    let (topic, group) = (format!("{p}-t"), format!("{p}-g"));
    ktool(&["create-topic", "--topic", &topic, "--partitions", "2"]);
    ktool(&["produce", "--topic", &topic, "--count", "20"]);
    let lw = Lagwatch::watching(&p).await;
    let c = spawn_ktool(&[
        "consume",
        "--group",
        &group,
        "--topic",
        &topic,
        "--protocol",
        "consumer",
        "--max",
        "6",
        "--commit",
        "--hold",
        "--client-id",
        "conf-848",
    ]);
    c.wait_event("consumed", JOIN);
    crate::kafka::conforms(&lw, &[&group], &[&topic], 5).await;
    let (before, _) = lw.fresh().await;
    let (m, s) = lw.fresh().await;
    let g = group_json(&s, &group).expect("KIP-848 group reported");
    assert_eq!(g["state"], "Stable", "{g}");
    assert_eq!(g["members"], 1, "{g}");
    assert_eq!(g["type"], "consumer", "{g}");
    let member = &g["member_details"][0];
    assert_eq!(member["client_id"], "conf-848", "{g}");
    assert_eq!(
        member["assignment"][topic.as_str()],
        serde_json::json!([0, 1]),
        "the one member holds both partitions, named from the topic ids: {g}"
    );
    let info = [
        ("cluster", "kafka"),
        ("group", group.as_str()),
        ("source", "kafka"),
        ("state", "Stable"),
        ("type", "consumer"),
    ];
    assert_eq!(sample(&m, "lagwatch_group_info", &info), Some("1"));
    let fast = [("cluster", "kafka"), ("client", "fast")];
    assert_eq!(
        sample(&m, "lagwatch_kafka_client_info", &fast),
        Some("1"),
        "no step fell back to librdkafka"
    );
    assert_eq!(s["clusters"][0]["kafka_client"], "fast");
    let per_poll = requests_per_poll(&before, &m);
    eprintln!("requests per poll (3 brokers, one KIP-848 group): {per_poll:?}");
    let n = |api: &str| per_poll.get(api).copied().unwrap_or(0.0);
    assert!(
        n("ConsumerGroupDescribe") >= 1.0,
        "described by the batched client every poll: {per_poll:?}"
    );
    assert_eq!(
        n("DescribeGroups"),
        0.0,
        "a group listed as KIP-848 is never asked with DescribeGroups: {per_poll:?}"
    );
    assert_eq!(
        n("Metadata"),
        1.0,
        "metadata from the batched client: {per_poll:?}"
    );
    assert_eq!(n("ListGroups"), 3.0, "one listing per broker: {per_poll:?}");
    c.finish();
}

/// `lagwatch_group_info` and the status report say each group's type as the broker lists
/// it: a classic group (offsets committed by the Admin client), a KIP-848 group that has
/// left (Empty, still `consumer`) and a share group (its own series, and `type="share"`
/// in `lagwatch_group_info` so that one query counts every group by type).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_info_type_is_classic_consumer_or_share() {
    let _brokers = shared().await;
    let p = unique("gtype");
    let topic = format!("{p}-t");
    let (classic, consumer, share) = (
        format!("{p}-classic"),
        format!("{p}-consumer"),
        format!("{p}-share"),
    );
    ktool(&["create-topic", "--topic", &topic, "--partitions", "2"]);
    ktool(&["produce", "--topic", &topic, "--count", "10"]);
    commit(&classic, &topic, "0=1,1=2");
    ktool(&[
        "consume",
        "--group",
        &consumer,
        "--topic",
        &topic,
        "--protocol",
        "consumer",
        "--max",
        "3",
        "--commit",
    ]);
    ktool(&[
        "share-consume",
        "--group",
        &share,
        "--topic",
        &topic,
        "--max",
        "1",
        "--ack",
        "accept",
    ]);
    let lw = Lagwatch::watching(&p).await;
    // (group, type, in the consumer-group list of the status report)
    let want = [
        (&classic, "classic", true),
        (&consumer, "consumer", true),
        (&share, "share", false),
    ];
    let (m, s) = lw.fresh().await;
    for (group, ty, listed) in want {
        let info = samples_of(&m, "lagwatch_group_info", &[("group", group)]);
        assert_eq!(info.len(), 1, "one info series for {group}: {info:?}");
        assert!(
            info[0].contains(&format!("type=\"{ty}\"")),
            "{group} is {ty}: {info:?}"
        );
        match group_json(&s, group) {
            Some(g) => {
                assert!(listed, "{group} in the consumer groups: {g}");
                assert_eq!(g["type"], ty, "{g}");
            }
            None => assert!(!listed, "{group} missing from the report: {s}"),
        }
    }
}

/// A deleted group disappears on the next poll: no stale lag survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_group_disappears() {
    let _brokers = shared().await;
    let p = unique("delgroup");
    let (topic, group) = (format!("{p}-t"), format!("{p}-g"));
    ktool(&["create-topic", "--topic", &topic, "--partitions", "2"]);
    ktool(&["produce", "--topic", &topic, "--count", "10"]);
    commit(&group, &topic, "0=2,1=3");
    let lw = Lagwatch::watching(&p).await;
    crate::kafka::conforms(&lw, &[&group], &[&topic], 3).await;
    ktool(&["delete-group", "--group", &group]);
    let (m, s) = lw.fresh().await;
    assert!(
        group_json(&s, &group).is_none(),
        "deleted group still reported: {s}"
    );
    let left = samples_of(&m, "lagwatch_group_partition_lag", &[("group", &group)]);
    assert!(left.is_empty(), "stale series: {left:?}");
}
