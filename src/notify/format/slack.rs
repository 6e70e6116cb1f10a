//! Slack incoming-webhook payload: Block Kit with a plain `text` fallback (shown in
//! notifications and by clients without blocks).

use super::{alert_text, headline, one_line, truncate};
use crate::notify::alert::Batch;
use serde_json::{json, Value};

/// Slack allows 50 blocks; a header, this many alerts and one "and N more" line stay far
/// below it and keep the message readable.
pub const MAX_ALERTS: usize = 20;
/// Slack's limit for a section's text.
pub const MAX_SECTION: usize = 3000;
/// Slack's limit for header text.
pub const MAX_HEADER: usize = 150;
/// Slack truncates `text` at 40,000 characters; stay under it.
pub const MAX_TEXT: usize = 39_000;
/// One-line summaries in the fallback text.
const MAX_FALLBACK_LINES: usize = 50;

/// The JSON body posted to the webhook.
pub fn payload(b: &Batch, dashboard: Option<&str>) -> Value {
    let head = headline(b);
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(&head, MAX_HEADER), "emoji": true}
    })];
    for a in b.alerts.iter().take(MAX_ALERTS) {
        let t = alert_text(a, b, dashboard);
        let mut s = format!("*{}*", escape(&t.title));
        for (label, value) in &t.lines {
            s.push_str(&format!("\n*{label}:* {}", escape(value)));
        }
        if let Some(link) = &t.link {
            s.push_str(&format!("\n<{}|Open dashboard>", escape(link)));
        }
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(&s, MAX_SECTION)}
        }));
    }
    let more = b.alerts.len().saturating_sub(MAX_ALERTS);
    if more > 0 {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!("... and {more} more")}]
        }));
    }
    let mut text = head;
    for a in b.alerts.iter().take(MAX_FALLBACK_LINES) {
        text.push('\n');
        text.push_str(&one_line(a, b.at));
    }
    let hidden = b.alerts.len().saturating_sub(MAX_FALLBACK_LINES);
    if hidden > 0 {
        text.push_str(&format!("\n... and {hidden} more"));
    }
    json!({"text": truncate(&text, MAX_TEXT), "blocks": blocks})
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped; a group name must not become a link.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
