//! The broker removing records on its own: log compaction and time-based retention.

use crate::kafka::harness::{commit, ktool, shared, unique, wait_for};
use crate::kafka::instance::{sample, Lagwatch};
use crate::kafka::truth;
use std::time::Duration;

/// Records a fresh consumer reads from `topic` (earliest to the end, nothing committed):
/// what survives in the log, as opposed to the span of offsets.
fn surviving_records(topic: &str) -> i64 {
    let probe = unique("probe");
    let done = ktool(&["consume", "--group", &probe, "--topic", topic]);
    ktool(&["delete-group", "--group", &probe, "--if-exists"]);
    done["consumed"].as_i64().expect("consumed count")
}

/// A compacted topic whose keys were overwritten, and the cleaner really ran (a consumer
/// reads fewer records than the offsets span). Lag stays exact in offsets: high watermark −
/// committed. That is the broker's own definition (a consumer's `records-lag`, the Admin
/// API's `ListOffsets`), and the only one a lag exporter can compute without reading the
/// log; the number of records still to read may be smaller, as compaction left gaps in the
/// offsets between the commit and the end. Time lag is the age of the first record kept at
/// or after the commit: the committed offset itself was compacted away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_topic_lag_is_in_offsets_not_surviving_records() {
    let _brokers = shared().await;
    let p = unique("compact");
    let (topic, group) = (format!("{p}-t"), format!("{p}-g"));
    ktool(&[
        "create-topic",
        "--topic",
        &topic,
        "--config",
        "cleanup.policy=compact",
        "--config",
        "segment.ms=100",
        "--config",
        "min.cleanable.dirty.ratio=0.01",
        "--config",
        "min.compaction.lag.ms=0",
    ]);
    // Each round writes key-0..key-9 again, in its own segment (a KTool run takes longer
    // than segment.ms); the last single record (key-0) rolls the segment before it, so all
    // the overwritten rounds are cleanable. Round r is stamped 60 − 20 r minutes ago, the
    // last record 10 minutes ago: the cleaner keeps offsets 21..=30, so the commit at 12
    // (round 2, 40 minutes old) sits in a gap and the next kept record is offset 21, 20
    // minutes old.
    let now_ms = (crate::kafka::instance::now() * 1000.0) as i64;
    let round = |count: &str, minutes_ago: i64| {
        let stamp = (now_ms - minutes_ago * 60_000).to_string();
        ktool(&[
            "produce",
            "--topic",
            &topic,
            "--count",
            count,
            "--partition",
            "0",
            "--timestamp-ms",
            &stamp,
            "--timestamp-step-ms",
            "0",
        ]);
    };
    for r in 0..3 {
        round("10", 60 - 20 * r);
    }
    round("1", 10);
    commit(&group, &topic, "0=12");
    // The cleaner wakes every log.cleaner.backoff.ms (15 s by default).
    // Offsets 0..31, 12 committed: 19 offsets of lag. Once fewer records than that survive
    // in the whole log, lag in records and lag in offsets differ for sure.
    let survivors = wait_for("the cleaner compacts", Duration::from_secs(120), || {
        let n = surviving_records(&topic);
        (n < 19).then_some(n)
    });
    let lw = Lagwatch::watching(&p).await;
    crate::kafka::conforms(&lw, &[&group], &[&topic], 3).await;
    let log = truth::logs(&[&topic])[&(topic.clone(), 0)];
    assert_eq!(log.latest, 31, "compaction keeps the offsets: {log:?}");
    let (m, _) = lw.fresh().await;
    let l = [
        ("cluster", "kafka"),
        ("group", group.as_str()),
        ("topic", topic.as_str()),
        ("partition", "0"),
    ];
    let lag: i64 = sample(&m, "lagwatch_group_partition_lag", &l)
        .expect("lag series")
        .parse()
        .expect("integer");
    assert_eq!(lag, 31 - 12, "lag in offsets");
    assert!(
        survivors < lag,
        "compaction ran: {survivors} records survive, {lag} offsets of lag"
    );
    assert_eq!(
        sample(&m, "lagwatch_group_partition_messages_lost", &l),
        Some("0"),
        "compaction is not data loss"
    );
    let (_, s) = lw.fresh().await;
    let part = crate::kafka::truth::group_json(&s, &group)
        .and_then(|g| g["topics"][0]["partitions"].as_array().cloned())
        .and_then(|ps| ps.into_iter().find(|x| x["partition"] == 0))
        .unwrap_or_else(|| panic!("{group} has no partition 0: {s}"));
    assert_eq!(part["lag_seconds_method"], "record", "{part}");
    let taken = s["clusters"][0]["taken_at"].as_f64().unwrap_or(0.0);
    let want = taken - (now_ms - 20 * 60_000) as f64 / 1000.0;
    let got = part["lag_seconds"].as_f64().unwrap_or(f64::NAN);
    assert!(
        (got - want).abs() < 5.0,
        "the next kept record (offset 21, 20 min old) gives the time lag, not the \
         compacted offset 12 (40 min): got {got} s, want {want} s: {part}"
    );
}

/// Time-based retention deleting segments for real while lagwatch watches: the log start
/// moves past the group's commits, and lagwatch reports data loss with exact
/// `messages_lost` = log start − committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_retention_past_the_commit_is_data_loss() {
    let _brokers = shared().await;
    let p = unique("retain");
    let (topic, group) = (format!("{p}-t"), format!("{p}-g"));
    ktool(&["create-topic", "--topic", &topic, "--partitions", "2"]);
    ktool(&["produce", "--topic", &topic, "--count", "20"]);
    commit(&group, &topic, "0=3,1=7");
    let lw = Lagwatch::watching(&p).await;
    crate::kafka::conforms(&lw, &[&group], &[&topic], 3).await;
    // The records are older than 1 s by now: the next retention check (every second here)
    // deletes every segment, rolling the active one.
    ktool(&[
        "incremental-alter-config",
        "--type",
        "topic",
        "--name",
        &topic,
        "--set",
        "retention.ms=1000",
        "--set",
        "segment.ms=200",
    ]);
    wait_for(
        "retention deletes the segments",
        Duration::from_secs(60),
        || {
            let logs = truth::logs(&[&topic]);
            logs.values().all(|l| l.earliest == l.latest).then_some(())
        },
    );
    crate::kafka::conforms(&lw, &[&group], &[&topic], 5).await;
    crate::kafka::reports_data_loss(&lw, &group, &topic, 0, 10 - 3).await;
    crate::kafka::reports_data_loss(&lw, &group, &topic, 1, 10 - 7).await;
}
