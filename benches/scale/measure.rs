//! Reading the process under test: HTTP GET, /proc counters, /metrics parsing, and the
//! comparison of every lag series with the ground truth.

use crate::seed::Truth;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// GET `path` over HTTP/1.0 (the server closes, so the body ends at EOF).
/// Returns (status, body, wall time of the whole exchange).
pub fn get(port: u16, path: &str) -> Result<(u16, String, Duration), String> {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| format!("timeout: {e}"))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::with_capacity(1 << 20);
    s.read_to_end(&mut raw)
        .map_err(|e| format!("read {path}: {e}"))?;
    let took = t0.elapsed();
    let text = String::from_utf8(raw).map_err(|_| format!("{path}: body is not UTF-8"))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{path}: no header end"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{path}: bad status line"))?;
    Ok((status, body.to_owned(), took))
}

/// GET `path` asking for gzip, as Prometheus does; the body is checked to be gzip and
/// not decompressed. Returns (status, body bytes on the wire, wall time of the exchange).
pub fn get_gzip(port: u16, path: &str) -> Result<(u16, usize, Duration), String> {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| format!("timeout: {e}"))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n"
    )
    .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::with_capacity(1 << 20);
    s.read_to_end(&mut raw)
        .map_err(|e| format!("read {path}: {e}"))?;
    let took = t0.elapsed();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{path}: no header end"))?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    if !head.contains("content-encoding: gzip") {
        return Err(format!("{path}: asked for gzip, got {head}"));
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{path}: bad status line"))?;
    Ok((status, raw.len() - end - 4, took))
}

/// CPU seconds (user + system) a process used so far.
pub fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    Ok(parse_stat(&stat).1)
}

/// (command name, user + system CPU seconds) of a `/proc/.../stat` line.
fn parse_stat(stat: &str) -> (&str, f64) {
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let (head, rest) = stat.rsplit_once(')').unwrap_or(("", ""));
    let comm = head.split_once('(').map(|(_, c)| c).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let hz = clock_ticks_per_second();
    (comm, (tick(11) + tick(12)) / hz.max(1.0))
}

/// CPU seconds so far of every live thread of a process: thread id -> (name, seconds).
pub fn thread_cpu(pid: u32) -> HashMap<u32, (String, f64)> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.filter_map(|t| t.ok()) {
        let Some(tid) = t.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        // A thread may end between the listing and the read: it is just left out.
        if let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) {
            let (comm, secs) = parse_stat(&stat);
            out.insert(tid, (comm.to_owned(), secs));
        }
    }
    out
}

/// Where a JVM broker's CPU went between two [`thread_cpu`] readings, in seconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct JvmSplit {
    /// The JIT compilers (`C1/C2 CompilerThread`).
    pub jit: f64,
    /// The garbage collector (`GC Thread#n`, `G1 ...`).
    pub gc: f64,
    /// Serving clients: network and request handler threads (`data-plane-kafka-...`) and
    /// the group coordinator's event threads, which answer OffsetFetch, DescribeGroups and
    /// ListGroups.
    pub requests: f64,
    /// Everything else, including threads that ended in between (their time is known only
    /// from the process total).
    pub other: f64,
}

/// Splits the CPU a JVM used from `before` to `after` (process total: `total` seconds) by
/// thread name. Linux keeps the first 15 bytes of a Java thread's name.
pub fn jvm_split(
    before: &HashMap<u32, (String, f64)>,
    after: &HashMap<u32, (String, f64)>,
    total: f64,
) -> JvmSplit {
    let mut s = JvmSplit::default();
    for (tid, (name, secs)) in after {
        let d = secs - before.get(tid).map(|(_, b)| *b).unwrap_or(0.0);
        if name.starts_with("C1 CompilerThre") || name.starts_with("C2 CompilerThre") {
            s.jit += d;
        } else if name.starts_with("GC Thread") || name.starts_with("G1 ") {
            s.gc += d;
        } else if name.starts_with("data-plane-kafk") || name.starts_with("group-coordinat") {
            s.requests += d;
        }
    }
    s.other = (total - s.jit - s.gc - s.requests).max(0.0);
    s
}

