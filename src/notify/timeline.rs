//! Each incident's recent life, for the web page: when it opened, escalated, was reminded
//! and resolved, and what became of every notifier's message about it.
//!
//! In memory only and bounded: [`ENTRIES_PER_INCIDENT`] entries per incident (reminders of
//! an unchanged status fold into one entry, so a week-long incident keeps its opening),
//! [`MAX_INCIDENTS`] incidents (the least recently active go first) and [`MAX_IN_FLIGHT`]
//! messages awaiting an outcome. Notifier names and error texts are shared (`Arc<str>`), as
//! one message about a storm of incidents has one outcome: an entry with two notifiers is
//! ~180 bytes, so even full lines of every incident stay under ~6 MiB. A restart starts it
//! empty: the state file keeps what alerting needs, not history.

use super::deliver::DeliveryError;
use super::incident::{Change, IncidentKey, Transition};
use crate::view::Status;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// Entries kept per incident; the oldest are dropped (and counted) beyond it.
pub const ENTRIES_PER_INCIDENT: usize = 16;
/// Incidents (cluster × group × topic) with a timeline.
pub const MAX_INCIDENTS: usize = 2_000;
/// Messages whose delivery outcome is still awaited.
pub const MAX_IN_FLIGHT: usize = 10_000;
/// Error texts are cut here: enough to say why, short enough to keep memory flat.
const ERROR_CHARS: usize = 160;

/// What became of one notifier's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Waiting in the notifier's queue (or being sent).
    Queued,
    /// Delivered.
    Sent,
    /// Given up on (rejected, or retries exhausted).
    Failed,
    /// Pushed out of a full queue before it was sent.
    Dropped,
}

/// One notifier's message about one change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// Notifier name.
    pub notifier: Arc<str>,
    /// Latest outcome.
    pub outcome: Outcome,
    /// When the outcome became known (Unix seconds); null while queued.
    pub at: Option<f64>,
    /// Why it failed (never holds a webhook URL: delivery errors are redacted).
    pub error: Option<Arc<str>>,
    #[serde(skip)]
    message: Msg,
}

/// A message: the scope of its coordinator (message ids are per coordinator, and with
/// `shard_clusters` one timeline is shared by one coordinator per cluster) and its id.
type Msg = (u64, u64);

/// One change of an incident, as every notifier that reported it saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// When the change was seen (Unix seconds); for folded reminders, the latest one.
    pub at: f64,
    /// What happened.
    pub change: Change,
    /// Status after it.
    pub status: Status,
    /// Status before it, when the incident was open.
    pub previous: Option<Status>,
    /// Earlier reminders folded into this one.
    pub repeats: u32,
    /// One per notifier that sent a message about it.
    pub deliveries: Vec<Delivery>,
}

/// One incident's entries, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentLine {
    /// Topic; empty when the status was about the whole group.
    pub topic: String,
    /// Entries dropped because the line was full.
    pub dropped: u64,
    /// Entries, oldest first.
    pub entries: Vec<Entry>,
}

#[derive(Debug, Default)]
struct Line {
    entries: VecDeque<Entry>,
    dropped: u64,
    last: f64,
}

#[derive(Debug, Default)]
struct Book {
    lines: BTreeMap<IncidentKey, Line>,
    in_flight: BTreeMap<(Msg, Arc<str>), Vec<IncidentKey>>,
    /// Notifier names, shared by every delivery.
    names: Vec<Arc<str>>,
}

impl Book {
    fn name(&mut self, notifier: &str) -> Arc<str> {
        if let Some(n) = self.names.iter().find(|n| &***n == notifier) {
            return n.clone();
        }
        let n: Arc<str> = notifier.into();
        self.names.push(n.clone());
        n
    }
}

/// The timelines of every incident; shared by the coordinator (changes) and the delivery
/// workers (outcomes), read by the web page.
#[derive(Debug, Default)]
pub struct Timeline {
    book: Mutex<Book>,
}

impl Timeline {
    fn lock(&self) -> MutexGuard<'_, Book> {
        // Each call leaves the book consistent; a panic elsewhere must not blind the page.
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A handle recording into this timeline under `scope`: coordinators sharing one
    /// timeline each take their own, so their message ids cannot collide.
    pub fn scoped(self: &Arc<Self>, scope: u64) -> Scoped {
        Scoped {
            timeline: self.clone(),
            scope,
        }
    }

    /// `notifier` queued message `message` about `changes`, seen at `at`.
    pub fn queued(&self, notifier: &str, message: u64, changes: &[Transition], at: f64) {
        self.queued_in(notifier, (0, message), changes, at);
    }

