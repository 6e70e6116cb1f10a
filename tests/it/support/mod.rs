//! Shared helpers for integration tests: real brokers (librdkafka mock cluster, tansu),
//! producing and committing, running lagwatch in-process and reading its /metrics.
//! [`binary`] runs the real `lagwatch` binary; [`notifiers`] builds views and notifier
//! configs for the notification tests; [`cut`] is a proxy that takes a broker away.

pub mod binary;
pub mod cut;
pub mod notifiers;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Produces `n` records to one partition. `one_per_batch` makes every record its own batch,
/// which tansu needs for an exact high watermark.
pub fn produce(bootstrap: &str, topic: &str, partition: i32, n: usize, one_per_batch: bool) {
    let mut cc = ClientConfig::new();
    cc.set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "30000")
        .set("linger.ms", if one_per_batch { "0" } else { "5" });
    if one_per_batch {
        cc.set("batch.num.messages", "1")
            .set("max.in.flight.requests.per.connection", "1");
    }
    let p: BaseProducer = cc.create().expect("producer");
    for i in 0..n {
        let payload = format!("m{i}");
        loop {
            match p.send(
                BaseRecord::<(), _>::to(topic)
                    .partition(partition)
                    .payload(&payload),
            ) {
                Ok(()) => break,
                Err((e, _)) => {
                    // Queue full: let deliveries drain, then retry the same record.
                    assert!(
                        matches!(
                            e.rdkafka_error_code(),
                            Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                        ),
                        "produce failed: {e}"
                    );
                    p.poll(Duration::from_millis(50));
                }
            }
        }
        if one_per_batch {
            p.flush(Duration::from_secs(30)).expect("flush");
        } else {
            p.poll(Duration::ZERO);
        }
    }
    p.flush(Duration::from_secs(60)).expect("flush");
}

