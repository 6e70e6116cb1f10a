//! The `notifiers:` section: where alerts go (Slack, Discord, Microsoft Teams, a generic
//! webhook, Alertmanager, PagerDuty, console) and which.

use super::bounds;
use super::cluster::{read_filter, Filter};
use super::env::did_you_mean;
use super::notifier_fields as fields;
use super::reader::{join, Cx, MapView};
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
    "urls",
    "headers",
    "header_files",
    "secret",
    "secret_file",
    "routing_key",
    "routing_key_file",
    "reasons",
];

/// The status engine's reason names (`view::Reason`, which config may not import: a unit
/// test in `notify` keeps the two lists equal).
pub const REASON_NAMES: &[&str] = &[
    "lag_warning",
    "lag_critical",
    "low_headroom",
    "falling_behind",
    "stalled",
    "stopped",
    "rewind",
    "data_loss",
    "backlog_replay",
    "no_commit",
    "source_error",
    "retention_risk",
    "spark_trigger_capped",
    "spark_batch_slow",
];

/// The `kind:` values, as written.
const KINDS: &[&str] = &[
    "slack",
    "discord",
    "msteams",
    "webhook",
    "alertmanager",
    "pagerduty",
    "console",
];

/// PagerDuty's Events API v2 endpoint, used when a `pagerduty` notifier has no `url`.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// Where chat notifications go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifierKind {
    /// Slack incoming webhook (Block Kit).
    Slack,
    /// Discord webhook (embeds).
    Discord,
    /// Prints what Slack/Discord would receive to stdout (demo, dry runs).
    Console,
    /// Microsoft Teams workflow webhook (an Adaptive Card).
    MsTeams,
    /// Any HTTP endpoint: the alerts as JSON, optionally signed (HMAC-SHA256).
    Webhook,
    /// Alertmanager's `/api/v2/alerts`, on one or more Alertmanagers.
    Alertmanager,
    /// PagerDuty Events API v2.
    PagerDuty,
}

impl NotifierKind {
    /// The `kind:` value.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifierKind::Slack => "slack",
            NotifierKind::Discord => "discord",
            NotifierKind::Console => "console",
            NotifierKind::MsTeams => "msteams",
            NotifierKind::Webhook => "webhook",
            NotifierKind::Alertmanager => "alertmanager",
            NotifierKind::PagerDuty => "pagerduty",
        }
    }

    fn parse(s: &str) -> Option<NotifierKind> {
        [
            NotifierKind::Slack,
            NotifierKind::Discord,
            NotifierKind::MsTeams,
            NotifierKind::Webhook,
            NotifierKind::Alertmanager,
            NotifierKind::PagerDuty,
            NotifierKind::Console,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
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
    /// More Alertmanager URLs (each gets every alert); secrets like `url`.
    pub urls: Vec<String>,
    /// Extra HTTP headers of a `webhook` notifier (values are secrets: never logged).
    pub headers: Vec<(String, String)>,
    /// HMAC-SHA256 key of a `webhook` notifier's signature header (a secret).
    pub secret: Option<String>,
    /// PagerDuty integration (routing) key (a secret).
    pub routing_key: Option<String>,
    /// Only incidents with at least one of these reasons (reason names); empty = all.
    pub reasons: Vec<String>,
}

impl NotifierConfig {
    /// Every secret this notifier holds, for redacting messages that might carry one.
    pub fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = self.url.iter().chain(&self.urls).cloned().collect();
        out.extend(self.headers.iter().map(|(_, v)| v.clone()));
        out.extend(self.secret.iter().chain(&self.routing_key).cloned());
        out.retain(|s| !s.is_empty());
        out
    }
}

impl std::fmt::Debug for NotifierConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifierConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("min_severity", &self.min_severity)
            .field("repeat_interval", &self.repeat_interval)
            .field("urls", &self.urls.len())
            .field("headers", &self.headers.len())
            .field("reasons", &self.reasons)
            .finish_non_exhaustive()
    }
}

pub(super) fn read_notifier(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<NotifierConfig> {
    let m = cx.map(node, path, NOTIFIER_KEYS)?;
    let name = cx.req_string(m, path, "name");
    let kind = match cx.req_string(m, path, "kind") {
        Some(k) => match NotifierKind::parse(&k) {
            Some(kind) => Some(kind),
            None => {
                let pos = m.get("kind").map(|n| n.pos).unwrap_or(m.pos);
                let hint = did_you_mean(&k, KINDS)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                let known = KINDS.join(", ");
                cx.error(
                    pos,
                    &join(path, "kind"),
                    format!("unknown notifier kind `{k}`{hint}; expected one of {known}"),
                );
                None
            }
        },
        None => None,
    };
    let url = fields::read_url(cx, m, path, kind);
    let urls = fields::read_urls(cx, m, path, kind);
    let mut headers = cx.opt_string_map(m, path, "headers");
    for (name, file) in cx.opt_string_map(m, path, "header_files") {
        let pos = m.get("header_files").map_or(m.pos, |n| n.pos);
        match std::fs::read_to_string(&file) {
            Ok(v) => headers.push((name, v.trim().to_owned())),
            Err(e) => cx.error(
                pos,
                &join(&join(path, "header_files"), &name),
                format!("cannot read the file of header `{name}`: {}", e.kind()),
            ),
        }
    }
    let secret = fields::secret_pair(cx, m, path, "secret", "secret_file");
    let routing_key = fields::secret_pair(cx, m, path, "routing_key", "routing_key_file");
    fields::only_for(
        cx,
        m,
        path,
        kind,
        &[NotifierKind::Webhook],
        &["headers", "header_files", "secret", "secret_file"],
    );
    fields::only_for(cx, m, path, kind, &[NotifierKind::Alertmanager], &["urls"]);
    fields::only_for(
        cx,
        m,
        path,
        kind,
        &[NotifierKind::PagerDuty],
        &["routing_key", "routing_key_file"],
    );
    if kind == Some(NotifierKind::PagerDuty) && routing_key.is_none() {
        cx.error(
            m.pos,
            &join(path, "routing_key"),
            "pagerduty notifiers need `routing_key` or `routing_key_file`",
        );
    }
    let reasons = read_reasons(cx, m, path);
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
        urls,
        headers,
        secret,
        routing_key,
        reasons,
    })
}

/// The `reasons:` filter that notifiers and actions share: known names only, each unknown
/// one reported at its own line with the nearest name and the full list.
pub(super) fn read_reasons(cx: &mut Cx<'_>, m: MapView<'_>, path: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    for (r, pos) in cx.opt_string_list(m, path, "reasons") {
        if REASON_NAMES.contains(&r.as_str()) {
            reasons.push(r);
        } else {
            let hint = did_you_mean(&r, REASON_NAMES)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            cx.error(
                pos,
                &join(path, "reasons"),
                format!(
                    "unknown reason `{r}`{hint}; expected one of {}",
                    REASON_NAMES.join(", ")
                ),
            );
        }
    }
    reasons
}
