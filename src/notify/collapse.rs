//! Collapsing queued messages when a notifier's queue is full, so an outage of the chat
//! service never drops an incident's opening or resolution: a later message about the
//! same group×topic supersedes an earlier one ("opened" then "resolved" becomes one
//! "resolved, was critical for X"), and messages about different incidents are joined.

use super::alert::{Alert, Batch};
use super::incident::Change;
use super::state_file::Pending;
use std::collections::VecDeque;

/// Whether `change` ends an incident for this notifier.
fn closes(change: Change) -> bool {
    matches!(
        change,
        Change::Resolved | Change::Gone | Change::BelowMinSeverity
    )
}

/// `later` folded into `earlier` about the same group×topic, or None when both must be
/// said (an incident resolved, then a new one opened).
fn supersede(earlier: &Alert, later: &Alert) -> Option<Alert> {
    if closes(earlier.change) && !closes(later.change) {
        return None;
    }
    let mut out = later.clone();
    if closes(later.change) {
        // "was critical for X": the worst status the incident reached, since its opening.
        out.previous = [earlier.previous, Some(earlier.status), later.previous]
            .into_iter()
            .flatten()
            .filter(|s| *s != crate::view::Status::Ok)
            .max();
        out.opened_at = earlier.opened_at;
    } else if earlier.change == Change::Opened {
        // The opening was never delivered: it is still the news, with the latest numbers.
        out.change = Change::Opened;
        out.previous = None;
        out.opened_at = earlier.opened_at;
    }
    Some(out)
}

/// Folds `later` into `into` (same cluster): the result says everything both said.
pub fn merge(into: &mut Batch, later: Batch) {
    for a in later.alerts {
        let same = into
            .alerts
            .iter()
            .rposition(|b| b.group == a.group && b.topic == a.topic);
        match same.and_then(|i| supersede(&into.alerts[i], &a).map(|m| (i, m))) {
            Some((i, m)) => into.alerts[i] = m,
            None => into.alerts.push(a),
        }
    }
    into.at = into.at.max(later.at);
    into.alerts.sort_by(|a, b| {
        b.status
            .cmp(&a.status)
            .then_with(|| a.group.cmp(&b.group))
            .then_with(|| a.topic.cmp(&b.topic))
    });
}

/// Makes room for `batch` in a queue holding `limit` messages. The front message may be
/// in flight and is never touched. Returns whether the batch was folded into a queued
/// one (then it must not be queued itself); otherwise the caller queues it and, if the
/// queue is still over `limit`, the oldest messages of other clusters are joined first.
pub fn fold_into_queue(queue: &mut VecDeque<Pending>, batch: Batch, limit: usize) -> Option<Batch> {
    if queue.len() < limit {
        return Some(batch);
    }
    // The newest queued message of the same cluster, never the one in flight.
    if let Some(p) = queue
        .iter_mut()
        .skip(1)
        .rev()
        .find(|p| p.batch.cluster == batch.cluster)
    {
        merge(&mut p.batch, batch);
        return None;
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::alert::sample;
    use crate::view::Status;

    fn alert(
        group: &str,
        change: Change,
        status: Status,
        previous: Option<Status>,
        at: f64,
    ) -> Batch {
        let mut b = sample("prod", at);
        let a = &mut b.alerts[0];
        a.group = group.into();
        a.change = change;
        a.status = status;
        a.previous = previous;
        a.opened_at = at;
        b
    }

    #[test]
    fn later_news_supersedes_earlier_news_about_the_same_incident() {
        use Change::*;
        use Status::*;
        for (first, then, want_change, want_status, want_prev, want_opened, why) in [
            (
                (Opened, Critical, None),
                (Resolved, Ok, Some(Warning)),
                Resolved,
                Ok,
                Some(Critical),
                100.0,
                "opened then resolved: one resolution that says how bad it was and since when",
            ),
            (
                (Opened, Warning, None),
                (Escalated, Critical, Some(Warning)),
                Opened,
                Critical,
                None,
                100.0,
                "an undelivered opening stays an opening, at the latest severity",
            ),
            (
                (Escalated, Critical, Some(Warning)),
                (Deescalated, Warning, Some(Critical)),
                Deescalated,
                Warning,
                Some(Critical),
                200.0,
                "no opening queued: the latest change stands",
            ),
        ] {
            let mut b = alert("g", first.0, first.1, first.2, 100.0);
            merge(&mut b, alert("g", then.0, then.1, then.2, 200.0));
            assert_eq!(b.alerts.len(), 1, "{why}");
            let a = &b.alerts[0];
            assert_eq!(
                (a.change, a.status, a.previous, a.opened_at),
                (want_change, want_status, want_prev, want_opened),
                "{why}"
            );
            assert_eq!(b.at, 200.0, "{why}");
        }
    }

    #[test]
    fn a_resolution_then_a_new_opening_are_both_kept_and_other_incidents_are_joined() {
        let mut b = alert(
            "g",
            Change::Resolved,
            Status::Ok,
            Some(Status::Critical),
            100.0,
        );
        merge(
            &mut b,
            alert("g", Change::Opened, Status::Warning, None, 200.0),
        );
        merge(
            &mut b,
            alert("h", Change::Opened, Status::Critical, None, 300.0),
        );
        let got: Vec<(&str, Change)> = b
            .alerts
            .iter()
            .map(|a| (a.group.as_str(), a.change))
            .collect();
        assert_eq!(
            got,
            [
                ("h", Change::Opened),
                ("g", Change::Opened),
                ("g", Change::Resolved)
            ]
        );
    }

    #[test]
    fn a_full_queue_folds_into_the_newest_queued_message_never_the_one_in_flight() {
        let mut q: VecDeque<Pending> = VecDeque::new();
        let b = fold_into_queue(
            &mut q,
            alert("a", Change::Opened, Status::Critical, None, 1.0),
            2,
        );
        q.push_back(Pending {
            id: 1,
            batch: b.unwrap(),
        });
        let b = fold_into_queue(
            &mut q,
            alert("b", Change::Opened, Status::Critical, None, 2.0),
            2,
        );
        q.push_back(Pending {
            id: 2,
            batch: b.unwrap(),
        });
        let left = fold_into_queue(
            &mut q,
            alert(
                "b",
                Change::Resolved,
                Status::Ok,
                Some(Status::Critical),
                3.0,
            ),
            2,
        );
        assert!(left.is_none(), "folded");
        assert_eq!(q.len(), 2);
        assert_eq!(
            q[0].batch.alerts[0].change,
            Change::Opened,
            "in flight, untouched"
        );
        assert_eq!(q[1].batch.alerts[0].change, Change::Resolved);
        let mut other = alert("x", Change::Opened, Status::Critical, None, 4.0);
        other.cluster = "other".into();
        assert!(
            fold_into_queue(&mut q, other, 2).is_some(),
            "another cluster cannot be folded"
        );
    }
}
