//! A counting TCP proxy in front of the broker: tansu advertises the proxy's address, so
//! every request of every client passes here and is counted by Kafka API key. This gives
//! exact broker-side request counts without touching lagwatch or the broker, and the bytes
//! of the answers per API (a connection's answers come back in the order of its requests),
//! and how long the brokers took to answer: the broker's own time for the same requests that
//! a poll cycle is compared with. A cluster gets one proxy per broker, all sharing one
//! [`Counters`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Kafka API keys go up to ~80 today; anything above lands in the last slot.
const SLOTS: usize = 128;

/// Requests seen, and bytes answered, per API key since the proxy started.
pub struct Counters {
    by_key: [AtomicU64; SLOTS],
    bytes_by_key: [AtomicU64; SLOTS],
    /// Sum over answered requests of (answer read - request forwarded), nanoseconds: the
    /// brokers' time as if every request had been sent alone, one after the other.
    latency_ns: AtomicU64,
    /// Wall time with at least one request outstanding at any broker of the cluster,
    /// nanoseconds: the brokers' own time for the requests, overlaps counted once.
    busy_ns: AtomicU64,
    /// Requests outstanding right now across all proxies, and since when that is above 0.
    inflight: Mutex<(u64, Option<Instant>)>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            by_key: std::array::from_fn(|_| AtomicU64::new(0)),
            bytes_by_key: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_ns: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            inflight: Mutex::new((0, None)),
        }
    }
}

/// (sum of request latencies, busy wall time) in seconds; see [`Counters`].
#[derive(Debug, Clone, Copy, Default)]
pub struct BrokerTime {
    /// Sum of every request's latency.
    pub latency_s: f64,
    /// Wall time with any request outstanding.
    pub busy_s: f64,
}

impl BrokerTime {
    /// Per cycle between `earlier` and this reading, over `cycles` cycles.
    pub fn per_cycle_since(self, earlier: BrokerTime, cycles: f64) -> BrokerTime {
        BrokerTime {
            latency_s: (self.latency_s - earlier.latency_s) / cycles,
            busy_s: (self.busy_s - earlier.busy_s) / cycles,
        }
    }
}

impl Counters {
    /// The brokers' time so far (subtract two readings for an interval).
    pub fn broker_time(&self) -> BrokerTime {
        BrokerTime {
            latency_s: self.latency_ns.load(Ordering::Relaxed) as f64 / 1e9,
            busy_s: self.busy_ns.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }

    fn request_sent(&self) {
        if let Ok(mut g) = self.inflight.lock() {
            if g.0 == 0 {
                g.1 = Some(Instant::now());
            }
            g.0 += 1;
        }
    }

    fn answer_read(&self, sent: Instant) {
        let now = Instant::now();
        self.latency_ns
            .fetch_add((now - sent).as_nanos() as u64, Ordering::Relaxed);
        self.settled(now);
    }

    /// One outstanding request less (answered, or its connection closed unanswered).
    fn settled(&self, now: Instant) {
        if let Ok(mut g) = self.inflight.lock() {
            g.0 = g.0.saturating_sub(1);
            if g.0 == 0 {
                if let Some(since) = g.1.take() {
                    self.busy_ns
                        .fetch_add((now - since).as_nanos() as u64, Ordering::Relaxed);
                }
            }
        }
    }

    /// Current request totals per API key (index = key).
    pub fn snapshot(&self) -> Vec<u64> {
        self.by_key
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    /// Current answer bytes (frames with their length prefix) per API key.
    pub fn bytes(&self) -> Vec<u64> {
        self.bytes_by_key
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }
}

/// The running proxy; its runtime (one worker thread) lives as long as this value.
pub struct Proxy {
    /// Port clients connect to (the address the broker advertises).
    pub port: u16,
    /// Request counters (shared with the cluster's other proxies); the harness reads the
    /// shared `Arc` it passed in, the integration test reads this one.
    #[allow(dead_code)]
    pub counters: Arc<Counters>,
    _rt: tokio::runtime::Runtime,
}

/// Listens on a free loopback port and forwards each connection to `upstream_port`, with
/// counters of its own (`tests/it/source/batched_offsets.rs` uses this proxy too).
#[allow(dead_code)] // the harness itself always shares counters
pub fn start(upstream_port: u16) -> std::io::Result<Proxy> {
    start_shared(upstream_port, Arc::new(Counters::default()))
}

/// Listens on a free loopback port and forwards each connection to `upstream_port`,
/// counting into `counters` (shared by the proxies of one cluster).
pub fn start_shared(upstream_port: u16, counters: Arc<Counters>) -> std::io::Result<Proxy> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-proxy")
        .enable_io()
        .build()?;
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0"))?;
    let port = listener.local_addr()?.port();
    let c = counters.clone();
    rt.spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let c = c.clone();
            tokio::spawn(async move {
                if let Ok(broker) = TcpStream::connect(("127.0.0.1", upstream_port)).await {
                    let _ = client.set_nodelay(true);
                    let _ = broker.set_nodelay(true);
                    forward(client, broker, c).await;
                }
            });
        }
    });
    Ok(Proxy {
        port,
        counters,
        _rt: rt,
    })
}

