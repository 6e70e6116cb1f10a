//! Seeding the broker with a known state and writing the ground truth.
//!
//! Every number is a pure function of (topic, partition, group) indexes, so the expected
//! lag of every series is known without reading anything back.

use crate::broker::Kind;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One benchmark size.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Name on the command line and in the table.
    pub name: &'static str,
    /// Topics.
    pub topics: usize,
    /// Partitions per topic.
    pub partitions: usize,
    /// Consumer groups; group g consumes topic g % topics, all partitions.
    pub groups: usize,
    /// lagwatch poll interval (seconds).
    pub interval_s: u64,
    /// Poll intervals between ready and the timed cycles, poll cycles timed, quiet-phase
    /// cycles and /metrics requests timed: fewer at the huge size, whose polls take seconds.
    pub phases: Phases,
    /// `metrics.granularity` values measured, each by its own lagwatch against the same
    /// seeded broker (seeding the huge size takes longer than measuring it).
    pub granularities: &'static [&'static str],
    /// Whether `all` runs it (the huge size takes most of an hour: by name only).
    pub in_all: bool,
}

/// How long each measuring phase of one size lasts.
#[derive(Debug, Clone, Copy)]
pub struct Phases {
    /// Poll intervals between ready and the timed cycles. A fresh JVM broker spends most of
    /// its CPU compiling the code that answers lagwatch during its first polls; a broker in
    /// production has long done that. Both brokers get the same wait.
    pub warmup: u32,
    /// Poll cycles timed one by one (after the first poll, which is reported as "ready").
    pub timed: u64,
    /// Cycles of the quiet phase (no scrapes) for CPU, RSS and request counts.
    pub quiet: u64,
    /// /metrics requests timed back to back.
    pub scrapes: usize,
}

/// The phases of every size up to `partition-heavy`.
pub const STANDARD: Phases = Phases {
    warmup: 30,
    timed: 20,
    quiet: 10,
    scrapes: 60,
};

/// The sizes of the issue; `issue2` is issue 2's 50 groups over 200 partitions, `huge` is
/// issue 20's ten times the large size.
pub const SIZES: [Size; 5] = [
    Size {
        name: "issue2",
        topics: 10,
        partitions: 20,
        groups: 50,
        interval_s: 1,
        phases: STANDARD,
        granularities: &["partition"],
        in_all: true,
    },
    Size {
        name: "small",
        topics: 100,
        partitions: 10,
        groups: 100,
        interval_s: 1,
        phases: STANDARD,
        granularities: &["partition"],
        in_all: true,
    },
    Size {
        name: "large",
        topics: 1000,
        partitions: 10,
        groups: 1000,
        interval_s: 2,
        phases: STANDARD,
        granularities: &["partition"],
        in_all: true,
    },
    Size {
        name: "partition-heavy",
        topics: 100,
        partitions: 100,
        groups: 200,
        interval_s: 2,
        phases: STANDARD,
        granularities: &["partition"],
        in_all: true,
    },
    Size {
        name: "huge",
        topics: 10_000,
        partitions: 10,
        groups: 10_000,
        interval_s: 30,
        phases: Phases {
            warmup: 2,
            timed: 5,
            quiet: 5,
            scrapes: 20,
        },
        granularities: &["partition", "topic", "group"],
        in_all: false,
    },
];

/// Topic name of index `t`.
pub fn topic(t: usize) -> String {
    format!("bench-t{t:04}")
}

/// Group name of index `g`.
pub fn group(g: usize) -> String {
    format!("bench-g{g:04}")
}

/// Records in partition (t, p): 3..=20, varied so no two neighbours look alike.
pub fn records(t: usize, p: usize) -> i64 {
    3 + ((t * 31 + p * 7) % 18) as i64
}

/// Offset group g commits on partition p of its topic: 0..=records, so lag 0 and full occur.
pub fn committed(g: usize, t: usize, p: usize) -> i64 {
    ((g * 13 + p * 5) as i64) % (records(t, p) + 1)
}

