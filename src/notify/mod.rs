//! Alerting: the coordinator turns each new [`ClusterView`] into incident changes
//! ([`incident`]), one message per notifier per poll ([`alert`], [`format`]), and hands it to
//! that notifier's worker ([`worker`]) through a bounded queue, so polling never waits on a
//! webhook and a dead notifier does not stop the others. Incidents and undelivered messages
//! persist in a state file ([`state_file`]).

pub mod actions;
pub mod alert;
mod automation;
pub mod collapse;
pub mod coordination;
pub mod deliver;
pub mod format;
pub mod incident;
mod lead;
pub mod route;
pub mod runner;
pub mod sample;
pub mod silence;
mod silencer;
pub mod sinks;
pub mod state_file;
pub mod timeline;
mod worker;

use crate::config::{Filter, NotifierConfig, RulesConfig, Severity};
use crate::metrics::{Metrics, NotifierLabel, NotifyLabels};
use crate::snapshot::GroupSource;
use crate::view::{ClusterView, Reason, Status};
use deliver::{DeliveryError, RetryPolicy};
use incident::{IncidentKey, Observed, Policy};
pub use silencer::{ChangeError, Silences};
use state_file::{Book, NotifierBook, Pending};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Why the notifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A notifier's sink could not be built.
    #[error("notifier `{notifier}`: {source}")]
    Sink {
        /// Notifier name.
        notifier: String,
        /// The cause (never contains the URL).
        source: DeliveryError,
    },
}

/// Knobs that are not in the config file (tests shorten them).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Retries of one message.
    pub retry: RetryPolicy,
    /// The timeline to record into, shared with other coordinators (with
    /// `shard_clusters`, one per cluster: the page shows them together); None: its own.
    pub timeline: Option<Arc<timeline::Timeline>>,
}

/// One notifier as the coordinator sees it.
struct Target {
    name: String,
    groups: Filter,
    topics: Filter,
    policy: Policy,
    queue_size: usize,
    /// Only incidents with one of these reasons; empty = all.
    reasons: Vec<Reason>,
}

