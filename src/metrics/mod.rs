//! Prometheus exposition: self-metrics as live families, everything else built at scrape
//! from the latest views so deleted groups and topics vanish with no stale series.

pub mod backlog;
mod collector;
pub mod compat;
mod details;
mod family;
mod retention;
mod spark;
mod stream;

pub use collector::ViewCollector;
pub use stream::{Chunk, CHUNK};

use crate::config::MetricsConfig;
use crate::snapshot::Stage;
use crate::state::AppState;
use prometheus_client::encoding::{text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};
use std::sync::Arc;

/// Every metric family name lagwatch can emit (dashboards and rules are linted against it).
pub use crate::config::METRIC_NAMES;

/// Label set `{cluster}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabel {
    /// Cluster name.
    pub cluster: String,
}

/// Label set `{cluster, stage}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    /// Cluster name.
    pub cluster: String,
    /// Poll stage.
    pub stage: String,
}

/// Label set `{cluster, api}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// Cluster name.
    pub cluster: String,
    /// Kafka API name (`Metadata`, `ConsumerGroupDescribe`, ...).
    pub api: String,
}

/// Every value of `lagwatch_notifications_total`'s `outcome` label.
pub const NOTIFY_OUTCOMES: [&str; 3] = ["sent", "failed", "retried"];

/// Label set `{notifier, outcome}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotifyLabels {
    /// Notifier name.
    pub notifier: String,
    /// sent | failed | retried (nothing is dropped: undelivered messages stay queued).
    pub outcome: String,
}

/// Every value of `lagwatch_actions_total`'s `outcome` label.
pub const ACTION_OUTCOMES: [&str; 6] = ["ok", "failed", "timeout", "error", "dry_run", "silenced"];

/// Label set `{action, outcome}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    /// Action name.
    pub action: String,
    /// ok | failed (non-zero exit) | timeout (killed) | error (could not start) | dry_run.
    pub outcome: String,
}

/// Label set `{notifier}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotifierLabel {
    /// Notifier name.
    pub notifier: String,
}

/// The exporter's own metrics plus the registry that renders everything.
pub struct Metrics {
    registry: Registry,
    /// Poll durations per cluster.
    pub poll_duration: Family<ClusterLabel, Histogram>,
    /// Poll errors per cluster and stage.
    pub poll_errors: Family<StageLabels, Counter>,
    /// Requests the batched protocol client got answers to, per cluster and API.
    pub kafka_requests: Family<ApiLabels, Counter>,
    /// Notification outcomes.
    pub notifications: Family<NotifyLabels, Counter>,
    /// Pending notifications per notifier.
    pub queue_length: Family<NotifierLabel, Gauge<i64, std::sync::atomic::AtomicI64>>,
    /// When the oldest undelivered notification was made, per notifier with a backlog
    /// (a timestamp, so its age is `time() - x` without a scrape-time clock here).
    pub oldest_pending: Family<NotifierLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Action runs per action and outcome.
    pub actions: Family<ActionLabels, Counter>,
    /// With `coordination:`: 1 on the replica that sends notifications.
    pub coordination_leader: Gauge,
    /// With `coordination:`: members of the coordination group.
    pub coordination_members: Gauge,
    /// With `coordination:`: 1 per cluster this replica polls.
    pub cluster_owned: Family<ClusterLabel, Gauge>,
    /// Each notify coordinator's part of the backlog gauges (several with
    /// `shard_clusters`), kept by the notifier.
    pub backlog: backlog::Parts,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Registers a self-metric unless `metrics.exclude` names it (`full` is its exposed name).
/// An excluded one is still counted, just never rendered, so the code that counts needs no
/// knowledge of the config.
fn register(
    registry: &mut Registry,
    cfg: &MetricsConfig,
    name: &str,
    full: &str,
    help: &str,
    metric: impl Metric,
) {
    if !cfg.excluded(full) {
        registry.register(name, help, metric);
    }
}

/// Poll duration buckets: from a fast loopback poll to a struggling large cluster.
const POLL_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

impl Metrics {
    /// Registers self-metrics and the view collector over `state`, every family at
    /// partition granularity.
    pub fn new(state: Arc<AppState>) -> Arc<Self> {
        Self::with_config(state, &MetricsConfig::default())
    }

