//! Conformance of lagwatch with a real Apache Kafka cluster (started by `.ci/run` with
//! `.ci/kafka-cluster start`): in every test lagwatch's `/metrics` and `/api/v1/status` must
//! equal what KTool (the Java Admin client) reads, partition by partition. See
//! `.ci/kafka/README.md` for the cluster.

mod harness;
mod instance;
mod truth;

mod access;
mod classic;
mod groups;
mod logs;
mod share;
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
