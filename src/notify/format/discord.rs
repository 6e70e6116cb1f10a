//! Discord webhook payload: one embed per alert with a severity colour, the headline as
//! `content`, within Discord's limits (10 embeds, 6,000 embed characters in total).

use super::{alert_text, headline, truncate};
use crate::notify::alert::{Alert, Batch};
use crate::view::Status;
use serde_json::{json, Value};

/// Discord's limit on embeds per message.
pub const MAX_EMBEDS: usize = 10;
/// Discord's limit on the characters of all embeds together.
pub const MAX_EMBED_TOTAL: usize = 6000;
/// Discord's limit on an embed title.
pub const MAX_TITLE: usize = 256;
/// Discord allows 4,096 per description; one alert never needs more than this, and it
/// leaves room for several alerts within the total.
pub const MAX_DESCRIPTION: usize = 1500;
/// Discord's limit on `content`.
pub const MAX_CONTENT: usize = 2000;

/// Critical red.
pub const RED: u32 = 0xD3_2F2F;
/// Warning orange.
pub const ORANGE: u32 = 0xF5_7C00;
/// Resolved green.
pub const GREEN: u32 = 0x2E_7D32;

/// The embed colour of an alert.
pub fn color(a: &Alert) -> u32 {
    match a.status {
        Status::Critical => RED,
        Status::Warning => ORANGE,
        Status::Ok => GREEN,
    }
}

/// The JSON body posted to the webhook.
pub fn payload(b: &Batch, dashboard: Option<&str>) -> Value {
    let mut embeds = Vec::new();
    let mut total = 0;
    for a in &b.alerts {
        if embeds.len() == MAX_EMBEDS {
            break;
        }
        let t = alert_text(a, b, dashboard);
        let title = truncate(&t.title, MAX_TITLE);
        let mut d = t
            .lines
            .iter()
            .map(|(label, value)| format!("**{label}:** {value}"))
            .collect::<Vec<_>>()
            .join("\n");
        if let Some(link) = &t.link {
            // In the description, not the embed `url`: a malformed link must not make
            // Discord reject the whole message.
            d.push_str(&format!("\n[Open dashboard]({link})"));
        }
        let description = truncate(&d, MAX_DESCRIPTION);
        let size = title.chars().count() + description.chars().count();
        if total + size > MAX_EMBED_TOTAL {
            break;
        }
        total += size;
        embeds.push(json!({"title": title, "description": description, "color": color(a)}));
    }
    let more = b.alerts.len() - embeds.len();
    let mut content = headline(b);
    if more > 0 {
        content.push_str(&format!("\n... and {more} more"));
    }
    json!({
        "username": "lagwatch",
        "content": truncate(&content, MAX_CONTENT),
        "embeds": embeds,
        // Group names are not ours: never let one ping @everyone.
        "allowed_mentions": {"parse": []}
    })
}