    fn queued_in(&self, notifier: &str, message: Msg, changes: &[Transition], at: f64) {
        let mut book = self.lock();
        let name = book.name(notifier);
        let mut keys = Vec::with_capacity(changes.len());
        for t in changes {
            let line = book.lines.entry(t.key.clone()).or_default();
            add(line, t, &name, message, at);
            keys.push(t.key.clone());
        }
        book.in_flight.insert((message, name), keys);
        while book.in_flight.len() > MAX_IN_FLIGHT {
            book.in_flight.pop_first();
        }
        while book.lines.len() > MAX_INCIDENTS {
            let Some(stalest) = book
                .lines
                .iter()
                .min_by(|a, b| a.1.last.total_cmp(&b.1.last))
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            book.lines.remove(&stalest);
        }
    }

    /// The delivery of `message` by `notifier` ended (`Ok` = sent).
    pub fn delivered(
        &self,
        notifier: &str,
        message: u64,
        result: Result<(), &DeliveryError>,
        at: f64,
    ) {
        self.delivered_in(notifier, (0, message), result, at);
    }

    fn delivered_in(
        &self,
        notifier: &str,
        message: Msg,
        result: Result<(), &DeliveryError>,
        at: f64,
    ) {
        let (outcome, error) = match result {
            Ok(()) => (Outcome::Sent, None),
            Err(e) => (Outcome::Failed, Some(cut(&e.to_string()).into())),
        };
        self.settle(notifier, message, outcome, error, at);
    }

    /// `message` was pushed out of `notifier`'s full queue.
    pub fn dropped(&self, notifier: &str, message: u64, at: f64) {
        self.settle(notifier, (0, message), Outcome::Dropped, None, at);
    }

    fn settle(
        &self,
        notifier: &str,
        message: Msg,
        outcome: Outcome,
        error: Option<Arc<str>>,
        at: f64,
    ) {
        let mut book = self.lock();
        let Some(keys) = book.in_flight.remove(&(message, Arc::from(notifier))) else {
            // Sent by the previous run (from the state file) or evicted: nothing to show.
            return;
        };
        for key in keys {
            let Some(line) = book.lines.get_mut(&key) else {
                continue;
            };
            let found = line
                .entries
                .iter_mut()
                .rev()
                .flat_map(|e| e.deliveries.iter_mut())
                .find(|d| d.message == message && &*d.notifier == notifier);
            if let Some(d) = found {
                d.outcome = outcome;
                d.at = Some(at);
                d.error = error.clone();
            }
        }
    }

    /// Every incident line of `group` in `cluster`, by topic.
    pub fn group(&self, cluster: &str, group: &str) -> Vec<IncidentLine> {
        let book = self.lock();
        book.lines
            .range(IncidentKey::new(cluster, group, "")..)
            .take_while(|(k, _)| k.cluster == cluster && k.group == group)
            .map(|(k, line)| IncidentLine {
                topic: k.topic.clone(),
                dropped: line.dropped,
                entries: line.entries.iter().cloned().collect(),
            })
            .collect()
    }

    /// Entries held over all incidents (what this grows with).
    pub fn entries_held(&self) -> usize {
        self.lock().lines.values().map(|l| l.entries.len()).sum()
    }
}

/// One coordinator's handle on a timeline it may share with others (see
/// [`Timeline::scoped`]).
#[derive(Debug, Clone)]
pub struct Scoped {
    timeline: Arc<Timeline>,
    scope: u64,
}

impl Scoped {
    /// The timeline recorded into.
    pub fn timeline(&self) -> &Arc<Timeline> {
        &self.timeline
    }

    /// As [`Timeline::queued`].
    pub fn queued(&self, notifier: &str, message: u64, changes: &[Transition], at: f64) {
        self.timeline
            .queued_in(notifier, (self.scope, message), changes, at);
    }

    /// As [`Timeline::delivered`].
    pub fn delivered(
        &self,
        notifier: &str,
        message: u64,
        result: Result<(), &DeliveryError>,
        at: f64,
    ) {
        self.timeline
            .delivered_in(notifier, (self.scope, message), result, at);
    }
}

/// Adds `t` to `line`: merged with the same change seen by another notifier in the same
/// poll, folded into the previous reminder of the same status, or appended.
fn add(line: &mut Line, t: &Transition, notifier: &Arc<str>, message: Msg, at: f64) {
    let delivery = Delivery {
        notifier: notifier.clone(),
        outcome: Outcome::Queued,
        at: None,
        error: None,
        message,
    };
    line.last = at;
    if let Some(e) = line.entries.back_mut() {
        let same = e.change == t.change && e.status == t.status && e.previous == t.previous;
        if same && e.at == at {
            e.deliveries.retain(|d| d.notifier != *notifier);
            e.deliveries.push(delivery);
            return;
        }
        if same && t.change == Change::Reminder {
            e.at = at;
            e.repeats += 1;
            e.deliveries = vec![delivery];
            return;
        }
    }
    if line.entries.len() == ENTRIES_PER_INCIDENT {
        line.entries.pop_front();
        line.dropped += 1;
    }
    line.entries.push_back(Entry {
        at,
        change: t.change,
        status: t.status,
        previous: t.previous,
        repeats: 0,
        deliveries: vec![delivery],
    });
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests;
