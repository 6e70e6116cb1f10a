//! Running one action: the command (an argv, no shell) in its own process group, the
//! incident as JSON on stdin and as `LAGWATCH_*` variables, stdout and stderr captured
//! (bounded) to the log, killed with its whole group on timeout. Each run is its own task:
//! a slow or failing action never holds up alerts, polling or other actions.

use super::actions::{env, stdin_json, Job};
use crate::metrics::Metrics;
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Output kept per stream and run; the rest is counted, not logged.
pub const MAX_OUTPUT: usize = 16 * 1024;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exit status 0.
    Ok,
    /// Another exit status, or killed by a signal.
    Failed(String),
    /// Ran longer than its timeout: killed with its process group.
    Timeout,
    /// Could not be started.
    Error(String),
    /// `dry_run`: logged, not run.
    DryRun,
}

impl Outcome {
    /// The `outcome` label.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed(_) => "failed",
            Outcome::Timeout => "timeout",
            Outcome::Error(_) => "error",
            Outcome::DryRun => "dry_run",
        }
    }
}

/// Runs `job` and counts its outcome.
pub async fn execute(job: Job, metrics: Arc<Metrics>) -> Outcome {
    let outcome = run(&job).await;
    metrics.action_run(&job.action.name, outcome.label());
    let a = &job.action.name;
    match &outcome {
        Outcome::Ok => tracing::info!(action = %a, id = %job.id, "action succeeded"),
        Outcome::DryRun => tracing::info!(
            action = %a,
            id = %job.id,
            command = %job.action.command.join(" "),
            "dry run: the action would run now"
        ),
        Outcome::Failed(why) => tracing::warn!(action = %a, id = %job.id, "action failed: {why}"),
        Outcome::Timeout => tracing::warn!(
            action = %a,
            id = %job.id,
            "action killed (with its process group) after its timeout of {}",
            humantime::format_duration(job.action.timeout)
        ),
        Outcome::Error(why) => {
            tracing::warn!(action = %a, id = %job.id, "action not started: {why}")
        }
    }
    outcome
}

async fn run(job: &Job) -> Outcome {
    let cfg = &job.action;
    if cfg.dry_run {
        return Outcome::DryRun;
    }
    let Some((program, args)) = cfg.command.split_first() else {
        return Outcome::Error("no command".into());
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .envs(env(job))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Error(format!("{program}: {e}")),
    };
    let pid = child.id();
    let input = serde_json::to_vec(&stdin_json(job)).unwrap_or_default();
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let work = async {
        let write = async {
            if let Some(mut s) = stdin {
                // An action that does not read its stdin is fine: a broken pipe is ignored.
                let _ = s.write_all(&input).await;
            }
        };
        let (_, out, err, status) =
            tokio::join!(write, bounded(stdout), bounded(stderr), child.wait());
        (out, err, status)
    };
    let res = tokio::time::timeout(cfg.timeout, work).await;
    let (out, err, status) = match res {
        Ok(r) => r,
        Err(_) => {
            if let Some(pgid) = pid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
                let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
            }
            let _ = child.kill().await;
            return Outcome::Timeout;
        }
    };
    for (stream, text) in [("stdout", &out), ("stderr", &err)] {
        if !text.is_empty() {
            tracing::info!(action = %cfg.name, id = %job.id, stream, "{text}");
        }
    }
    match status {
        Ok(s) if s.success() => Outcome::Ok,
        Ok(s) => Outcome::Failed(s.to_string()),
        Err(e) => Outcome::Failed(format!("waiting for it: {e}")),
    }
}

/// Reads a stream to its end, keeping the first [`MAX_OUTPUT`] bytes (lossy UTF-8) and
/// saying how much more there was.
async fn bounded<R: AsyncRead + Unpin>(r: Option<R>) -> String {
    let Some(mut r) = r else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut more = 0usize;
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buf[..room]);
                more += n - room;
            }
        }
    }
    let mut s = String::from_utf8_lossy(&kept).trim_end().to_owned();
    if more > 0 {
        s.push_str(&format!("\n… {more} more bytes not logged"));
    }
    s
}
