//! The harness's result: one row per size, broker and granularity, and the Markdown table
//! printed from the rows.

use crate::measure::{quantile, JvmSplit, Rss, Verdict};
use crate::proxy;
use crate::seed::Size;

/// Everything measured for one size.
pub struct Row {
    pub size: Size,
    pub broker: String,
    /// `metrics.granularity` of this lagwatch.
    pub granularity: &'static str,
    pub seed_s: f64,
    pub ready_s: f64,
    pub cycles: Vec<f64>,
    pub exact_cycles: usize,
    pub requests: Vec<(String, f64)>,
    /// The brokers' own time per cycle for lagwatch's requests, seen at the proxies, over
    /// the quiet cycles.
    pub broker_time: proxy::BrokerTime,
    /// The same over the timed cycles (the ones `cycles` holds): the harness reads the
    /// poll histogram from a whole scrape twice a cycle there, which at partition
    /// granularity is a large render running next to the polls it times.
    pub broker_time_timed: proxy::BrokerTime,
    /// Mean poll duration over the same (quiet-phase) cycles.
    pub poll_mean_quiet: f64,
    /// Fetch requests and answer bytes from lagwatch's start to the end of the timed
    /// cycles: what exact time lag cost to warm up (every lagging position read once).
    pub fetch_warmup: (u64, u64),
    /// Fetch answer bytes per cycle once warm.
    pub fetch_bytes_cycle: f64,
    pub rss_ready: f64,
    pub rss_steady: Rss,
    pub rss_peak: f64,
    pub cpu_ms: f64,
    pub broker_cpu_ms: f64,
    pub broker_split: Option<JvmSplit>,
    pub broker_idle_ms: f64,
    pub broker_rss: f64,
    pub render: Vec<f64>,
    pub bytes: usize,
    /// The same scrapes asking for gzip, as Prometheus does: wall time and body size.
    pub render_gz: Vec<f64>,
    pub bytes_gz: usize,
    /// Compared with the ground truth only at partition granularity (the families it checks
    /// are per partition).
    pub verdict: Option<Verdict>,
    pub warnings: usize,
    pub load: String,
}

fn ms(x: f64) -> String {
    format!("{:.1}", x * 1000.0)
}

pub fn table(rows: &[Row]) -> String {
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
