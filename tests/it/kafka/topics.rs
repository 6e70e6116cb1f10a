//! A topic changing shape while lagwatch watches it.

use crate::kafka::harness::{commit, ktool, shared, unique};
use crate::kafka::instance::{sample, Lagwatch};

/// Partitions added to a watched topic (CreatePartitions) appear with exact log offsets and
/// lag within a few polls, without restarting lagwatch: it must not keep the topic's
/// partition list from its first metadata read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_partitions_appear_with_exact_lag() {
    let _brokers = shared().await;
    let p = unique("grow");
    let (topic, group) = (format!("{p}-t"), format!("{p}-g"));
    ktool(&["create-topic", "--topic", &topic, "--partitions", "2"]);
    ktool(&["produce", "--topic", &topic, "--count", "10"]);
    commit(&group, &topic, "0=2,1=3");
    let lw = Lagwatch::watching(&p).await;
    crate::kafka::conforms(&lw, &[&group], &[&topic], 3).await;

    ktool(&["add-partitions", "--topic", &topic, "--total", "4"]);
    ktool(&["produce", "--topic", &topic, "--count", "20"]);
    commit(&group, &topic, "2=1,3=4");
    // The truth lists 4 partitions: conforming means lagwatch reports all of them.
    crate::kafka::conforms(&lw, &[&group], &[&topic], 10).await;
    let (m, s) = lw.fresh().await;
    for (part, lag) in [("2", "4"), ("3", "1")] {
        let l = [
            ("cluster", "kafka"),
            ("group", group.as_str()),
            ("topic", topic.as_str()),
            ("partition", part),
        ];
        assert_eq!(
            sample(&m, "lagwatch_group_partition_lag", &l),
            Some(lag),
            "lag on new partition {part}"
        );
    }
    assert_eq!(s["clusters"][0]["partial"], false, "{s}");
}
