//! Runs the real `lagwatch` binary with a config file and keeps its output lines, so the
//! hardening tests can check logs (once per fault, no secrets) and send it signals.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `lagwatch run`, killed on drop.
pub struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `lagwatch <extra args> run --config <path>`, capturing stdout and stderr.
    pub fn run(config: &Path, extra: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lagwatch"));
        cmd.args(extra)
            .arg("run")
            .arg("--config")
            .arg(config)
            .env_remove("RUST_LOG")
            .env_remove("LAGWATCH_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn lagwatch");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        for r in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err) as Box<dyn std::io::Read + Send>,
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(r).lines().map_while(Result::ok) {
                    eprintln!("[lagwatch] {l}");
                    lines.lock().expect("lines").push(l);
                }
            });
        }
        Proc { child, lines }
    }

    /// Every output line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// How many lines have been printed so far (a mark for [`Proc::lines_since`]).
    pub fn mark(&self) -> usize {
        self.lines.lock().expect("lines").len()
    }

    /// The lines printed after `mark`.
    pub fn lines_since(&self, mark: usize) -> Vec<String> {
        self.lines.lock().expect("lines")[mark..].to_vec()
    }

    /// Sends a signal (SIGTERM, SIGHUP, ...).
    #[allow(unsafe_code)] // a libc call; the crate denies `unsafe` elsewhere
    pub fn signal(&self, sig: i32) {
        let pid = self.child.id() as i32;
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig})");
    }

    /// Waits for exit, or panics after `timeout` (the process is then killed by drop).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(100));
                return s;
            }
            assert!(Instant::now() < deadline, "lagwatch did not exit in time");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a line containing every fragment appears after `mark`.
    pub async fn wait_line(&self, mark: usize, fragments: &[&str], timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self
                .lines_since(mark)
                .into_iter()
                .find(|l| fragments.iter().all(|f| l.contains(f)))
            {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no output line with {fragments:?}; got:\n{}",
                self.lines_since(mark).join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_config(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write config");
    p
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
pub async fn wait_listening(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
