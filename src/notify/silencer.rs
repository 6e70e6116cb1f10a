//! Silences applied: which of one poll's changes are held back (pure), and the handle the
//! HTTP API uses to add, list and expire silences, kept in the state file with incidents
//! (or, with `shard_clusters`, shared through the state topic).

use super::coordination::silences::SharedSilences;
use super::coordination::store::StoreError;
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

/// Adds, lists and expires silences (for the HTTP API); every change is saved at once:
/// in the book (state file, or the state topic's book through the leader), or with
/// `shard_clusters` as a record of its own in the state topic, shared by every replica.
#[derive(Clone)]
pub struct Silences {
    backing: Backing,
}

#[derive(Clone)]
enum Backing {
    Book(Arc<Shared>),
    Shared(Arc<SharedSilences>),
}

impl std::fmt::Debug for Silences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Silences").finish_non_exhaustive()
    }
}

/// Why a silence was not added or expired.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The silence itself is refused.
    #[error(transparent)]
    Invalid(#[from] SilenceError),
    /// The state topic could not be written or read to its end (with `shard_clusters`):
    /// nothing changed.
    #[error(transparent)]
    StateTopic(#[from] StoreError),
}

impl Silences {
    pub(super) fn in_book(shared: Arc<Shared>) -> Silences {
        Silences {
            backing: Backing::Book(shared),
        }
    }

    /// The silences every replica shares (`shard_clusters`).
    pub fn shared(set: Arc<SharedSilences>) -> Silences {
        Silences {
            backing: Backing::Shared(set),
        }
    }

    /// True on a replica that follows (`coordination:` without `shard_clusters`): its
    /// silences would not be kept, the leader's state is what counts.
    pub fn following(&self) -> bool {
        match &self.backing {
            Backing::Book(shared) => !shared.gate.leading(),
            Backing::Shared(_) => false,
        }
    }

    /// A new silence from now. Blocks until it is saved.
    pub fn add(
        &self,
        matchers: Matchers,
        duration_secs: f64,
        comment: String,
        created_by: String,
    ) -> Result<Silence, ChangeError> {
        let id = format!("{:016x}", rand::random::<u64>());
        let s = silence::new(
            id,
            matchers,
            duration_secs,
            comment,
            created_by,
            crate::runtime::now(),
        )?;
        match &self.backing {
            Backing::Book(shared) => {
                let mut book = shared.lock();
                book.silences.push(s.clone());
                shared.save(&book);
            }
            Backing::Shared(set) => super::lead::blocking(|| set.add(&s))?,
        }
        Ok(s)
    }

    /// With `shard_clusters`, waits until this replica has read every silence written
    /// so far (a replica that just started, or one a moment behind another's add); then
    /// [`Silences::list`] is complete. Blocks up to twice the session timeout.
    pub fn catch_up(&self) -> Result<(), ChangeError> {
        match &self.backing {
            Backing::Book(_) => Ok(()),
            Backing::Shared(set) => Ok(super::lead::blocking(|| set.sync())?),
        }
    }

    /// The silences in force, oldest first.
    pub fn list(&self) -> Vec<Silence> {
        let now = crate::runtime::now();
        match &self.backing {
            Backing::Book(shared) => shared
                .lock()
                .silences
                .iter()
                .filter(|s| s.active(now))
                .cloned()
                .collect(),
            Backing::Shared(set) => set.active(now),
        }
    }

    /// Ends a silence now; false when no silence in force has that id. Blocks until the
    /// change is saved.
    pub fn expire(&self, id: &str) -> Result<bool, ChangeError> {
        let now = crate::runtime::now();
        let shared = match &self.backing {
            Backing::Shared(set) => return Ok(super::lead::blocking(|| set.expire(id, now))?),
            Backing::Book(shared) => shared,
        };
        let mut book = shared.lock();
        let before = book.silences.len();
        book.silences.retain(|s| !(s.id == id && s.active(now)));
        let found = book.silences.len() != before;
        if found {
            shared.save(&book);
        }
        Ok(found)
    }
}
