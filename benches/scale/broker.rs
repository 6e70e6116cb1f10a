//! Finding and running tansu, and the lagwatch process under test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (and reaped) on drop.
pub struct Proc {
    /// The child.
    pub child: Child,
}

impl Proc {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `TANSU_BIN`, else `target/tools/tansu` (installed by `.ci/install-tansu` when missing).
pub fn tansu_bin(root: &Path) -> Result<PathBuf, String> {
    if let Ok(b) = std::env::var("TANSU_BIN") {
        if !b.is_empty() {
            return Ok(PathBuf::from(b));
        }
    }
    let default = root.join("target/tools/tansu");
    if !default.exists() {
        eprintln!(
            "[scale] {} missing: running .ci/install-tansu",
            default.display()
        );
        let st = Command::new("bash")
            .arg(root.join(".ci/install-tansu"))
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("running .ci/install-tansu: {e}"))?;
        if !st.success() {
            return Err(format!(".ci/install-tansu failed: {st}"));
        }
    }
    Ok(default)
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Starts tansu on `port`, advertising `advertised` (the counting proxy), memory storage.
pub fn start_tansu(bin: &Path, port: u16, advertised: u16) -> Result<Proc, String> {
    let listen = format!("tcp://127.0.0.1:{port}");
    let adv = format!("tcp://127.0.0.1:{advertised}");
    let child = Command::new(bin)
        .args(["broker", "--listener-url", &listen])
        .args(["--advertised-listener-url", &adv])
        .args(["--storage-engine", "memory://tansu/"])
        // tansu reads these from the environment; keep the user's shell out of the run.
        .env_remove("RUST_LOG")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("LISTENER_URL")
        .env_remove("ADVERTISED_LISTENER_URL")
        .env_remove("STORAGE_ENGINE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", bin.display()))?;
    let p = Proc { child };
    wait_port(port, Duration::from_secs(15))?;
    Ok(p)
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub fn wait_port(port: u16, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing listens on port {port} after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Starts `lagwatch run --config <config>` with its log in `log`.
pub fn start_lagwatch(bin: &Path, config: &Path, log: &Path) -> Result<Proc, String> {
    let f = std::fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let child = Command::new(bin)
        .args(["run", "--config"])
        .arg(config)
        .env("LAGWATCH_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(f)
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", bin.display()))?;
    Ok(Proc { child })
}