/// Memory of a process in MiB, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rss {
    /// VmRSS: resident now.
    pub rss: f64,
    /// VmHWM: highest VmRSS so far.
    pub peak: f64,
    /// RssAnon: heap, stacks and other private memory.
    pub anon: f64,
    /// RssFile: resident pages of the binary and shared libraries (code, read-only data).
    pub file: f64,
}

/// Reads a process's [`Rss`].
pub fn rss_mib(pid: u32) -> Result<Rss, String> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let kb = |key: &str| {
        st.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    Ok(Rss {
        rss: kb("VmRSS:"),
        peak: kb("VmHWM:"),
        anon: kb("RssAnon:"),
        file: kb("RssFile:"),
    })
}

/// One exposition sample: name, labels, value.
pub struct Sample<'a> {
    /// Metric name (with `_sum`/`_count`/`_bucket` suffixes as written).
    pub name: &'a str,
    /// Label pairs in order.
    pub labels: Vec<(&'a str, &'a str)>,
    /// Value.
    pub value: f64,
}

/// Parses one classic-text sample line (label values here never hold `"` or `,`).
pub fn parse_line(line: &str) -> Option<Sample<'_>> {
    if line.starts_with('#') || line.is_empty() {
        return None;
    }
    let (head, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match head.split_once('{') {
        Some((n, rest)) => {
            let inner = rest.strip_suffix('}')?;
            let labels = inner
                .split(',')
                .filter(|kv| !kv.is_empty())
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k, v.trim_matches('"')))
                })
                .collect();
            (n, labels)
        }
        None => (head, Vec::new()),
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// (sum, count) of the `lagwatch_poll_duration_seconds` histogram.
pub fn poll_histogram(body: &str) -> (f64, u64) {
    let (mut sum, mut count) = (0.0, 0);
    for s in body.lines().filter_map(parse_line) {
        match s.name {
            "lagwatch_poll_duration_seconds_sum" => sum = s.value,
            "lagwatch_poll_duration_seconds_count" => count = s.value as u64,
            _ => {}
        }
    }
    (sum, count)
}

/// How the exposed offsets compare with the ground truth.
#[derive(Debug, Default, Clone, Copy)]
pub struct Verdict {
    /// Lag series compared.
    pub lag_checked: usize,
    /// Lag series with a wrong value, missing, or not expected.
    pub lag_mismatches: usize,
    /// Log-end series with a wrong value, missing, or not expected.
    pub end_mismatches: usize,
}

/// Compares every `lagwatch_group_partition_lag` and log-end series with `truth`.
pub fn verify(body: &str, truth: &Truth) -> Verdict {
    let mut v = Verdict::default();
    let (mut seen_lag, mut seen_end) = (0usize, 0usize);
    for s in body.lines().filter_map(parse_line) {
        let label = |k: &str| s.labels.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        let part = label("partition")
            .and_then(|p| p.parse::<i32>().ok())
            .unwrap_or(-1);
        let topic = label("topic").unwrap_or("").to_owned();
        match s.name {
            "lagwatch_group_partition_lag" => {
                v.lag_checked += 1;
                let key = (label("group").unwrap_or("").to_owned(), topic, part);
                match truth.lag.get(&key) {
                    Some(&want) if want as f64 == s.value => seen_lag += 1,
                    Some(_) => {
                        seen_lag += 1;
                        v.lag_mismatches += 1;
                    }
                    None => v.lag_mismatches += 1,
                }
            }
            "lagwatch_partition_log_end_offset" => match truth.log_end.get(&(topic, part)) {
                Some(&want) => {
                    seen_end += 1;
                    if want as f64 != s.value {
                        v.end_mismatches += 1;
                    }
                }
                None => v.end_mismatches += 1,
            },
            _ => {}
        }
    }
    // Expected series that never showed up are mismatches too.
    v.lag_mismatches += truth.lag.len().saturating_sub(seen_lag);
    v.end_mismatches += truth.log_end.len().saturating_sub(seen_end);
    v
}

/// The q-quantile (nearest rank) of `xs`; NaN when empty.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = (q * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// The kernel's clock tick rate, in which /proc reports CPU time.
#[allow(unsafe_code)] // a libc call; the crate denies `unsafe` elsewhere
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a constant of the C library.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

/// Seconds from spawn until /readyz says ready (the first complete poll).
pub fn wait_ready(http: u16, started: Instant) -> Result<f64, String> {
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
pub fn timed_cycles(
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
