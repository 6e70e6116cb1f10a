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
mod seed;

use broker::Kind;
use measure::{
    cpu_seconds, get, jvm_split, poll_histogram, quantile, rss_mib, thread_cpu, JvmSplit, Rss,
    Verdict,
};
use seed::{Size, Truth, SIZES};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Intervals with lagwatch stopped, for the broker's own idle CPU.
const IDLE_CYCLES: u64 = 5;

/// Kafka's API key of Fetch (what exact time lag sends).
const FETCH: usize = 1;

/// Everything measured for one size.
struct Row {
    size: Size,
    broker: String,
    /// `metrics.granularity` of this lagwatch.
    granularity: &'static str,
    seed_s: f64,
    ready_s: f64,
    cycles: Vec<f64>,
    exact_cycles: usize,
    requests: Vec<(String, f64)>,
    /// The brokers' own time per cycle for lagwatch's requests, seen at the proxies, over
    /// the quiet cycles.
    broker_time: proxy::BrokerTime,
    /// The same over the timed cycles (the ones `cycles` holds): the harness reads the
    /// poll histogram from a whole scrape twice a cycle there, which at partition
    /// granularity is a large render running next to the polls it times.
    broker_time_timed: proxy::BrokerTime,
    /// Mean poll duration over the same (quiet-phase) cycles.
    poll_mean_quiet: f64,
    /// Fetch requests and answer bytes from lagwatch's start to the end of the timed
    /// cycles: what exact time lag cost to warm up (every lagging position read once).
    fetch_warmup: (u64, u64),
    /// Fetch answer bytes per cycle once warm.
    fetch_bytes_cycle: f64,
    rss_ready: f64,
    rss_steady: Rss,
    rss_peak: f64,
    cpu_ms: f64,
    broker_cpu_ms: f64,
    broker_split: Option<JvmSplit>,
    broker_idle_ms: f64,
    broker_rss: f64,
    render: Vec<f64>,
    bytes: usize,
    /// The same scrapes asking for gzip, as Prometheus does: wall time and body size.
    render_gz: Vec<f64>,
    bytes_gz: usize,
    /// Compared with the ground truth only at partition granularity (the families it checks
    /// are per partition).
    verdict: Option<Verdict>,
    warnings: usize,
    load: String,
}

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
        broker_time: proxy::BrokerTime {
            latency_s: (bt1.latency_s - bt0.latency_s) / n,
            busy_s: (bt1.busy_s - bt0.busy_s) / n,
        },
        broker_time_timed: proxy::BrokerTime {
            latency_s: (bt_timed1.latency_s - bt_timed0.latency_s) / timed_n,
            busy_s: (bt_timed1.busy_s - bt_timed0.busy_s) / timed_n,
        },
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

