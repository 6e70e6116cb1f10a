//! Silences applied: which of one poll's changes are held back (pure), and the handle the
//! HTTP API uses to add, list and expire silences, kept in the state file with incidents.

use super::incident::{Change, IncidentKey, Incidents, Transition};
use super::silence::{self, Matchers, Silence, SilenceError};
use super::Shared;
use crate::view::{ClusterView, Reason};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The reasons of the incident `key` in `view` (none once it is gone).
fn reasons_of(view: &ClusterView, key: &IncidentKey) -> Vec<Reason> {
    let Some(g) = view.groups.iter().find(|g| g.group == key.group) else {
        return Vec::new();
    };
    if key.topic.is_empty() {
        return g.reasons.clone();
    }
    g.topics
        .iter()
        .find(|t| *t.topic == *key.topic)
        .map(|t| t.reasons.clone())
        .unwrap_or_default()
}

fn closes(c: Change) -> bool {
    matches!(
        c,
        Change::Resolved | Change::Gone | Change::BelowMinSeverity
    )
}

/// The changes to send: a change an active silence matches is held back and its incident
/// marked; a closing change is held back when the incident's last news was (`was`).
pub(super) fn hold_back(
    changes: Vec<Transition>,
    incidents: &mut Incidents,
    was: &BTreeSet<IncidentKey>,
    silences: &[Silence],
    view: &ClusterView,
    now: f64,
) -> Vec<Transition> {
    let mut out = Vec::with_capacity(changes.len());
    for t in changes {
        let held = if closes(t.change) {
            was.contains(&t.key)
        } else {
            let held = silence::silenced(silences, &t.key, &reasons_of(view, &t.key), now);
            incidents.set_silenced(&t.key, held);
            held
        };
        if !held {
            out.push(t);
        }
    }
    out
}

/// Adds, lists and expires silences (for the HTTP API); every change is saved at once.
#[derive(Clone)]
pub struct Silences {
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for Silences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Silences").finish_non_exhaustive()
    }
}

impl Silences {
    /// True on a replica that follows (`coordination:`): its silences would not be kept,
    /// the leader's state is what counts.
    pub fn following(&self) -> bool {
        !self.shared.gate.leading()
    }

    /// A new silence from now.
    pub fn add(
        &self,
        matchers: Matchers,
        duration_secs: f64,
        comment: String,
        created_by: String,
    ) -> Result<Silence, SilenceError> {
        let id = format!("{:016x}", rand::random::<u64>());
        let s = silence::new(
            id,
            matchers,
            duration_secs,
            comment,
            created_by,
            crate::runtime::now(),
        )?;
        let mut book = self.shared.lock();
        book.silences.push(s.clone());
        self.shared.save(&book);
        Ok(s)
    }

    /// The silences in force, oldest first.
    pub fn list(&self) -> Vec<Silence> {
        let now = crate::runtime::now();
        let book = self.shared.lock();
        book.silences
            .iter()
            .filter(|s| s.active(now))
            .cloned()
            .collect()
    }

    /// Ends a silence now; false when no silence in force has that id.
    pub fn expire(&self, id: &str) -> bool {
        let now = crate::runtime::now();
        let mut book = self.shared.lock();
        let before = book.silences.len();
        book.silences.retain(|s| !(s.id == id && s.active(now)));
        let found = book.silences.len() != before;
        if found {
            self.shared.save(&book);
        }
        found
    }
}