/// What the coordinator and the workers share.
struct Shared {
    book: Mutex<Book>,
    path: Option<PathBuf>,
    metrics: Arc<Metrics>,
    timeline: timeline::Scoped,
    /// With coordination: who may send, and what is safely in the state topic.
    gate: Arc<lead::Gate>,
    /// This coordinator's id in the backlog gauges.
    part: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Book> {
        // A panic elsewhere must not silence alerting: the data is still consistent per call.
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Persists while the caller holds the lock, so writes never interleave.
    fn save(&self, book: &Book) {
        if self.gate.save(book) {
            return;
        }
        if let Some(p) = &self.path {
            if let Err(e) = state_file::save(p, book) {
                tracing::warn!("notification state not saved: {e}");
            }
        }
    }

    fn count(&self, notifier: &str, outcome: &str) {
        self.metrics
            .notifications
            .get_or_create(&NotifyLabels {
                notifier: notifier.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The backlog: its length and when its oldest message was made.
    fn queue_gauge(&self, notifier: &str, pending: &std::collections::VecDeque<Pending>) {
        let label = NotifierLabel {
            notifier: notifier.to_owned(),
        };
        let oldest = pending.iter().map(|p| p.batch.at).reduce(f64::min);
        let (len, oldest) = self
            .metrics
            .backlog
            .set(notifier, self.part, pending.len(), oldest);
        self.metrics
            .queue_length
            .get_or_create(&label)
            .set(len as i64);
        match oldest {
            Some(at) => {
                self.metrics.oldest_pending.get_or_create(&label).set(at);
            }
            None => {
                self.metrics.oldest_pending.remove(&label);
            }
        }
    }
}

/// The incident coordinator and its delivery workers.
pub struct Coordinator {
    rules: RulesConfig,
    targets: Vec<Target>,
    actions: Vec<automation::ActionTarget>,
    wakes: Vec<Arc<Notify>>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.targets.iter().map(|t| t.name.as_str()).collect();
        f.debug_struct("Coordinator")
            .field("notifiers", &names)
            .finish_non_exhaustive()
    }
}

impl Coordinator {
    /// Loads the state file from `state_dir` and starts one delivery worker per notifier;
    /// messages left pending by the last run are delivered first.
    pub fn start(
        notifiers: &[NotifierConfig],
        rules: RulesConfig,
        state_dir: Option<&Path>,
        metrics: Arc<Metrics>,
        opts: Options,
    ) -> Result<Coordinator, NotifyError> {
        Self::resume(notifiers, rules, state_dir, metrics, opts, None, None)
    }

    /// As [`Coordinator::start`], continuing from `carried` (what the previous
    /// coordinator's [`Coordinator::shutdown`] returned, on a reload) instead of the state
    /// file: incidents and pending messages survive a reload even without `state_dir`.
    /// With `gate` (coordination) the state is the state topic's, read when leading.
    pub fn resume(
        notifiers: &[NotifierConfig],
        rules: RulesConfig,
        state_dir: Option<&Path>,
        metrics: Arc<Metrics>,
        opts: Options,
        carried: Option<Book>,
        gate: Option<Arc<Gate>>,
    ) -> Result<Coordinator, NotifyError> {
        let path = state_dir.map(state_file::path);
        let mut book = match carried {
            Some(b) => b,
            None => path
                .as_deref()
                .map(lead::load_or_set_aside)
                .unwrap_or_default(),
        };
        book.version = state_file::VERSION;
        // Notifiers removed from the config take their incidents with them.
        book.notifiers
            .retain(|name, _| notifiers.iter().any(|n| &n.name == name));
        let mut sinks = Vec::with_capacity(notifiers.len());
        for n in notifiers {
            let sink = deliver::sink(n).map_err(|source| NotifyError::Sink {
                notifier: n.name.clone(),
                source,
            })?;
            sinks.push(sink);
            book.notifiers.entry(n.name.clone()).or_default();
        }
        let part = crate::metrics::backlog::new_part();
        let shared = Arc::new(Shared {
            book: Mutex::new(book),
            path,
            metrics,
            timeline: opts.timeline.unwrap_or_default().scoped(part),
            gate: gate.unwrap_or_default(),
            part,
        });
        let (stop, stop_rx) = watch::channel(false);
        let mut targets = Vec::new();
        let mut wakes = Vec::new();
        let mut workers = Vec::new();
        for (n, sink) in notifiers.iter().zip(sinks) {
            let pending = shared
                .lock()
                .notifiers
                .get(&n.name)
                .map(|b| b.pending.clone())
                .unwrap_or_default();
            shared.queue_gauge(&n.name, &pending);
            shared.metrics.prime_notifier(&n.name);
            let wake = Arc::new(Notify::new());
            workers.push(tokio::spawn(worker::run(
                worker::Worker {
                    name: n.name.clone(),
                    sink,
                    retry: opts.retry,
                    shared: shared.clone(),
                    wake: wake.clone(),
                },
                stop_rx.clone(),
            )));
            wakes.push(wake);
            targets.push(Target {
                name: n.name.clone(),
                groups: n.groups.clone(),
                topics: n.topics.clone(),
                policy: Policy {
                    min_status: match n.min_severity {
                        Severity::Warning => Status::Warning,
                        Severity::Critical => Status::Critical,
                    },
                    repeat_interval: route::repeat_interval(n).as_secs_f64(),
                },
                queue_size: n.queue_size.max(1),
                reasons: route::reasons(&n.reasons),
            });
        }
        Ok(Coordinator {
            rules,
            targets,
            actions: Vec::new(),
            wakes,
            shared,
            stop,
            workers,
        })
    }

    /// Adds the actions run on incident transitions; the state file's records of actions
    /// no longer configured are dropped.
    pub fn with_actions(mut self, actions: &[crate::config::ActionConfig]) -> Coordinator {
        self.actions = automation::targets(actions);
        let names = automation::names(&self.actions);
        self.shared.lock().actions.retain(|n, _| names.contains(n));
        for n in &names {
            self.shared.metrics.prime_action(n);
        }
        self
    }

    /// Takes one poll's view at `now`: updates incidents and queues at most one message per
    /// notifier. Never waits on the network (the workers deliver).
    pub fn observe(&self, view: &ClusterView, now: f64) {
        // A follower keeps no incidents: it takes the leader's from the state topic when
        // it leads.
        if !self.shared.gate.leading() {
            return;
        }
        let mut book = self.shared.lock();
        let before = book.silences.len();
        book.silences.retain(|s| s.ends_at > now);
        let mut dirty = book.silences.len() != before;
        // With shard_clusters the silences are every replica's, not this cluster's book's.
        let silences = match self.shared.gate.shared_silences() {
            Some(shared) => shared.active(now),
            None => book.silences.clone(),
        };
        let mut woken = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            let (statuses, settling) = statuses_for(view, &t.groups, &t.topics, &t.reasons);
            let obs = Observed {
                cluster: &view.cluster,
                up: view.up,
                complete: !view.partial,
                statuses: &statuses,
                settling: &settling,
            };
            let next_id = book.next_id;
            let nb: &mut NotifierBook = book.notifiers.entry(t.name.clone()).or_default();
            let was = nb.incidents.silenced_keys();
            let changes = nb.incidents.step(obs, t.policy, now);
            // Held-back changes still change incidents: they must reach the state file.
            dirty |= !changes.is_empty();
            let changes =
                silencer::hold_back(changes, &mut nb.incidents, &was, &silences, view, now);
            let Some(batch) = alert::batch(view, &changes, &self.rules, now) else {
                continue;
            };
            dirty = true;
            // Nothing is dropped: a full queue folds the news into the newest queued message
            // of the cluster, so the queue holds at most max(queue_size, clusters + 1).
            if let Some(batch) = collapse::fold_into_queue(&mut nb.pending, batch, t.queue_size) {
                nb.pending.push_back(Pending { id: next_id, batch });
                self.shared.timeline.queued(&t.name, next_id, &changes, now);
                book.next_id += 1;
            }
            let nb = book.notifiers.entry(t.name.clone()).or_default();
            self.shared.queue_gauge(&t.name, &nb.pending);
            woken.push(i);
        }
        // Recorded and saved before they start: each transition runs at most once.
        let step = automation::step(&self.actions, &mut book, &silences, view, &self.rules, now);
        for (action, n) in &step.silenced {
            tracing::info!(action = %action, held = n, "action held back by a silence");
            self.shared
                .metrics
                .action_runs(action, "silenced", *n as u64);
        }
        let jobs = step.jobs;
        if dirty || !jobs.is_empty() || !step.silenced.is_empty() {
            self.shared.save(&book);
        }
        drop(book);
        for i in woken {
            self.wakes[i].notify_one();
        }
        for job in jobs {
            tokio::spawn(runner::execute(job, self.shared.metrics.clone()));
        }
    }

    /// The silences (for the HTTP API).
    pub fn silences(&self) -> Silences {
        Silences::in_book(self.shared.clone())
    }

    /// Each incident's recent changes and delivery outcomes (for the web page).
    pub fn timeline(&self) -> Arc<timeline::Timeline> {
        self.shared.timeline.timeline().clone()
    }

    /// Messages not yet delivered, over all notifiers.
    pub fn pending(&self) -> usize {
        self.shared
            .lock()
            .notifiers
            .values()
            .map(|n| n.pending.len())
            .sum()
    }

    /// Open incidents of one notifier.
    pub fn open_incidents(&self, notifier: &str) -> usize {
        self.shared
            .lock()
            .notifiers
            .get(notifier)
            .map_or(0, |n| n.incidents.len())
    }

    /// Lets the workers deliver what is queued for up to `timeout`, then stops them; what is
    /// still undelivered stays in the state file for the next start. Returns the book
    /// (incidents, undelivered messages) for [`Coordinator::resume`].
    pub async fn shutdown(self, timeout: Duration) -> Book {
        let _ = self.stop.send(true);
        let mut workers = self.workers;
        let all = futures::future::join_all(workers.iter_mut());
        if tokio::time::timeout(timeout, all).await.is_err() {
            for w in &workers {
                w.abort();
            }
            let left = self
                .shared
                .lock()
                .notifiers
                .values()
                .map(|n| n.pending.len())
                .sum::<usize>();
            tracing::warn!(
                pending = left,
                "shutdown timeout: undelivered notifications kept for the next start"
            );
        }
        let book = self.shared.lock();
        self.shared.save(&book);
        book.clone()
    }
}

pub use lead::{run, Gate};

/// The statuses a notifier watches in `view`: per group×topic, and per group (topic "")
/// for what is about the group itself: a group with no topic (e.g. nothing committed) and
/// a group whose own source fails. Second: the keys whose status is still settling.
fn statuses_for(
    view: &ClusterView,
    groups: &Filter,
    topics: &Filter,
    reasons: &[Reason],
) -> (BTreeMap<IncidentKey, Status>, BTreeSet<IncidentKey>) {
    let mut out = BTreeMap::new();
    let mut settling = BTreeSet::new();
    for g in view.groups.iter().filter(|g| groups.matches(&g.group)) {
        let group_status = if g.topics.is_empty() {
            g.status
        } else {
            g.source_status
        };
        // Always present for Spark queries, so a recovered checkpoint resolves its incident
        // instead of reading as a group gone.
        let group_status = route::routed(group_status, &g.reasons, reasons);
        if group_status != Status::Ok || g.source == GroupSource::Spark {
            let key = IncidentKey::new(&view.cluster, &g.group, "");
            if g.settling {
                settling.insert(key.clone());
            }
            out.insert(key, group_status);
        }
        for gt in g.topics.iter().filter(|gt| topics.matches(&gt.topic)) {
            let key = IncidentKey::new(&view.cluster, &g.group, &gt.topic);
            if gt.settling {
                settling.insert(key.clone());
            }
            out.insert(key, route::routed(gt.status, &gt.reasons, reasons));
        }
    }
    (out, settling)
}
