//! Message formatting: golden Slack and Discord payloads per reason and per lifecycle change,
//! and a 200-group storm that must stay within both services' limits.

use lagwatch::notify::alert::{sample, Alert, Batch};
use lagwatch::notify::format::{console, discord, slack};
use lagwatch::notify::incident::Change;
use lagwatch::view::{Reason, SparkView, Status};
use serde_json::Value;

const AT: f64 = 1_700_000_000.0;
const DASH: Option<&str> =
    Some("https://grafana.example/d/lag?var-cluster={cluster}&var-group={group}&var-topic={topic}");

/// A typical alert for `reason`: (status, lag, produce, consume, lost) chosen so the reason
/// would really fire.
fn for_reason(reason: Reason) -> Alert {
    use Reason::*;
    let (status, lag, produce, consume, lost): (Status, i64, Option<f64>, Option<f64>, i64) =
        match reason {
            LagWarning => (Status::Warning, 150_000, Some(500.0), Some(800.0), 0),
            LagCritical => (Status::Critical, 1_500_000, Some(1_000.0), Some(1_500.0), 0),
            LowHeadroom => (Status::Warning, 40_000, Some(1_000.0), Some(1_100.0), 0),
            FallingBehind => (Status::Critical, 200_000, Some(1_000.0), Some(900.0), 0),
            Stalled => (Status::Critical, 20_000, Some(100.0), Some(0.0), 0),
            Stopped => (Status::Critical, 20_000, Some(100.0), None, 0),
            Rewind => (Status::Warning, 120_000, Some(50.0), Some(2_000.0), 0),
            DataLoss => (Status::Critical, 80_000, Some(10.0), Some(20.0), 5_000),
            BacklogReplay => return sample("prod", AT).alerts.remove(0),
            NoCommit => (Status::Warning, 0, Some(10.0), None, 0),
            SourceError => return unreadable_checkpoint(),
            RetentionRisk => {
                let mut a = retention_at_risk();
                a.reasons = vec![RetentionRisk];
                return a;
            }
            // The seed on Spark: 1,000 msg/s capped at 10,000 per 10 s batch, nothing new.
            SparkTriggerCapped => (Status::Warning, 2_500_000, Some(0.0), Some(1_000.0), 0),
            SparkBatchSlow => (Status::Warning, 40_000, Some(100.0), Some(300.0), 0),
        };
    let ratio = match (produce, consume) {
        (Some(p), Some(c)) if p > 0.0 => Some(c / p),
        _ => None,
    };
    let eta = match (produce, consume) {
        (_, _) if lag == 0 => Some(0.0),
        (Some(p), Some(c)) if c > p => Some(lag as f64 / (c - p)),
        (Some(_), _) => Some(f64::INFINITY),
        _ => None,
    };
    Alert {
        change: Change::Opened,
        group: "billing-consumer".into(),
        topic: "payments".into(),
        status,
        previous: None,
        reasons: vec![reason],
        lag: Some(lag),
        worst_partition: Some((3, lag / 2)),
        max_lag_seconds: Some(if lag > 0 { 900.0 } else { 0.0 }),
        produce_rate: produce,
        consume_rate: consume,
        throughput_ratio: ratio,
        headroom: 1.2,
        drain_eta_seconds: eta,
        messages_lost: lost,
        retention_headroom_seconds: None,
        opened_at: AT,
        error: None,
        spark: spark_for(reason),
    }
}

/// The batch statistics a Spark reason is seen with: the seed's 10 s batches of 10,000
/// (batch 3 s into its run) when capped; 45 s in flight against 10 s batches when slow.
fn spark_for(reason: Reason) -> Option<SparkView> {
    let (age, cap) = match reason {
        Reason::SparkTriggerCapped => (3.0, Some(10_000)),
        Reason::SparkBatchSlow => (45.0, None),
        _ => return None,
    };
    Some(SparkView {
        batch_duration_seconds: Some(10.0),
        records_per_batch: Some(cap.unwrap_or(3_000)),
        inflight_batch_age_seconds: Some(age),
        trigger_cap: cap,
    })
}

