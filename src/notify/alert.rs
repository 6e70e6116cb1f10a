//! What one notification says: a batch of alerts for one cluster and one poll, built from
//! the view with everything a person needs, so formatting is pure and pending messages
//! can be persisted and delivered after a restart without the view.

use super::incident::{Change, Transition};
use crate::config::RulesConfig;
use crate::view::{ClusterView, GroupTopicView, GroupView, Reason, SparkView, Status};
use serde::{Deserialize, Serialize};

/// One incident state change, with the numbers that explain it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// What happened to the incident.
    pub change: Change,
    /// Group name.
    pub group: String,
    /// Topic name; empty when the status is about the whole group.
    pub topic: String,
    /// Status now (ok once resolved).
    pub status: Status,
    /// Status before this change, for escalations, de-escalations and resolutions.
    pub previous: Option<Status>,
    /// Why it is not ok.
    pub reasons: Vec<Reason>,
    /// Total lag (messages), when reported.
    pub lag: Option<i64>,
    /// The partition with the most lag and its lag.
    pub worst_partition: Option<(i32, i64)>,
    /// Worst time lag (seconds).
    pub max_lag_seconds: Option<f64>,
    /// Topic produce rate (messages/s).
    pub produce_rate: Option<f64>,
    /// Group consume rate (messages/s).
    pub consume_rate: Option<f64>,
    /// consume / produce.
    pub throughput_ratio: Option<f64>,
    /// The rule a backlogged consumer must meet (consume >= headroom x produce).
    pub headroom: f64,
    /// Seconds until drained; +Inf = never.
    #[serde(with = "crate::view::eta_serde")]
    pub drain_eta_seconds: Option<f64>,
    /// Messages deleted by retention before being consumed.
    pub messages_lost: i64,
    /// Seconds until retention deletes a message the group has not read, when known.
    #[serde(default)]
    pub retention_headroom_seconds: Option<f64>,
    /// When the incident opened (Unix seconds).
    pub opened_at: f64,
    /// Why the group's own source could not be read (a Spark checkpoint), when it could not.
    #[serde(default)]
    pub error: Option<String>,
    /// A Spark query's batch statistics (duration, records, in-flight age, inferred cap).
    #[serde(default)]
    pub spark: Option<SparkView>,
}

/// Everything one notifier gets about one poll of one cluster: one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Cluster name.
    pub cluster: String,
    /// When the changes were seen (Unix seconds).
    pub at: f64,
    /// Most severe first.
    pub alerts: Vec<Alert>,
}

impl Alert {
    /// An alert for `t` with numbers from the group×topic view, when it still exists (for
    /// a group-level incident, topic "", the group's own reasons and error).
    pub fn new(
        t: &Transition,
        g: Option<&GroupView>,
        gt: Option<&GroupTopicView>,
        headroom: f64,
    ) -> Alert {
        let worst = gt.and_then(|gt| {
            gt.partitions
                .iter()
                .max_by_key(|p| (p.lag, -p.partition))
                .map(|p| (p.partition, p.lag))
        });
        Alert {
            change: t.change,
            group: t.key.group.clone(),
            topic: t.key.topic.clone(),
            status: t.status,
            previous: t.previous,
            reasons: match (t.status, gt, g) {
                (Status::Ok, _, _) => Vec::new(),
                (_, Some(gt), _) => gt.reasons.clone(),
                (_, None, Some(g)) if t.key.topic.is_empty() => g.reasons.clone(),
                _ => Vec::new(),
            },
            lag: gt.map(|g| g.lag),
            worst_partition: worst,
            max_lag_seconds: gt.and_then(|g| g.max_lag_seconds),
            produce_rate: gt.and_then(|g| g.produce_rate),
            consume_rate: gt.and_then(|g| g.consume_rate),
            throughput_ratio: gt.and_then(|g| g.throughput_ratio),
            headroom,
            drain_eta_seconds: gt.and_then(|g| g.drain_eta_seconds),
            messages_lost: gt
                .map(|g| g.partitions.iter().map(|p| p.messages_lost).sum())
                .unwrap_or(0),
            retention_headroom_seconds: gt.and_then(|g| g.retention_headroom_seconds),
            opened_at: t.opened_at,
            error: g.and_then(|g| g.error.clone()),
            spark: g.and_then(|g| g.spark),
        }
    }
}

/// Builds the batch for `transitions` seen in `view`; None when there is nothing to say.
pub fn batch(
    view: &ClusterView,
    transitions: &[Transition],
    rules: &RulesConfig,
    at: f64,
) -> Option<Batch> {
    if transitions.is_empty() {
        return None;
    }
    let mut alerts: Vec<Alert> = transitions
        .iter()
        .map(|t| {
            let g = view.groups.iter().find(|g| g.group == t.key.group);
            let gt = g.and_then(|g| g.topics.iter().find(|x| *x.topic == *t.key.topic));
            let headroom = rules.for_group_topic(&t.key.group, &t.key.topic).headroom;
            Alert::new(t, g, gt, headroom)
        })
        .collect();
    // Most severe first; resolutions (status ok) last.
    alerts.sort_by(|a, b| {
        b.status
            .cmp(&a.status)
            .then_with(|| a.group.cmp(&b.group))
            .then_with(|| a.topic.cmp(&b.topic))
    });
    Some(Batch {
        cluster: view.cluster.clone(),
        at,
        alerts,
    })
}

/// The seed incident, sent by `lagwatch notify-test`: 3M messages replayed from earliest at
/// 1,000 msg/s with nothing new being produced.
pub fn sample(cluster: &str, at: f64) -> Batch {
    Batch {
        cluster: cluster.to_owned(),
        at,
        alerts: vec![Alert {
            change: Change::Opened,
            group: "spark-streaming-group".into(),
            topic: "transactions".into(),
            status: Status::Critical,
            previous: None,
            reasons: vec![Reason::LagCritical, Reason::BacklogReplay],
            lag: Some(3_000_000),
            worst_partition: Some((0, 1_000_000)),
            max_lag_seconds: Some(7_200.0),
            produce_rate: Some(0.0),
            consume_rate: Some(1_000.0),
            throughput_ratio: None,
            headroom: 1.2,
            drain_eta_seconds: Some(3_000.0),
            messages_lost: 0,
            retention_headroom_seconds: None,
            opened_at: at,
            error: None,
            spark: None,
        }],
    }
}
