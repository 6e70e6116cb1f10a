//! Who sends, with `coordination:`: the replica holding partition 0 of the state topic.
//! The [`Gate`] holds the sending back on followers and holds each message back until the
//! book announcing it is acked by the state topic; [`run`] feeds views and hands the role
//! over: a new leader reads the state topic to its end before it observes or sends.
//!
//! Duplicates are bounded: a message leaves the queue (and the state topic) only after its
//! delivery. A leader dying between a delivery and the next state write leaves that
//! message queued, and the next leader sends it once more: per notifier only the front
//! message is ever in flight, so a leader change repeats at most one message per notifier.

use super::coordination::silences::SharedSilences;
use super::coordination::store::KafkaStore;
use super::state_file::{self, Book};
use super::{automation, Coordinator};
use crate::view::ClusterView;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};

/// What may be sent and written. Without a store (one replica) everything may, as before.
/// With one, a replica starts following; [`run`] opens it once the state topic is read,
/// and [`Gate::hand_over`] closes it when the group takes the role away.
#[derive(Default)]
pub struct Gate {
    store: Option<Arc<KafkaStore>>,
    role: Mutex<Role>,
    following: AtomicBool,
    writes_closed: AtomicBool,
    in_flight: AtomicUsize,
    /// Messages with an id below this are in the state topic.
    durable_next: AtomicU64,
    /// How long the group member's last sign of life lets this replica send (see
    /// [`Gate::renew`]); zero without a store.
    lease: Duration,
    renewed: Mutex<Option<Instant>>,
    /// With `shard_clusters`: the silences shared by every replica, read to the end of
    /// the state topic before the gate opens.
    silences: Option<Arc<SharedSilences>>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("leading", &self.leading())
            .finish_non_exhaustive()
    }
}

/// What the group last said, so the notifier opens the gate only for the grant it read
/// the state topic under.
#[derive(Default)]
struct Role {
    granted: bool,
    /// Grants so far.
    epoch: u64,
}