/// A Spark query whose checkpoint never could be read: a group-level incident with no
/// numbers, only the error (its lag is unknown, not 0).
/// The seed's backlog on a topic with one day of retention, drained too slowly: retention
/// deletes unread messages in 50 minutes, the drain takes 2 hours.
fn retention_at_risk() -> Alert {
    Alert {
        change: Change::Opened,
        group: "spark-streaming-group".into(),
        topic: "transactions".into(),
        status: Status::Warning,
        previous: None,
        reasons: vec![Reason::RetentionRisk],
        lag: Some(3_000_000),
        worst_partition: Some((0, 1_000_000)),
        max_lag_seconds: Some(83_400.0),
        produce_rate: Some(100.0),
        consume_rate: Some(516.0),
        throughput_ratio: Some(5.16),
        headroom: 1.2,
        drain_eta_seconds: Some(7_200.0),
        messages_lost: 0,
        retention_headroom_seconds: Some(3_000.0),
        opened_at: AT,
        error: None,
        spark: None,
    }
}

fn unreadable_checkpoint() -> Alert {
    Alert {
        change: Change::Opened,
        group: "spark:orders-enricher".into(),
        topic: String::new(),
        status: Status::Warning,
        previous: None,
        reasons: vec![Reason::SourceError],
        lag: None,
        worst_partition: None,
        max_lag_seconds: None,
        produce_rate: None,
        consume_rate: None,
        throughput_ratio: None,
        headroom: 1.2,
        drain_eta_seconds: None,
        messages_lost: 0,
        retention_headroom_seconds: None,
        opened_at: AT,
        error: Some(
            "/data/checkpoints/orders/offsets/12: not an offset log: expected version \"v1\""
                .into(),
        ),
        spark: None,
    }
}

fn batch(alerts: Vec<Alert>) -> Batch {
    Batch {
        cluster: "prod".into(),
        at: AT,
        alerts,
    }
}

#[test]
fn slack_and_discord_payload_per_reason() {
    for r in Reason::ALL {
        let b = batch(vec![for_reason(r)]);
        insta::assert_json_snapshot!(format!("slack_{}", r.as_str()), slack::payload(&b, DASH));
        insta::assert_json_snapshot!(
            format!("discord_{}", r.as_str()),
            discord::payload(&b, DASH)
        );
        check_slack(&slack::payload(&b, DASH));
        check_discord(&discord::payload(&b, DASH));
    }
}

#[test]
fn lifecycle_changes_in_one_message() {
    let mut escalated = for_reason(Reason::FallingBehind);
    escalated.change = Change::Escalated;
    escalated.previous = Some(Status::Warning);
    let mut reminder = for_reason(Reason::LagWarning);
    reminder.change = Change::Reminder;
    reminder.group = "audit".into();
    reminder.previous = Some(Status::Warning);
    reminder.opened_at = AT - 3700.0;
    let mut deescalated = for_reason(Reason::LowHeadroom);
    deescalated.change = Change::Deescalated;
    deescalated.group = "reports".into();
    deescalated.previous = Some(Status::Critical);
    let mut resolved = for_reason(Reason::LagWarning);
    resolved.change = Change::Resolved;
    resolved.status = Status::Ok;
    resolved.previous = Some(Status::Warning);
    resolved.reasons.clear();
    resolved.group = "search-indexer".into();
    resolved.opened_at = AT - 5400.0;
    resolved.lag = Some(12);
    resolved.worst_partition = Some((0, 12));
    let gone = Alert {
        change: Change::Gone,
        group: "old-job".into(),
        topic: "events".into(),
        status: Status::Ok,
        previous: Some(Status::Critical),
        reasons: vec![],
        lag: None,
        worst_partition: None,
        max_lag_seconds: None,
        produce_rate: None,
        consume_rate: None,
        throughput_ratio: None,
        headroom: 1.2,
        drain_eta_seconds: None,
        messages_lost: 0,
        retention_headroom_seconds: None,
        opened_at: AT - 7200.0,
        error: None,
        spark: None,
    };
    let b = batch(vec![escalated, reminder, deescalated, resolved, gone]);
    insta::assert_json_snapshot!("slack_lifecycle", slack::payload(&b, DASH));
    insta::assert_json_snapshot!("discord_lifecycle", discord::payload(&b, DASH));
    insta::assert_snapshot!("console_lifecycle", console::text(&b, DASH));
}

