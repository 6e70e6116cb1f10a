//! Actions (automated recovery), the pure part: each action keeps its own incidents (as a
//! notifier does, with its groups, reasons and min_severity), picks the transitions it runs
//! on, and records each one in the state file *before* it is started, so a transition runs
//! at most once, across restarts too. Running the command is [`super::runner`].

use super::alert::{self, Alert};
use super::incident::{Change, Incidents, Transition};
use crate::config::{ActionConfig, ActionOn, RulesConfig};
use crate::view::ClusterView;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::Arc;

/// Transition ids remembered per action (far more than run between two restarts).
pub const LEDGER: usize = 1000;

/// One action's incidents and the transitions it already started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionBook {
    /// Open incidents as this action sees them.
    pub incidents: Incidents,
    /// Ids of transitions started (newest last, at most [`LEDGER`]).
    pub ran: VecDeque<String>,
}

/// One run to make.
#[derive(Debug, Clone)]
pub struct Job {
    /// The action.
    pub action: Arc<ActionConfig>,
    /// Unique per incident transition.
    pub id: String,
    /// opened | escalated | resolved.
    pub on: ActionOn,
    /// Cluster name.
    pub cluster: String,
    /// The incident, with its numbers.
    pub alert: Alert,
}

/// What `change` counts as for `on:`; reminders and de-escalations run nothing.
pub fn on_of(change: Change) -> Option<ActionOn> {
    match change {
        Change::Opened => Some(ActionOn::Opened),
        Change::Escalated => Some(ActionOn::Escalated),
        Change::Resolved | Change::Gone | Change::BelowMinSeverity => Some(ActionOn::Resolved),
        Change::Deescalated | Change::Reminder => None,
    }
}

/// The transition's id: the incident (cluster, group, topic, opening) and the change with
/// when it was seen (milliseconds), so two escalations of one incident are two runs.
pub fn transition_id(t: &Transition, at: f64) -> String {
    format!(
        "{}/{}/{}/{}/{}/{}",
        t.key.cluster,
        t.key.group,
        t.key.topic,
        (t.opened_at * 1000.0).round() as i64,
        serde_json::to_value(t.change)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        (at * 1000.0).round() as i64
    )
}

/// The jobs for one poll's `changes`, recorded in `book` (not yet run).
pub fn jobs(
    action: &Arc<ActionConfig>,
    book: &mut ActionBook,
    changes: &[Transition],
    view: &ClusterView,
    rules: &RulesConfig,
    at: f64,
) -> Vec<Job> {
    let mut out = Vec::new();
    for t in changes {
        let Some(on) = on_of(t.change).filter(|o| action.on.contains(o)) else {
            continue;
        };
        let id = transition_id(t, at);
        if book.ran.contains(&id) {
            continue;
        }
        let Some(b) = alert::batch(view, std::slice::from_ref(t), rules, at) else {
            continue;
        };
        let Some(alert) = b.alerts.into_iter().next() else {
            continue;
        };
        book.ran.push_back(id.clone());
        while book.ran.len() > LEDGER {
            book.ran.pop_front();
        }
        out.push(Job {
            action: action.clone(),
            id,
            on,
            cluster: view.cluster.clone(),
            alert,
        });
    }
    out
}

/// The document an action reads on stdin.
pub fn stdin_json(job: &Job) -> Value {
    json!({
        "schema_version": crate::http::api::SCHEMA_VERSION,
        "action": job.action.name,
        "id": job.id,
        "transition": job.on.as_str(),
        "cluster": job.cluster,
        "alert": job.alert,
    })
}

/// The `LAGWATCH_*` environment of a run.
pub fn env(job: &Job) -> Vec<(String, String)> {
    let a = &job.alert;
    let reasons: Vec<&str> = a.reasons.iter().map(|r| r.as_str()).collect();
    let mut v = vec![
        ("LAGWATCH_ACTION", job.action.name.clone()),
        ("LAGWATCH_INCIDENT_ID", job.id.clone()),
        ("LAGWATCH_TRANSITION", job.on.as_str().to_owned()),
        ("LAGWATCH_CLUSTER", job.cluster.clone()),
        ("LAGWATCH_GROUP", a.group.clone()),
        ("LAGWATCH_TOPIC", a.topic.clone()),
        ("LAGWATCH_STATUS", a.status.as_str().to_owned()),
        ("LAGWATCH_REASONS", reasons.join(",")),
        (
            "LAGWATCH_OPENED_AT",
            format!("{}", a.opened_at.round() as i64),
        ),
    ];
    if let Some(p) = a.previous {
        v.push(("LAGWATCH_PREVIOUS_STATUS", p.as_str().to_owned()));
    }
    if let Some(l) = a.lag {
        v.push(("LAGWATCH_LAG", l.to_string()));
    }
    if let Some(e) = a.drain_eta_seconds {
        let s = if e.is_finite() {
            format!("{}", e.round() as i64)
        } else {
            "+Inf".to_owned()
        };
        v.push(("LAGWATCH_DRAIN_ETA_SECONDS", s));
    }
    v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::incident::IncidentKey;
    use crate::view::Status;

    #[test]
    fn which_changes_run_an_action() {
        use Change::*;
        for (change, want, why) in [
            (Opened, Some(ActionOn::Opened), "opened"),
            (Escalated, Some(ActionOn::Escalated), "escalated"),
            (Resolved, Some(ActionOn::Resolved), "resolved"),
            (
                Gone,
                Some(ActionOn::Resolved),
                "a deleted group ends the incident too",
            ),
            (
                BelowMinSeverity,
                Some(ActionOn::Resolved),
                "below the action's severity: over for it",
            ),
            (Reminder, None, "a reminder is not a transition"),
            (Deescalated, None, "less severe: nothing to recover"),
        ] {
            assert_eq!(on_of(change), want, "{why}");
        }
    }

    #[test]
    fn each_transition_has_its_own_id() {
        let t = |change, opened_at| Transition {
            key: IncidentKey::new("prod", "g", "t"),
            change,
            status: Status::Critical,
            previous: None,
            opened_at,
        };
        let a = transition_id(&t(Change::Escalated, 100.0), 200.0);
        assert_eq!(a, "prod/g/t/100000/escalated/200000");
        assert_ne!(
            a,
            transition_id(&t(Change::Escalated, 100.0), 300.0),
            "a second escalation"
        );
        assert_ne!(
            a,
            transition_id(&t(Change::Opened, 100.0), 200.0),
            "another change"
        );
    }
}
