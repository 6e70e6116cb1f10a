//! Alertmanager's `POST /api/v2/alerts` body. Alertmanager identifies an alert by all its
//! labels, and `severity` and `reason` change during an incident; so the labels last posted
//! per incident are remembered ([`Posted`]): a change first ends the alert posted before,
//! and a resolution ends exactly the labels that were firing. Firing alerts carry
//! `endsAt` = now + 4 × the re-post period (as Prometheus does), so they stay firing while
//! lagwatch re-posts them and expire on their own if lagwatch stops.

use super::{alert_text, change_text, dashboard_link, label, subject};
use crate::notify::alert::{Alert, Batch};
use crate::notify::incident::IncidentKey;
use crate::view::text::{actions, eta};
use crate::view::Status;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

/// The `alertname` label of every lagwatch alert.
pub const ALERT_NAME: &str = "KafkaConsumerLag";

/// Labels last posted per incident.
pub type Posted = BTreeMap<IncidentKey, BTreeMap<String, String>>;

/// RFC 3339 time of Unix seconds `at`.
pub fn rfc3339(at: f64) -> String {
    let d = Duration::from_secs_f64(at.max(0.0));
    humantime::format_rfc3339_millis(UNIX_EPOCH + d).to_string()
}

/// The labels of an open alert.
fn labels(cluster: &str, a: &Alert) -> BTreeMap<String, String> {
    let reason = a.reasons.first().map_or("unknown", |r| r.as_str());
    [
        ("alertname", ALERT_NAME),
        ("cluster", cluster),
        ("group", a.group.as_str()),
        ("topic", a.topic.as_str()),
        ("severity", a.status.as_str()),
        ("reason", reason),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The body for `b`, updating `posted`; `repost` is how often open alerts are re-posted.
pub fn payload(b: &Batch, posted: &mut Posted, repost: Duration, dashboard: Option<&str>) -> Value {
    let mut out = Vec::new();
    let ends_open = rfc3339(b.at + 4.0 * repost.as_secs_f64());
    let ended = rfc3339(b.at);
    for a in &b.alerts {
        let key = IncidentKey::new(&b.cluster, &a.group, &a.topic);
        let t = alert_text(a, b, dashboard);
        let link = dashboard.map(|d| dashboard_link(d, &b.cluster, &a.group, &a.topic));
        let mut annotations = BTreeMap::from([(
            "summary".to_owned(),
            format!("{}: {} ({})", label(a), subject(a), change_text(a, b.at)),
        )]);
        let description: Vec<String> = t.lines.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        annotations.insert("description".into(), description.join("\n"));
        if a.status != Status::Ok {
            annotations.insert("drain_eta".into(), eta(a.drain_eta_seconds));
            let acts = actions(&a.reasons);
            if !acts.is_empty() {
                annotations.insert("runbook_action".into(), acts.join(" "));
            }
        }
        let one = |labels: &BTreeMap<String, String>, ends: &str| {
            let mut v = json!({
                "labels": labels,
                "annotations": annotations,
                "startsAt": rfc3339(a.opened_at),
                "endsAt": ends,
            });
            if let Some(l) = &link {
                v["generatorURL"] = json!(l);
            }
            v
        };
        let before = posted.remove(&key);
        if a.status == Status::Ok {
            // A resolution ends what was firing; after a restart that is not known, so the
            // labels of the last severity stand in (the alert also expires by itself).
            let mut fallback = a.clone();
            fallback.status = a.previous.unwrap_or(Status::Warning);
            let labels = before.unwrap_or_else(|| labels(&b.cluster, &fallback));
            out.push(one(&labels, &ended));
            continue;
        }
        let now = labels(&b.cluster, a);
        if let Some(old) = before.filter(|old| *old != now) {
            out.push(one(&old, &ended));
        }
        out.push(one(&now, &ends_open));
        posted.insert(key, now);
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::alert::sample;
    use crate::notify::incident::Change;
    use crate::view::Reason;

    fn label_of(v: &Value, i: usize, k: &str) -> String {
        v[i]["labels"][k].as_str().unwrap_or("").to_owned()
    }

    #[test]
    fn labels_annotations_and_times() {
        let mut posted = Posted::new();
        let b = sample("prod", 1_700_000_000.0);
        let v = payload(
            &b,
            &mut posted,
            Duration::from_secs(60),
            Some("https://g/{group}"),
        );
        assert_eq!(v.as_array().map(Vec::len), Some(1));
        for (k, want) in [
            ("alertname", "KafkaConsumerLag"),
            ("cluster", "prod"),
            ("group", "spark-streaming-group"),
            ("topic", "transactions"),
            ("severity", "critical"),
            ("reason", "lag_critical"),
        ] {
            assert_eq!(label_of(&v, 0, k), want, "label {k}");
        }
        assert_eq!(v[0]["startsAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(
            v[0]["endsAt"], "2023-11-14T22:17:20.000Z",
            "now + 4 re-post periods"
        );
        assert_eq!(v[0]["annotations"]["drain_eta"], "~50 min");
        assert!(v[0]["annotations"]["runbook_action"]
            .as_str()
            .is_some_and(|s| s.contains("spark.read")));
        assert_eq!(v[0]["generatorURL"], "https://g/spark-streaming-group");
    }

    #[test]
    fn label_changes_end_the_old_alert_and_resolutions_end_what_fired() {
        // Rows: (status, reasons, change) per poll, then how many alerts are posted and the
        // severity each one carries with whether it is ended; why.
        let mut posted = Posted::new();
        type Row<'a> = (Status, &'a [Reason], Change, &'a [(&'a str, bool)], &'a str);
        let rows: [Row<'_>; 3] = [
            (
                Status::Warning,
                &[Reason::LagWarning],
                Change::Opened,
                &[("warning", false)],
                "opened: one firing alert",
            ),
            (
                Status::Critical,
                &[Reason::LagCritical],
                Change::Escalated,
                &[("warning", true), ("critical", false)],
                "escalated: the warning alert is ended, the critical one fires",
            ),
            (
                Status::Ok,
                &[],
                Change::Resolved,
                &[("critical", true)],
                "resolved: ends exactly the critical alert",
            ),
        ];
        for (i, (status, reasons, change, want, why)) in rows.into_iter().enumerate() {
            let mut b = sample("prod", 1000.0 + i as f64 * 60.0);
            b.alerts[0].status = status;
            b.alerts[0].reasons = reasons.to_vec();
            b.alerts[0].change = change;
            b.alerts[0].previous = (i > 0).then_some(Status::Critical);
            let v = payload(&b, &mut posted, Duration::from_secs(60), None);
            let got: Vec<(String, bool)> = (0..want.len())
                .map(|j| (label_of(&v, j, "severity"), v[j]["endsAt"] == rfc3339(b.at)))
                .collect();
            let want: Vec<(String, bool)> = want.iter().map(|(s, e)| (s.to_string(), *e)).collect();
            assert_eq!(got, want, "{why}");
            assert_eq!(v.as_array().map(Vec::len), Some(want.len()), "{why}");
        }
        assert!(posted.is_empty(), "nothing remembered once resolved");
    }
}
