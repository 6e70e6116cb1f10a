//! Microsoft Teams workflow webhook ("Post to a channel when a webhook request is
//! received"): a message with one Adaptive Card: the headline, then per alert its title and
//! a fact set, and a dashboard button per alert with a link.

use super::{alert_text, headline, truncate};
use crate::notify::alert::Batch;
use crate::view::Status;
use serde_json::{json, Value};

/// Alerts shown in one card; the rest are counted (Teams limits a card to ~28 KB).
pub const MAX_ALERTS: usize = 15;
/// Adaptive Card schema version Teams renders.
pub const CARD_VERSION: &str = "1.4";

/// The JSON body posted to the workflow URL.
pub fn payload(b: &Batch, dashboard: Option<&str>) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": headline(b),
        "weight": "Bolder",
        "size": "Medium",
        "wrap": true,
    })];
    let mut buttons = Vec::new();
    for a in b.alerts.iter().take(MAX_ALERTS) {
        let t = alert_text(a, b, dashboard);
        let color = match a.status {
            Status::Critical => "Attention",
            Status::Warning => "Warning",
            Status::Ok => "Good",
        };
        body.push(json!({
            "type": "TextBlock",
            "text": truncate(&t.title, 300),
            "weight": "Bolder",
            "color": color,
            "wrap": true,
            "separator": true,
        }));
        let facts: Vec<Value> = t
            .lines
            .iter()
            .map(|(k, v)| json!({"title": k, "value": truncate(v, 1000)}))
            .collect();
        body.push(json!({"type": "FactSet", "facts": facts}));
        if let Some(link) = t.link {
            buttons.push(json!({
                "type": "Action.OpenUrl",
                "title": format!("Dashboard: {}", super::subject(a)),
                "url": link,
            }));
        }
    }
    let more = b.alerts.len().saturating_sub(MAX_ALERTS);
    if more > 0 {
        body.push(
            json!({"type": "TextBlock", "text": format!("... and {more} more"), "wrap": true}),
        );
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    });
    if !buttons.is_empty() {
        card["actions"] = Value::Array(buttons);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::alert::sample;

    #[test]
    fn one_adaptive_card_with_facts_and_a_dashboard_button() {
        let v = payload(&sample("prod", 100.0), Some("https://g/{group}"));
        let att = &v["attachments"][0];
        assert_eq!(
            att["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &att["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], CARD_VERSION);
        assert_eq!(card["body"][1]["color"], "Attention", "critical");
        assert_eq!(card["body"][2]["type"], "FactSet");
        assert_eq!(card["body"][2]["facts"][0]["title"], "Cluster");
        assert_eq!(card["actions"][0]["url"], "https://g/spark-streaming-group");
    }
}
