//! Whether the fast path reads a cluster, and its state between polls: connections, the
//! last reason a step fell back to librdkafka, and which client served the poll.

use super::records::RecordCache;
use crate::config::security::{self, KafkaClient, NotFast, Security};
use crate::config::ClusterConfig;
use crate::snapshot::KafkaPath;
use crate::source::kafka::batched::Batched;
use std::sync::{Mutex, MutexGuard};

/// The batched path's connections, and the last reason it could not be used.
pub(in crate::source::kafka) struct BatchedState {
    pub(super) batched: Batched,
    /// First records and topic settings kept between polls.
    pub(super) records: RecordCache,
    unsupported: Option<String>,
    /// Whether a step of the poll in progress fell back to librdkafka.
    fell_back_now: bool,
}

impl BatchedState {
    /// A batched path with no connections yet, connecting as `security` says.
    pub(in crate::source::kafka) fn new(security: Security) -> Self {
        BatchedState {
            batched: Batched::new(security),
            records: RecordCache::default(),
            unsupported: None,
            fell_back_now: false,
        }
    }

    /// Logs (once per reason) that a step falls back to librdkafka.
    pub(super) fn fell_back(&mut self, cluster: &str, why: String) {
        self.fell_back_now = true;
        if self.unsupported.as_deref() != Some(why.as_str()) {
            tracing::info!(
                cluster,
                "batched requests unavailable ({why}); librdkafka serves this step"
            );
            self.unsupported = Some(why);
        }
    }
}

/// How the fast path connects to this cluster, or why librdkafka reads it instead.
pub(in crate::source::kafka) fn fast_path(cfg: &ClusterConfig) -> Result<Security, NotFast> {
    match cfg.kafka_client {
        KafkaClient::Librdkafka => Err(NotFast::Configured),
        KafkaClient::Auto | KafkaClient::Fast => match &cfg.aws_msk_iam {
            Some(iam) => security::msk_iam(&cfg.client, iam),
            None => security::from_client(&cfg.client),
        },
    }
}

/// Takes the fast path for one poll, nothing fallen back yet.
pub(super) fn start(state: &Mutex<BatchedState>) -> MutexGuard<'_, BatchedState> {
    let mut d = state.lock().unwrap_or_else(|p| p.into_inner());
    d.fell_back_now = false;
    d
}

/// Which client served the poll now ending.
pub(super) fn path(state: Option<&BatchedState>) -> KafkaPath {
    match state {
        None => KafkaPath::Librdkafka,
        Some(d) if d.fell_back_now => KafkaPath::Mixed,
        Some(_) => KafkaPath::Fast,
    }
}
