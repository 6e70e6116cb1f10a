//! The simulated world of the demo, on the in-process mock cluster: the backlog, a producer
//! that keeps writing, and a consumer group that commits offsets at a settable rate without
//! joining (as a Spark query that tracks its own offsets would look to Kafka).

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A Kafka call of the simulation failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct SimError {
    /// What the simulation was doing.
    pub what: &'static str,
    /// The client's error.
    pub source: KafkaError,
}

fn ctx(what: &'static str) -> impl FnOnce(KafkaError) -> SimError {
    move |source| SimError { what, source }
}

/// Small payloads: the demo is about offsets, not bytes.
const PAYLOAD: &[u8] = b"txn";

fn producer(bootstrap: &str, linger_ms: &str) -> Result<BaseProducer, SimError> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", linger_ms)
        .set("batch.num.messages", "100000")
        .set("batch.size", "4000000")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "2097151")
        .set("message.timeout.ms", "60000")
        .set("acks", "1")
        // The mock keeps 5 MB of batches per partition and deletes older ones, which would
        // show as `data_loss`; compressed, the whole 3M backlog fits.
        .set("compression.type", "zstd")
        .set("enable.idempotence", "false")
        .create()
        .map_err(ctx("creating the producer"))
}

/// Sends one record to `partition`, waiting for queue room instead of failing.
fn send(p: &BaseProducer, topic: &str, partition: i32) -> Result<(), SimError> {
    loop {
        match p.send(
            BaseRecord::<(), [u8]>::to(topic)
                .partition(partition)
                .payload(PAYLOAD),
        ) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                p.poll(Duration::from_millis(5));
            }
            Err((e, _)) => return Err(ctx("producing")(e)),
        }
    }
}

/// Produces `n` records spread evenly over `partitions` as fast as the mock takes them;
/// returns the records per partition (the high watermarks, as the topic was empty).
pub fn produce_backlog(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    n: u64,
    cancel: &AtomicBool,
) -> Result<Vec<i64>, SimError> {
    let p = producer(bootstrap, "50")?;
    let mut counts = vec![0i64; partitions as usize];
    for i in 0..n {
        let part = (i % partitions as u64) as i32;
        send(&p, topic, part)?;
        counts[part as usize] += 1;
        if i % 10_000 == 0 {
            p.poll(Duration::ZERO);
            if cancel.load(Ordering::Relaxed) {
                break;
            }
        }
    }
    p.flush(Duration::from_secs(120))
        .map_err(ctx("flushing the backlog"))?;
    Ok(counts)
}

/// The running producer and consumer threads.
pub struct Sim {
    stop: Arc<AtomicBool>,
    consume_rate: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl Sim {
    /// Starts producing `produce_rate` msg/s and consuming (committing) `consume_rate` msg/s
    /// from offset 0 of every partition for `group`. `log_end` are the current high
    /// watermarks; the consumer never commits past them.
    pub fn start(
        bootstrap: &str,
        topic: &str,
        group: &str,
        log_end: Vec<i64>,
        produce_rate: f64,
        consume_rate: f64,
    ) -> Result<Sim, SimError> {
        let stop = Arc::new(AtomicBool::new(false));
        let rate = Arc::new(AtomicU64::new(consume_rate.to_bits()));
        let ends: Arc<Vec<AtomicI64>> = Arc::new(log_end.into_iter().map(AtomicI64::new).collect());
        let p = producer(bootstrap, "5")?;
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .map_err(ctx("creating the consumer"))?;
        let (s1, e1, t1) = (stop.clone(), ends.clone(), topic.to_owned());
        let producer = std::thread::spawn(move || produce_loop(&p, &t1, &e1, produce_rate, &s1));
        let (s2, r2, t2) = (stop.clone(), rate.clone(), topic.to_owned());
        let consumer = std::thread::spawn(move || consume_loop(&c, &t2, &ends, &r2, &s2));
        Ok(Sim {
            stop,
            consume_rate: rate,
            threads: vec![producer, consumer],
        })
    }

    /// Changes the consumer's rate (messages/s over all partitions).
    pub fn set_consume_rate(&self, r: f64) {
        self.consume_rate.store(r.to_bits(), Ordering::Relaxed);
    }

    /// Stops both threads and waits for them.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

const TICK: Duration = Duration::from_millis(100);

fn produce_loop(p: &BaseProducer, topic: &str, ends: &[AtomicI64], rate: f64, stop: &AtomicBool) {
    let started = Instant::now();
    let mut sent = 0u64;
    let n = ends.len() as u64;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        let due = (rate * started.elapsed().as_secs_f64()) as u64;
        let mut per = vec![0i64; ends.len()];
        while sent < due {
            let part = (sent % n) as usize;
            if let Err(e) = send(p, topic, part as i32) {
                tracing::warn!("demo producer: {e}");
                break;
            }
            per[part] += 1;
            sent += 1;
        }
        // Only delivered records count as the log end the consumer may reach.
        match p.flush(Duration::from_secs(5)) {
            Ok(()) => {
                for (end, k) in ends.iter().zip(per) {
                    end.fetch_add(k, Ordering::Relaxed);
                }
            }
            Err(e) => tracing::warn!("demo producer: flush: {e}"),
        }
    }
}

fn consume_loop(
    c: &BaseConsumer,
    topic: &str,
    ends: &[AtomicI64],
    rate: &AtomicU64,
    stop: &AtomicBool,
) {
    let mut pos = vec![0f64; ends.len()];
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        let dt = last.elapsed().as_secs_f64();
        last = Instant::now();
        let share = f64::from_bits(rate.load(Ordering::Relaxed)) * dt / ends.len() as f64;
        let mut tpl = TopicPartitionList::new();
        for (i, (p, end)) in pos.iter_mut().zip(ends).enumerate() {
            *p = (*p + share).min(end.load(Ordering::Relaxed) as f64);
            if let Err(e) = tpl.add_partition_offset(topic, i as i32, Offset::Offset(*p as i64)) {
                tracing::warn!("demo consumer: {e}");
            }
        }
        if let Err(e) = c.commit(&tpl, CommitMode::Sync) {
            tracing::warn!("demo consumer: commit: {e}");
        }
    }
}
