//! Honest time on real Kafka: time lag read from the first unconsumed record's timestamp
//! (every codec, the middle of a batch, LogAppendTime, an open transaction), at no cost for a
//! stuck consumer, the estimate as the labelled fallback without Read, and retention risk
//! from the topic's own retention.ms.

use crate::kafka::harness::{commit, env, ktool, shared, unique};
use crate::kafka::instance::{now, sample, Lagwatch, Samples};
use crate::kafka::truth::group_json;
use serde_json::Value;
use std::time::Duration;

const MINUTE_MS: i64 = 60_000;

fn now_ms() -> i64 {
    (now() * 1000.0) as i64
}

/// Produces `count` records to partition 0 of `topic`, record i stamped `first_ms + i *
/// step_ms`, in one batch compressed with `codec`.
fn produce_stamped(topic: &str, count: i64, first_ms: i64, step_ms: i64, codec: &str) {
    ktool(&[
        "produce",
        "--topic",
        topic,
        "--partition",
        "0",
        "--count",
        &count.to_string(),
        "--timestamp-ms",
        &first_ms.to_string(),
        "--timestamp-step-ms",
        &step_ms.to_string(),
        "--compression",
        codec,
    ]);
}

/// The JSON of one group's partition.
fn partition<'a>(s: &'a Value, group: &str, topic: &str, p: i64) -> &'a Value {
    let g = group_json(s, group).unwrap_or_else(|| panic!("{group} not reported: {s}"));
    g["topics"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["topic"] == topic))
        .and_then(|t| t["partitions"].as_array())
        .and_then(|ps| ps.iter().find(|x| x["partition"] == p))
        .unwrap_or_else(|| panic!("{group} has no {topic}/{p}: {s}"))
}

/// Waits until every (group, topic) has a time lag read from records, then returns the poll.
async fn until_recorded(lw: &Lagwatch, pairs: &[(&str, &str)]) -> (Samples, Value) {
    for _ in 0..30 {
        let (m, s) = lw.fresh().await;
        let all = pairs.iter().all(|(g, t)| {
            group_json(&s, g).is_some() && partition(&s, g, t, 0)["lag_seconds_method"] == "record"
        });
        if all {
            return (m, s);
        }
    }
    let (_, s) = lw.fresh().await;
    panic!("time lag never read from records: {s}");
}

