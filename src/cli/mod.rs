//! Command line: `run`, `validate`, `check`, `demo`, `notify-test`, `healthcheck`, `silence`.

pub mod check;
pub mod demo;
mod healthcheck;
mod notify_test;
mod silence;
mod validate;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Kafka consumer-lag monitoring: lag, rates, drain ETA, status with reasons, alerts.
#[derive(Debug, Parser)]
#[command(name = "lagwatch", version, about)]
pub struct Cli {
    /// Log filter (overrides RUST_LOG), e.g. `info`, `lagwatch=debug`.
    #[arg(long, global = true, env = "LAGWATCH_LOG")]
    pub log_level: Option<String>,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    pub log_json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the exporter: poll clusters, serve /metrics, send alerts.
    Run {
        /// Config file (YAML).
        #[arg(
            short,
            long,
            env = "LAGWATCH_CONFIG",
            default_value = "/etc/lagwatch/lagwatch.yaml"
        )]
        config: PathBuf,
    },
    /// Check a config file and report every problem with file, line and field.
    Validate {
        /// Config file (YAML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Exit 0 if a lagwatch answers 200 on its health URL (container HEALTHCHECK).
    Healthcheck {
        /// URL to probe.
        #[arg(long, default_value = "http://127.0.0.1:9358/healthz")]
        url: String,
    },
    /// Poll twice and print lag, rates, ETA, status and action; exit 0 ok, 1 warning,
    /// 2 critical, 3 a cluster unreachable, 4 bad arguments or config, 5 nothing matched
    /// the group/topic filters (nothing was checked). Status hysteresis is
    /// off here (for_polls = 1) so the two-poll verdict is not hidden.
    Check(check::CheckArgs),
    /// Replay the seed incident on an in-process mock Kafka with the real pipeline (no
    /// broker needed): a 3,000,000-message backlog read from earliest, then drained.
    Demo(demo::DemoArgs),
    /// Send a sample alert (the seed incident) to the configured notifiers.
    NotifyTest {
        /// Config file (YAML).
        #[arg(short, long)]
        config: PathBuf,
        /// Only this notifier (default: all).
        #[arg(long)]
        notifier: Option<String>,
    },
    /// Add, list or expire silences of a running lagwatch (through its HTTP API).
    Silence(silence::SilenceArgs),
}

/// Parses arguments, sets up logging and runs the command; the exit code says how it went.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 4, not clap's 2: for `check`, 2 means "critical".
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(4),
            };
        }
    };
    init_logging(cli.log_level.as_deref(), cli.log_json);
    match cli.command {
        Command::Healthcheck { url } => match healthcheck::probe(&url) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("unhealthy: {e}");
                ExitCode::from(1)
            }
        },
        Command::Validate { config } => validate::main(&config),
        Command::Check(args) => check::main(&args),
        Command::Demo(args) => demo::main(&args),
        Command::NotifyTest { config, notifier } => notify_test::main(&config, notifier.as_deref()),
        Command::Silence(args) => silence::main(&args),
        Command::Run { config } => {
            let cfg = match crate::config::load_file(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprint!("{e}");
                    return ExitCode::from(2);
                }
            };
            let rt = match runtime(true, ExitCode::FAILURE) {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            let res = rt.block_on(crate::app::run(
                cfg,
                Some(config),
                crate::runtime::shutdown_signal(),
            ));
            // A librdkafka call abandoned at shutdown may still block a pool thread until its
            // own timeout; dropping the runtime would wait for it, so leave it behind.
            rt.shutdown_timeout(std::time::Duration::from_millis(200));
            match res {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("lagwatch: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// A tokio runtime for a subcommand; on failure the message is printed and `Err` is the
/// exit code to return (`fail`).
pub(crate) fn runtime(
    multi_thread: bool,
    fail: ExitCode,
) -> Result<tokio::runtime::Runtime, ExitCode> {
    crate::runtime::build(multi_thread).map_err(|e| {
        eprintln!("cannot start the async runtime: {e}");
        fail
    })
}

fn init_logging(level: Option<&str>, json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: piped logs (containers, journald) stay greppable.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