/// Seconds from spawn until /readyz says ready (the first complete poll).
fn wait_ready(http: u16, started: Instant) -> Result<f64, String> {
    let deadline = started + Duration::from_secs(600);
    loop {
        if let Ok((200, _, _)) = get(http, "/readyz") {
            return Ok(started.elapsed().as_secs_f64());
        }
        if Instant::now() > deadline {
            return Err("lagwatch not ready after 600 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Per-cycle poll durations from the histogram's `_sum`/`_count` deltas, scraping twice per
/// interval so that almost every delta holds exactly one poll; returns (durations, exact).
fn timed_cycles(
    http: u16,
    pid: u32,
    interval: Duration,
    timed: u64,
) -> Result<(Vec<f64>, usize), String> {
    let (mut sum, mut count) = poll_histogram(&get(http, "/metrics")?.1);
    let (mut out, mut exact, mut seen) = (Vec::new(), 0, 0u64);
    let deadline = Instant::now() + interval * (timed as u32 * 4) + Duration::from_secs(60);
    while seen < timed {
        if Instant::now() > deadline {
            return Err(format!("only {seen} polls finished in time"));
        }
        std::thread::sleep(interval / 2);
        let (s, c) = poll_histogram(&get(http, "/metrics")?.1);
        rss_mib(pid)?;
        if c > count {
            let d = c - count;
            for _ in 0..d {
                out.push((s - sum) / d as f64);
            }
            exact += usize::from(d == 1);
            seen += d;
            (sum, count) = (s, c);
        }
    }
    Ok((out, exact))
}

fn ms(x: f64) -> String {
    format!("{:.1}", x * 1000.0)
}

fn table(rows: &[Row]) -> String {
    let mut t = String::from("| metric |");
    for r in rows {
        if r.size.granularities.len() > 1 {
            t += &format!(" {} on {}, {} |", r.size.name, r.broker, r.granularity);
        } else {
            t += &format!(" {} on {} |", r.size.name, r.broker);
        }
    }
    t += "\n|---|";
    t += &"---:|".repeat(rows.len());
    t += "\n";
    let mut line = |name: &str, f: &dyn Fn(&Row) -> String| {
        t += &format!("| {name} |");
        for r in rows {
            t += &format!(" {} |", f(r));
        }
        t += "\n";
    };
    line("topics x partitions", &|r| {
        format!("{} x {}", r.size.topics, r.size.partitions)
    });
    line("partitions / groups / lag series", &|r| {
        let s = r.size;
        format!(
            "{} / {} / {}",
            s.topics * s.partitions,
            s.groups,
            s.groups * s.partitions
        )
    });
    line("poll interval", &|r| format!("{} s", r.size.interval_s));
    line("seeding (not a result)", &|r| format!("{:.1} s", r.seed_s));
    line("ready (first complete poll)", &|r| {
        format!("{:.3} s", r.ready_s)
    });
    line("poll cycle p50 (ms)", &|r| ms(quantile(&r.cycles, 0.5)));
    line("poll cycle p99 (ms)", &|r| ms(quantile(&r.cycles, 0.99)));
    line("cycles timed (exact)", &|r| {
        format!("{} ({})", r.cycles.len(), r.exact_cycles)
    });
    line("Kafka requests / cycle", &|r| {
        format!("{:.1}", r.requests.iter().map(|(_, n)| n).sum::<f64>())
    });
    line(
        "brokers' own time / cycle, quiet: busy wall / sum of latencies (ms)",
        &|r| {
            format!(
                "{} / {}",
                ms(r.broker_time.busy_s),
                ms(r.broker_time.latency_s)
            )
        },
    );
    line("poll mean over the same quiet cycles (ms)", &|r| {
        ms(r.poll_mean_quiet)
    });
    // Each ratio compares polls with the brokers' time over the same cycles: the timed
    // ones (the harness scrapes twice a cycle) and the quiet ones (no scrape).
    line(
        "poll mean / brokers' busy wall, quiet cycles (target ≤ 1.5)",
        &|r| format!("{:.2}", r.poll_mean_quiet / r.broker_time.busy_s),
    );
    line("brokers' busy wall / cycle, timed (ms)", &|r| {
        ms(r.broker_time_timed.busy_s)
    });
    line(
        "poll p50 / brokers' busy wall, timed cycles (target ≤ 1.5)",
        &|r| {
            format!(
                "{:.2}",
                quantile(&r.cycles, 0.5) / r.broker_time_timed.busy_s
            )
        },
    );
    line("…by API", &|r| {
        let v: Vec<String> = r
            .requests
            .iter()
            .map(|(k, n)| format!("{k} {n:.1}"))
            .collect();
        v.join("<br>")
    });
    line("Fetch at warm-up: requests / answer KiB", &|r| {
        format!(
            "{} / {:.1}",
            r.fetch_warmup.0,
            r.fetch_warmup.1 as f64 / 1024.0
        )
    });
    line("Fetch answer KiB / cycle once warm", &|r| {
        format!("{:.1}", r.fetch_bytes_cycle / 1024.0)
    });
    line("RSS at ready, before any scrape (MiB)", &|r| {
        format!("{:.1}", r.rss_ready)
    });
    line("RSS steady (MiB, max VmRSS)", &|r| {
        format!("{:.1}", r.rss_steady.rss)
    });
    line("…of which anon (heap, stacks) / file (code)", &|r| {
        format!("{:.1} / {:.1}", r.rss_steady.anon, r.rss_steady.file)
    });
    line("RSS peak (MiB, VmHWM)", &|r| format!("{:.1}", r.rss_peak));
    line("lagwatch CPU / cycle (ms)", &|r| format!("{:.1}", r.cpu_ms));
    line("broker CPU / cycle (ms)", &|r| {
        format!("{:.1}", r.broker_cpu_ms)
    });
    line(
        "…of which JVM threads: requests / JIT / GC / other (ms)",
        &|r| match r.broker_split {
            Some(s) => format!(
                "{:.1} / {:.1} / {:.1} / {:.1}",
                s.requests, s.jit, s.gc, s.other
            ),
            None => "—".to_owned(),
        },
    );
    line(
        "…broker CPU / interval with lagwatch stopped (ms)",
        &|r| format!("{:.1}", r.broker_idle_ms),
    );
    line("broker RSS (MiB, all nodes)", &|r| {
        format!("{:.1}", r.broker_rss)
    });
    line("/metrics p50 (ms)", &|r| ms(quantile(&r.render, 0.5)));
    line("/metrics p99 (ms)", &|r| ms(quantile(&r.render, 0.99)));
    line("/metrics size (bytes)", &|r| r.bytes.to_string());
    line("/metrics gzip p50 (ms)", &|r| {
        ms(quantile(&r.render_gz, 0.5))
    });
    line("/metrics gzip p99 (ms)", &|r| {
        ms(quantile(&r.render_gz, 0.99))
    });
    line("/metrics gzip size (bytes)", &|r| r.bytes_gz.to_string());
    let verdict = |f: fn(&Verdict) -> usize| {
        move |r: &Row| {
            r.verdict
                .as_ref()
                .map_or("— (not per partition)".to_owned(), |v| f(v).to_string())
        }
    };
    line("lag series checked", &verdict(|v| v.lag_checked));
    line("lag mismatches (must be 0)", &verdict(|v| v.lag_mismatches));
    line(
        "log-end mismatches (must be 0)",
        &verdict(|v| v.end_mismatches),
    );
    line("WARN/ERROR log lines", &|r| r.warnings.to_string());
    line("load avg at end (1/5/15 min)", &|r| r.load.clone());
    t
}
