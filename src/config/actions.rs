//! The `actions:` section: commands run on incident transitions (automated recovery).
//! `command` is an argv, never a shell line, so no group or topic name can inject words.

use super::bounds;
use super::cluster::{read_filter, Filter};
use super::notifiers::{read_reasons, Severity};
use super::reader::{join, Cx};
use super::yaml::Node;
use std::time::Duration;

const ACTION_KEYS: &[&str] = &[
    "name",
    "command",
    "reasons",
    "groups",
    "min_severity",
    "on",
    "timeout",
    "dry_run",
];

/// When an action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ActionOn {
    /// The incident opened.
    Opened,
    /// The incident became more severe.
    Escalated,
    /// The incident closed (resolved or gone).
    Resolved,
}

impl ActionOn {
    /// The `on:` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionOn::Opened => "opened",
            ActionOn::Escalated => "escalated",
            ActionOn::Resolved => "resolved",
        }
    }
}

/// One action.
#[derive(Debug, Clone)]
pub struct ActionConfig {
    /// Label `action` in metrics and logs; unique.
    pub name: String,
    /// Program and arguments (no shell).
    pub command: Vec<String>,
    /// Only incidents with one of these reasons; empty = any.
    pub reasons: Vec<String>,
    /// Groups it applies to.
    pub groups: Filter,
    /// Lowest severity it applies to.
    pub min_severity: Severity,
    /// Transitions it runs on.
    pub on: Vec<ActionOn>,
    /// Killed (with its process group) after this long.
    pub timeout: Duration,
    /// Log what would run instead of running it.
    pub dry_run: bool,
}

pub(super) fn read_action(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<ActionConfig> {
    let m = cx.map(node, path, ACTION_KEYS)?;
    let name = cx.req_string(m, path, "name");
    let command: Vec<String> = cx
        .opt_string_list(m, path, "command")
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    if command.is_empty() || command[0].is_empty() {
        let pos = m.get("command").map_or(m.pos, |n| n.pos);
        cx.error(
            pos,
            &join(path, "command"),
            "`command` needs a program and its arguments as a list, e.g. [\"/opt/runbooks/replay.sh\"] (no shell)",
        );
    }
    let reasons = read_reasons(cx, m, path);
    let groups = match m.get("groups") {
        Some(n) => {
            let fp = join(path, "groups");
            cx.map(n, &fp, &["include", "exclude"])
                .map(|fm| read_filter(cx, fm, &fp))
                .unwrap_or_default()
        }
        None => Filter::default(),
    };
    let min_severity = match cx.opt_string(m, path, "min_severity").as_deref() {
        None | Some("warning") => Severity::Warning,
        Some("critical") => Severity::Critical,
        Some(other) => {
            let pos = m.get("min_severity").map_or(m.pos, |n| n.pos);
            cx.error(
                pos,
                &join(path, "min_severity"),
                format!("unknown severity `{other}`; expected warning or critical"),
            );
            Severity::Warning
        }
    };
    let mut on = Vec::new();
    for (o, pos) in cx.opt_string_list(m, path, "on") {
        match o.as_str() {
            "opened" => on.push(ActionOn::Opened),
            "escalated" => on.push(ActionOn::Escalated),
            "resolved" => on.push(ActionOn::Resolved),
            other => cx.error(
                pos,
                &join(path, "on"),
                format!("unknown transition `{other}`; expected opened, escalated or resolved"),
            ),
        }
    }
    if m.get("on").is_none() {
        on.push(ActionOn::Opened);
    }
    on.sort();
    on.dedup();
    Some(ActionConfig {
        name: name?,
        command,
        reasons,
        groups,
        min_severity,
        on,
        timeout: cx
            .opt_duration(m, path, "timeout", bounds::ACTION_TIMEOUT)
            .unwrap_or(Duration::from_secs(300)),
        dry_run: cx.opt_bool(m, path, "dry_run").unwrap_or(false),
    })
}
