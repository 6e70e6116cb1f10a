//! What happens to the log under the group: transactions, DeleteRecords, a topic deleted
//! and created again.

use crate::kafka::harness::{commit, ktool, shared, spawn_ktool, unique};
use crate::kafka::instance::{sample, samples_of, Lagwatch};
use crate::kafka::truth;
use std::time::Duration;

/// A committed, an aborted and a still open transaction. lagwatch measures lag to the high
/// watermark (README "Lag"), so the open transaction's records and every marker count:
/// lag = HW − committed, exactly, and the log end is the HW, not the LSO.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_lag_is_measured_to_the_high_watermark() {
    let _brokers = shared().await;
    let p = unique("txn");
    let (topic, group) = (format!("{p}-t"), format!("{p}-g"));
    ktool(&["create-topic", "--topic", &topic, "--partitions", "1"]);
    let txn = |id: &str, n: &str, how: &str| {
        let id = format!("{p}-{id}");
        ktool(&[
            "produce",
            "--topic",
            &topic,
            "--count",
            n,
            "--transactional-id",
            &id,
            "--txn",
            how,
        ])
    };
    txn("a", "5", "commit"); // 0-4, marker 5
    txn("b", "3", "abort"); // 6-8, marker 9
    let open_id = format!("{p}-c");
    let open = spawn_ktool(&[
        "produce",
        "--topic",
        &topic,
        "--count",
        "2",
        "--transactional-id",
        &open_id,
        "--txn",
        "open",
    ]); // 10-11, no marker yet
    open.wait_event("open", Duration::from_secs(60));
    let done = ktool(&[
        "consume",
        "--group",
        &group,
        "--topic",
        &topic,
        "--isolation",
        "read_committed",
        "--commit",
    ]);
    assert_eq!(
        done["consumed"], 5,
        "read_committed reads the committed records only: {done}"
    );
    let lw = Lagwatch::watching(&p).await;
    crate::kafka::conforms(&lw, &[&group], &[&topic], 3).await;
    let t = truth::read(&[&group], &[&topic]);
    let log = t.logs[&(topic.clone(), 0)];
    assert_eq!(
        (log.latest, log.last_stable),
        (12, 10),
        "HW past the open transaction"
    );
    let (m, _) = lw.fresh().await;
    let l = [
        ("cluster", "kafka"),
        ("topic", topic.as_str()),
        ("partition", "0"),
    ];
    assert_eq!(
        sample(&m, "lagwatch_partition_log_end_offset", &l),
        Some("12")
    );
    open.finish();
}

/// DeleteRecords moves the log start past a group's commit: `messages_lost` is exactly
/// log start − committed and the reason `data_loss` fires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_records_past_the_commit_is_data_loss() {
    let _brokers = shared().await;
    let p = unique("delrec");
    let (topic, group) = (format!("{p}-t"), format!("{p}-g"));
    ktool(&["create-topic", "--topic", &topic, "--partitions", "2"]);
    ktool(&["produce", "--topic", &topic, "--count", "20"]);
    commit(&group, &topic, "0=2,1=8");
    ktool(&[
        "delete-records",
        "--topic",
        &topic,
        "--partition",
        "0",
        "--before",
        "6",
    ]);
    let lw = Lagwatch::watching(&p).await;
    crate::kafka::conforms(&lw, &[&group], &[&topic], 3).await;
    crate::kafka::reports_data_loss(&lw, &group, &topic, 0, 4).await;
}

/// A topic deleted and created again with the same name: no committed offset of the old
/// topic survives (the broker drops them), and the new log offsets are reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreated_topic_keeps_no_stale_offsets() {
    let _brokers = shared().await;
    let p = unique("recreate");
    let (topic, group) = (format!("{p}-t"), format!("{p}-g"));
    ktool(&["create-topic", "--topic", &topic, "--partitions", "2"]);
    ktool(&["produce", "--topic", &topic, "--count", "20"]);
    commit(&group, &topic, "0=5,1=9");
    let lw = Lagwatch::watching(&p).await;
    crate::kafka::conforms(&lw, &[&group], &[&topic], 3).await;
    ktool(&["delete-topic", "--topic", &topic]);
    ktool(&["create-topic", "--topic", &topic, "--partitions", "1"]);
    ktool(&["produce", "--topic", &topic, "--count", "3"]);
    crate::kafka::conforms(&lw, &[&group], &[&topic], 5).await;
    let (m, _) = lw.fresh().await;
    let p1 = [
        ("cluster", "kafka"),
        ("topic", topic.as_str()),
        ("partition", "1"),
    ];
    assert_eq!(
        sample(&m, "lagwatch_partition_log_end_offset", &p1),
        None,
        "old partition 1"
    );
    let left = samples_of(&m, "lagwatch_group_partition_lag", &[("group", &group)]);
    assert!(
        left.is_empty(),
        "stale offsets of the deleted topic: {left:?}"
    );
}