/// What lagwatch must report: (group, topic, partition) -> lag, and (topic, partition) -> end.
#[derive(Debug, Default)]
pub struct Truth {
    /// Expected `lagwatch_group_partition_lag`.
    pub lag: BTreeMap<(String, String, i32), i64>,
    /// Expected `lagwatch_partition_log_end_offset`.
    pub log_end: BTreeMap<(String, i32), i64>,
}

impl Truth {
    /// The ground truth of `size`.
    pub fn of(size: &Size) -> Truth {
        let mut t = Truth::default();
        for ti in 0..size.topics {
            for p in 0..size.partitions {
                t.log_end.insert((topic(ti), p as i32), records(ti, p));
            }
        }
        for g in 0..size.groups {
            let ti = g % size.topics;
            for p in 0..size.partitions {
                let lag = records(ti, p) - committed(g, ti, p);
                t.lag.insert((group(g), topic(ti), p as i32), lag);
            }
        }
        t
    }

    /// Tab-separated `group topic partition committed log_end lag` lines.
    pub fn to_tsv(&self) -> String {
        let mut s = String::from("group\ttopic\tpartition\tlog_end\tlag\n");
        for ((g, t, p), lag) in &self.lag {
            let end = self.log_end.get(&(t.clone(), *p)).copied().unwrap_or(-1);
            let _ = writeln!(s, "{g}\t{t}\t{p}\t{end}\t{lag}");
        }
        s
    }
}

/// Creates the topics, produces the records and commits the groups' offsets.
pub fn seed(bootstrap: &str, size: &Size, kind: Kind) -> Result<(), String> {
    let t0 = Instant::now();
    create_topics(bootstrap, size)?;
    eprintln!(
        "[scale]   topics created in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    produce(bootstrap, size)?;
    eprintln!(
        "[scale]   records produced at {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    match kind {
        // Real Kafka answers a simple commit in about a millisecond: the groups' commits go
        // pipelined over one connection per coordinator (10,000 groups in seconds).
        Kind::Kafka => crate::commit::commit_all(bootstrap, size)?,
        // tansu is left on the librdkafka path it was measured with.
        Kind::Tansu => commit_all(bootstrap, size)?,
    }
    eprintln!(
        "[scale]   offsets committed at {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn create_topics(bootstrap: &str, size: &Size) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(|e| format!("admin client: {e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let names: Vec<String> = (0..size.topics).map(topic).collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    // Many topics per request (the huge size's 10,000 in 20); KRaft caps one request at
    // 10,000 metadata records: one per topic and one per partition.
    let batch = (9000 / (size.partitions + 1)).clamp(1, CREATE_BATCH);
    for chunk in names.chunks(batch) {
        let new: Vec<NewTopic> = chunk
            .iter()
            .map(|n| NewTopic::new(n, size.partitions as i32, TopicReplication::Fixed(1)))
            .collect();
        let res = rt
            .block_on(admin.create_topics(&new, &opts))
            .map_err(|e| format!("create_topics: {e}"))?;
        for r in res {
            if let Err((name, e)) = r {
                if e != RDKafkaErrorCode::TopicAlreadyExists {
                    return Err(format!("create topic {name}: {e}"));
                }
            }
        }
    }
    Ok(())
}

/// Topics per CreateTopics request at most.
const CREATE_BATCH: usize = 500;

/// Counts records the broker never acknowledged: the ground truth assumes every record
/// landed, so seeding fails loudly instead of benchmarking against a wrong truth.
#[derive(Default)]
struct Delivery {
    failed: AtomicUsize,
    first_error: std::sync::Mutex<Option<String>>,
}

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = self.first_error.lock() {
                first.get_or_insert_with(|| format!("{}/{}: {e}", m.topic(), m.partition()));
            }
        }
    }
}

type Seeder = BaseProducer<Delivery>;

