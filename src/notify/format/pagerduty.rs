//! PagerDuty Events API v2: one event per alert, `trigger` while open and `resolve` when
//! closed, with a `dedup_key` per incident (cluster, group, topic and when it opened), so
//! reminders and escalations update the same PagerDuty incident and a new opening after a
//! resolution is a new one.

use super::{alert_text, change_text, dashboard_link, label, subject, truncate};
use crate::notify::alert::{Alert, Batch};
use crate::view::Status;
use serde_json::{json, Map, Value};

/// PagerDuty's limit on `summary`.
pub const MAX_SUMMARY: usize = 1024;
/// PagerDuty's limit on `dedup_key`.
pub const MAX_DEDUP_KEY: usize = 255;

/// The incident's dedup key.
pub fn dedup_key(cluster: &str, a: &Alert) -> String {
    let key = format!(
        "lagwatch/{cluster}/{}/{}/{}",
        a.group,
        a.topic,
        a.opened_at.round() as i64
    );
    if key.len() <= MAX_DEDUP_KEY {
        return key;
    }
    // Long names: a digest keeps the key unique and within the limit.
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("lagwatch/{hex}")
}

/// The events for `b`, one per alert.
pub fn events(b: &Batch, routing_key: &str, dashboard: Option<&str>) -> Vec<Value> {
    b.alerts
        .iter()
        .map(|a| {
            let key = dedup_key(&b.cluster, a);
            if a.status == Status::Ok {
                return json!({
                    "routing_key": routing_key,
                    "event_action": "resolve",
                    "dedup_key": key,
                });
            }
            let t = alert_text(a, b, dashboard);
            let details: Map<String, Value> = t
                .lines
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect();
            let mut ev = json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": key,
                "payload": {
                    "summary": truncate(&format!("{}: {} ({})", label(a), subject(a), change_text(a, b.at)), MAX_SUMMARY),
                    "source": format!("lagwatch/{}", b.cluster),
                    "severity": if a.status == Status::Critical { "critical" } else { "warning" },
                    "component": a.group,
                    "group": b.cluster,
                    "class": a.reasons.first().map_or("unknown", |r| r.as_str()),
                    "custom_details": details,
                },
                "client": "lagwatch",
            });
            if let Some(d) = dashboard {
                ev["links"] = json!([{
                    "href": dashboard_link(d, &b.cluster, &a.group, &a.topic),
                    "text": "Dashboard",
                }]);
            }
            ev
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::alert::sample;

    #[test]
    fn trigger_then_resolve_share_the_dedup_key() {
        let b = sample("prod", 1000.0);
        let open = events(&b, "rk", Some("https://g/{group}"));
        assert_eq!(open[0]["event_action"], "trigger");
        assert_eq!(open[0]["payload"]["severity"], "critical");
        assert_eq!(open[0]["payload"]["class"], "lag_critical");
        assert_eq!(
            open[0]["links"][0]["href"],
            "https://g/spark-streaming-group"
        );
        let mut closed = sample("prod", 5000.0);
        closed.alerts[0].status = Status::Ok;
        closed.alerts[0].opened_at = 1000.0;
        let done = events(&closed, "rk", None);
        assert_eq!(done[0]["event_action"], "resolve");
        assert_eq!(open[0]["dedup_key"], done[0]["dedup_key"], "same incident");
    }

    #[test]
    fn dedup_keys_stay_within_the_limit() {
        let mut b = sample("prod", 1000.0);
        b.alerts[0].group = "g".repeat(400);
        let k = dedup_key("prod", &b.alerts[0]);
        assert!(k.len() <= MAX_DEDUP_KEY, "{k}");
        b.alerts[0].group.push('x');
        assert_ne!(dedup_key("prod", &b.alerts[0]), k, "still unique");
    }
}