/// Asserts a partition's time lag is `now - written_ms` (within a few seconds: the poll's
/// age and the test's own steps).
fn assert_age(s: &Value, group: &str, topic: &str, written_ms: i64) {
    let p = partition(s, group, topic, 0);
    let taken = s["clusters"][0]["taken_at"].as_f64().unwrap_or(0.0);
    let want = taken - written_ms as f64 / 1000.0;
    let got = p["lag_seconds"].as_f64().unwrap_or(f64::NAN);
    assert!(
        (got - want).abs() < 5.0,
        "{group} on {topic}: time lag {got} s, the record was written {want} s before the poll: {p}"
    );
    assert_eq!(p["lag_seconds_method"], "record", "{p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_lag_is_the_first_unconsumed_records_age_in_every_codec() {
    let _brokers = shared().await;
    let p = unique("tl");
    // Ten records a minute apart, the first two hours ago; groups at offsets 0 and 5 (the
    // middle of the batch).
    let first = now_ms() - 120 * MINUTE_MS;
    let codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
    for c in codecs {
        let topic = format!("{p}-{c}");
        ktool(&["create-topic", "--topic", &topic, "--partitions", "1"]);
        produce_stamped(&topic, 10, first, MINUTE_MS, c);
        commit(&format!("{p}-{c}-start"), &topic, "0=0");
        commit(&format!("{p}-{c}-mid"), &topic, "0=5");
    }
    let lw = Lagwatch::watching(&p).await;
    let groups: Vec<(String, String)> = codecs
        .iter()
        .flat_map(|c| {
            let t = format!("{p}-{c}");
            [(format!("{t}-start"), t.clone()), (format!("{t}-mid"), t)]
        })
        .collect();
    let pairs: Vec<(&str, &str)> = groups
        .iter()
        .map(|(g, t)| (g.as_str(), t.as_str()))
        .collect();
    let (m, s) = until_recorded(&lw, &pairs).await;
    for c in codecs {
        let topic = format!("{p}-{c}");
        assert_age(&s, &format!("{topic}-start"), &topic, first);
        assert_age(&s, &format!("{topic}-mid"), &topic, first + 5 * MINUTE_MS);
        let lag_seconds = sample(
            &m,
            "lagwatch_group_partition_lag_seconds",
            &[
                ("cluster", "kafka"),
                ("group", &format!("{topic}-mid")),
                ("topic", &topic),
                ("partition", "0"),
            ],
        );
        assert!(lag_seconds.is_some(), "the metric carries it too ({c})");
    }
    // Nobody moves: every first record is known, so further polls send no Fetch at all.
    let fetches = |m: &Samples| {
        sample(
            m,
            "lagwatch_kafka_requests_total",
            &[("cluster", "kafka"), ("api", "Fetch")],
        )
        .map(str::to_owned)
    };
    let (m1, _) = lw.fresh().await;
    for _ in 0..3 {
        lw.fresh().await;
    }
    let (m2, _) = lw.fresh().await;
    assert!(fetches(&m1).is_some(), "Fetch is counted");
    assert_eq!(
        fetches(&m1),
        fetches(&m2),
        "stuck consumers cost no Fetch after the first"
    );
}

/// LogAppendTime: the broker's time counts, not the producer's (two hours off here); an open
/// transaction's records are read (read_uncommitted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_append_time_and_open_transactions() {
    let _brokers = shared().await;
    let p = unique("tla");
    let append = format!("{p}-append");
    ktool(&[
        "create-topic",
        "--topic",
        &append,
        "--partitions",
        "1",
        "--topic-config",
        "message.timestamp.type=LogAppendTime",
    ]);
    let before = now_ms();
    produce_stamped(&append, 5, before - 120 * MINUTE_MS, 0, "lz4");
    commit(&format!("{append}-g"), &append, "0=0");
    let txn = format!("{p}-txn");
    ktool(&["create-topic", "--topic", &txn, "--partitions", "1"]);
    let written = now_ms() - 30 * MINUTE_MS;
    let open = crate::kafka::harness::spawn_ktool(&[
        "produce",
        "--topic",
        &txn,
        "--partition",
        "0",
        "--count",
        "3",
        "--timestamp-ms",
        &written.to_string(),
        "--transactional-id",
        &format!("{p}-open"),
        "--txn",
        "open",
    ]);
    open.wait_event("open", Duration::from_secs(60));
    commit(&format!("{txn}-g"), &txn, "0=0");
    let lw = Lagwatch::watching(&p).await;
    let (_, s) = until_recorded(
        &lw,
        &[
            (&format!("{append}-g"), &append),
            (&format!("{txn}-g"), &txn),
        ],
    )
    .await;
    assert_age(&s, &format!("{append}-g"), &append, before);
    assert_age(&s, &format!("{txn}-g"), &txn, written);
    open.finish();
}

