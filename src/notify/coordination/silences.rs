//! Silences with `shard_clusters`: each cluster's incidents live with the replica that owns
//! it, but a silence is about whatever cluster it matches, so silences are one set shared
//! by every replica, kept in the state topic one record per silence ([`silence_set`]).
//! Every replica reads the topic from its start and keeps reading it, so any replica
//! adds, lists and expires silences (ids are unique: no leader is needed and no write is
//! lost), and every cluster's coordinator holds its changes back with the same set. A
//! cluster's new owner reads the topic to its end ([`SharedSilences::sync`]) before its
//! gate opens, as it reads the cluster's book: it sends nothing a silence covers.

use super::silence_set::{self, Applied, SilenceSet};
use super::store::{KafkaStore, StoreError};
use crate::notify::silence::Silence;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often the holder of partition 0 tombstones the silences that ended by themselves.
const TOMBSTONE_EVERY: Duration = Duration::from_secs(30);

/// The shared silences of one replica: the set read from the state topic, and the writes.
pub struct SharedSilences {
    store: Arc<KafkaStore>,
    reader: BaseConsumer,
    set: Mutex<SilenceSet>,
    /// The offset after the last record the reader applied.
    read: AtomicI64,
}

impl std::fmt::Debug for SharedSilences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSilences")
            .field("read", &self.read.load(Ordering::Acquire))
            .finish_non_exhaustive()
    }
}

impl SharedSilences {
    /// The set over `store`'s topic; nothing is read before [`SharedSilences::run`].
    pub fn new(store: Arc<KafkaStore>) -> Result<SharedSilences, StoreError> {
        let reader = store.reader()?;
        Ok(SharedSilences {
            store,
            reader,
            set: Mutex::default(),
            read: AtomicI64::new(0),
        })
    }

    fn set(&self) -> MutexGuard<'_, SilenceSet> {
        // Each apply leaves the set consistent; a panic elsewhere must not stop alerting.
        self.set.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply(&self, key: &[u8], payload: Option<&[u8]>, offset: i64) {
        if let Applied::Invalid(reason) = self.set().apply(key, payload, offset) {
            tracing::warn!(
                topic = self.store.topic(),
                offset,
                "a silence record is ignored: {reason}"
            );
        }
    }

    /// The silences in force at `now`, oldest first.
    pub fn active(&self, now: f64) -> Vec<Silence> {
        self.set().active(now)
    }

    /// Writes `s` and waits for the ack (up to the session timeout); this replica lists it
    /// from then on, the others once their reader reaches it.
    pub fn add(&self, s: &Silence) -> Result<(), StoreError> {
        let json = serde_json::to_vec(s).map_err(|e| StoreError::Invalid {
            topic: self.store.topic().to_owned(),
            reason: e.to_string(),
        })?;
        let key = silence_set::key(&s.id);
        let offset = self.store.put(&key, Some(&json))?;
        self.apply(key.as_bytes(), Some(&json), offset);
        Ok(())
    }

    /// Ends silence `id` now with a tombstone; false when none in force has that id
    /// (after reading every silence written so far: it may have been added elsewhere a
    /// moment ago).
    pub fn expire(&self, id: &str, now: f64) -> Result<bool, StoreError> {
        self.sync()?;
        if !self.set().is_active(id, now) {
            return Ok(false);
        }
        let key = silence_set::key(id);
        let offset = self.store.put(&key, None)?;
        self.apply(key.as_bytes(), None, offset);
        Ok(true)
    }

    /// Waits until the reader has applied every record written before this call (up to
    /// twice the session timeout). Blocks.
    pub fn sync(&self) -> Result<(), StoreError> {
        let timeout = self.store.timeout();
        let (low, high) = self.store.watermarks()?;
        let allowed = timeout * 2;
        let deadline = Instant::now() + allowed;
        // The last record of a compacted log is never cleaned away (it is in the active
        // segment), so a reader at the end has applied offset high - 1.
        while high > low && self.read.load(Ordering::Acquire) < high {
            if Instant::now() > deadline {
                return Err(StoreError::Timeout {
                    topic: self.store.topic().to_owned(),
                    end: high,
                    secs: allowed.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Reads the state topic from its start until `stop`, applying every silence record;
    /// while `leader` (partition 0 is this replica's) tombstones the silences that ended.
    /// Blocks: run it on its own thread, once the topic exists.
    pub fn run(&self, stop: &AtomicBool, leader: &watch::Receiver<bool>) {
        let mut tpl = TopicPartitionList::new();
        let assigned = tpl
            .add_partition_offset(self.store.topic(), 0, Offset::Beginning)
            .and_then(|()| self.reader.assign(&tpl));
        if let Err(e) = assigned {
            tracing::error!(
                topic = self.store.topic(),
                "silences: cannot read the state topic: {e}"
            );
            return;
        }
        let mut next_cleanup = Instant::now() + TOMBSTONE_EVERY;
        while !stop.load(Ordering::Acquire) {
            match self.reader.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    if let Some(key) = m.key() {
                        self.apply(key, m.payload(), m.offset());
                    }
                    self.read.store(m.offset() + 1, Ordering::Release);
                }
                Some(Err(e)) => tracing::debug!("silences: {e}"),
                None => {}
            }
            if Instant::now() >= next_cleanup {
                next_cleanup = Instant::now() + TOMBSTONE_EVERY;
                let read = self.read.load(Ordering::Acquire);
                self.set().forget_tombstones(read);
                if *leader.borrow() {
                    self.tombstone_ended();
                }
            }
        }
    }

    /// Tombstones the silences that ended by themselves: compaction then drops them.
    fn tombstone_ended(&self) {
        let ended = self.set().ended(crate::runtime::now());
        for id in ended {
            let key = silence_set::key(&id);
            match self.store.put(&key, None) {
                Ok(offset) => self.apply(key.as_bytes(), None, offset),
                Err(e) => {
                    tracing::debug!("silences: an ended silence is not tombstoned yet: {e}");
                    return;
                }
            }
        }
    }
}
