//! Conformance of lagwatch with a real Apache Kafka cluster (started by `.ci/run` with
//! `.ci/kafka-cluster start`): in every test lagwatch's `/metrics` and `/api/v1/status` must
//! equal what KTool (the Java Admin client) reads, partition by partition. See
//! `.ci/kafka/README.md` for the cluster.

pub(crate) mod harness;
mod instance;
mod nodes;
mod truth;

mod access;
mod brokers;
mod classic;
mod cleanup;
mod coordination_down;
mod groups;
mod logs;
mod replicas;
mod secured;
mod sharded_silences;
mod sharding;
mod share;
mod timelag;
mod topics;
mod versions;

use std::time::Duration;

/// Reads the truth and a lagwatch poll that started after it, and compares them. Group
/// states and members may legitimately move between the two reads (a rebalance), so a
/// mismatch is retried with fresh reads up to `tries` times; a wrong number that stays
/// wrong fails.
pub async fn conforms(lw: &instance::Lagwatch, groups: &[&str], topics: &[&str], tries: usize) {
    for attempt in 1..=tries {
        let t = truth::read(groups, topics);
        let after = instance::now();
        let (m, s) = lw.poll_after(after).await;
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            truth::assert_conforms(&m, &s, &t)
        }));
        match r {
            Ok(()) => return,
            Err(p) if attempt == tries => std::panic::resume_unwind(p),
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

/// Asserts that lagwatch reports `lost` messages lost for `group` on `topic`/`partition`
/// on every poll, and that the `data_loss` reason fires within a few polls (it may wait
/// for hysteresis).
pub async fn reports_data_loss(
    lw: &instance::Lagwatch,
    group: &str,
    topic: &str,
    partition: i64,
    lost: i64,
) {
    let (c, g, t) = (("cluster", "kafka"), ("group", group), ("topic", topic));
    let p = partition.to_string();
    for _ in 0..10 {
        let (m, _) = lw.fresh().await;
        assert_eq!(
            instance::sample(
                &m,
                "lagwatch_group_partition_messages_lost",
                &[c, g, t, ("partition", &p)]
            ),
            Some(lost.to_string().as_str()),
            "messages lost of {group} on {topic}/{p}"
        );
        let reason = [c, g, t, ("reason", "data_loss")];
        if instance::sample(&m, "lagwatch_group_topic_reason", &reason) == Some("1") {
            return;
        }
    }
    panic!("data_loss never fired for {group} on {topic}");
}