/// A topic with a two-hour retention: the group whose oldest unread record is 110 minutes
/// old has 10 minutes before retention deletes it (critical), the one at 80 minutes has 40
/// (warning); the one at record 9,500 has 67 minutes, more than the 1 h threshold, but it
/// reads nothing, so its drain ETA is longer than that (warning); a caught-up group on the
/// same topic is never at risk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_risk_fires_before_unread_data_is_deleted() {
    let _brokers = shared().await;
    let p = unique("ret");
    let topic = format!("{p}-t");
    ktool(&[
        "create-topic",
        "--topic",
        &topic,
        "--partitions",
        "1",
        "--topic-config",
        "retention.ms=7200000",
    ]);
    let t0 = now_ms();
    // 20,000 records over the last 110 to 0 minutes, 360 ms apart: a backlog (lagwatch
    // judges retention for consumers that are behind, not for caught-up ones); record 5,000
    // was written 80 minutes ago.
    produce_stamped(&topic, 20_000, t0 - 110 * MINUTE_MS, 360, "lz4");
    let (critical, warning, fine) = (format!("{p}-crit"), format!("{p}-warn"), format!("{p}-ok"));
    commit(&critical, &topic, "0=0");
    commit(&warning, &topic, "0=5000");
    commit(&fine, &topic, "0=20000");
    // Record 9,500: written 110 min − 9,500 × 360 ms = 53 min ago; lag 10,500 (a backlog).
    let idle = format!("{p}-idle");
    commit(&idle, &topic, "0=9500");
    let lw = Lagwatch::watching(&p).await;
    let c = ("cluster", "kafka");
    let reason = |m: &Samples, g: &str| {
        sample(
            m,
            "lagwatch_group_topic_reason",
            &[
                c,
                ("group", g),
                ("topic", &topic),
                ("reason", "retention_risk"),
            ],
        )
        .map(str::to_owned)
    };
    let status = |s: &Value, g: &str| group_json(s, g).map(|g| g["status"].clone());
    let mut last = None;
    for _ in 0..30 {
        let (m, s) = lw.fresh().await;
        if [&critical, &warning, &idle]
            .iter()
            .all(|g| reason(&m, g).as_deref() == Some("1"))
        {
            last = Some((m, s));
            break;
        }
    }
    let (m, s) = last.unwrap_or_else(|| panic!("retention_risk never fired"));
    assert_eq!(
        status(&s, &critical),
        Some("critical".into()),
        "10 min left: {s}"
    );
    assert_eq!(
        status(&s, &warning),
        Some("warning".into()),
        "40 min left: {s}"
    );
    assert_eq!(
        status(&s, &idle),
        Some("warning".into()),
        "67 min left, above the threshold, but it never drains: {s}"
    );
    assert_ne!(
        reason(&m, &fine).as_deref(),
        Some("1"),
        "caught up: never at risk"
    );
    assert_eq!(
        sample(
            &m,
            "lagwatch_topic_retention_seconds",
            &[c, ("topic", &topic)]
        )
        .and_then(|v| v.parse::<f64>().ok()),
        Some(7200.0)
    );
    let headroom = |g: &str| {
        sample(
            &m,
            "lagwatch_group_topic_retention_headroom_seconds",
            &[c, ("group", g), ("topic", &topic)],
        )
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
    };
    // Retention minus the oldest unread record's age at the poll: time keeps eating it.
    let taken = s["clusters"][0]["taken_at"].as_f64().unwrap_or(0.0);
    for (g, written) in [
        (&critical, t0 - 110 * MINUTE_MS),
        (&warning, t0 - 80 * MINUTE_MS),
        (&idle, t0 - 110 * MINUTE_MS + 9_500 * 360),
    ] {
        let want = 7200.0 - (taken - written as f64 / 1000.0);
        let got = headroom(g);
        assert!(
            (got - want).abs() < 5.0,
            "{g}: headroom {got} s, want {want} s"
        );
    }
}

/// A one-partition topic and a group named for user `limited` (Describe only on names
/// starting with `allowed-`): `(topic, group)`.
fn limited_topic(tag: &str) -> (String, String) {
    let prefix = format!("allowed-{}", unique(tag));
    let topic = format!("{prefix}-t");
    ktool(&["create-topic", "--topic", &topic, "--partitions", "1"]);
    (topic, format!("{prefix}-g"))
}

/// lagwatch as user `limited` over SASL_PLAINTEXT, watching what `limited_topic` named.
async fn watching_as_limited(topic: &str) -> Lagwatch {
    let prefix = topic.trim_end_matches("-t");
    let e = env();
    let yaml = format!(
        "    groups: {{ include: [\"^{prefix}\"] }}\n    topics: {{ include: [\"^{prefix}\"] }}\n    \
         client:\n      security.protocol: SASL_PLAINTEXT\n      sasl.mechanisms: SCRAM-SHA-512\n      \
         sasl.username: limited\n      sasl.password: \"{}\"\n",
        e.get("LIMITED_PASSWORD")
    );
    Lagwatch::start(e.get("SASL_PLAINTEXT"), &yaml).await
}

