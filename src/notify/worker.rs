//! One delivery worker per notifier: takes the oldest pending message, delivers it with
//! retries, then removes it and records the outcome.

use super::deliver::{self, RetryPolicy, Sink};
use super::state_file::Pending;
use super::Shared;
use std::sync::Arc;
use tokio::sync::{watch, Notify};

/// What a worker owns.
pub(super) struct Worker {
    pub name: String,
    pub sink: Box<dyn Sink>,
    pub retry: RetryPolicy,
    pub shared: Arc<Shared>,
    pub wake: Arc<Notify>,
}

/// Delivers until stopped and the queue is empty.
pub(super) async fn run(w: Worker, mut stop: watch::Receiver<bool>) {
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
        // The message stays queued (and persisted) while it is being sent: a crash or a
        // shutdown mid-delivery sends it again after the restart rather than losing it.
        let res = deliver::deliver(w.sink.as_ref(), &p.batch, &w.retry, |e| {
            w.shared.count(&w.name, "retried");
            tracing::debug!(notifier = %w.name, "delivery attempt failed, retrying: {e}");
        })
        .await;
        let at = crate::runtime::now();
        w.shared
            .timeline
            .delivered(&w.name, p.id, res.as_ref().copied(), at);
        match res {
            Ok(()) => w.shared.count(&w.name, "sent"),
            Err(e) => {
                w.shared.count(&w.name, "failed");
                tracing::warn!(notifier = %w.name, "notification not delivered: {e}");
            }
        }
        let mut book = w.shared.lock();
        if let Some(n) = book.notifiers.get_mut(&w.name) {
            // By id: the queue may have dropped this message as the oldest meanwhile.
            n.pending.retain(|q| q.id != p.id);
            let len = n.pending.len();
            w.shared.queue_gauge(&w.name, len);
        }
        w.shared.save(&book);
    }
}