    /// As [`Metrics::new`], emitting what the `metrics:` section asks for.
    pub fn with_config(state: Arc<AppState>, cfg: &MetricsConfig) -> Arc<Self> {
        Self::build(state, cfg, false)
    }

    /// As [`Metrics::with_config`] for a replica in a coordination group: adds the
    /// coordination families, every cluster owned (every replica polls every cluster).
    pub fn coordinated(state: Arc<AppState>, cfg: &MetricsConfig) -> Arc<Self> {
        Self::build(state, cfg, true)
    }

    fn build(state: Arc<AppState>, cfg: &MetricsConfig, coordinated: bool) -> Arc<Self> {
        let mut registry = Registry::default();
        let poll_duration = Family::<ClusterLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(POLL_BUCKETS)
        });
        register(
            &mut registry,
            cfg,
            "lagwatch_poll_duration_seconds",
            "lagwatch_poll_duration_seconds",
            "Duration of one poll of a cluster",
            poll_duration.clone(),
        );
        let poll_errors = Family::<StageLabels, Counter>::default();
        register(
            &mut registry,
            cfg,
            "lagwatch_poll_errors",
            "lagwatch_poll_errors_total",
            "Poll errors per cluster and stage",
            poll_errors.clone(),
        );
        let kafka_requests = Family::<ApiLabels, Counter>::default();
        register(
            &mut registry,
            cfg,
            "lagwatch_kafka_requests",
            "lagwatch_kafka_requests_total",
            "Requests the batched protocol client sent to the cluster and got answers to, per \
             Kafka API (librdkafka's requests are not counted)",
            kafka_requests.clone(),
        );
        let notifications = Family::<NotifyLabels, Counter>::default();
        register(
            &mut registry,
            cfg,
            "lagwatch_notifications",
            "lagwatch_notifications_total",
            "Notifications per notifier and outcome (sent, failed, retried)",
            notifications.clone(),
        );
        let queue_length =
            Family::<NotifierLabel, Gauge<i64, std::sync::atomic::AtomicI64>>::default();
        register(
            &mut registry,
            cfg,
            "lagwatch_notifier_queue_length",
            "lagwatch_notifier_queue_length",
            "Notifications waiting to be delivered per notifier",
            queue_length.clone(),
        );
        let oldest_pending =
            Family::<NotifierLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        register(
            &mut registry,
            cfg,
            "lagwatch_notifier_oldest_pending_timestamp_seconds",
            "lagwatch_notifier_oldest_pending_timestamp_seconds",
            "When the oldest undelivered notification of a notifier was made (Unix seconds)",
            oldest_pending.clone(),
        );
        let actions = Family::<ActionLabels, Counter>::default();
        registry.register(
            "lagwatch_actions",
            "Action runs per action and outcome (ok, failed, timeout, error, dry_run)",
            actions.clone(),
        );
        let info = prometheus_client::metrics::info::Info::new(vec![(
            "version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        )]);
        register(
            &mut registry,
            cfg,
            "lagwatch_build",
            "lagwatch_build_info",
            "lagwatch build information",
            info,
        );
        let coordination_leader = Gauge::default();
        let coordination_members = Gauge::default();
        let cluster_owned = Family::<ClusterLabel, Gauge>::default();
        if coordinated {
            for (name, help, g) in [
                (
                    "lagwatch_coordination_leader",
                    "1 on the replica that sends notifications and runs actions, else 0",
                    &coordination_leader,
                ),
                (
                    "lagwatch_coordination_members",
                    "Replicas in the coordination group, as this replica last saw it",
                    &coordination_members,
                ),
            ] {
                register(&mut registry, cfg, name, name, help, g.clone());
            }
            register(
                &mut registry,
                cfg,
                "lagwatch_cluster_owned",
                "lagwatch_cluster_owned",
                "1 for each cluster this replica polls",
                cluster_owned.clone(),
            );
            for cluster in state.snapshot().keys() {
                cluster_owned
                    .get_or_create(&ClusterLabel {
                        cluster: cluster.clone(),
                    })
                    .set(1);
            }
        }
        // Series whose labels the config already knows exist at 0 from the start, so
        // rate()/increase() see the first error or poll and panels do not read "No data".
        for cluster in state.snapshot().keys() {
            let _created = poll_duration.get_or_create(&ClusterLabel {
                cluster: cluster.clone(),
            });
            for stage in Stage::ALL {
                let _created = poll_errors.get_or_create(&StageLabels {
                    cluster: cluster.clone(),
                    stage: stage.as_str().to_owned(),
                });
            }
        }
        registry.register_collector(Box::new(ViewCollector::with_config(
            state,
            Arc::new(cfg.clone()),
        )));
        Arc::new(Metrics {
            registry,
            poll_duration,
            poll_errors,
            kafka_requests,
            notifications,
            queue_length,
            oldest_pending,
            actions,
            coordination_leader,
            coordination_members,
            cluster_owned,
            backlog: Default::default(),
        })
    }

    /// Renders all metrics into one string: OpenMetrics text when `openmetrics`, else
    /// classic text 0.0.4. /metrics serves [`Metrics::stream`]; this whole-body form is for
    /// tests, benchmarks and the reference the stream is checked against.
    pub fn render(&self, openmetrics: bool) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(64 * 1024);
        if openmetrics {
            text::encode(&mut out, &self.registry)?;
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        }
        Ok(stream::fix_inf(out))
    }

    /// The same bytes as [`Metrics::render`] as a stream of chunks of about [`CHUNK`] bytes,
    /// encoded on a blocking thread as the scraper reads, so the body never exists whole;
    /// with `gzip`, those bytes gzip-compressed. Must be called inside a tokio runtime.
    pub fn stream(
        self: &Arc<Self>,
        openmetrics: bool,
        gzip: bool,
    ) -> impl futures::Stream<Item = Chunk> + Send + 'static {
        let me = Arc::clone(self);
        stream::spawn(
            move |mut w| {
                if openmetrics {
                    text::encode(&mut w, &me.registry)
                } else {
                    prometheus_client::encoding::prometheus_text::encode(&mut w, &me.registry)
                }
            },
            gzip,
        )
    }

