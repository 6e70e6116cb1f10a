//! Soak benchmark (not a test): 1,000 groups polled for thousands of cycles at a short
//! interval while groups and topics are created and deleted, printing RSS every 100 cycles.
//! RSS must level off. Runs the real pipeline in-process (reader → model → state → render),
//! against tansu (the mock cluster has no ListGroups/DeleteGroups, so it cannot churn groups).
//!
//! `cargo bench --bench soak -- [CYCLES]` (default 3000); needs `TANSU_BIN` or
//! `target/tools/tansu` (`bash .ci/install-tansu`).

// Shared with the scale harness; the soak uses only part of them.
#[allow(dead_code)]
#[path = "scale/broker.rs"]
mod broker;
#[allow(dead_code)]
#[path = "scale/seed.rs"]
mod seed;
// What broker.rs (Kafka clusters behind proxies) and seed.rs (Kafka's commits) refer to.
#[allow(dead_code)]
#[path = "scale/commit.rs"]
mod commit;
#[allow(dead_code)]
#[path = "scale/proxy.rs"]
mod proxy;

use lagwatch::config::{ClusterConfig, Filter, GroupFilter, RulesConfig};
use lagwatch::metrics::Metrics;
use lagwatch::model::Model;
use lagwatch::source::{carry_over, ClusterReader, Reader};
use lagwatch::state::AppState;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIZE: seed::Size = seed::Size {
    name: "soak",
    topics: 50,
    partitions: 4,
    groups: 1000,
    interval_s: 1,
    // Unused: the soak has its own loop and lagwatch config.
    phases: seed::STANDARD,
    granularities: &["partition"],
    in_all: false,
};
/// Every this many cycles, some groups and a topic are deleted and new ones created.
const CHURN_EVERY: usize = 50;
const CHURN_GROUPS: usize = 10;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn admin(bs: &str) -> Result<AdminClient<DefaultClientContext>, String> {
    ClientConfig::new()
        .set("bootstrap.servers", bs)
        .create()
        .map_err(|e| e.to_string())
}

fn commit(bs: &str, group: &str, topic: &str) -> Result<(), String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| e.to_string())?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..SIZE.partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Offset(1))
            .map_err(|e| e.to_string())?;
    }
    c.commit(&tpl, CommitMode::Sync).map_err(|e| e.to_string())
}

async fn churn(bs: &str, round: usize) -> Result<(), String> {
    let a = admin(bs)?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    // Delete groups created in the previous round (or seeded ones), create fresh ones.
    let old: Vec<String> = (0..CHURN_GROUPS)
        .map(|i| {
            if round == 0 {
                seed::group(i)
            } else {
                format!("soak-{}-{i}", round - 1)
            }
        })
        .collect();
    let refs: Vec<&str> = old.iter().map(String::as_str).collect();
    let _ = a.delete_groups(&refs, &opts).await;
    let topic = format!("soak-topic-{round}");
    let nt = NewTopic::new(&topic, SIZE.partitions as i32, TopicReplication::Fixed(1));
    let _ = a.create_topics(&[nt], &opts).await;
    if round > 0 {
        let _ = a
            .delete_topics(&[&format!("soak-topic-{}", round - 1)], &opts)
            .await;
    }
    for i in 0..CHURN_GROUPS {
        commit(
            bs,
            &format!("soak-{round}-{i}"),
            &seed::topic(i % SIZE.topics),
        )?;
    }
    Ok(())
}

fn main() -> Result<(), String> {
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(()); // under `cargo test`: nothing to do
    }
    let cycles: usize = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .find_map(|a| a.parse().ok())
        .unwrap_or(3000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = broker::tansu_bin(root)?;
    let port = broker::free_port()?;
    let _tansu = broker::start_tansu(&bin, port, port)?;
    let bs = format!("127.0.0.1:{port}");
    eprintln!(
        "[soak] seeding {} groups on {}x{} partitions",
        SIZE.groups, SIZE.topics, SIZE.partitions
    );
    seed::seed(&bs, &SIZE, broker::Kind::Tansu)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        lagwatch::runtime::rustls_provider();
        let cfg = ClusterConfig {
            name: "soak".into(),
            bootstrap_servers: bs.clone(),
            groups: GroupFilter {
                names: Vec::new(),
                discover: true,
                filter: Filter::default(),
            },
            topics: Filter::default(),
            client: Vec::new(),
            poll_timeout: Duration::from_secs(10),
            spark_queries: Vec::new(),
            kafka_client: lagwatch::config::security::KafkaClient::Auto,
            aws_msk_iam: None,
            time_lag: lagwatch::config::timelag::TimeLagConfig::default(),
        };
        let reader = Reader::new(cfg).map_err(|e| e.to_string())?;
        let mut model = Model::new(RulesConfig::default(), Duration::from_millis(100));
        let state = AppState::new(["soak"]);
        let metrics = Metrics::new(state.clone());
        let mut prev = None;
        let t0 = Instant::now();
        let mut window = Instant::now();
        println!("| cycle | RSS MiB | groups | avg cycle ms (last 100) | /metrics KiB |");
        println!("|---:|---:|---:|---:|---:|");
        for cycle in 1..=cycles {
            if cycle % CHURN_EVERY == 0 {
                churn(&bs, cycle / CHURN_EVERY - 1).await?;
            }
            let mut snap = reader.read().await.map_err(|e| e.to_string())?;
            carry_over(&mut snap, prev.as_ref());
            let view = Arc::new(model.update(&snap, lagwatch::runtime::now()));
            let groups = view.groups.len();
            state.update("soak", |s| {
                s.view = Some(view);
                s.up = true;
                s.last_success = Some(snap.taken_at);
            });
            prev = Some(snap);
            let body = metrics.render(false).map_err(|e| e.to_string())?;
            if cycle % 100 == 0 {
                let ms = window.elapsed().as_secs_f64() * 1000.0 / 100.0;
                window = Instant::now();
                println!(
                    "| {cycle} | {:.1} | {groups} | {ms:.1} | {} |",
                    rss_kib() as f64 / 1024.0,
                    body.len() / 1024
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "[soak] {cycles} cycles in {:.0}s",
            t0.elapsed().as_secs_f64()
        );
        Ok::<(), String>(())
    })
}
