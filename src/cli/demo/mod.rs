//! `lagwatch demo`: the seed incident, replayed on an in-process librdkafka mock cluster and
//! watched by the real pipeline (`app::start`: poller, model, rules, /metrics, a console
//! notifier). Time is real: every rate, lag and ETA printed is what lagwatch measured on the
//! wall clock. `--speed N` makes the story N× faster by making every simulated rate N×
//! higher (and waits N× shorter), so at N > 1 the ETAs are N× shorter than the seed's.

pub mod sim;
pub mod story;

use crate::config::Config;
use rdkafka::mocking::MockCluster;
use sim::Sim;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use story::{Act, Plan, Seen};

/// The topic of the seed incident.
pub const TOPIC: &str = "transactions";
/// The consumer group of the seed incident.
pub const GROUP: &str = "spark-streaming-group";
const PARTITIONS: i32 = 3;

/// Arguments of `lagwatch demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where lagwatch serves /metrics and the JSON API during the demo.
    #[arg(long, default_value = "127.0.0.1:9358")]
    pub listen: SocketAddr,
    /// Stop after this long (e.g. `60s`); default: run until Ctrl-C.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Messages produced before the consumer starts (the seed: 3,000,000). Thresholds and
    /// rates scale with it, so the story keeps its shape.
    #[arg(long, default_value_t = story::SEED_BACKLOG)]
    pub backlog: u64,
    /// Story speed-up: rates × N, waits ÷ N (1 = the seed's real rates).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The mock cluster could not be created.
    #[error("starting the mock Kafka cluster: {0}")]
    Mock(rdkafka::error::KafkaError),
    /// Producing or committing failed.
    #[error(transparent)]
    Sim(#[from] sim::SimError),
    /// The generated config did not validate (a bug).
    #[error("demo config: {0}")]
    Config(#[from] crate::config::ConfigErrors),
    /// lagwatch itself did not start (e.g. the port is taken: try `--listen 127.0.0.1:0`).
    #[error("starting lagwatch: {0:#}")]
    Start(anyhow::Error),
    /// A blocking task died.
    #[error("demo task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Runs the demo until Ctrl-C or `--duration`; exit 0 when it stopped cleanly.
pub fn main(a: &DemoArgs) -> ExitCode {
    let rt = match super::runtime(true, ExitCode::FAILURE) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(run(a, crate::runtime::shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lagwatch demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The lagwatch config of the demo: the seed thresholds (scaled with the backlog), short
/// windows so the story fits in a couple of minutes, and a console notifier.
pub fn config(plan: &Plan, bootstrap: &str, listen: SocketAddr) -> Result<Config, DemoError> {
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    let yaml = format!(
        r#"
listen: "{listen}"
poll_interval: {poll}
rules:
  lag_warning: {warn}
  lag_critical: {crit}
  headroom: 1.2
  rate_window: {window}
  for_polls: 2
clusters:
  - name: demo
    bootstrap_servers: "{bootstrap}"
    poll_timeout: 5s
    # The in-process mock speaks OffsetFetch v6 at most: librdkafka reads the commits; the
    # fast path reads the rest, the first unconsumed records' timestamps included.
    kafka_client: auto
    groups:
      names: ["{GROUP}"]
    # The mock has no topic settings to describe: the seed topic's retention is declared.
    topic_retention:
      "^{TOPIC}$": 24h
notifiers:
  - name: console
    kind: console
    repeat_interval: 1h
"#,
        poll = ms(plan.poll_interval),
        warn = plan.lag_warning,
        crit = plan.lag_critical,
        window = ms(plan.rate_window),
    );
    let env = |_: &str| None;
    Ok(crate::config::from_str("demo.yaml", &yaml, &env)?)
}

/// The whole story; returns when `shutdown` resolves, `--duration` passes, or on error.
pub async fn run(
    a: &DemoArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DemoError> {
    let started = Instant::now();
    let stop = async {
        match a.duration {
            Some(d) => tokio::select! {
                _ = shutdown => "stopped (Ctrl-C)",
                _ = tokio::time::sleep(d) => "--duration reached: demo over",
            },
            None => {
                shutdown.await;
                "stopped (Ctrl-C)"
            }
        }
    };
    story(a, started, stop).await
}

async fn story(
    a: &DemoArgs,
    started: Instant,
    stop: impl std::future::Future<Output = &'static str>,
) -> Result<(), DemoError> {
    tokio::pin!(stop);
    let plan = Plan::new(a.backlog, a.speed);
    println!("lagwatch demo: the seed incident on an in-process mock Kafka cluster");
    if !plan.is_seed() {
        println!(
            "  scaled: backlog {} (seed 3,000,000), speed x{} (rates x{}, waits /{}); \
             thresholds {} / {} (seed 100,000 / 1,000,000)",
            crate::view::text::count(plan.backlog as i64),
            plan.speed,
            plan.speed,
            plan.speed,
            crate::view::text::count(plan.lag_warning),
            crate::view::text::count(plan.lag_critical),
        );
    }
    let mock = MockCluster::new(3).map_err(DemoError::Mock)?;
    mock.create_topic(TOPIC, PARTITIONS, 1)
        .map_err(DemoError::Mock)?;
    let bootstrap = mock.bootstrap_servers();

    println!(
        "\nAct 1: {} messages are produced into `{TOPIC}` ({PARTITIONS} partitions) before the stream starts…",
        crate::view::text::count(plan.backlog as i64)
    );
    let t0 = Instant::now();
    let (bs, n) = (bootstrap.clone(), plan.backlog);
    let cancel = Arc::new(AtomicBool::new(false));
    let c2 = cancel.clone();
    let produce =
        tokio::task::spawn_blocking(move || sim::produce_backlog(&bs, TOPIC, PARTITIONS, n, &c2));
    let ends = tokio::select! {
        r = produce => r??,
        why = &mut stop => {
            // The producer thread sees the flag and returns; the runtime waits for it.
            cancel.store(true, Ordering::Relaxed);
            println!("\n{why}");
            return Ok(());
        }
    };
    let took = t0.elapsed().as_secs_f64();
    println!(
        "  produced {} messages in {took:.1} s ({} msg/s)",
        crate::view::text::count(plan.backlog as i64),
        crate::view::text::count((plan.backlog as f64 / took.max(1e-3)) as i64)
    );

    println!(
        "\nAct 2: `{GROUP}` starts with startingOffsets=earliest and reads {} msg/s while \
         producers add {} msg/s.",
        crate::view::text::rate(plan.stream_rate),
        crate::view::text::rate(plan.produce_rate)
    );
    let (bs, ends2) = (bootstrap.clone(), ends.clone());
    let (pr, sr) = (plan.produce_rate, plan.stream_rate);
    let sim =
        tokio::task::spawn_blocking(move || Sim::start(&bs, TOPIC, GROUP, ends2, pr, sr)).await??;
    let guard = SimGuard(Some(sim));
    let cfg = config(&plan, &bootstrap, a.listen)?;
    let headroom = cfg.rules.defaults.headroom;
    let running = crate::app::start(cfg).await.map_err(DemoError::Start)?;
    let addr = running.addr;
    println!("  lagwatch is watching it: http://{addr}/  (the web page; the incident: http://{addr}/groups/demo/{GROUP})");
    println!("  JSON: http://{addr}/api/v1/status  ·  metrics: http://{addr}/metrics");
    println!(
        "  (Prometheus: point a scrape job at http://{addr}/metrics, see examples/prometheus.yml; \
         Grafana: import dashboards/lagwatch-overview.json)\n"
    );
    let mut views = running.views.subscribe();
    let (mut act, mut seen) = (Act::Replay, Seen::default());
    let mut last_print: Option<f64> = None;
    let result = loop {
        let recv = tokio::select! {
            r = views.recv() => r,
            why = &mut stop => {
                println!("\n{why}");
                break Ok(());
            }
        };
        let view = match recv {
            Ok(v) => v,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break Ok(()),
        };
        let at = started.elapsed().as_secs_f64();
        let Some(t) = view
            .groups
            .iter()
            .find(|g| g.group == GROUP)
            .and_then(|g| g.topics.iter().find(|t| &*t.topic == TOPIC))
        else {
            continue;
        };
        let next = story::observe(act, &mut seen, t, at, &plan);
        // One line every few seconds, and at every change, keeps the screen readable.
        let quiet = if act == Act::Done { 30.0 } else { 5.0 };
        let every = (quiet / plan.speed).max(plan.poll_interval.as_secs_f64());
        if next.is_some() || last_print.is_none_or(|l| at - l >= every) {
            println!("{}", story::status_line(at, t, headroom));
            last_print = Some(at);
        }
        match next {
            Some(Act::Drain) => {
                println!(
                    "\nAct 3: the runbook: a batch job (spark.read with startingOffsets=earliest, \
                     endingOffsets=latest) reads the backlog at {} msg/s, then the stream \
                     follows from latest.\n",
                    crate::view::text::rate(plan.batch_rate)
                );
                if let Some(s) = &guard.0 {
                    s.set_consume_rate(plan.batch_rate);
                }
            }
            Some(Act::Done) => {
                println!(
                    "\nThe incident is resolved. lagwatch keeps watching (http://{addr}/); \
                     Ctrl-C to stop."
                );
            }
            _ => {}
        }
        if let Some(n) = next {
            act = n;
        }
    };
    running.stop().await;
    drop(guard);
    result
}

/// Stops the simulation threads however the story ends, errors included.
struct SimGuard(Option<Sim>);

impl Drop for SimGuard {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.stop();
        }
    }
}
