//! The cluster, KTool and an in-process lagwatch, for the conformance tests.
//!
//! The cluster comes from the `LAGWATCH_TEST_KAFKA_*` variables, else from the env file that
//! `.ci/kafka-cluster start` writes; without either every test panics (never skips): a
//! conformance suite that silently passes without Kafka proves nothing.

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const PREFIX: &str = "LAGWATCH_TEST_KAFKA_";

/// The cluster's variables (without the `LAGWATCH_TEST_KAFKA_` prefix).
pub struct Env(HashMap<String, String>);

/// The cluster every test uses; panics with what to run when there is none.
pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let from_process: HashMap<String, String> = std::env::vars()
            .filter_map(|(k, v)| k.strip_prefix(PREFIX).map(|k| (k.to_owned(), v)))
            .collect();
        if from_process.contains_key("KTOOL") && from_process.contains_key("PLAINTEXT") {
            return Env(from_process);
        }
        let dir = std::env::var("LAGWATCH_KAFKA_CLUSTER_DIR").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/kafka-cluster").to_owned()
        });
        let file = format!("{dir}/cluster.env");
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "no Kafka cluster: LAGWATCH_TEST_KAFKA_* are unset and {file} cannot be read \
                 ({e}). Run `bash .ci/install-kafka && bash .ci/kafka-cluster start` first."
            )
        });
        let vars = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .filter_map(|(k, v)| {
                let v = v.trim_matches(|c| c == '\'' || c == '"');
                k.strip_prefix(PREFIX).map(|k| (k.to_owned(), v.to_owned()))
            })
            .collect();
        Env(vars)
    })
}

impl Env {
    /// One variable, e.g. `get("PLAINTEXT")`; panics when the env file lacks it.
    pub fn get(&self, key: &str) -> &str {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("{PREFIX}{key} is not set by the cluster env"))
    }

    /// The privileged PLAINTEXT bootstrap list.
    pub fn plaintext(&self) -> &str {
        self.get("PLAINTEXT")
    }
}

/// A name no other test (or earlier run on the same cluster) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

/// Tests that stop a broker take this exclusively ([`exclusive`]); every other test holds it
/// shared, so a stopped broker never disturbs them. tokio's lock: the guard is held across
/// awaits, and each test has its own runtime.
static BROKERS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Held by every test that needs all brokers up.
pub async fn shared() -> tokio::sync::RwLockReadGuard<'static, ()> {
    BROKERS.read().await
}

/// Held by a test that stops a broker: no other Kafka test runs meanwhile.
pub async fn exclusive() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    BROKERS.write().await
}

fn ktool_command(config: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env().get("KTOOL"));
    c.arg(args[0]).arg("--config").arg(config).args(&args[1..]);
    c
}

/// Runs KTool as `config`; its JSON, or the exit code and stderr.
pub fn ktool_as(config: &str, args: &[&str]) -> Result<Value, (i32, String)> {
    let out = ktool_command(config, args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run KTool: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err((out.status.code().unwrap_or(-1), stderr));
    }
    // Commands that report progress print one document per line; the last one is the result.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    serde_json::from_str(last).map_err(|e| (0, format!("KTool printed no JSON ({e}): {stderr}")))
}

/// Runs KTool as the privileged PLAINTEXT admin; panics on failure.
pub fn ktool(args: &[&str]) -> Value {
    ktool_as(env().get("ADMIN_CONFIG"), args)
        .unwrap_or_else(|(code, err)| panic!("ktool {args:?} exited {code}: {err}"))
}

/// A long-running KTool (`consume --hold`, `produce --txn open`): its JSON lines arrive on
/// a channel; dropping it closes stdin (a clean leave) and waits for the exit.
pub struct Proc {
    child: Child,
    lines: Receiver<Value>,
    what: String,
}

/// Starts a long-running KTool as the admin.
pub fn spawn_ktool(args: &[&str]) -> Proc {
    let mut child = ktool_command(env().get("ADMIN_CONFIG"), args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run KTool: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if tx.send(v).is_err() {
                    break;
                }
            }
        }
    });
    Proc {
        child,
        lines,
        what: format!("{args:?}"),
    }
}

impl Proc {
    /// Waits for the next line whose `event` is `event`; panics after `timeout`.
    pub fn wait_event(&self, event: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if v["event"] == event => return v,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!("ktool {} printed no `{event}` in {timeout:?}", self.what)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("ktool {} ended before `{event}`", self.what)
                }
            }
        }
    }

    /// Closes stdin and waits (a held consumer leaves its group cleanly).
    pub fn finish(mut self) {
        self.close();
    }

    fn close(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.close();
    }
}

/// Runs `f` on its own thread per item, so the KTool JVMs start in parallel.
pub fn parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = items.into_iter().map(|i| s.spawn(move || f(i))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Commits `offsets` (`"0=5,1=7"`) for `group` on `topic` (the group must have no members).
pub fn commit(group: &str, topic: &str, offsets: &str) {
    ktool(&[
        "alter-offsets",
        "--group",
        group,
        "--topic",
        topic,
        "--offsets",
        offsets,
    ]);
}

/// Calls `check` (which asks the brokers, e.g. through KTool) until it returns a value;
/// panics naming `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}
