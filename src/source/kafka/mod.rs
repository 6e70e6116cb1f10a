//! Reads one Kafka cluster with one librdkafka client and, where the cluster allows it, the
//! batched protocol client: a few requests per broker per poll.
//!
//! `poll` runs the steps (metadata, groups, committed offsets, log offsets); each step asks
//! `batched` first and `librdkafka` otherwise; both return the `types` here.

mod admin;
pub mod batched;
mod describe_cache;
pub mod librdkafka;
mod poll;
pub mod types;

use super::ReadError;
use crate::config::ClusterConfig;
use crate::snapshot::{Snapshot, Unauthorized};
use describe_cache::DescribeCache;
use poll::BatchedState;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The Kafka reader of one cluster.
pub struct KafkaReader {
    cfg: ClusterConfig,
    admin: Arc<AdminClient<DefaultClientContext>>,
    // A timed-out poll keeps running on its blocking thread; this keeps a second one from
    // starting on the same client until it is done.
    busy: Arc<AtomicBool>,
    describe_cache: Arc<DescribeCache>,
    // Batched offset requests, when the cluster is plaintext and the config allows them.
    batched: Option<Arc<Mutex<BatchedState>>>,
    // What the principal was refused last poll: a change is logged once, not every poll.
    refused: Arc<Mutex<Vec<Unauthorized>>>,
}

/// Proof that this reader's previous poll has finished; clears the flag when dropped,
/// however the poll ends.
pub struct BusyGuard(Arc<AtomicBool>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Builds the librdkafka client config: user `client:` properties win over our defaults.
pub fn client_config(cfg: &ClusterConfig) -> ClientConfig {
    cfg.client_config()
}

impl KafkaReader {
    /// Creates the one client of this cluster (no network I/O yet).
    pub fn new(cfg: ClusterConfig) -> Result<Self, ReadError> {
        let admin: AdminClient<DefaultClientContext> = client_config(&cfg)
            .create()
            .map_err(|e| ReadError::Client(redact_client_error(&e.to_string(), &cfg)))?;
        Ok(KafkaReader {
            admin: Arc::new(admin),
            busy: Arc::new(AtomicBool::new(false)),
            describe_cache: Arc::new(DescribeCache::default()),
            batched: poll::batched_allowed(&cfg).then(|| Arc::new(Mutex::new(BatchedState::new()))),
            refused: Arc::default(),
            cfg,
        })
    }

    /// Marks a poll as started, or says the previous one is still running.
    pub fn claim(&self) -> Result<BusyGuard, ReadError> {
        if self.busy.swap(true, Ordering::AcqRel) {
            return Err(ReadError::Busy);
        }
        Ok(BusyGuard(self.busy.clone()))
    }

    /// Reads groups, committed offsets and log offsets on a blocking thread; the guard is
    /// held until that thread is done, even if the caller stops waiting.
    pub async fn read(&self, guard: BusyGuard) -> Result<Snapshot, ReadError> {
        let cfg = self.cfg.clone();
        let admin = self.admin.clone();
        let cache = self.describe_cache.clone();
        let batched = self.batched.clone();
        let refused = self.refused.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = guard;
            let snap = poll::read(&cfg, admin.inner(), &cache, batched.as_deref())?;
            log_refusals(&cfg.name, &refused, &snap.unauthorized);
            Ok(snap)
        })
        .await
        .unwrap_or_else(|e| Err(ReadError::Task(e.to_string())))
    }
}

/// Logs the refused resources when they differ from last poll's (one line per change).
fn log_refusals(cluster: &str, last: &Mutex<Vec<Unauthorized>>, now: &[Unauthorized]) {
    let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
    if last.as_slice() == now {
        return;
    }
    let names: Vec<String> = now
        .iter()
        .map(|u| format!("{} {}", u.resource_type.as_str(), u.name))
        .collect();
    if names.is_empty() {
        tracing::info!(cluster, "no longer refused anything it watches");
    } else {
        tracing::warn!(
            cluster,
            "not authorized to describe {} (reported as lagwatch_unauthorized, not as lag): {}",
            names.len(),
            names.join(", ")
        );
    }
    *last = now.to_vec();
}

/// librdkafka may echo a property value in its error; never let a secret through.
fn redact_client_error(msg: &str, cfg: &ClusterConfig) -> String {
    let mut out = msg.to_owned();
    for (_, v) in &cfg.client {
        if v.len() >= 3 {
            out = out.replace(v.as_str(), "<redacted>");
        }
    }
    out
}
