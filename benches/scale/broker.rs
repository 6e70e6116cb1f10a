//! Finding and running the brokers (Apache Kafka, tansu) and the lagwatch process under test.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which broker a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Apache Kafka (the version .ci/install-kafka pins): one KRaft combined node, or a
    /// cluster when one broker cannot hold the size's partitions (see [`nodes_for`]).
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

/// How one node of a run's cluster is set up.
struct Node {
    /// `node.id`; node 1 is the (only) controller, combined with a broker.
    id: usize,
    /// Its client port (behind its proxy).
    port: u16,
    /// The port of its proxy, which clients are told to use.
    advertised: u16,
    /// The controller's port (node 1 listens on it).
    controller: u16,
}

/// One node's configuration. Node 1 is broker and controller (the quorum's only voter);
/// the others are brokers only. Internal topics get replication factor 1 and user topics
/// are created with 1 too; everything else stays at Kafka's defaults, so the brokers do the
/// work production brokers do per request.
fn server_properties(dir: &Path, n: &Node) -> String {
    let (roles, listeners) = if n.id == 1 {
        (
            "broker,controller",
            format!(
                "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
                n.port, n.controller
            ),
        )
    } else {
        ("broker", format!("PLAINTEXT://127.0.0.1:{}", n.port))
    };
    format!(
        "# generated by benches/scale: a KRaft node; clients are told to use the proxy\n\
         process.roles={roles}\n\
         node.id={id}\n\
         controller.quorum.voters=1@127.0.0.1:{controller}\n\
         controller.listener.names=CONTROLLER\n\
         listeners={listeners}\n\
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
        id = n.id,
        controller = n.controller,
        advertised = n.advertised,
        data = dir.join("data").display()
    )
}

/// The JVM flags of Kafka's own start scripts (kafka-server-start.sh, kafka-run-class.sh)
/// with a smaller heap (`SCALE_KAFKA_HEAP`, default 512m for one node, 1g per node of a
/// cluster): the machine is shared.
fn jvm_flags(nodes: usize) -> Vec<String> {
    let heap = std::env::var("SCALE_KAFKA_HEAP")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| if nodes > 1 { "1g" } else { "512m" }.to_owned());
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

/// File descriptors a broker keeps for things other than partitions: jars, sockets, the
/// metadata log, the internal topics' 50+ partitions, with room to spare.
const FD_HEADROOM: u64 = 6000;

/// Nodes needed so that each holds its share of `partitions` within the open-files hard
/// limit `fd_hard`: a Kafka broker keeps one descriptor open per log segment, that is at
/// least one per partition, for as long as it runs.
pub fn nodes_for(partitions: usize, fd_hard: u64) -> usize {
    let per_node = fd_hard.saturating_sub(FD_HEADROOM).max(1000);
    (partitions as u64).div_ceil(per_node).max(1) as usize
}

/// The open-files hard limit of this process (what every child inherits), from
/// `/proc/self/limits`; `u64::MAX` when unlimited or unreadable.
pub fn fd_hard_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|x| x.starts_with("Max open files"))
                .and_then(|x| x.split_whitespace().nth(4).map(str::to_owned))
        })
        .and_then(|h| h.parse().ok())
        .unwrap_or(u64::MAX)
}

/// Fails early, with the fix, when `vm.max_map_count` is too low for `per_node` partitions:
/// Kafka maps each partition's offset and time index (two mappings per partition once they
/// are used) besides the JVM's own few thousand, and a broker past the limit dies
/// mid-seeding with an out-of-memory error from mmap.
pub fn check_map_count(per_node: usize) -> Result<(), String> {
    let need = 2 * per_node as u64 + 10_000;
    let have = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    if have < need {
        return Err(format!(
            "vm.max_map_count is {have}; a broker holding {per_node} partitions needs about \
             {need} (two index mappings per partition): raise it with \
             `sysctl -w vm.max_map_count=262144` (as root)"
        ));
    }
    Ok(())
}

/// A running Kafka cluster: its nodes (node 1 first) and the proxy in front of each.
pub struct Cluster {
    /// The JVMs.
    pub nodes: Vec<Proc>,
    /// One per node, sharing one set of counters.
    pub proxies: Vec<crate::proxy::Proxy>,
}