async fn forward(client: TcpStream, broker: TcpStream, counters: Arc<Counters>) {
    let (cr, mut cw) = client.into_split();
    let (br, mut bw) = broker.into_split();
    // The API key and send time of each request still waiting for its answer, oldest first.
    let waiting = Arc::new(Mutex::new(VecDeque::<(usize, Instant)>::new()));
    let (w_up, c_up) = (waiting.clone(), counters.clone());
    let (w_end, c_end) = (waiting.clone(), counters.clone());
    let up = async move {
        let counters = c_up;
        // Requests are framed as i32 length + header starting with the i16 api key.
        let mut cr = BufReader::with_capacity(64 * 1024, cr);
        let mut buf = Vec::new();
        while let Ok(len) = cr.read_i32().await {
            let Ok(len) = usize::try_from(len) else { break };
            buf.resize(len, 0);
            if cr.read_exact(&mut buf).await.is_err() {
                break;
            }
            if len >= 2 {
                let key = usize::try_from(i16::from_be_bytes([buf[0], buf[1]])).unwrap_or(0);
                counters.by_key[key.min(SLOTS - 1)].fetch_add(1, Ordering::Relaxed);
                // Produce with acks=0 gets no answer (api 0, acks in the body): no client
                // here sends it (the seeding producers wait for acks).
                if let Ok(mut w) = w_up.lock() {
                    w.push_back((key.min(SLOTS - 1), Instant::now()));
                }
                counters.request_sent();
            }
            let head = i32::try_from(len).unwrap_or(i32::MAX).to_be_bytes();
            if bw.write_all(&head).await.is_err() || bw.write_all(&buf).await.is_err() {
                break;
            }
        }
        let _ = bw.shutdown().await;
    };
    let down = async move {
        let mut br = BufReader::with_capacity(64 * 1024, br);
        let mut buf = Vec::new();
        while let Ok(len) = br.read_i32().await {
            let Ok(n) = usize::try_from(len) else { break };
            buf.resize(n, 0);
            if br.read_exact(&mut buf).await.is_err() {
                break;
            }
            let key = waiting.lock().ok().and_then(|mut w| w.pop_front());
            if let Some((k, sent)) = key {
                counters.bytes_by_key[k].fetch_add(n as u64 + 4, Ordering::Relaxed);
                counters.answer_read(sent);
            }
            if cw.write_all(&len.to_be_bytes()).await.is_err() || cw.write_all(&buf).await.is_err()
            {
                break;
            }
        }
        let _ = cw.shutdown().await;
    };
    tokio::join!(up, down);
    // Requests of a closed connection never get answered: not outstanding any more.
    let left = w_end.lock().map(|mut w| w.drain(..).count()).unwrap_or(0);
    for _ in 0..left {
        c_end.settled(Instant::now());
    }
}

/// Kafka API key names for the keys an exporter or the seeding can send.
pub fn api_name(key: usize) -> String {
    let n = match key {
        0 => "Produce",
        1 => "Fetch",
        2 => "ListOffsets",
        3 => "Metadata",
        8 => "OffsetCommit",
        9 => "OffsetFetch",
        10 => "FindCoordinator",
        11 => "JoinGroup",
        12 => "Heartbeat",
        13 => "LeaveGroup",
        14 => "SyncGroup",
        15 => "DescribeGroups",
        16 => "ListGroups",
        18 => "ApiVersions",
        19 => "CreateTopics",
        32 => "DescribeConfigs",
        60 => "DescribeCluster",
        69 => "ConsumerGroupDescribe",
        _ => return format!("api{key}"),
    };
    n.to_owned()
}