#[test]
fn the_seed_incident_says_what_to_do() {
    let text = console::text(&sample("prod", AT), None);
    for want in [
        "spark-streaming-group / transactions",
        "3,000,000 messages",
        "produce 0 msg/s, consume 1,000 msg/s",
        "Drain ETA: ~50 min",
        "lag_critical, backlog_replay",
        "startingOffsets=earliest, endingOffsets=latest",
        "restart the stream from latest",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
}

#[test]
fn a_200_group_storm_is_truncated_within_the_limits() {
    let alerts: Vec<Alert> = (0..200)
        .map(|i| {
            let mut a = for_reason(if i % 2 == 0 {
                Reason::BacklogReplay
            } else {
                Reason::FallingBehind
            });
            // Long names, as generated group ids tend to be.
            a.group = format!("spark-streaming-query-{i:03}-{}", "x".repeat(120));
            a.reasons = Reason::ALL.to_vec();
            a
        })
        .collect();
    let b = batch(alerts);
    let s = slack::payload(&b, DASH);
    let d = discord::payload(&b, DASH);
    check_slack(&s);
    check_discord(&d);
    let shown_s = s["blocks"].as_array().map_or(0, |b| b.len()) - 2;
    let shown_d = d["embeds"].as_array().map_or(0, |e| e.len());
    assert!(
        s.to_string()
            .contains(&format!("... and {} more", 200 - shown_s)),
        "slack says how many are hidden"
    );
    assert!(d["content"]
        .as_str()
        .unwrap_or("")
        .contains(&format!("... and {} more", 200 - shown_d)));
    assert!(
        shown_d >= 2,
        "Discord still shows a few in full ({shown_d})"
    );
    insta::assert_json_snapshot!("slack_storm", s);
    insta::assert_json_snapshot!("discord_storm", d);
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Slack: 50 blocks, section text 3,000, header 150, text fallback 40,000.
fn check_slack(p: &Value) {
    let blocks = p["blocks"].as_array().expect("blocks");
    assert!(blocks.len() <= 50, "{} blocks", blocks.len());
    for b in blocks {
        match b["type"].as_str() {
            Some("header") => assert!(chars(&b["text"]["text"]) <= 150),
            Some("section") => assert!(chars(&b["text"]["text"]) <= 3000),
            Some("context") => {}
            other => panic!("unexpected block {other:?}"),
        }
    }
    assert!(
        chars(&p["text"]) > 0 && chars(&p["text"]) <= 40_000,
        "fallback text"
    );
}

/// Discord: content 2,000; 10 embeds; title 256; description 4,096; 25 fields; 6,000 in total.
fn check_discord(p: &Value) {
    assert!(chars(&p["content"]) <= 2000);
    let embeds = p["embeds"].as_array().expect("embeds");
    assert!(embeds.len() <= 10, "{} embeds", embeds.len());
    let mut total = 0;
    for e in embeds {
        assert!(chars(&e["title"]) <= 256);
        assert!(chars(&e["description"]) <= 4096);
        let fields = e["fields"].as_array().map_or(0, |f| f.len());
        assert!(fields <= 25);
        total += chars(&e["title"]) + chars(&e["description"]) + chars(&e["footer"]["text"]);
        assert!(
            e["color"].as_u64().is_some(),
            "every embed has a severity colour"
        );
    }
    assert!(total <= 6000, "{total} embed characters");
}

#[test]
fn the_console_names_the_spark_cap_and_the_slow_batch() {
    let b = batch(vec![
        for_reason(Reason::SparkTriggerCapped),
        for_reason(Reason::SparkBatchSlow),
    ]);
    let text = console::text(&b, None);
    for want in [
        "Spark batches: ~10 s per batch, 10,000 records per batch, batch in flight for 3 s",
        "Diagnosis: maxOffsetsPerTrigger caps every batch at \u{2248}10,000 records: at ~10 s \
         per batch the query reads at most ~1,000 msg/s",
        "raise maxOffsetsPerTrigger, or process the backlog in batch",
        "Diagnosis: the batch in flight has run 45 s, 4.5\u{d7} the median batch (~10 s)",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}