/// One delivery under way; dropped once its outcome is in the book.
pub(super) struct InFlight<'a>(&'a Gate);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    /// A closed gate over `store`: nothing is sent or written before [`run`] has read the
    /// state topic as leader. Sending also needs the group member to have run within
    /// `lease` (see [`Gate::renew`]).
    pub fn coordinated(store: Arc<KafkaStore>, lease: Duration) -> Gate {
        Gate {
            store: Some(store),
            following: AtomicBool::new(true),
            writes_closed: AtomicBool::new(true),
            lease,
            ..Gate::default()
        }
    }

    /// The same gate, holding changes back with the silences every replica shares
    /// instead of those in the book.
    pub fn with_silences(mut self, silences: Arc<SharedSilences>) -> Gate {
        self.silences = Some(silences);
        self
    }

    /// The shared silences, with `shard_clusters`.
    pub(super) fn shared_silences(&self) -> Option<&Arc<SharedSilences>> {
        self.silences.as_ref()
    }

    /// The group member ran at `at` (taken before it looked at anything): deliveries may
    /// start until `at + lease`. A process paused past that (a frozen VM, SIGSTOP) sends
    /// nothing when it wakes until its member has run again and seen the pause.
    pub fn renew(&self, at: Instant) {
        *self.renewed.lock().unwrap_or_else(|p| p.into_inner()) = Some(at);
    }

    fn lease_holds(&self, now: Instant) -> bool {
        let renewed = *self.renewed.lock().unwrap_or_else(|p| p.into_inner());
        lease_holds(renewed, now, self.lease)
    }

    /// Closes the gate at once, without waiting for a delivery under way: the group
    /// member did not run for a whole lease, so another replica may lead by now. True when
    /// this replica had the role (it must then rejoin the group to get it back).
    pub fn suspend(&self) -> bool {
        if self.store.is_none() {
            return false;
        }
        let was = std::mem::take(&mut self.role().granted);
        let leading = !self.following.swap(true, Ordering::AcqRel);
        self.writes_closed.store(true, Ordering::Release);
        if leading {
            tracing::warn!("coordination: the group member was paused for a lease or more; not sending until the group confirms the role");
        }
        was || leading
    }

    /// True on a single replica, and on the leader once it has read the state topic.
    pub(super) fn leading(&self) -> bool {
        !self.following.load(Ordering::Acquire)
    }

    fn role(&self) -> std::sync::MutexGuard<'_, Role> {
        self.role.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The group gave this replica the role; [`run`] reads the state topic and opens.
    pub fn grant(&self) {
        let mut r = self.role();
        if !r.granted {
            r.granted = true;
            r.epoch += 1;
        }
    }

    fn granted_epoch(&self) -> Option<u64> {
        let r = self.role();
        r.granted.then_some(r.epoch)
    }

    /// Opens the gate if the grant `epoch` still holds: a hand-over (and a later grant)
    /// since the state topic was read keeps it closed.
    fn open(&self, epoch: u64) -> bool {
        let r = self.role();
        if !(r.granted && r.epoch == epoch) {
            return false;
        }
        self.writes_closed.store(false, Ordering::Release);
        self.following.store(false, Ordering::Release);
        true
    }

    /// Stops new deliveries, waits up to `wait` for those under way to reach the book (so
    /// the successor does not send them again), then stops writing. Blocks: the group
    /// member calls it from its rebalance callback, before the role can move.
    pub fn hand_over(&self, wait: Duration) {
        if self.store.is_none() {
            return;
        }
        let was = {
            let mut r = self.role();
            r.granted = false;
            self.following.swap(true, Ordering::AcqRel)
        };
        let deadline = std::time::Instant::now() + wait;
        while self.in_flight.load(Ordering::Acquire) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.writes_closed.store(true, Ordering::Release);
        if let (false, Some(store)) = (was, &self.store) {
            // The key says which state: `book`, or one cluster's with shard_clusters.
            tracing::info!(
                state = store.key(),
                "coordination: following, notifications are sent by another replica"
            );
        }
    }

    /// With a store, writes `book` to it (only while leading) and returns true: the state
    /// file is not used then.
    pub(super) fn save(&self, book: &Book) -> bool {
        let Some(store) = &self.store else {
            return false;
        };
        if self.writes_closed.load(Ordering::Acquire) {
            return true;
        }
        match blocking(|| store.save(book)) {
            Ok(()) => self.durable_next.store(book.next_id, Ordering::Release),
            Err(e) => tracing::warn!("incident state not written, sending held back: {e}"),
        }
        true
    }

    fn may_send(&self, id: u64) -> bool {
        self.leading()
            && (self.store.is_none()
                || (id < self.durable_next.load(Ordering::Acquire)
                    && self.lease_holds(Instant::now())))
    }

    /// Message `id` may be sent now: the guard lasts until its outcome is in the book.
    pub(super) fn begin(&self, id: u64) -> Option<InFlight<'_>> {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = InFlight(self);
        // Checked after counting, so a hand-over either sees this delivery or stops it.
        self.may_send(id).then_some(guard)
    }

    /// Whether the message is held back only because its state write has not been acked
    /// yet (the worker writes again).
    pub(super) fn unwritten(&self, id: u64) -> bool {
        self.leading() && self.store.is_some() && id >= self.durable_next.load(Ordering::Acquire)
    }
}

/// Whether a sign of life at `renewed` still lets a delivery start at `now`.
fn lease_holds(renewed: Option<Instant>, now: Instant, lease: Duration) -> bool {
    renewed.is_some_and(|at| now.saturating_duration_since(at) < lease)
}