fn producer(bootstrap: &str, one_per_batch: bool) -> Result<Seeder, String> {
    let mut cc = ClientConfig::new();
    // No message timeout: at the large size on real Kafka the produce phase outlasted a
    // 60 s timeout and records queued behind it expired unsent.
    // Idempotent: the huge size on 8 nodes at load 40 had produce requests time out after
    // the broker wrote them, and the retries doubled 93 partitions' records (the truth said
    // n, the log held 2n-1; lagwatch reported the log).
    cc.set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "0")
        .set("queue.buffering.max.messages", "1000000")
        .set("linger.ms", if one_per_batch { "0" } else { "20" });
    if one_per_batch {
        cc.set("batch.num.messages", "1");
    }
    cc.create_with_context(Delivery::default())
        .map_err(|e| format!("producer: {e}"))
}

fn send(p: &Seeder, topic: &str, partition: i32, payload: &str) -> Result<(), String> {
    loop {
        match p.send(
            BaseRecord::<(), _>::to(topic)
                .partition(partition)
                .payload(payload),
        ) {
            Ok(()) => return Ok(()),
            Err((e, _)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                p.poll(Duration::from_millis(50));
            }
            Err((e, _)) => return Err(format!("produce to {topic}/{partition}: {e}")),
        }
    }
}

/// Waits for every queued record and fails if any was not acknowledged.
fn drain(p: &Seeder) -> Result<(), String> {
    p.flush(Duration::from_secs(900))
        .map_err(|e| format!("flush: {e}"))?;
    let failed = p.context().failed.load(Ordering::Relaxed);
    if failed == 0 {
        return Ok(());
    }
    let first = p
        .context()
        .first_error
        .lock()
        .ok()
        .and_then(|f| f.clone())
        .unwrap_or_default();
    Err(format!(
        "{failed} records were not delivered (first: {first})"
    ))
}

/// tansu answers ListOffsets LATEST with (first offset of the last batch) + 1, so the last
/// record of each partition goes alone in its own batch after everything else is flushed.
/// At most [`PRODUCE_TOPICS`] topics per producer: librdkafka's producer slows down with
/// the partitions it has open (the huge size's 100,000 in one producer crawled for minutes
/// where 10 producers of 10,000 each take seconds).
fn produce(bootstrap: &str, size: &Size) -> Result<(), String> {
    let topics: Vec<usize> = (0..size.topics).collect();
    for chunk in topics.chunks(PRODUCE_TOPICS) {
        let bulk = producer(bootstrap, false)?;
        for &t in chunk {
            let name = topic(t);
            for p in 0..size.partitions {
                for i in 0..records(t, p) - 1 {
                    send(&bulk, &name, p as i32, &format!("m{i}"))?;
                }
                bulk.poll(Duration::ZERO);
            }
        }
        drain(&bulk)?;
        let single = producer(bootstrap, true)?;
        for &t in chunk {
            let name = topic(t);
            for p in 0..size.partitions {
                send(&single, &name, p as i32, "last")?;
                single.poll(Duration::ZERO);
            }
        }
        drain(&single)?;
    }
    Ok(())
}

/// Topics one seeding producer writes to.
const PRODUCE_TOPICS: usize = 1000;

/// Commits every group's offsets without joining the group, on a few threads at once.
fn commit_all(bootstrap: &str, size: &Size) -> Result<(), String> {
    let next = AtomicUsize::new(0);
    // Each commit is mostly waiting (a new client finds the coordinator first): many
    // threads, or the huge size's 10,000 groups take a quarter of an hour.
    let workers = 32.min(size.groups.max(1));
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| loop {
                    let g = next.fetch_add(1, Ordering::Relaxed);
                    if g >= size.groups {
                        return Ok(());
                    }
                    commit_group(bootstrap, size, g)?;
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err("commit thread panicked".into()))
        })
    })
}

fn commit_group(bootstrap: &str, size: &Size, g: usize) -> Result<(), String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group(g))
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| format!("consumer: {e}"))?;
    let t = g % size.topics;
    let mut tpl = TopicPartitionList::new();
    for p in 0..size.partitions {
        tpl.add_partition_offset(&topic(t), p as i32, Offset::Offset(committed(g, t, p)))
            .map_err(|e| format!("tpl: {e}"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match c.commit(&tpl, CommitMode::Sync) {
            Ok(()) => return Ok(()),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => return Err(format!("commit for {}: {e}", group(g))),
        }
    }
}
