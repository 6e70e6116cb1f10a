//! Scale benchmark: lagwatch (release build, separate process) against a seeded broker,
//! Apache Kafka and tansu in turn.
//!
//! Run with `benches/run [issue2|small|large|partition-heavy|huge|all] [kafka|tansu]`;
//! see BENCHMARKS.md (`all` leaves out `huge`, which takes most of an hour). Per size and
//! broker: start the broker behind a request-counting proxy, seed topics/records/commits
//! with a known ground truth, start lagwatch (once per granularity the size measures, against
//! the same broker), then measure time to ready, poll cycle durations, requests per cycle, RSS, CPU per cycle (lagwatch's and
//! the broker's) and /metrics render time, and check every lag series against the ground
//! truth. Prints a Markdown table with one column per size and broker.

mod broker;
mod commit;
mod measure;
mod proxy;
mod report;
mod seed;

use broker::Kind;
use measure::{
    cpu_seconds, get, jvm_split, poll_histogram, rss_mib, thread_cpu, timed_cycles, wait_ready,
    JvmSplit, Rss,
};
use report::{table, Row};
use seed::{Size, Truth, SIZES};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Intervals with lagwatch stopped, for the broker's own idle CPU.
const IDLE_CYCLES: u64 = 5;

/// Kafka's API key of Fetch (what exact time lag sends).
const FETCH: usize = 1;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test`/nextest run bench targets in test mode
    // (`--list`, or no flag). This harness has no tests: do nothing there, so the test
    // suite never runs a ten-minute benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let known = |w: &String| {
        w == "all" || SIZES.iter().any(|s| s.name == w) || Kind::ALL.iter().any(|k| k.name() == w)
    };
    let picked_sizes = words
        .iter()
        .any(|w| w == "all" || SIZES.iter().any(|s| s.name == w));
    let sizes: Vec<Size> = SIZES
        .iter()
        .filter(|s| {
            words.iter().any(|w| w == s.name)
                || (s.in_all && (!picked_sizes || words.iter().any(|w| w == "all")))
        })
        .copied()
        .collect();
    let picked_brokers = words
        .iter()
        .any(|w| Kind::ALL.iter().any(|k| k.name() == w));
    let brokers: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| !picked_brokers || words.iter().any(|w| w == k.name()))
        .collect();
    if !words.iter().all(known) {
        eprintln!(
            "usage: benches/run [issue2|small|large|partition-heavy|huge|all]... [kafka|tansu]..."
        );
        std::process::exit(2);
    }
    match run(&sizes, &brokers) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("[scale] FAILED: {e}");
            std::process::exit(1);
        }
    }
}

/// The brokers a run needs, installed (or found) once.
struct Brokers {
    kafka: Option<broker::KafkaInstall>,
    tansu: Option<PathBuf>,
}

fn run(sizes: &[Size], kinds: &[Kind]) -> Result<(), String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lagwatch = PathBuf::from(env!("CARGO_BIN_EXE_lagwatch"));
    let out = lagwatch
        .parent()
        .and_then(Path::parent)
        .unwrap_or(&root)
        .join("bench-scale");
    let brokers = Brokers {
        kafka: if kinds.contains(&Kind::Kafka) {
            Some(broker::kafka_install(&root)?)
        } else {
            None
        },
        tansu: if kinds.contains(&Kind::Tansu) {
            Some(broker::tansu_bin(&root)?)
        } else {
            None
        },
    };
    eprintln!("[scale] lagwatch {}", lagwatch.display());
    if let Some(k) = &brokers.kafka {
        eprintln!(
            "[scale] Apache Kafka {} from {}",
            k.version,
            k.libs.display()
        );
    }
    if let Some(t) = &brokers.tansu {
        eprintln!("[scale] tansu {}", t.display());
    }
    let mut rows = Vec::new();
    for size in sizes {
        for kind in kinds {
            let dir = out.join(size.name).join(kind.name());
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            rows.extend(run_size(size, *kind, &brokers, &lagwatch, &dir)?);
            // So far, in case a later size fails or is stopped.
            eprintln!("{}", table(&rows));
        }
    }
    let table = table(&rows);
    println!("{table}");
    let file = out.join("results.md");
    std::fs::write(&file, &table).map_err(|e| format!("{}: {e}", file.display()))?;
    eprintln!("[scale] table written to {}", file.display());
    Ok(())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn run_size(
    size: &Size,
    kind: Kind,
    brokers: &Brokers,
    lagwatch: &Path,
    dir: &Path,
) -> Result<Vec<Row>, String> {
    eprintln!(
        "[scale] == {} on {}: {} topics x {} partitions, {} groups",
        size.name,
        kind.name(),
        size.topics,
        size.partitions,
        size.groups
    );
    let counters = Arc::new(proxy::Counters::default());
    let t_start = Instant::now();
    let partitions = size.topics * size.partitions;
    let (broker, label) = match (kind, &brokers.kafka, &brokers.tansu) {
        (Kind::Kafka, Some(k), _) => {
            let nodes = std::env::var("SCALE_KAFKA_NODES")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .unwrap_or_else(|| broker::nodes_for(partitions, broker::fd_hard_limit()));
            broker::check_map_count(partitions.div_ceil(nodes))?;
            let label = if nodes == 1 {
                format!("Kafka {}", k.version)
            } else {
                format!("Kafka {} ({nodes} nodes)", k.version)
            };
            (broker::start_kafka(k, dir, nodes, &counters)?, label)
        }
        (Kind::Tansu, _, Some(t)) => {
            let port = broker::free_port()?;
            let proxy =
                proxy::start_shared(port, counters.clone()).map_err(|e| format!("proxy: {e}"))?;
            let node = broker::start_tansu(t, port, proxy.port)?;
            let cluster = broker::Cluster {
                nodes: vec![node],
                proxies: vec![proxy],
            };
            (cluster, "tansu".to_owned())
        }
        _ => return Err(format!("{} was not installed", kind.name())),
    };
    eprintln!(
        "[scale]   {label} listening after {:.1}s",
        t_start.elapsed().as_secs_f64()
    );
    let bootstrap = format!("127.0.0.1:{}", broker.proxies[0].port);

    let t0 = Instant::now();
    seed::seed(&bootstrap, size, kind)?;
    let seed_s = t0.elapsed().as_secs_f64();
    eprintln!("[scale]   seeded in {seed_s:.1}s");
    // The open-files arithmetic behind the node count (one descriptor per log segment).
    let fds: Vec<String> = broker
        .nodes
        .iter()
        .map(|n| {
            std::fs::read_dir(format!("/proc/{}/fd", n.pid()))
                .map(|d| d.count().to_string())
                .unwrap_or_else(|_| "?".to_owned())
        })
        .collect();
    eprintln!(
        "[scale]   open files per node after seeding: {} (hard limit {})",
        fds.join(" "),
        broker::fd_hard_limit()
    );
    let truth = Truth::of(size);
    write(&dir.join("truth.tsv"), &truth.to_tsv())?;

    let mut rows = Vec::new();
    for granularity in size.granularities {
        let sub = if size.granularities.len() > 1 {
            dir.join(granularity)
        } else {
            dir.to_path_buf()
        };
        std::fs::create_dir_all(&sub).map_err(|e| format!("{}: {e}", sub.display()))?;
        let run = Run {
            size,
            kind,
            granularity,
            lagwatch,
            dir: &sub,
            bootstrap: &bootstrap,
            proxy: &counters,
            broker: &broker,
            truth: &truth,
        };
        let mut row = measure_lagwatch(&run)?;
        row.broker = label.clone();
        row.seed_s = seed_s;
        rows.push(row);
        // Each granularity as soon as it is measured: a huge run takes most of an hour.
        eprintln!("{}", table(&rows));
    }
    // What the broker burns with nobody asking, to read its CPU per cycle against.
    let interval = Duration::from_secs(size.interval_s);
    let idle_cycles = IDLE_CYCLES.min(size.phases.quiet);
    let idle0 = cluster_cpu(&broker)?;
    std::thread::sleep(interval * idle_cycles as u32);
    let broker_idle_ms = (cluster_cpu(&broker)? - idle0) * 1000.0 / idle_cycles as f64;
    for r in &mut rows {
        r.broker_idle_ms = broker_idle_ms;
    }
    // For experiments with other builds or settings against the same seeded broker.
    eprintln!("{}", table(&rows));
    if let Some(secs) = std::env::var("SCALE_KEEP_BROKER")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        eprintln!("[scale]   broker kept for {secs}s at {bootstrap} (SCALE_KEEP_BROKER)");
        std::thread::sleep(Duration::from_secs(secs));
    }
    let nodes = broker.nodes.len();
    drop(broker);
    if kind == Kind::Kafka {
        broker::remove_data(dir, nodes);
    }
    Ok(rows)
}

/// CPU seconds so far of every node of the cluster.
fn cluster_cpu(c: &broker::Cluster) -> Result<f64, String> {
    c.nodes.iter().map(|n| cpu_seconds(n.pid())).sum()
}

/// [`thread_cpu`] of every node (thread ids are unique across processes).
fn cluster_threads(c: &broker::Cluster) -> HashMap<u32, (String, f64)> {
    c.nodes.iter().flat_map(|n| thread_cpu(n.pid())).collect()
}

/// Resident MiB of every node together.
fn cluster_rss(c: &broker::Cluster) -> Result<f64, String> {
    c.nodes
        .iter()
        .map(|n| rss_mib(n.pid()).map(|r| r.rss))
        .sum()
}

/// One lagwatch measured against a seeded broker.
struct Run<'a> {
    size: &'a Size,
    kind: Kind,
    granularity: &'static str,
    lagwatch: &'a Path,
    dir: &'a Path,
    bootstrap: &'a str,
    proxy: &'a proxy::Counters,
    broker: &'a broker::Cluster,
    truth: &'a Truth,
}

/// Starts lagwatch at one granularity, measures it through every phase and stops it.
fn measure_lagwatch(run: &Run) -> Result<Row, String> {
    let Run {
        size,
        kind,
        granularity,
        lagwatch,
        dir,
        bootstrap,
        proxy,
        broker,
        truth,
    } = *run;
    let phases = size.phases;
    let http = broker::free_port()?;
    let cfg = dir.join("lagwatch.yaml");
    write(&cfg, &config_yaml(size, granularity, http, bootstrap))?;
    let log = dir.join("lagwatch.log");
    let (fetch_n0, fetch_b0) = (proxy.snapshot()[FETCH], proxy.bytes()[FETCH]);
    let started = Instant::now();
    let lw = broker::start_lagwatch(lagwatch, &cfg, &log)?;
    let pid = lw.pid();
    let ready_s = wait_ready(http, started)?;
    let rss_ready = rss_mib(pid)?.rss;
    eprintln!("[scale]   {granularity}: lagwatch ready after {ready_s:.3}s");

    let interval = Duration::from_secs(size.interval_s);
    std::thread::sleep(interval * phases.warmup);
    let bt_timed0 = proxy.broker_time();
    let (cycles, exact_cycles) = timed_cycles(http, pid, interval, phases.timed)?;
    let bt_timed1 = proxy.broker_time();
    let timed_n = cycles.len().max(1) as f64;

    // Quiet phase: no scrape between the two CPU/counter readings.
    let (s0, c0) = poll_histogram(&get(http, "/metrics")?.1);
    let (cpu0, tcpu0, req0, threads0) = (
        cpu_seconds(pid)?,
        cluster_cpu(broker)?,
        proxy.snapshot(),
        cluster_threads(broker),
    );
    let bytes0 = proxy.bytes()[FETCH];
    let bt0 = proxy.broker_time();
    let mut rss_steady = Rss::default();
    for _ in 0..phases.quiet {
        std::thread::sleep(interval);
        let now = rss_mib(pid)?;
        if now.rss > rss_steady.rss {
            rss_steady = now;
        }
    }
    let (cpu1, tcpu1, req1, threads1) = (
        cpu_seconds(pid)?,
        cluster_cpu(broker)?,
        proxy.snapshot(),
        cluster_threads(broker),
    );
    let bytes1 = proxy.bytes()[FETCH];
    let bt1 = proxy.broker_time();
    let broker_split =
        (kind == Kind::Kafka).then(|| jvm_split(&threads0, &threads1, tcpu1 - tcpu0));
    let broker_rss = cluster_rss(broker)?;
    let (s1, c1) = poll_histogram(&get(http, "/metrics")?.1);
    let n = c1.saturating_sub(c0).max(1) as f64;
    let requests = req0
        .iter()
        .zip(&req1)
        .enumerate()
        .filter(|(_, (a, b))| b > a)
        .map(|(k, (a, b))| (proxy::api_name(k), (b - a) as f64 / n))
        .collect();

    let mut render = Vec::with_capacity(phases.scrapes);
    let mut body = String::new();
    for _ in 0..phases.scrapes {
        let (status, b, took) = get(http, "/metrics")?;
        if status != 200 {
            return Err(format!("/metrics answered {status}"));
        }
        render.push(took.as_secs_f64());
        body = b;
    }
    let mut render_gz = Vec::with_capacity(phases.scrapes);
    let mut bytes_gz = 0;
    for _ in 0..phases.scrapes {
        let (status, n, took) = measure::get_gzip(http, "/metrics")?;
        if status != 200 {
            return Err(format!("/metrics (gzip) answered {status}"));
        }
        render_gz.push(took.as_secs_f64());
        bytes_gz = n;
    }
    let verdict = (granularity == "partition").then(|| measure::verify(&body, truth));
    write(&dir.join("metrics.txt"), &body)?;
    let rss_peak = rss_mib(pid)?.peak;
    drop(lw);
    let warnings = std::fs::read_to_string(&log)
        .map(|l| {
            l.lines()
                .filter(|x| x.contains("WARN") || x.contains("ERROR"))
                .count()
        })
        .unwrap_or(0);
    Ok(Row {
        size: *size,
        broker: String::new(),
        granularity,
        seed_s: 0.0,
        ready_s,
        cycles,
        exact_cycles,
        requests,
        broker_time: bt1.per_cycle_since(bt0, n),
        broker_time_timed: bt_timed1.per_cycle_since(bt_timed0, timed_n),
        poll_mean_quiet: (s1 - s0) / n,
        fetch_warmup: (req0[FETCH] - fetch_n0, bytes0 - fetch_b0),
        fetch_bytes_cycle: (bytes1 - bytes0) as f64 / n,
        rss_ready,
        rss_steady,
        rss_peak,
        cpu_ms: (cpu1 - cpu0) * 1000.0 / n,
        broker_cpu_ms: (tcpu1 - tcpu0) * 1000.0 / n,
        broker_split: broker_split.map(|s| JvmSplit {
            jit: s.jit * 1000.0 / n,
            gc: s.gc * 1000.0 / n,
            requests: s.requests * 1000.0 / n,
            other: s.other * 1000.0 / n,
        }),
        broker_idle_ms: 0.0,
        broker_rss,
        render,
        bytes: body.len(),
        render_gz,
        bytes_gz,
        verdict,
        warnings,
        load: loadavg(),
    })
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn config_yaml(size: &Size, granularity: &str, http: u16, bootstrap: &str) -> String {
    format!(
        "# generated by benches/scale\nlisten: \"127.0.0.1:{http}\"\npoll_interval: {i}s\n\
         metrics:\n  granularity: {granularity}\n\
         clusters:\n  - name: bench\n    bootstrap_servers: \"{bootstrap}\"\n    poll_timeout: {t}s\n\
         \x20   groups:\n      include: [\"^bench-\"]\n    topics:\n      include: [\"^bench-\"]\n",
        i = size.interval_s,
        // A huge poll can take longer than the standard 30 s on a busy machine.
        t = (size.interval_s * 4).max(30)
    )
}