/// Formats a fresh data directory per node under `dir` (`dir` itself for one node,
/// `dir/node<i>` for more) and starts `nodes` Kafka nodes, each behind its own counting
/// proxy (all counting into `counters`). Returns once every broker accepts connections
/// (Kafka opens its client listener only when startup is complete).
pub fn start_kafka(
    k: &KafkaInstall,
    dir: &Path,
    nodes: usize,
    counters: &std::sync::Arc<crate::proxy::Counters>,
) -> Result<Cluster, String> {
    let controller = free_port()?;
    let mut plan = Vec::new();
    let mut proxies = Vec::new();
    for id in 1..=nodes {
        let mut port = free_port()?;
        while port == controller {
            port = free_port()?;
        }
        let proxy = crate::proxy::start_shared(port, counters.clone())
            .map_err(|e| format!("proxy: {e}"))?;
        let node_dir = if nodes == 1 {
            dir.to_path_buf()
        } else {
            dir.join(format!("node{id}"))
        };
        plan.push((
            node_dir,
            Node {
                id,
                port,
                advertised: proxy.port,
                controller,
            },
        ));
        proxies.push(proxy);
    }
    let mut procs = Vec::new();
    for (node_dir, n) in &plan {
        let props = format_node(k, node_dir, n)?;
        procs.push(spawn_node(k, node_dir, &props, nodes)?);
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    for ((node_dir, n), p) in plan.iter().zip(procs.iter_mut()) {
        while std::net::TcpStream::connect(("127.0.0.1", n.port)).is_err() {
            if let Ok(Some(st)) = p.child.try_wait() {
                return Err(format!(
                    "Kafka node {} exited during startup ({st}); see {}/server.log",
                    n.id,
                    node_dir.display()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "Kafka node {} not listening on {} after 300 s; see {}/server.log",
                    n.id,
                    n.port,
                    node_dir.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(Cluster {
        nodes: procs,
        proxies,
    })
}

fn log4j(k: &KafkaInstall, name: &str) -> String {
    format!(
        "-Dlog4j2.configurationFile={}",
        k.home.join("config").join(name).display()
    )
}

/// Writes the node's properties and formats its (fresh) data directory; returns the
/// properties file.
fn format_node(k: &KafkaInstall, dir: &Path, n: &Node) -> Result<PathBuf, String> {
    let data = dir.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    }
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let props = dir.join("server.properties");
    std::fs::write(&props, server_properties(dir, n))
        .map_err(|e| format!("{}: {e}", props.display()))?;
    let format_log = dir.join("format.log");
    let flog = std::fs::File::create(&format_log)
        .map_err(|e| format!("creating {}: {e}", format_log.display()))?;
    let st = Command::new(java())
        .args(["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
        .arg(log4j(k, "log4j2-ktool.properties"))
        .args(["-cp", &format!("{}/*", k.libs.display())])
        .args(["kafka.tools.StorageTool", "format"])
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
    Ok(props)
}

fn spawn_node(k: &KafkaInstall, dir: &Path, props: &Path, nodes: usize) -> Result<Proc, String> {
    let stdout_log = dir.join("stdout.log");
    let out = std::fs::File::create(&stdout_log)
        .map_err(|e| format!("creating {}: {e}", stdout_log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", stdout_log.display()))?;
    let mut cmd = Command::new(java());
    cmd.args(jvm_flags(nodes))
        .arg(format!("-Dkafka.logs.dir={}", dir.display()))
        .arg(log4j(k, "log4j2-broker.properties"))
        .args(["-cp", &format!("{}/*", k.libs.display()), "kafka.Kafka"])
        .arg(props)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    let child = spawn_tied(&mut cmd).map_err(|e| format!("spawning java: {e}"))?;
    Ok(Proc { child })
}

/// Deletes a stopped cluster's data (10,000 partitions leave thousands of files); its logs
/// stay.
pub fn remove_data(dir: &Path, nodes: usize) {
    if nodes == 1 {
        let _ = std::fs::remove_dir_all(dir.join("data"));
    }
    for id in 1..=nodes {
        let _ = std::fs::remove_dir_all(dir.join(format!("node{id}")).join("data"));
    }
}
