//! Stopping and starting one broker of the test cluster (`.ci/kafka-cluster stop-node` /
//! `start-node`), for tests holding [`exclusive`](crate::kafka::harness::exclusive).

use crate::kafka::harness::env;
use std::process::{Command, Stdio};

/// `.ci/kafka-cluster <args>` for the cluster the tests use (its directory from the env).
fn cluster_command(args: &[&str]) -> Command {
    let mut c = Command::new("bash");
    c.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/kafka-cluster"))
        .args(args)
        .env("LAGWATCH_KAFKA_CLUSTER_DIR", env().get("CLUSTER_DIR"))
        .stdin(Stdio::null());
    c
}

/// One broker stopped (`stop-node`) until this is dropped: then it is started again, also
/// when the test panics, so a failed test does not leave the shared cluster short a node.
pub struct StoppedNode(Option<i64>);

/// Stops node `id` (1..=3); take [`exclusive`](crate::kafka::harness::exclusive) first.
pub fn stop_node(id: i64) -> StoppedNode {
    let out = cluster_command(&["stop-node", &id.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run kafka-cluster: {e}"));
    assert!(
        out.status.success(),
        "kafka-cluster stop-node {id} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    StoppedNode(Some(id))
}

impl StoppedNode {
    /// Starts the node again; returns once it serves.
    pub fn restart(mut self) {
        assert!(self.start(), "kafka-cluster start-node failed");
    }

    fn start(&mut self) -> bool {
        let Some(id) = self.0.take() else {
            return true;
        };
        let ok = cluster_command(&["start-node", &id.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("could not restart Kafka node {id}: start it by hand");
        }
        ok
    }
}

impl Drop for StoppedNode {
    fn drop(&mut self) {
        // No assert: this also runs while a failed test unwinds, and a panic there aborts.
        self.start();
    }
}