/// Runs a call that waits on the network while the book lock is held: on a multi-thread
/// runtime the other tasks (polls, scrapes) move to other threads meanwhile.
pub(super) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl Coordinator {
    /// Takes over `book` (read from the state topic under grant `epoch`) and leads if
    /// that grant still holds.
    fn adopt(&self, mut book: Book, epoch: u64) {
        book.version = state_file::VERSION;
        book.notifiers
            .retain(|name, _| self.targets.iter().any(|t| &t.name == name));
        for t in &self.targets {
            book.notifiers.entry(t.name.clone()).or_default();
        }
        let names = automation::names(&self.actions);
        book.actions.retain(|n, _| names.contains(n));
        let mut b = self.shared.lock();
        *b = book;
        let gate = &self.shared.gate;
        gate.durable_next.store(b.next_id, Ordering::Release);
        let mut open = 0;
        let mut pending = 0;
        for t in &self.targets {
            if let Some(nb) = b.notifiers.get(&t.name) {
                open += nb.incidents.len();
                pending += nb.pending.len();
                self.shared.queue_gauge(&t.name, &nb.pending);
            }
        }
        if !gate.open(epoch) {
            return;
        }
        drop(b);
        tracing::info!(
            state = gate.store.as_ref().map_or("", |s| s.key()),
            open_incidents = open,
            undelivered = pending,
            "coordination: leading, state read from the state topic"
        );
        for w in &self.wakes {
            w.notify_one();
        }
    }

    fn demote(&self) {
        // The group member has closed the gate already (in its rebalance callback).
        // The backlog is the leader's now: summed over replicas it must count once.
        for t in &self.targets {
            self.shared
                .queue_gauge(&t.name, &std::collections::VecDeque::new());
        }
    }

    /// Reads the state topic until it succeeds, the grant is gone or `stop`.
    async fn promote(&self, stop: &watch::Receiver<bool>) {
        let gate = &self.shared.gate;
        let Some(store) = gate.store.clone() else {
            return;
        };
        while !*stop.borrow() {
            let Some(epoch) = gate.granted_epoch() else {
                return;
            };
            let s = store.clone();
            let silences = gate.silences.clone();
            // The shared silences too: a change they cover must not go out.
            let read = move || {
                let book = s.load()?;
                silences.as_deref().map_or(Ok(()), SharedSilences::sync)?;
                Ok::<_, super::coordination::store::StoreError>(book)
            };
            match tokio::task::spawn_blocking(read).await {
                Ok(Ok(book)) => return self.adopt(book, epoch),
                Ok(Err(e)) => tracing::warn!("coordination: not leading yet: {e}"),
                Err(e) => tracing::warn!("coordination: reading the state topic failed: {e}"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

enum Event {
    View(Result<Arc<ClusterView>, broadcast::error::RecvError>),
    Leader(Option<bool>),
    Stop,
}

async fn leader_changed(rx: &mut Option<watch::Receiver<bool>>) -> Option<bool> {
    match rx {
        Some(r) => match r.changed().await {
            Ok(()) => Some(*r.borrow_and_update()),
            Err(_) => None,
        },
        None => std::future::pending().await,
    }
}

/// Feeds every new view (with `only`, that cluster's) to the coordinator until `stop`,
/// then shuts it down within `timeout`. With `leader` (coordination), it leads only while
/// that says so.
pub async fn run(
    coordinator: Coordinator,
    mut views: broadcast::Receiver<Arc<ClusterView>>,
    mut stop: watch::Receiver<bool>,
    timeout: Duration,
    mut leader: Option<watch::Receiver<bool>>,
    only: Option<String>,
) -> Book {
    if let Some(l) = &mut leader {
        if *l.borrow_and_update() {
            coordinator.promote(&stop).await;
        }
    }
    loop {
        let event = tokio::select! {
            v = views.recv() => Event::View(v),
            l = leader_changed(&mut leader) => Event::Leader(l),
            r = stop.changed() => if r.is_err() || *stop.borrow() { Event::Stop } else { continue },
        };
        match event {
            Event::View(Ok(view)) => {
                if only.as_ref().is_none_or(|c| *c == view.cluster) {
                    coordinator.observe(&view, crate::runtime::now());
                }
            }
            Event::View(Err(broadcast::error::RecvError::Lagged(n))) => {
                // The next view carries the current statuses; nothing is lost for good.
                tracing::warn!(skipped = n, "notifier fell behind the pollers");
            }
            Event::View(Err(broadcast::error::RecvError::Closed)) | Event::Stop => break,
            Event::Leader(Some(true)) => coordinator.promote(&stop).await,
            Event::Leader(Some(false)) => coordinator.demote(),
            Event::Leader(None) => {
                // The membership ended (shutdown or a failed start): no longer leading.
                coordinator.demote();
                leader = None;
            }
        }
    }
    coordinator.shutdown(timeout).await
}

/// A broken state file must not stop alerting: keep it aside and start empty.
pub(super) fn load_or_set_aside(path: &Path) -> Book {
    match state_file::load(path) {
        Ok(b) => b,
        Err(e) => {
            let kept = state_file::set_aside(path)
                .map(|p| format!("; kept as {}", p.display()))
                .unwrap_or_default();
            tracing::warn!("{e}{kept}; starting with no open incidents");
            Book::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lease_holds;
    use std::time::{Duration, Instant};

    #[test]
    fn a_delivery_starts_only_within_the_lease() {
        let t = Instant::now();
        let lease = Duration::from_secs(3);
        // (renewed, now, holds, why)
        let cases = [
            (
                None,
                t,
                false,
                "the member has not run yet: no lease at all",
            ),
            (Some(t), t, true, "just renewed"),
            (
                Some(t),
                t + Duration::from_millis(2999),
                true,
                "inside the lease",
            ),
            (
                Some(t),
                t + lease,
                false,
                "a whole lease without a sign of life",
            ),
            (
                Some(t),
                t + Duration::from_secs(60),
                false,
                "a process paused for a minute",
            ),
            (
                Some(t + Duration::from_secs(1)),
                t,
                true,
                "renewed after `now` was read",
            ),
        ];
        for (renewed, now, holds, why) in cases {
            assert_eq!(lease_holds(renewed, now, lease), holds, "{why}");
        }
    }
}