/// A principal without Read on the topic (user `limited`: Describe only): the time lag is
/// the estimate, labelled as such, and nothing fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_read_the_estimate_is_used_and_labelled() {
    let _brokers = shared().await;
    let (topic, group) = limited_topic("tlacl");
    produce_stamped(&topic, 10, now_ms() - 120 * MINUTE_MS, 0, "none");
    commit(&group, &topic, "0=2");
    let lw = watching_as_limited(&topic).await;
    let mut seen = None;
    for _ in 0..10 {
        let (_, s) = lw.fresh().await;
        if group_json(&s, &group).is_some()
            && !partition(&s, &group, &topic, 0)["lag_seconds_method"].is_null()
        {
            seen = Some(s);
            break;
        }
    }
    let s = seen.unwrap_or_else(|| panic!("no time lag for {group}"));
    let part = partition(&s, &group, &topic, 0);
    let method = part["lag_seconds_method"].as_str().unwrap_or("");
    assert!(
        ["interpolated", "extrapolated"].contains(&method),
        "without Read the method says estimate: {part}"
    );
    let cluster = &s["clusters"][0];
    assert_eq!(
        cluster["partial"], false,
        "a refused Fetch is not a fault: {cluster}"
    );
    assert!(part["lag_seconds"].as_f64().is_some(), "{part}");
}

/// Without Read the estimate stands in, and it is never older than the oldest record still
/// in the log (ListOffsets at timestamp 0, which Describe allows). A 20,000-record backlog
/// written 3 minutes ago and a trickle of new records while lagwatch watches: extrapolated
/// at the trickle's rate the backlog would read hours old; capped, it reads 3 minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_read_the_estimate_is_capped_at_the_oldest_record_kept() {
    let _brokers = shared().await;
    let (topic, group) = limited_topic("tlcap");
    let written_ms = now_ms() - 3 * MINUTE_MS;
    produce_stamped(&topic, 20_000, written_ms, 0, "lz4");
    // Above the log start: at the log start itself ListOffsets gives the first unconsumed
    // record's own time, which is exact, not an estimate.
    commit(&group, &topic, "0=1");
    let lw = watching_as_limited(&topic).await;
    // A trickle of fresh records (a KTool run each, about a second apart) gives the topic
    // a small produce rate, which is what makes the uncapped extrapolation reach far back.
    let trickle = {
        let topic = topic.clone();
        std::thread::spawn(move || {
            for _ in 0..8 {
                produce_stamped(&topic, 1, now_ms(), 0, "none");
            }
        })
    };
    let mut seen = None;
    for _ in 0..40 {
        let (_, s) = lw.fresh().await;
        let rated = group_json(&s, &group).is_some_and(|g| {
            g["topics"][0]["produce_rate"]
                .as_f64()
                .is_some_and(|r| r > 0.0)
        });
        if rated && !partition(&s, &group, &topic, 0)["lag_seconds"].is_null() {
            seen = Some(s);
            break;
        }
    }
    trickle.join().expect("trickle");
    let s = seen.unwrap_or_else(|| panic!("no produce rate for {topic}"));
    let part = partition(&s, &group, &topic, 0);
    let method = part["lag_seconds_method"].as_str().unwrap_or("");
    assert!(
        ["interpolated", "extrapolated"].contains(&method),
        "without Read the method says estimate: {part}"
    );
    let taken = s["clusters"][0]["taken_at"].as_f64().unwrap_or(0.0);
    let oldest = taken - written_ms as f64 / 1000.0;
    let got = part["lag_seconds"].as_f64().unwrap_or(f64::NAN);
    assert!(
        (got - oldest).abs() < 5.0,
        "the estimate is capped at the oldest record kept ({oldest} s old), got {got} s \
         (produce rate {}): {part}",
        group_json(&s, &group).map_or(Value::Null, |g| g["topics"][0]["produce_rate"].clone())
    );
}
