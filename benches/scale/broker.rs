//! Finding and running the brokers (Apache Kafka, tansu) and the lagwatch process under test.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which broker a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Apache Kafka (the version .ci/install-kafka pins), one KRaft combined node.
    Kafka,
    /// tansu, memory storage.
    Tansu,
}

impl Kind {
    /// Every broker, in the order they run for each size.
    pub const ALL: [Kind; 2] = [Kind::Kafka, Kind::Tansu];

    /// Name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Kafka => "kafka",
            Kind::Tansu => "tansu",
        }
    }
}

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

/// Spawns `cmd` so that the child is SIGKILLed when this process dies, even by a signal
/// that skips every destructor: no broker JVM outlives a killed benchmark.
pub fn spawn_tied(cmd: &mut Command) -> std::io::Result<Child> {
    #[allow(unsafe_code)] // one async-signal-safe libc call between fork and exec
    // SAFETY: the closure runs in the forked child before exec; it only calls prctl, which
    // allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
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
    let mut cmd = Command::new(bin);
    cmd.args(["broker", "--listener-url", &listen])
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
        .stderr(Stdio::null());
    let child = spawn_tied(&mut cmd).map_err(|e| format!("spawning {}: {e}", bin.display()))?;
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
    let mut cmd = Command::new(bin);
    cmd.args(["run", "--config"])
        .arg(config)
        .env("LAGWATCH_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(f);
    let child = spawn_tied(&mut cmd).map_err(|e| format!("spawning {}: {e}", bin.display()))?;
    Ok(Proc { child })
}

/// An installed Apache Kafka: the jars and the JVM that runs them.
pub struct KafkaInstall {
    /// `target/kafka/<version>` (or `$LAGWATCH_KAFKA_HOME`).
    pub home: PathBuf,
    /// Every runtime jar.
    pub libs: PathBuf,
    /// Release, from the `kafka_2.13-<version>.jar` name.
    pub version: String,
}

/// Runs `.ci/install-kafka` (idempotent: a fraction of a second once installed) and reads
/// the libs directory from the last line it prints.
pub fn kafka_install(root: &Path) -> Result<KafkaInstall, String> {
    let out = Command::new("bash")
        .arg(root.join(".ci/install-kafka"))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running .ci/install-kafka: {e}"))?;
    if !out.status.success() {
        return Err(format!(".ci/install-kafka failed: {}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let libs = PathBuf::from(text.lines().last().unwrap_or_default().trim());
    let home = libs
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!(".ci/install-kafka printed no libs directory: {text}"))?;
    let version = std::fs::read_dir(&libs)
        .map_err(|e| format!("{}: {e}", libs.display()))?
        .filter_map(|e| e.ok())
        .find_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("kafka_2.13-")
                .and_then(|v| v.strip_suffix(".jar"))
                .map(str::to_owned)
        })
        .ok_or_else(|| format!("no kafka_2.13-*.jar in {}", libs.display()))?;
    Ok(KafkaInstall {
        home,
        libs,
        version,
    })
}

/// `$JAVA_HOME/bin/java` when set, else `java` from the PATH.
fn java() -> PathBuf {
    match std::env::var_os("JAVA_HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h).join("bin/java"),
        _ => PathBuf::from("java"),
    }
}

/// Any fixed cluster id will do: every run formats a fresh data directory.
const CLUSTER_ID: &str = "MkU3OEVBNTcwNTJENDM2Qk";

/// One combined broker+controller node: a single-node cluster needs replication factor 1
/// for its internal topics; everything else stays at Kafka's defaults, so the broker does
/// the work a production broker does per request.
fn server_properties(dir: &Path, port: u16, controller: u16, advertised: u16) -> String {
    format!(
        "# generated by benches/scale: one KRaft node; clients are told to use the proxy\n\
         process.roles=broker,controller\n\
         node.id=1\n\
         controller.quorum.voters=1@127.0.0.1:{controller}\n\
         controller.listener.names=CONTROLLER\n\
         listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}\n\
         advertised.listeners=PLAINTEXT://127.0.0.1:{advertised}\n\
         listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
         inter.broker.listener.name=PLAINTEXT\n\
         log.dirs={data}\n\
         offsets.topic.replication.factor=1\n\
         transaction.state.log.replication.factor=1\n\
         transaction.state.log.min.isr=1\n\
         share.coordinator.state.topic.replication.factor=1\n\
         share.coordinator.state.topic.min.isr=1\n\
         group.initial.rebalance.delay.ms=0\n\
         auto.create.topics.enable=false\n",
        data = dir.join("data").display()
    )
}

/// The JVM flags of Kafka's own start scripts (kafka-server-start.sh, kafka-run-class.sh)
/// with a smaller heap (`SCALE_KAFKA_HEAP`, default 512m): the machine is shared.
fn jvm_flags() -> Vec<String> {
    let heap = std::env::var("SCALE_KAFKA_HEAP")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "512m".to_owned());
    let mut f = vec![format!("-Xms{heap}"), format!("-Xmx{heap}")];
    f.extend(
        [
            "-server",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
        ]
        .map(str::to_owned),
    );
    f
}