/// Commits `offset` (next to consume) for a group without joining it (a "simple" commit).
pub fn commit(bootstrap: &str, group: &str, offsets: &[(&str, i32, i64)]) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for (t, p, o) in offsets {
        tpl.add_partition_offset(t, *p, Offset::Offset(*o))
            .expect("tpl");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match c.commit(&tpl, CommitMode::Sync) {
            Ok(()) => return,
            Err(e) if Instant::now() < deadline => {
                eprintln!("commit retry for {group}: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("commit for {group} failed: {e}"),
        }
    }
}

/// Creates a topic through the Kafka admin API (tansu); the mock cluster uses `create_topic`.
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin");
    let t = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let res = admin
        .create_topics(
            &[t],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create_topics");
    for r in res {
        if let Err((name, e)) = r {
            assert!(
                matches!(e, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists),
                "create {name}: {e}"
            );
        }
    }
}

/// Deletes a topic through the admin API.
pub async fn delete_topic(bootstrap: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin");
    let res = admin
        .delete_topics(
            &[topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("delete_topics");
    for r in res {
        r.map_err(|(n, e)| format!("delete {n}: {e}"))
            .expect("delete topic");
    }
}

/// Deletes consumer groups through the admin API.
pub async fn delete_group(bootstrap: &str, group: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin");
    let res = admin
        .delete_groups(
            &[group],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("delete_groups");
    for r in res {
        r.map_err(|(n, e)| format!("delete group {n}: {e}"))
            .expect("delete group");
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A private tansu broker on a free loopback port, killed on drop.
pub struct Tansu {
    /// `127.0.0.1:port`.
    pub addr: String,
    child: Child,
    port: u16,
    advertised: u16,
}

/// The tansu binary, or None (with a note) when this machine has none and CI is not set.
pub fn tansu_bin() -> Option<String> {
    match std::env::var("TANSU_BIN") {
        Ok(b) if !b.is_empty() => Some(b),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "TANSU_BIN is not set: run the suite with `bash .ci/run`"
            );
            eprintln!("TANSU_BIN not set: skipping this tansu test (run `bash .ci/run`)");
            None
        }
    }
}

impl Tansu {
    /// Starts a broker on a free port and waits until it accepts connections.
    pub fn start() -> Option<Tansu> {
        let bin = tansu_bin()?;
        let port = free_port();
        let child = spawn_tansu(&bin, port);
        let t = Tansu {
            addr: format!("127.0.0.1:{port}"),
            child,
            port,
            advertised: port,
        };
        wait_port(port, Duration::from_secs(10));
        Some(t)
    }

    /// Starts a broker on `port` that advertises `advertised` instead (a proxy in front
    /// of it); returns it with the port it really listens on.
    pub fn start_advertising_on(port: u16, advertised: u16) -> Option<(Tansu, u16)> {
        let bin = tansu_bin()?;
        let child = spawn_tansu_at(&bin, port, advertised);
        wait_port(port, Duration::from_secs(10));
        let t = Tansu {
            addr: format!("127.0.0.1:{advertised}"),
            child,
            port,
            advertised,
        };
        Some((t, port))
    }

    /// Kills the broker (its in-memory data is gone).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts a fresh broker on the same port after `kill`.
    pub fn restart(&mut self) {
        let bin = tansu_bin().expect("tansu");
        self.child = spawn_tansu_at(&bin, self.port, self.advertised);
        wait_port(self.port, Duration::from_secs(10));
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn_tansu(bin: &str, port: u16) -> Child {
    spawn_tansu_at(bin, port, port)
}

fn spawn_tansu_at(bin: &str, port: u16, advertised: u16) -> Child {
    let url = format!("tcp://127.0.0.1:{port}");
    let adv = format!("tcp://127.0.0.1:{advertised}");
    let mut cmd = Command::new(bin);
    cmd.args([
        "broker",
        "--listener-url",
        &url,
        "--advertised-listener-url",
        &adv,
    ])
    .args(["--storage-engine", "memory://tansu/"])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if let Ok(extra) = std::env::var("TANSU_EXTRA_ARGS") {
        cmd.args(extra.split_whitespace());
    }
    cmd.spawn().expect("spawn tansu")
}

fn wait_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "broker on port {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fetches `/metrics` (classic text) from a running lagwatch.
pub async fn scrape(addr: std::net::SocketAddr) -> String {
    http_get(addr, "/metrics").await.1
}

/// GET a path; returns (status, body).
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let r = reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("http get");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

/// The value of the sample `name{labels}` where every given label matches; None if absent.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            let (head, _) = l.rsplit_once(' ').unwrap_or((l, ""));
            let (n, rest) = head.split_once('{').unwrap_or((head, ""));
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
}

/// Waits until `f` returns Some, polling every 100 ms, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Parses a config for tests (env lookups see the real environment).
pub fn config(yaml: &str) -> lagwatch::config::Config {
    let env = |k: &str| std::env::var(k).ok();
    lagwatch::config::from_str("test.yaml", yaml, &env).unwrap_or_else(|e| panic!("{e}"))
}

/// Large records (600 kB), one per batch, to topic "big" partition 0: the mock cluster keeps
/// about 5 MB per partition, so the first ones are deleted and the log start moves past
/// early commits (data loss) without DeleteRecords, which the mock lacks.
pub fn produce_big(bs: &str, n: usize) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    let payload = vec![b'x'; 600_000];
    for _ in 0..n {
        p.send(
            BaseRecord::<(), _>::to("big")
                .partition(0)
                .payload(&payload),
        )
        .map_err(|(e, _)| e)
        .expect("send");
        p.flush(Duration::from_secs(10)).expect("flush");
    }
}

/// One record per batch to `topic`/0 every ~20 ms until `stop`, counting in `produced` what
/// reached the log: a steady producer whose real progress tests can pace a consumer by.
pub fn produce_steadily(
    bs: &str,
    topic: &str,
    produced: &std::sync::atomic::AtomicI64,
    stop: &std::sync::atomic::AtomicBool,
) {
    use std::sync::atomic::Ordering;
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    while !stop.load(Ordering::Relaxed) {
        p.send(BaseRecord::<(), _>::to(topic).partition(0).payload("x"))
            .map_err(|(e, _)| e)
            .expect("send");
        p.flush(Duration::from_secs(10)).expect("flush");
        produced.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(20));
    }
}
