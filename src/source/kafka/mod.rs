//! Reads one Kafka cluster with one librdkafka client and, where the cluster allows it, the
//! batched protocol client: a few requests per broker per poll.
//!
//! `poll` runs the steps (metadata, groups, committed offsets, log offsets); each step asks
//! `batched` first and `librdkafka` otherwise; both return the `types` here.

mod admin;
pub mod batched;
mod client;
mod describe_cache;
pub mod librdkafka;
mod poll;
pub mod types;

use super::ReadError;
use crate::config::security::NotFast;
use crate::config::ClusterConfig;
use crate::snapshot::{Snapshot, Unauthorized};
use client::LibrdkafkaClient;
use describe_cache::DescribeCache;
use poll::BatchedState;
use rdkafka::client::{Client, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaResult;
use rdkafka::types::RDKafkaType;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The Kafka reader of one cluster.
pub struct KafkaReader {
    cfg: ClusterConfig,
    admin: Arc<LibrdkafkaClient>,
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

/// The group id of lagwatch's own client handle when the config sets none; nothing ever
/// joins, commits to or reads that group (see [`new_client`]).
const OWN_GROUP_ID: &str = "lagwatch-admin";

/// The librdkafka handle lagwatch sends its Admin requests through: a consumer handle with
/// a group id, not the producer handle rdkafka's `AdminClient` makes. librdkafka (up to
/// 2.12 at least, confluentinc/librdkafka#5040) answers an OffsetFetch error
/// NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE of an Admin ListConsumerGroupOffsets by
/// asking the handle's own consumer group to look up its coordinator, and a producer handle
/// has none: a NULL dereference that killed lagwatch whenever a group coordinator moved
/// (a broker stopped or restarted) on the librdkafka path (TLS, SASL). With a group the
/// lookup is harmless; the handle never subscribes, so its only own traffic is a
/// FindCoordinator for that id.
fn new_client(cfg: &ClusterConfig) -> KafkaResult<Client<DefaultClientContext>> {
    let mut cc = client_config(cfg);
    if cc.get("group.id").is_none() {
        cc.set("group.id", OWN_GROUP_ID);
    }
    let native = cc.create_native_config()?;
    Client::new(
        &cc,
        native,
        RDKafkaType::RD_KAFKA_CONSUMER,
        DefaultClientContext,
    )
}

impl KafkaReader {
    /// Creates the reader of this cluster (no network I/O yet); librdkafka's client is made
    /// now only when the fast path cannot read the cluster.
    pub fn new(cfg: ClusterConfig) -> Result<Self, ReadError> {
        let batched = match poll::fast_path(&cfg) {
            Ok(security) => Some(Arc::new(Mutex::new(BatchedState::new(security)))),
            Err(why) => {
                if why != NotFast::Configured {
                    tracing::info!(
                        cluster = cfg.name,
                        "reading through librdkafka, one request per group: the fast \
                         path cannot serve this cluster ({why})"
                    );
                }
                None
            }
        };
        let admin = if batched.is_some() {
            LibrdkafkaClient::on_first_use(cfg.clone())
        } else {
            LibrdkafkaClient::now(cfg.clone())?
        };
        Ok(KafkaReader {
            admin: Arc::new(admin),
            busy: Arc::new(AtomicBool::new(false)),
            describe_cache: Arc::new(DescribeCache::default()),
            batched,
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
    pub async fn read(
        &self,
        guard: BusyGuard,
        extra_positions: Vec<(String, i32, i64)>,
    ) -> Result<Snapshot, ReadError> {
        let cfg = self.cfg.clone();
        let admin = self.admin.clone();
        let cache = self.describe_cache.clone();
        let batched = self.batched.clone();
        let refused = self.refused.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = guard;
            let snap = poll::read(&cfg, &admin, &cache, batched.as_deref(), &extra_positions)?;
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
