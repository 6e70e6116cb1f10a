//! Actions in the coordinator: each configured action watches the view like a notifier
//! (its own incidents, groups, reasons, min_severity; no reminders) and yields the runs
//! of one poll, already recorded in the book so the caller saves before it spawns them.

use super::actions::{self, ActionBook, Job};
use super::incident::{Observed, Policy};
use super::state_file::Book;
use crate::config::{ActionConfig, Filter, RulesConfig, Severity};
use crate::view::{ClusterView, Reason, Status};
use std::sync::Arc;

/// One action as the coordinator sees it.
pub(super) struct ActionTarget {
    cfg: Arc<ActionConfig>,
    policy: Policy,
    reasons: Vec<Reason>,
}

/// The targets of `cfgs`.
pub(super) fn targets(cfgs: &[ActionConfig]) -> Vec<ActionTarget> {
    cfgs.iter()
        .map(|a| ActionTarget {
            cfg: Arc::new(a.clone()),
            policy: Policy {
                min_status: match a.min_severity {
                    Severity::Warning => Status::Warning,
                    Severity::Critical => Status::Critical,
                },
                // Reminders are not transitions: an action never repeats by itself.
                repeat_interval: f64::INFINITY,
            },
            reasons: super::route::reasons(&a.reasons),
        })
        .collect()
}

/// The action names, for dropping the books of removed actions.
pub(super) fn names(t: &[ActionTarget]) -> Vec<String> {
    t.iter().map(|a| a.cfg.name.clone()).collect()
}

/// Steps every action's incidents with `view` and returns the runs to start.
pub(super) fn step(
    targets: &[ActionTarget],
    book: &mut Book,
    view: &ClusterView,
    rules: &RulesConfig,
    now: f64,
) -> Vec<Job> {
    let mut out = Vec::new();
    let all_topics = Filter::default();
    for t in targets {
        let (statuses, settling) =
            super::statuses_for(view, &t.cfg.groups, &all_topics, &t.reasons);
        let obs = Observed {
            cluster: &view.cluster,
            up: view.up,
            complete: !view.partial,
            statuses: &statuses,
            settling: &settling,
        };
        let ab: &mut ActionBook = book.actions.entry(t.cfg.name.clone()).or_default();
        let changes = ab.incidents.step(obs, t.policy, now);
        out.extend(actions::jobs(&t.cfg, ab, &changes, view, rules, now));
    }
    out
}
