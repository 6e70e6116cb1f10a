//! `lagwatch check`: poll each cluster twice (so rates, ratio and ETA are known), print a
//! table or the `/api/v1/status` JSON, and exit 0 ok / 1 warning / 2 critical / 3 unreachable
//! / 4 bad arguments or config / 5 nothing to check (no group×topic matched the filters).
//! The polling here is I/O; everything printed comes from the pure [`render`].

pub mod render;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::poller::poll_once;
use crate::source::{ClusterReader, Reader};
use crate::state::{AppState, ClusterStatus};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// Exit code for a config or argument problem (0-3 are the verdicts).
pub const EXIT_USAGE: u8 = 4;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Human table.
    Table,
    /// The `/api/v1/status` document (schema_version 1).
    Json,
}

/// Arguments of `lagwatch check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Config file (YAML); its clusters, groups, topics and rules are used.
    #[arg(short, long, conflicts_with_all = ["bootstrap_servers", "group", "topic"])]
    pub config: Option<PathBuf>,
    /// Check this cluster without a config file (`host:port[,host:port]`).
    #[arg(short = 'b', long, required_unless_present = "config")]
    pub bootstrap_servers: Option<String>,
    /// Only groups matching this regex (repeatable; default: all discovered groups).
    #[arg(short, long)]
    pub group: Vec<String>,
    /// Only topics matching this regex (repeatable; default: all but internal `__` topics).
    #[arg(short, long)]
    pub topic: Vec<String>,
    /// Time between the two polls (rates need two samples), e.g. `5s`, `200ms`.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Upper bound of one poll; an unreachable cluster exits 3 after about this long.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// `table` for people, `json` for scripts.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
    /// Also print one row per partition (CURRENT-OFFSET, LOG-END-OFFSET, LAG).
    #[arg(long)]
    pub per_partition: bool,
}

/// Why `check` could not start.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The config file is invalid.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigErrors),
    /// A `--bootstrap-servers`, `--group` or `--topic` flag is invalid.
    #[error(transparent)]
    Flags(#[from] crate::config::FlagError),
}

/// The config `check` runs with: the file's, or one cluster built from the flags. Status
/// hysteresis is turned off (`for_polls: 1`): a two-poll check must show its verdict.
pub fn build_config(a: &CheckArgs) -> Result<Config, CheckError> {
    let mut cfg = match &a.config {
        Some(path) => crate::config::load_file(path)?,
        None => Config::for_bootstrap(
            a.bootstrap_servers.as_deref().unwrap_or_default(),
            &a.group,
            &a.topic,
            a.interval,
            a.timeout,
        )?,
    };
    cfg.poll_interval = a.interval;
    for c in &mut cfg.clusters {
        c.poll_timeout = a.timeout;
    }
    cfg.rules.defaults.for_polls = 1;
    for o in &mut cfg.rules.overrides {
        o.thresholds.for_polls = 1;
    }
    Ok(cfg)
}

/// Polls every cluster twice, `interval` apart (a cluster whose first poll fails is not
/// polled again: it is down either way), and returns their status as the API sees it.
pub async fn poll_twice(cfg: &Config, progress: bool) -> BTreeMap<String, ClusterStatus> {
    let state = AppState::new(cfg.clusters.iter().map(|c| c.name.as_str()));
    let metrics = Metrics::new(state.clone());
    let (views, _) = broadcast::channel(4);
    let mut polls = Vec::new();
    for c in &cfg.clusters {
        let (ctx, model) =
            crate::poller::for_cluster(c, cfg, state.clone(), metrics.clone(), views.clone());
        let reader = Reader::new(c.clone());
        polls.push(async move {
            let reader: Arc<dyn ClusterReader> = match reader {
                Ok(r) => Arc::new(r),
                Err(e) => {
                    ctx.state.update(&ctx.cluster, |s| {
                        s.polled = true;
                        s.last_error = Some(e.to_string());
                    });
                    return;
                }
            };
            let (mut model, mut prev, mut fault) = (model, None, None);
            poll_once(&ctx, reader.as_ref(), &mut model, &mut prev, &mut fault).await;
            if !ctx.state.snapshot().get(&ctx.cluster).is_some_and(|s| s.up) {
                return;
            }
            tokio::time::sleep(ctx.interval).await;
            poll_once(&ctx, reader.as_ref(), &mut model, &mut prev, &mut fault).await;
        });
    }
    let all = futures::future::join_all(polls);
    if progress {
        let spinner = async {
            let frames = ['|', '/', '-', '\\'];
            for i in 0.. {
                eprint!(
                    "\r{} polling {} cluster(s)…",
                    frames[i % 4],
                    cfg.clusters.len()
                );
                let _ = std::io::stderr().flush();
                tokio::time::sleep(Duration::from_millis(120)).await;
            }
        };
        tokio::select! {
            _ = all => {}
            _ = spinner => {}
        }
        eprint!("\r\x1b[2K");
    } else {
        all.await;
    }
    state.snapshot()
}

/// The command-line filters, for the "nothing checked" message.
fn filters(a: &CheckArgs) -> String {
    let flags: Vec<String> = a
        .group
        .iter()
        .map(|g| format!("--group `{g}`"))
        .chain(a.topic.iter().map(|t| format!("--topic `{t}`")))
        .collect();
    if flags.is_empty() {
        String::new()
    } else {
        format!(" {}", flags.join(", "))
    }
}

/// Runs `lagwatch check` and returns its exit code.
pub fn main(a: &CheckArgs) -> ExitCode {
    let cfg = match build_config(a) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lagwatch check: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let rt = match super::runtime(true, ExitCode::from(EXIT_USAGE)) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    crate::runtime::rustls_provider();
    let clusters = rt.block_on(poll_twice(&cfg, std::io::stderr().is_terminal()));
    let text = match a.output {
        Output::Json => match render::json(&clusters) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("lagwatch check: encoding JSON: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
        Output::Table => render::table(
            &clusters,
            render::TableOptions {
                per_partition: a.per_partition,
                color: std::io::stdout().is_terminal(),
                headroom: cfg.rules.defaults.headroom,
            },
        ),
    };
    let mut out = std::io::stdout().lock();
    // A closed pipe (`check | head`) is not a lag problem: the verdict still decides the code.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    for name in render::nothing_checked(&clusters) {
        eprintln!(
            "lagwatch check: nothing checked in cluster `{name}`: no consumer group with a \
             watched topic matched{}; is a --group/--topic regex (or the config's groups/topics) \
             misspelled?",
            filters(a)
        );
    }
    ExitCode::from(render::exit_code(&clusters))
}
