//! One delivery worker per notifier: takes the oldest pending message and sends it until it
//! is delivered. A transient failure (network, timeout, 5xx, 429) never drops a message:
//! it stays queued (and persisted) and is retried with capped backoff for as long as it
//! takes; only a final rejection (other 4xx: revoked webhook) removes it undelivered.

use super::deliver::{RetryPolicy, Sink};
use super::state_file::Pending;
use super::Shared;
use std::sync::Arc;
use tokio::sync::{watch, Notify};

/// How often a held-back message is looked at again.
const HELD_BACK_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

/// What a worker owns.
pub(super) struct Worker {
    pub name: String,
    pub sink: Box<dyn Sink>,
    pub retry: RetryPolicy,
    pub shared: Arc<Shared>,
    pub wake: Arc<Notify>,
}

/// Delivers until stopped and the queue is empty, or stopped and the sink is failing.
pub(super) async fn run(w: Worker, mut stop: watch::Receiver<bool>) {
    // Consecutive transient failures of this notifier (not of one message: a folded
    // message keeps its place at the back, the front keeps being retried).
    let mut failures: u32 = 0;
    loop {
        let next: Option<Pending> = w
            .shared
            .lock()
            .notifiers
            .get(&w.name)
            .and_then(|n| n.pending.front().cloned());
        let Some(p) = next else {
            if *stop.borrow() {
                break;
            }
            tokio::select! {
                _ = w.wake.notified() => {}
                r = stop.changed() => if r.is_err() { break },
            }
            continue;
        };
        let Some(in_flight) = w.shared.gate.begin(p.id) else {
            // A follower, or a leader whose state write is not acked yet: nothing leaves
            // before the state topic has it.
            if *stop.borrow() {
                break;
            }
            if w.shared.gate.unwritten(p.id) {
                let book = w.shared.lock();
                w.shared.save(&book);
            }
            tokio::select! {
                _ = tokio::time::sleep(HELD_BACK_RETRY) => {}
                _ = w.wake.notified() => {}
                r = stop.changed() => if r.is_err() { break },
            }
            continue;
        };
        // The message stays queued (and persisted) while it is being sent: a crash or a
        // shutdown mid-delivery sends it again after the restart rather than losing it.
        let err = match w.sink.send(&p.batch).await {
            Ok(()) => {
                w.shared.count(&w.name, "sent");
                let at = crate::runtime::now();
                w.shared.timeline.delivered(&w.name, p.id, Ok(()), at);
                if failures >= w.retry.max_attempts.max(1) {
                    tracing::info!(notifier = %w.name, "notifications delivered again");
                }
                failures = 0;
                remove(&w, p.id);
                continue;
            }
            Err(e) => e,
        };
        if !err.retryable() {
            w.shared.count(&w.name, "failed");
            let at = crate::runtime::now();
            w.shared.timeline.delivered(&w.name, p.id, Err(&err), at);
            tracing::warn!(notifier = %w.name, "notification not delivered: {err}");
            remove(&w, p.id);
            continue;
        }
        // Still queued: a hand-over need not wait for the backoff.
        drop(in_flight);
        failures = failures.saturating_add(1);
        w.shared.count(&w.name, "retried");
        if failures == w.retry.max_attempts.max(1) {
            // Once per outage, not per attempt.
            tracing::warn!(
                notifier = %w.name,
                "notifications not delivered yet, kept and retried until they are: {err}"
            );
        } else {
            tracing::debug!(notifier = %w.name, "delivery attempt failed, retrying: {err}");
        }
        if *stop.borrow() {
            // Shutting down with the sink failing: the queue stays in the state file.
            break;
        }
        let wait = w.retry.wait(failures - 1, &err, rand::random::<f64>());
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            r = stop.changed() => if r.is_err() { break },
        }
    }
}

/// Removes a finished message by id and updates the backlog metrics and the state file.
fn remove(w: &Worker, id: u64) {
    let mut book = w.shared.lock();
    if let Some(n) = book.notifiers.get_mut(&w.name) {
        n.pending.retain(|q| q.id != id);
        w.shared.queue_gauge(&w.name, &n.pending);
    }
    w.shared.save(&book);
}
