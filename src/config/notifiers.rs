//! The `notifiers:` section: where alerts go (Slack, Discord, console) and which.

use super::bounds;
use super::cluster::{read_filter, Filter};
use super::env::did_you_mean;
use super::reader::{join, Cx};
use super::yaml::Node;
use std::time::Duration;

const NOTIFIER_KEYS: &[&str] = &[
    "name",
    "kind",
    "url",
    "url_file",
    "groups",
    "topics",
    "min_severity",
    "dashboard_url",
    "repeat_interval",
    "queue_size",
    "timeout",
];

/// Where chat notifications go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifierKind {
    /// Slack incoming webhook (Block Kit).
    Slack,
    /// Discord webhook (embeds).
    Discord,
    /// Prints what Slack/Discord would receive to stdout (demo, dry runs).
    Console,
}

/// Severity used for notifier filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Warnings and above.
    Warning,
    /// Critical only.
    Critical,
}

/// One notification target.
#[derive(Clone)]
pub struct NotifierConfig {
    /// Label value `notifier` in metrics and logs.
    pub name: String,
    /// Slack, Discord or console.
    pub kind: NotifierKind,
    /// The webhook URL (a secret: never logged).
    pub url: Option<String>,
    /// Groups to notify about.
    pub groups: Filter,
    /// Topics to notify about.
    pub topics: Filter,
    /// Lowest severity sent.
    pub min_severity: Severity,
    /// Base URL of a dashboard; `{cluster}`, `{group}`, `{topic}` are substituted.
    pub dashboard_url: Option<String>,
    /// Reminder period while an incident stays open.
    pub repeat_interval: Duration,
    /// Pending messages kept per notifier; older ones are dropped and counted.
    pub queue_size: usize,
    /// HTTP timeout of one delivery attempt.
    pub timeout: Duration,
}

impl std::fmt::Debug for NotifierConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifierConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("min_severity", &self.min_severity)
            .field("repeat_interval", &self.repeat_interval)
            .finish_non_exhaustive()
    }
}

pub(super) fn read_notifier(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<NotifierConfig> {
    let m = cx.map(node, path, NOTIFIER_KEYS)?;
    let name = cx.req_string(m, path, "name");
    let kind = match cx.req_string(m, path, "kind").as_deref() {
        Some("slack") => Some(NotifierKind::Slack),
        Some("discord") => Some(NotifierKind::Discord),
        Some("console") => Some(NotifierKind::Console),
        Some(other) => {
            let pos = m.get("kind").map(|n| n.pos).unwrap_or(m.pos);
            let hint = did_you_mean(other, &["slack", "discord", "console"])
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            cx.error(
                pos,
                &join(path, "kind"),
                format!(
                    "unknown notifier kind `{other}`{hint}; expected slack, discord or console"
                ),
            );
            None
        }
        None => None,
    };
    let mut url = cx.opt_string(m, path, "url");
    // Where the URL came from, for the message when it is not a URL: the file's content is
    // never blamed on the `url` line, and neither value is echoed (both are secrets).
    let mut from = ("url", m.get("url").map_or(m.pos, |n| n.pos), "`url`");
    let mut reported = false;
    if let Some(file) = super::env::opt_text(cx, m, path, "url_file") {
        let pos = m.get("url_file").map_or(m.pos, |n| n.pos);
        let field = join(path, "url_file");
        if url.is_some() {
            cx.error(pos, &field, "set either `url` or `url_file`, not both");
            reported = true;
        } else {
            match std::fs::read_to_string(&file.value) {
                Ok(s) => {
                    url = Some(s.trim().to_owned());
                    from = ("url_file", pos, "the file named by `url_file`");
                }
                Err(e) => {
                    cx.error(pos, &field, format!("cannot read {}: {e}", file.shown));
                    reported = true;
                }
            }
        }
    }
    if !reported && matches!(kind, Some(NotifierKind::Slack | NotifierKind::Discord)) {
        match &url {
            None => cx.error(
                m.pos,
                &join(path, "url"),
                "slack and discord notifiers need `url` or `url_file`",
            ),
            Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
                let (key, pos, what) = from;
                cx.error(
                    pos,
                    &join(path, key),
                    format!("{what} must hold a webhook URL starting with https:// or http://"),
                );
            }
            Some(_) => {}
        }
    }
    let filter = |cx: &mut Cx<'_>, key: &str| match m.get(key) {
        Some(n) => {
            let fp = join(path, key);
            cx.map(n, &fp, &["include", "exclude"])
                .map(|fm| read_filter(cx, fm, &fp))
                .unwrap_or_default()
        }
        None => Filter::default(),
    };
    let groups = filter(cx, "groups");
    let topics = filter(cx, "topics");
    let min_severity = match cx.opt_string(m, path, "min_severity").as_deref() {
        None | Some("warning") => Severity::Warning,
        Some("critical") => Severity::Critical,
        Some(other) => {
            let pos = m.get("min_severity").map(|n| n.pos).unwrap_or(m.pos);
            cx.error(
                pos,
                &join(path, "min_severity"),
                format!("unknown severity `{other}`; expected warning or critical"),
            );
            Severity::Warning
        }
    };
    Some(NotifierConfig {
        name: name?,
        kind: kind?,
        url,
        groups,
        topics,
        min_severity,
        dashboard_url: cx.opt_string(m, path, "dashboard_url"),
        repeat_interval: cx
            .opt_duration(m, path, "repeat_interval", bounds::REPEAT_INTERVAL)
            .unwrap_or(Duration::from_secs(3600)),
        queue_size: cx
            .opt_int(m, path, "queue_size", 1, 100_000)
            .unwrap_or(1000) as usize,
        timeout: cx
            .opt_duration(m, path, "timeout", bounds::NOTIFIER_TIMEOUT)
            .unwrap_or(Duration::from_secs(10)),
    })
}