    /// Creates a notifier's outcome counters at 0 (see [`NOTIFY_OUTCOMES`]).
    pub fn prime_notifier(&self, notifier: &str) {
        for outcome in NOTIFY_OUTCOMES {
            let _created = self.notifications.get_or_create(&NotifyLabels {
                notifier: notifier.to_owned(),
                outcome: outcome.to_owned(),
            });
        }
    }

    /// Creates an action's outcome counters at 0 (see [`ACTION_OUTCOMES`]).
    pub fn prime_action(&self, action: &str) {
        for outcome in ACTION_OUTCOMES {
            let _created = self.actions.get_or_create(&ActionLabels {
                action: action.to_owned(),
                outcome: outcome.to_owned(),
            });
        }
    }

    /// Counts one action run.
    pub fn action_run(&self, action: &str, outcome: &str) {
        self.action_runs(action, outcome, 1);
    }

    /// Counts `n` action runs (or transitions held back) with one outcome.
    pub fn action_runs(&self, action: &str, outcome: &str, n: u64) {
        self.actions
            .get_or_create(&ActionLabels {
                action: action.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc_by(n);
    }

    /// Counts `n` answered requests of one Kafka API of the batched client.
    pub fn kafka_requests(&self, cluster: &str, api: &str, n: u64) {
        self.kafka_requests
            .get_or_create(&ApiLabels {
                cluster: cluster.to_owned(),
                api: api.to_owned(),
            })
            .inc_by(n);
    }

    /// Counts one poll error.
    pub fn poll_error(&self, cluster: &str, stage: &str) {
        self.poll_errors
            .get_or_create(&StageLabels {
                cluster: cluster.to_owned(),
                stage: stage.to_owned(),
            })
            .inc();
    }
}

/// Content type of OpenMetrics text.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of classic Prometheus text.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
