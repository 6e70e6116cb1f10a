//! Plain text of what Slack/Discord would receive, for the console notifier (demo, dry runs).

use super::{alert_text, headline};
use crate::notify::alert::Batch;

/// The message as plain text, one labelled line per fact.
pub fn text(b: &Batch, dashboard: Option<&str>) -> String {
    let mut out = headline(b);
    for a in &b.alerts {
        let t = alert_text(a, b, dashboard);
        out.push_str(&format!("\n\n{}", t.title));
        for (label, value) in &t.lines {
            out.push_str(&format!("\n  {label}: {value}"));
        }
        if let Some(link) = &t.link {
            out.push_str(&format!("\n  Dashboard: {link}"));
        }
    }
    out.push('\n');
    out
}
