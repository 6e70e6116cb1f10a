//! Classic consumer groups with real members joined (KTool `consume --hold`).

use crate::kafka::harness::{ktool, shared, spawn_ktool, unique, wait_for};
use crate::kafka::instance::{sample, Lagwatch};
use crate::kafka::truth::{self, group_json};
use std::time::Duration;

const JOIN: Duration = Duration::from_secs(90);

/// Two live members (Stable, 2 members with their client ids and hosts), then both leave
/// (Empty, 0 members): an Empty group keeps reporting its lag, which grows as records
/// arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_group_stable_with_members_then_empty_keeps_lag() {
    let _brokers = shared().await;
    let p = unique("classic");
    let (topic, group) = (format!("{p}-t"), format!("{p}-g"));
    ktool(&["create-topic", "--topic", &topic, "--partitions", "3"]);
    ktool(&["produce", "--topic", &topic, "--count", "30"]);
    let lw = Lagwatch::watching(&p).await;
    let consume = |client: &str| {
        spawn_ktool(&[
            "consume",
            "--group",
            &group,
            "--topic",
            &topic,
            "--max",
            "4",
            "--commit",
            "--hold",
            "--client-id",
            client,
        ])
    };
    let a = consume("conf-a");
    a.wait_event("consumed", JOIN);
    let b = consume("conf-b");
    b.wait_event("joined", JOIN);
    crate::kafka::conforms(&lw, &[&group], &[&topic], 5).await;
    let (_, s) = lw.fresh().await;
    let g = group_json(&s, &group).expect("group reported");
    assert_eq!(g["state"], "Stable", "{g}");
    assert_eq!(g["members"], 2, "{g}");

    a.finish();
    b.finish();
    ktool(&["produce", "--topic", &topic, "--count", "9"]);
    crate::kafka::conforms(&lw, &[&group], &[&topic], 5).await;
    let (m, s) = lw.fresh().await;
    let g = group_json(&s, &group).expect("an Empty group is still reported");
    assert_eq!(g["state"], "Empty", "{g}");
    assert_eq!(g["members"], 0, "{g}");
    assert_eq!(g["member_details"], serde_json::json!([]), "{g}");
    let lag = sample(
        &m,
        "lagwatch_group_lag",
        &[("cluster", "kafka"), ("group", &group)],
    );
    let lag: i64 = lag.expect("lag series").parse().expect("integer");
    // Exact values were compared above; here: an Empty group is not dropped to 0.
    assert!(lag > 0, "an Empty group keeps its lag: {lag}");
}

/// A classic group caught in a rebalance: member `a` read and committed, then stopped
/// calling poll() (its heartbeats keep it in the group); member `b` joins, and the
/// coordinator waits for `a` to rejoin until its rebalance timeout (max.poll.interval.ms,
/// 120 s here), so the group stays PreparingRebalance. lagwatch reports that state as the
/// broker does, and keeps reporting the group's exact lag (not zero, not gone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_group_preparing_rebalance_keeps_lag() {
    let _brokers = shared().await;
    let p = unique("rebal");
    let (topic, group) = (format!("{p}-t"), format!("{p}-g"));
    ktool(&["create-topic", "--topic", &topic, "--partitions", "1"]);
    ktool(&["produce", "--topic", &topic, "--count", "20"]);
    let lw = Lagwatch::watching(&p).await;
    let a = spawn_ktool(&[
        "consume",
        "--group",
        &group,
        "--topic",
        &topic,
        "--max",
        "4",
        "--commit",
        "--hold",
        "--stall",
        "--max-poll-interval-ms",
        "120000",
        "--client-id",
        "conf-stalled",
    ]);
    a.wait_event("consumed", JOIN);
    // b's JoinGroup stays pending through the rebalance: it never prints `joined`.
    let b = spawn_ktool(&[
        "consume",
        "--group",
        &group,
        "--topic",
        &topic,
        "--hold",
        "--client-id",
        "conf-joining",
    ]);
    wait_for("the broker sees the rebalance", JOIN, || {
        let d = ktool(&["describe-groups", "--group", &group]);
        let g = &d["groups"][0];
        let both = g["members"].as_array().is_some_and(|m| m.len() == 2);
        (g["state"] == "PreparingRebalance" && both).then_some(())
    });
    // Compares the state and members with describe-groups too.
    crate::kafka::conforms(&lw, &[&group], &[&topic], 5).await;
    let t = truth::read(&[&group], &[&topic]);
    assert_eq!(
        t.groups[&group]["state"], "PreparingRebalance",
        "still rebalancing when compared"
    );
    let (m, s) = lw.fresh().await;
    let g = group_json(&s, &group).expect("a rebalancing group is reported");
    assert_eq!(g["state"], "PreparingRebalance", "{g}");
    assert_eq!(g["lag"], 20 - 4, "lag of the rebalancing group: {g}");
    let info = [
        ("cluster", "kafka"),
        ("group", group.as_str()),
        ("source", "kafka"),
        ("state", "PreparingRebalance"),
        ("type", "classic"),
    ];
    assert_eq!(sample(&m, "lagwatch_group_info", &info), Some("1"));
    assert_eq!(g["type"], "classic", "{g}");
    b.finish();
    a.finish();
}
