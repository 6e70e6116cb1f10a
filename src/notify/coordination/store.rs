//! The incident state in a compacted Kafka topic: the whole [`Book`] (incidents, undelivered
//! messages, silences, action records) as one record under one key, so the incident
//! transitions of a poll and the message announcing them land together or not at all.
//! Compaction keeps the newest record; a new leader reads the partition to its end and
//! takes the last one.

use crate::config::{ClusterConfig, CoordinationConfig};
use crate::notify::state_file::{Book, VERSION};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The key of the state record without `shard_clusters` (the whole book).
pub const KEY: &str = "book";

/// The key of one cluster's book with `shard_clusters`.
pub fn cluster_key(cluster: &str) -> String {
    format!("cluster/{cluster}")
}

/// The topic whose partitions are the clusters with `shard_clusters`: partition i is the
/// i-th configured cluster.
pub fn shard_topic(state_topic: &str) -> String {
    format!("{state_topic}.shards")
}

/// The group id of the reader that loads the state (never joined, nothing committed).
const READER_GROUP: &str = "lagwatch-state-reader";

/// Largest record: the broker's `max.message.bytes` for the topic we create, and the
/// producer's limit. A book past this is not saved (and says so).
pub const MAX_RECORD: usize = 8 * 1024 * 1024;

/// Why the state topic could not be read, written or created.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A Kafka call failed.
    #[error("state topic `{topic}`: {action}: {source}")]
    Kafka {
        /// The topic.
        topic: String,
        /// What was being done.
        action: &'static str,
        /// The cause.
        source: rdkafka::error::KafkaError,
    },
    /// The newest record is not a book this version reads.
    #[error("state topic `{topic}`: the newest record is not a valid state: {reason}")]
    Invalid {
        /// The topic.
        topic: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading to the end took too long.
    #[error("state topic `{topic}`: not read to its end (offset {end}) within {secs} s")]
    Timeout {
        /// The topic.
        topic: String,
        /// The end offset that was not reached.
        end: i64,
        /// The time allowed.
        secs: u64,
    },
}

/// Reads and writes the state topic of one coordination cluster.
pub struct KafkaStore {
    cluster: ClusterConfig,
    topic: String,
    /// The key of this store's record.
    key: String,
    timeout: Duration,
    /// Replaced when librdkafka declares it failed for good (see [`KafkaStore::save`]).
    producer: Mutex<FutureProducer>,
    producer_config: ClientConfig,
}

