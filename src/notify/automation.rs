//! Actions in the coordinator: each configured action watches the view like a notifier
//! (its own incidents, groups, reasons, min_severity; no reminders) and yields the runs
//! of one poll, already recorded in the book so the caller saves before it spawns them.
//! Silences hold actions back as they hold notifications: a silence says "we know, hands
//! off", and an automated recovery running anyway is the last thing its author wants.

use super::actions::{self, ActionBook, Job};
use super::incident::{Observed, Policy};
use super::silence::Silence;
use super::silencer;
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

/// What one poll gives the actions: the runs to start, and per action how many transitions
/// a silence held back.
#[derive(Debug, Default)]
pub(super) struct Step {
    pub jobs: Vec<Job>,
    pub silenced: Vec<(String, usize)>,
}

/// Steps every action's incidents with `view` and returns the runs to start.
pub(super) fn step(
    targets: &[ActionTarget],
    book: &mut Book,
    silences: &[Silence],
    view: &ClusterView,
    rules: &RulesConfig,
    now: f64,
) -> Step {
    let mut out = Step::default();
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
        let was = ab.incidents.silenced_keys();
        let changes = ab.incidents.step(obs, t.policy, now);
        let stepped = changes.len();
        let changes = silencer::hold_back(changes, &mut ab.incidents, &was, silences, view, now);
        if changes.len() < stepped {
            out.silenced
                .push((t.cfg.name.clone(), stepped - changes.len()));
        }
        out.jobs
            .extend(actions::jobs(&t.cfg, ab, &changes, view, rules, now));
    }
    out
}
