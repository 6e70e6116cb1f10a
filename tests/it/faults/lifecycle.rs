//! Lifecycle faults on the in-process librdkafka mock and a silent broker: a reload of the
//! same cluster keeps its history (rates, stall clocks, hysteresis), and SIGTERM during a
//! poll of an unreachable cluster exits within `shutdown_timeout` plus a second.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config(yaml: &str) -> lagwatch::config::Config {
    let env = |k: &str| std::env::var(k).ok();
    lagwatch::config::from_str("test.yaml", yaml, &env).unwrap_or_else(|e| panic!("{e}"))
}

fn commit(bs: &str, group: &str, topic: &str, offset: i64) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(offset))
        .expect("tpl");
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = c.commit(&tpl, CommitMode::Sync) {
        assert!(Instant::now() < deadline, "commit: {e}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The produce rate of billing/orders in the first view published after a start.
async fn first_produce_rate(running: &lagwatch::app::Running) -> Option<f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let snap = running.state.snapshot();
        if let Some(v) = snap.get("mock").and_then(|c| c.view.clone()) {
            let g = v.groups.iter().find(|g| g.group == "billing")?;
            return g
                .topics
                .iter()
                .find(|t| &*t.topic == "orders")?
                .produce_rate;
        }
        assert!(Instant::now() < deadline, "no view");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_of_the_same_cluster_keeps_its_rates_and_history() {
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic("orders", 1, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (bs, stop) = (bs.clone(), stop.clone());
        std::thread::spawn(move || {
            let produced = std::sync::atomic::AtomicI64::new(0);
            crate::support::produce_steadily(&bs, "orders", &produced, &stop)
        })
    };
    commit(&bs, "billing", "orders", 0);
    // A long interval: the first view after a start is seen before the second poll.
    let yaml = |servers: &str| {
        format!(
            "listen: \"127.0.0.1:0\"\npoll_interval: 1s\nclusters:\n  - name: mock\n    \
             bootstrap_servers: \"{servers}\"\n    poll_timeout: 5s\n    groups:\n      \
             names: [billing]\n"
        )
    };
    let cfg = config(&yaml(&bs));
    let running = lagwatch::app::start(cfg.clone()).await.expect("start");
    assert_eq!(
        first_produce_rate(&running).await,
        None,
        "a fresh start needs two polls for a rate"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = running.state.snapshot()["mock"].view.clone().expect("view");
        let rate = v.groups[0].topics[0].produce_rate;
        if rate.is_some_and(|r| r > 0.0) {
            break;
        }
        assert!(Instant::now() < deadline, "no produce rate");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut carried = running.stop().await;
    let running = lagwatch::app::start_from(cfg.clone(), &mut carried)
        .await
        .expect("reload");
    let rate = first_produce_rate(&running).await;
    assert!(
        rate.is_some_and(|r| r > 0.0),
        "the first poll after a reload continues the history: {rate:?}"
    );

    // Another cluster behind the same name (other brokers) starts fresh.
    let mut carried = running.stop().await;
    let other = bs.replace("127.0.0.1", "localhost");
    let running = lagwatch::app::start_from(config(&yaml(&other)), &mut carried)
        .await
        .expect("reload to other brokers");
    assert_eq!(first_produce_rate(&running).await, None);
    running.stop().await;
    stop.store(true, Ordering::Relaxed);
    producer.join().expect("producer");
}

/// Accepts connections and never answers: a cluster that hangs every request.
fn silent_broker() -> (u16, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let h = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten().take(64) {
            held.push(s);
        }
    });
    (port, h)
}

#[allow(unsafe_code)] // one libc call to signal our own child
fn sigterm(child: &std::process::Child) {
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0);
}

#[test]
fn sigterm_during_a_hung_poll_exits_within_shutdown_timeout() {
    let (broker, _h) = silent_broker();
    let dir = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    for batched in ["true", "false"] {
        let cfg = dir.path().join("lagwatch.yaml");
        std::fs::write(
            &cfg,
            format!(
                "listen: \"127.0.0.1:{port}\"\nshutdown_timeout: 2s\nstate_dir: {}\n\
                 clusters:\n  - name: hung\n    bootstrap_servers: \"127.0.0.1:{broker}\"\n    \
                 poll_timeout: 40s\n    batched_offsets: {batched}\n",
                dir.path().display()
            ),
        )
        .expect("write");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lagwatch"))
            .args(["run", "--config"])
            .arg(&cfg)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        // Listening, and well into the first (hung) poll.
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "not listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_secs(3));
        sigterm(&child);
        let sent = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if sent.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("batched_offsets {batched}: no exit 10 s after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            sent.elapsed() < Duration::from_secs(3),
            "batched_offsets {batched}: exit within shutdown_timeout (2s) + 1s, took {:?}",
            sent.elapsed()
        );
        assert!(status.success(), "{status:?}");
    }
}
