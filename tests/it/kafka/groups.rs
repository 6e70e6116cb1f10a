//! Group lifecycle: KIP-848 consumer groups, a deleted group.

use crate::kafka::harness::{commit, ktool, shared, spawn_ktool, unique};
use crate::kafka::instance::{samples_of, Lagwatch};
use crate::kafka::truth::group_json;
use std::time::Duration;

const JOIN: Duration = Duration::from_secs(90);

/// A KIP-848 group (`group.protocol=consumer`): listed, described (state, members) and its
/// lag exact, though the classic DescribeGroups cannot describe it.
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
    let (_, s) = lw.fresh().await;
    let g = group_json(&s, &group).expect("KIP-848 group reported");
    assert_eq!(g["state"], "Stable", "{g}");
    assert_eq!(g["members"], 1, "{g}");
    c.finish();
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