impl std::fmt::Debug for KafkaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaStore")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl KafkaStore {
    /// A store writing through an idempotent producer (no network I/O yet).
    pub fn new(cluster: &ClusterConfig, c: &CoordinationConfig) -> Result<Self, StoreError> {
        let kafka = |action, source| StoreError::Kafka {
            topic: c.state_topic.clone(),
            action,
            source,
        };
        let mut cc = cluster.client_config();
        // A write counts once every in-sync replica has it, retried without duplicates or
        // reordering; a write not acked within the session timeout fails, so a leader cut
        // off from the cluster stops sending (its successor takes over by then).
        cc.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            .set("compression.type", "zstd")
            .set("message.max.bytes", MAX_RECORD.to_string())
            .set(
                "message.timeout.ms",
                c.session_timeout.as_millis().to_string(),
            );
        let producer = Mutex::new(cc.create().map_err(|e| kafka("creating the producer", e))?);
        Ok(KafkaStore {
            producer_config: cc,
            cluster: cluster.clone(),
            topic: c.state_topic.clone(),
            key: KEY.to_owned(),
            timeout: c.session_timeout,
            producer,
        })
    }

    /// The key of this store's record.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// A store for another record (one cluster's book, `key`) in the same topic, writing
    /// through the same producer: with many clusters, one producer per cluster would cost
    /// librdkafka's threads and connections per cluster.
    pub fn with_key(&self, key: String) -> KafkaStore {
        let producer = self
            .producer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        KafkaStore {
            cluster: self.cluster.clone(),
            topic: self.topic.clone(),
            key,
            timeout: self.timeout,
            producer: Mutex::new(producer),
            producer_config: self.producer_config.clone(),
        }
    }

    /// Creates the shard topic with one partition per cluster if missing, and adds
    /// partitions if it has fewer than `clusters` (partitions only grow: a config with
    /// fewer clusters leaves the extra ones unused). Blocks.
    pub fn ensure_shards(&self, clusters: usize) -> Result<(), StoreError> {
        let admin: AdminClient<DefaultClientContext> = self
            .cluster
            .client_config()
            .create()
            .map_err(|e| self.kafka("creating the admin client", e))?;
        let topic = shard_topic(&self.topic);
        // All topics, not this one: a metadata request naming a missing topic makes some
        // brokers (tansu) create it with their default partition count.
        let md = admin
            .inner()
            .fetch_metadata(None, self.timeout)
            .map_err(|e| self.kafka("reading the shard topic", e))?;
        let have = md
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map_or(0, |t| t.partitions().len());
        let opts = AdminOptions::new().operation_timeout(Some(self.timeout));
        let res = if have == 0 {
            let replication = md.brokers().len().clamp(1, 3) as i32;
            let new = NewTopic::new(
                &topic,
                clusters as i32,
                TopicReplication::Fixed(replication),
            );
            futures::executor::block_on(admin.create_topics([&new], &opts))
        } else if have < clusters {
            let more = rdkafka::admin::NewPartitions::new(&topic, clusters);
            futures::executor::block_on(admin.create_partitions([&more], &opts))
        } else {
            return Ok(());
        };
        for r in res.map_err(|e| self.kafka("creating the shard topic", e))? {
            match r {
                Ok(_) => tracing::info!(topic = %topic, partitions = clusters, "shard topic ready"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(self.kafka(
                        "creating the shard topic",
                        rdkafka::error::KafkaError::AdminOp(code),
                    ))
                }
            }
        }
        Ok(())
    }

    fn kafka(&self, action: &'static str, source: rdkafka::error::KafkaError) -> StoreError {
        StoreError::Kafka {
            topic: self.topic.clone(),
            action,
            source,
        }
    }

    /// Creates the topic if missing: one partition (its owner leads), compacted, replicated
    /// on min(3, brokers). Blocks.
    pub fn ensure_topic(&self) -> Result<(), StoreError> {
        let admin: AdminClient<DefaultClientContext> = self
            .cluster
            .client_config()
            .create()
            .map_err(|e| self.kafka("creating the admin client", e))?;
        let md = admin
            .inner()
            .fetch_metadata(None, self.timeout)
            .map_err(|e| self.kafka("reading the brokers", e))?;
        if md.topics().iter().any(|t| t.name() == self.topic) {
            return Ok(());
        }
        let replication = md.brokers().len().clamp(1, 3) as i32;
        let max = MAX_RECORD.to_string();
        let topic = NewTopic::new(&self.topic, 1, TopicReplication::Fixed(replication))
            .set("cleanup.policy", "compact")
            .set("max.message.bytes", &max)
            // Small segments so compaction (which skips the active segment) keeps the
            // log a new leader reads short.
            .set("segment.bytes", "16777216")
            .set("segment.ms", "3600000")
            .set("min.cleanable.dirty.ratio", "0.1");
        let opts = AdminOptions::new().operation_timeout(Some(self.timeout));
        let res = futures::executor::block_on(admin.create_topics([&topic], &opts))
            .map_err(|e| self.kafka("creating the topic", e))?;
        for r in res {
            match r {
                Ok(_) => tracing::info!(topic = %self.topic, replication, "state topic created"),
                // Another replica created it first.
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(self.kafka(
                        "creating the topic",
                        rdkafka::error::KafkaError::AdminOp(code),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Writes `book` and waits for the brokers' ack. Blocks up to the session timeout.
    pub fn save(&self, book: &Book) -> Result<(), StoreError> {
        let json = serde_json::to_vec(book).map_err(|e| StoreError::Invalid {
            topic: self.topic.clone(),
            reason: e.to_string(),
        })?;
        self.put(&self.key, Some(&json)).map(|_| ())
    }

    /// Writes `payload` under `key` (None: a tombstone) to partition 0 and waits for the
    /// brokers' ack; returns the record's offset. Blocks up to the session timeout.
    pub fn put(&self, key: &str, payload: Option<&[u8]>) -> Result<i64, StoreError> {
        let mut record = FutureRecord::<str, [u8]>::to(&self.topic)
            .partition(0)
            .key(key);
        if let Some(p) = payload {
            record = record.payload(p);
        }
        let producer = self
            .producer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let delivery = producer.send_result(record).map_err(|(e, _)| {
            self.replace_if_failed(&producer, &e);
            self.kafka("queueing the state", e)
        })?;
        let e = match futures::executor::block_on(delivery) {
            Ok(Ok(d)) => return Ok(d.offset),
            Ok(Err((e, _))) => e,
            Err(_) => rdkafka::error::KafkaError::Canceled,
        };
        self.replace_if_failed(&producer, &e);
        Err(self.kafka("writing the state", e))
    }

    /// An idempotent producer whose writes timed out while the cluster was away can be
    /// fenced when it returns (seen on tansu: every later write fails with
    /// ProducerFenced, and librdkafka does not count that as fatal): without a new
    /// producer the leader would never send again. A new one is safe: the old one has
    /// nothing left to deliver (writes wait for their outcome one at a time), and each
    /// record is the whole state. Stores sharing the old producer ([`KafkaStore::with_key`])
    /// keep it until their own write fails the same way; its writes under way finish or
    /// fail on their own.
    fn replace_if_failed(&self, failed: &FutureProducer, e: &rdkafka::error::KafkaError) {
        let fatal = failed.client().fatal_error();
        if fatal.is_none() && !producer_state_lost(e) {
            return;
        }
        match self.producer_config.create::<FutureProducer>() {
            Ok(p) => {
                tracing::warn!(
                    topic = %self.topic,
                    "the state producer cannot write any more ({e}); writing through a new one"
                );
                *self.producer.lock().unwrap_or_else(|p| p.into_inner()) = p;
            }
            Err(e2) => tracing::warn!(
                topic = %self.topic,
                "the state producer cannot write any more ({e}) and no new one could be made: {e2}"
            ),
        }
    }

    /// The state topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The session timeout: how long a write or a read of the topic may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Partition 0's low and high watermarks, asked through the producer's connections
    /// (a reader's are busy with its long-polling fetches, which would delay the answer).
    pub fn watermarks(&self) -> Result<(i64, i64), StoreError> {
        let producer = self
            .producer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        producer
            .client()
            .fetch_watermarks(&self.topic, 0, self.timeout)
            .map_err(|e| self.kafka("reading the end offset", e))
    }

    /// A consumer for reading partition 0 by hand (assigned, never joined or committed).
    pub fn reader(&self) -> Result<BaseConsumer, StoreError> {
        let mut cc = self.cluster.client_config();
        // librdkafka's assign() needs a group id; the reader never joins that group (it is
        // assigned by hand) and never commits to it.
        cc.set("group.id", READER_GROUP)
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.message.max.bytes", MAX_RECORD.to_string());
        cc.create()
            .map_err(|e| self.kafka("creating the reader", e))
    }

    /// Reads the partition to its end and returns the newest book (empty when the topic
    /// is). Blocks up to twice the session timeout.
    pub fn load(&self) -> Result<Book, StoreError> {
        let consumer = self.reader()?;
        let (low, high) = consumer
            .fetch_watermarks(&self.topic, 0, self.timeout)
            .map_err(|e| self.kafka("reading the end offset", e))?;
        if high <= low {
            return Ok(empty());
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&self.topic, 0, Offset::Offset(low))
            .map_err(|e| self.kafka("assigning the partition", e))?;
        consumer
            .assign(&tpl)
            .map_err(|e| self.kafka("assigning the partition", e))?;
        let allowed = self.timeout * 2;
        let deadline = Instant::now() + allowed;
        let mut newest: Option<Vec<u8>> = None;
        loop {
            let Some(polled) = consumer.poll(Duration::from_millis(200)) else {
                if Instant::now() > deadline {
                    return Err(StoreError::Timeout {
                        topic: self.topic.clone(),
                        end: high,
                        secs: allowed.as_secs(),
                    });
                }
                continue;
            };
            let msg = polled.map_err(|e| self.kafka("reading the state", e))?;
            if msg.key() == Some(self.key.as_bytes()) {
                newest = msg.payload().map(<[u8]>::to_vec);
            }
            if msg.offset() >= high - 1 {
                break;
            }
        }
        let Some(bytes) = newest else {
            return Ok(empty());
        };
        let book: Book = serde_json::from_slice(&bytes).map_err(|e| StoreError::Invalid {
            topic: self.topic.clone(),
            reason: e.to_string(),
        })?;
        if book.version != VERSION {
            return Err(StoreError::Invalid {
                topic: self.topic.clone(),
                reason: format!("version {} (expected {VERSION})", book.version),
            });
        }
        Ok(book)
    }
}

/// Whether a write failed because the brokers no longer accept this producer's id or
/// epoch: every later write of the same producer fails the same way.
fn producer_state_lost(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::error::KafkaError as K;
    use RDKafkaErrorCode as C;
    let code = match e {
        K::MessageProduction(c) => *c,
        _ => return false,
    };
    matches!(
        code,
        C::ProducerFenced
            | C::InvalidProducerEpoch
            | C::UnknownProducerId
            | C::OutOfOrderSequenceNumber
            | C::InvalidProducerIdMapping
    )
}

fn empty() -> Book {
    Book {
        version: VERSION,
        ..Book::default()
    }
}

#[cfg(test)]
mod tests;