/// Formats a fresh data directory under `dir` and starts one Kafka node listening on `port`
/// that advertises `advertised` (the counting proxy). Returns once the broker accepts
/// connections (Kafka opens its client listener only when startup is complete).
pub fn start_kafka(
    k: &KafkaInstall,
    dir: &Path,
    port: u16,
    advertised: u16,
) -> Result<Proc, String> {
    let mut controller = free_port()?;
    while controller == port || controller == advertised {
        controller = free_port()?;
    }
    let data = dir.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    }
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let props = dir.join("server.properties");
    std::fs::write(&props, server_properties(dir, port, controller, advertised))
        .map_err(|e| format!("{}: {e}", props.display()))?;
    let classpath = format!("{}/*", k.libs.display());
    let log4j = |name: &str| {
        format!(
            "-Dlog4j2.configurationFile={}",
            k.home.join("config").join(name).display()
        )
    };

    let format_log = dir.join("format.log");
    let flog = std::fs::File::create(&format_log)
        .map_err(|e| format!("creating {}: {e}", format_log.display()))?;
    let st = Command::new(java())
        .args(["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
        .arg(log4j("log4j2-ktool.properties"))
        .args(["-cp", &classpath, "kafka.tools.StorageTool", "format"])
        .args(["--cluster-id", CLUSTER_ID, "--config"])
        .arg(&props)
        .stdin(Stdio::null())
        .stdout(
            flog.try_clone()
                .map_err(|e| format!("{}: {e}", format_log.display()))?,
        )
        .stderr(flog)
        .status()
        .map_err(|e| format!("running kafka-storage format: {e}"))?;
    if !st.success() {
        return Err(format!(
            "kafka-storage format failed ({st}); see {}",
            format_log.display()
        ));
    }

    let stdout_log = dir.join("stdout.log");
    let out = std::fs::File::create(&stdout_log)
        .map_err(|e| format!("creating {}: {e}", stdout_log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", stdout_log.display()))?;
    let mut cmd = Command::new(java());
    cmd.args(jvm_flags())
        .arg(format!("-Dkafka.logs.dir={}", dir.display()))
        .arg(log4j("log4j2-broker.properties"))
        .args(["-cp", &classpath, "kafka.Kafka"])
        .arg(&props)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let child = spawn_tied(&mut cmd).map_err(|e| format!("spawning java: {e}"))?;
    let mut p = Proc { child };
    let deadline = Instant::now() + Duration::from_secs(180);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = p.child.try_wait() {
            return Err(format!(
                "Kafka exited during startup ({st}); see {}/server.log and {}",
                dir.display(),
                stdout_log.display()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "Kafka not listening on {port} after 180 s; see {}/server.log",
                dir.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(p)
}

/// Deletes a stopped broker's data (10,000 partitions leave thousands of files); its logs stay.
pub fn remove_data(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir.join("data"));
}
