//! Share groups (KIP-932): listed on the fast path and their lag, the broker's count of
//! records not yet acknowledged, equal to what the Admin client reads
//! (`listShareGroupOffsets`), partition by partition; kept apart from consumer groups.

use crate::kafka::harness::{ktool, shared, spawn_ktool, unique};
use crate::kafka::instance::{sample, samples_of, Lagwatch, Samples};
use crate::kafka::truth::group_json;
use serde_json::Value;
use std::time::Duration;

const JOIN: Duration = Duration::from_secs(90);

/// The broker's share-partition rows of `group`: (topic, partition, start offset, lag).
fn share_truth(group: &str) -> Vec<(String, i64, i64, i64)> {
    let v = ktool(&["share-offsets", "--group", group]);
    let mut rows: Vec<_> = v["offsets"]
        .as_array()
        .unwrap_or_else(|| panic!("share-offsets: {v}"))
        .iter()
        .map(|o| {
            let n = |k: &str| o[k].as_i64().unwrap_or_else(|| panic!("{k} in {o}"));
            let topic = o["topic"].as_str().expect("topic").to_owned();
            (topic, n("partition"), n("start_offset"), n("lag"))
        })
        .collect();
    rows.sort();
    rows
}

/// lagwatch's share-partition series of `group`, in the truth's shape.
fn share_series(
    m: &Samples,
    group: &str,
    truth: &[(String, i64, i64, i64)],
) -> Vec<(String, i64, i64, i64)> {
    truth
        .iter()
        .map(|(t, p, _, _)| {
            let part = p.to_string();
            let labels = [
                ("cluster", "kafka"),
                ("group", group),
                ("topic", t),
                ("partition", &part),
            ];
            let n = |name: &str| {
                sample(m, name, &labels)
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(i64::MIN)
            };
            let start = n("lagwatch_share_group_partition_start_offset");
            (
                t.clone(),
                *p,
                start,
                n("lagwatch_share_group_partition_lag"),
            )
        })
        .collect()
}

/// The status report's entry for share group `group`.
fn share_json<'a>(status: &'a Value, group: &str) -> Option<&'a Value> {
    status["clusters"][0]["share_groups"]
        .as_array()?
        .iter()
        .find(|g| g["group"] == group)
}

/// Reads the truth, then a poll after it, until they agree (share-partition state is
/// persisted by the share coordinator a moment after the acknowledgement); fails with the
/// last difference.
async fn share_conforms(lw: &Lagwatch, group: &str, tries: usize) -> (Samples, Value, i64) {
    let mut last = String::new();
    for _ in 0..tries {
        let truth = share_truth(group);
        let (m, s) = lw.fresh().await;
        let got = share_series(&m, group, &truth);
        let total: i64 = truth.iter().map(|r| r.3).sum();
        let json_lag = share_json(&s, group).and_then(|g| g["lag"].as_i64());
        let group_lag = sample(
            &m,
            "lagwatch_share_group_lag",
            &[("cluster", "kafka"), ("group", group)],
        );
        if !truth.is_empty()
            && got == truth
            && json_lag == Some(total)
            && group_lag == Some(&total.to_string())
        {
            return (m, s, total);
        }
        last =
            format!("truth {truth:?}\nlagwatch {got:?}\ngroup lag {group_lag:?} json {json_lag:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("share group {group} does not conform:\n{last}");
}

/// One share group accepts 7 of 20 records and leaves (Empty, no members, lag 13), another
/// holds on after accepting all 20 (Stable, 1 member, lag 0): each partition's lag and start
/// offset equal the broker's, the group lag is their sum, and neither shows up as a
/// consumer group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_group_lag_equals_the_brokers_partition_by_partition() {
    let _brokers = shared().await;
    let p = unique("share");
    let topic = format!("{p}-t");
    let (partial, done) = (format!("{p}-partial"), format!("{p}-done"));
    ktool(&["create-topic", "--topic", &topic, "--partitions", "2"]);
    ktool(&["produce", "--topic", &topic, "--count", "20"]);
    let lw = Lagwatch::watching(&p).await;
    let holder = spawn_ktool(&[
        "share-consume",
        "--group",
        &done,
        "--topic",
        &topic,
        "--max",
        "20",
        "--hold",
        "--ack",
        "accept",
        "--client-id",
        "conf-share-all",
    ]);
    let d = ktool(&[
        "share-consume",
        "--group",
        &partial,
        "--topic",
        &topic,
        "--max",
        "7",
        "--ack",
        "accept",
        "--client-id",
        "conf-share-7",
    ]);
    assert_eq!(d["acknowledged"]["accept"], 7, "{d}");
    holder.wait_event("consumed", JOIN);

    let (_, _, lag) = share_conforms(&lw, &partial, 20).await;
    assert_eq!(lag, 13, "20 produced, 7 accepted, the rest released");
    let (m, s, lag) = share_conforms(&lw, &done, 20).await;
    assert_eq!(lag, 0, "every record accepted");

    let held = share_json(&s, &done).expect("held share group reported");
    assert_eq!(held["state"], "Stable", "{held}");
    assert_eq!(held["members"], 1, "{held}");
    let members = [("cluster", "kafka"), ("group", done.as_str())];
    assert_eq!(
        sample(&m, "lagwatch_share_group_members", &members),
        Some("1")
    );
    let left = share_json(&s, &partial).expect("share group reported");
    assert_eq!(
        (&left["state"], &left["members"]),
        (&"Empty".into(), &0.into()),
        "{left}"
    );
    let info = [
        ("cluster", "kafka"),
        ("group", done.as_str()),
        ("state", "Stable"),
    ];
    assert_eq!(sample(&m, "lagwatch_share_group_info", &info), Some("1"));
    for g in [&partial, &done] {
        assert!(
            group_json(&s, g).is_none(),
            "share group {g} listed as a consumer group: {s}"
        );
        let consumer = samples_of(&m, "lagwatch_group_lag", &[("group", g)]);
        assert!(
            consumer.is_empty(),
            "consumer series for share group {g}: {consumer:?}"
        );
    }
    holder.finish();
}
