//! The batched offset path on tansu (Kafka protocol, OffsetFetch v8 / FindCoordinator v4):
//! the same offsets as librdkafka's per-group requests, with a few requests per broker.
//! Requests are counted by a proxy in front of the broker (the scale benchmark's proxy).

#[path = "../../../benches/scale/proxy.rs"]
#[allow(dead_code)]
mod proxy;

use crate::support::*;
use lagwatch::source::{ClusterReader, Reader};
use std::collections::BTreeMap;

fn reader(bs: &str, batched: bool, named: &[&str]) -> Reader {
    let names: Vec<String> = named.iter().map(|n| format!("\"{n}\"")).collect();
    let cfg = config(&format!(
        r#"
clusters:
  - name: t
    bootstrap_servers: "{bs}"
    poll_timeout: 5s
    batched_offsets: {batched}
    groups: {{ names: [{}], include: ["^g-"] }}
"#,
        names.join(", ")
    ));
    let cluster = cfg.clusters.into_iter().next().expect("one cluster");
    Reader::new(cluster).expect("reader")
}

/// Requests per API key sent since `before`.
fn sent(p: &proxy::Proxy, before: &[u64], key: usize) -> u64 {
    p.counters.snapshot()[key] - before[key]
}

type Offsets = BTreeMap<String, BTreeMap<(String, i32), i64>>;

fn committed(s: &lagwatch::snapshot::Snapshot) -> Offsets {
    s.groups
        .iter()
        .map(|(g, gs)| {
            let offs = gs
                .committed
                .iter()
                .map(|(tp, o)| ((tp.topic.to_string(), tp.partition), *o))
                .collect();
            (g.clone(), offs)
        })
        .collect()
}

/// Runs `f` with a counting proxy in front of a fresh tansu. The proxy owns a runtime, so
/// it is created and dropped outside the test's own.
fn with_proxied_tansu<F, Fut>(f: F)
where
    F: FnOnce(std::sync::Arc<proxy::Proxy>, u16) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let upstream = free_port();
    let proxy = std::sync::Arc::new(proxy::start(upstream).expect("proxy"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(f(proxy.clone(), upstream));
    drop(rt);
    drop(proxy);
}

#[test]
fn one_offset_fetch_per_coordinator_and_the_same_offsets_as_librdkafka() {
    with_proxied_tansu(|proxy, upstream| async move { same_offsets(&proxy, upstream).await });
}

#[test]
fn a_restarted_broker_is_reconnected_and_read_again() {
    with_proxied_tansu(|proxy, upstream| async move { restarted(&proxy, upstream).await });
}

async fn same_offsets(proxy: &proxy::Proxy, upstream: u16) {
    // The proxy must know tansu's port, and tansu must advertise the proxy's.
    let Some((_broker, real)) = Tansu::start_advertising_on(upstream, proxy.port) else {
        return;
    };
    assert_eq!(real, upstream);
    let bs = format!("127.0.0.1:{}", proxy.port);
    for t in ["a", "b"] {
        create_topic(&bs, t, 4).await;
        for p in 0..4 {
            produce(&bs, t, p, 5 + p as usize, true);
        }
    }
    // 30 discovered groups with different positions, and a named one that committed nothing.
    let mut truth: Offsets = BTreeMap::new();
    for g in 0..30i64 {
        let topic = if g % 2 == 0 { "a" } else { "b" };
        let offs: Vec<(&str, i32, i64)> =
            (0..4).map(|p| (topic, p, (g + i64::from(p)) % 5)).collect();
        let name = format!("g-{g:02}");
        commit(&bs, &name, &offs);
        truth.insert(
            name,
            offs.iter()
                .map(|(t, p, o)| (((*t).to_owned(), *p), *o))
                .collect(),
        );
    }
    truth.insert("named-idle".into(), BTreeMap::new());

    let batched = reader(&bs, true, &["named-idle"]);
    let per_group = reader(&bs, false, &["named-idle"]);
    // librdkafka's own handles look up the coordinator of their (never joined) group id
    // once they start; wait until that settles so only the batched client's requests count.
    let mut settled = proxy.counters.snapshot()[10];
    for _ in 0..10 {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let now = proxy.counters.snapshot()[10];
        if now == settled {
            break;
        }
        settled = now;
    }
    let before = proxy.counters.snapshot();
    let first = batched.read().await.expect("batched poll");
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(committed(&first), truth);
    assert_eq!(
        sent(proxy, &before, 10),
        1,
        "one FindCoordinator for 31 groups"
    );
    assert_eq!(
        sent(proxy, &before, 15),
        1,
        "one DescribeGroups for 31 groups"
    );
    assert_eq!(sent(proxy, &before, 9), 1, "one OffsetFetch for 31 groups");

    // Steady state: coordinators are known and connections open.
    let before = proxy.counters.snapshot();
    let second = batched.read().await.expect("batched poll");
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    assert_eq!(committed(&second), truth);
    assert_eq!(sent(proxy, &before, 9), 1, "one OffsetFetch for 31 groups");
    assert_eq!(sent(proxy, &before, 10), 0, "coordinators are remembered");
    assert_eq!(
        sent(proxy, &before, 2),
        2,
        "ListOffsets: earliest and latest, one broker"
    );

    let before = proxy.counters.snapshot();
    let old = per_group.read().await.expect("librdkafka poll");
    assert!(old.errors.is_empty(), "{:?}", old.errors);
    assert_eq!(
        sent(proxy, &before, 9),
        31,
        "librdkafka: one OffsetFetch per group"
    );
    assert_eq!(committed(&old), committed(&second));
    let states = |s: &lagwatch::snapshot::Snapshot| -> Vec<(String, lagwatch::snapshot::GroupState, Option<u32>)> {
        s.groups
            .values()
            .map(|g| (g.name.clone(), g.state, g.members))
            .collect()
    };
    assert_eq!(
        states(&old),
        states(&first),
        "same states and member counts"
    );
    assert_eq!(
        old.partitions, second.partitions,
        "same log offsets both ways"
    );
    for t in ["a", "b"] {
        for p in 0..4 {
            let tp = second
                .partitions
                .iter()
                .find(|(k, _)| &*k.topic == t && k.partition == p)
                .map(|(_, v)| *v)
                .expect("partition read");
            assert_eq!(tp.log_end, 5 + i64::from(p), "{t}/{p}");
            assert_eq!(tp.log_start, 0, "{t}/{p}");
        }
    }
}

async fn restarted(proxy: &proxy::Proxy, upstream: u16) {
    let Some((mut broker, _)) = Tansu::start_advertising_on(upstream, proxy.port) else {
        return;
    };
    let bs = format!("127.0.0.1:{}", proxy.port);
    create_topic(&bs, "a", 2).await;
    produce(&bs, "a", 0, 3, true);
    commit(&bs, "g-1", &[("a", 0, 2)]);
    let r = reader(&bs, true, &[]);
    let s = r.read().await.expect("poll");
    assert_eq!(committed(&s)["g-1"][&("a".to_owned(), 0)], 2);

    // The kept connections die with the broker; a fresh broker (empty) is read anew.
    broker.kill();
    let down = r.read().await;
    assert!(
        down.is_err() || !down.as_ref().map(|s| s.errors.is_empty()).unwrap_or(true),
        "a dead broker is a fault, not an empty answer"
    );
    broker.restart();
    create_topic(&bs, "a", 2).await;
    produce(&bs, "a", 1, 4, true);
    commit(&bs, "g-1", &[("a", 1, 1)]);
    let again = wait_for(std::time::Duration::from_secs(20), "clean poll", || async {
        r.read().await.ok().filter(|s| s.errors.is_empty())
    })
    .await;
    assert_eq!(
        committed(&again)["g-1"],
        BTreeMap::from([(("a".to_owned(), 1), 1)])
    );
}

/// The versions the fast path negotiates with tansu 0.6 (Kafka 4.4's are in
/// kafka::versions): the batched ones it needs, and none of the share-group APIs.
#[test]
fn tansu_speaks_the_batched_versions() {
    use kafka_protocol::messages::ApiKey;
    use lagwatch::source::kafka::batched::wire::conn::Conn;
    let Some(t) = Tansu::start() else { return };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (host, port) = t.addr.rsplit_once(':').expect("host:port");
    let conn = Conn::connect(
        host,
        port.parse().expect("port"),
        "test",
        &Default::default(),
        deadline,
    )
    .expect("connect");
    // (API, version expected with tansu 0.6, why)
    let expected = [
        (ApiKey::FindCoordinator, Some(6), "many keys per request"),
        (ApiKey::OffsetFetch, Some(9), "many groups per request"),
        (ApiKey::DescribeGroups, Some(5), "tansu stops at v5"),
        (ApiKey::ListOffsets, Some(9), "tansu stops at v9"),
        (ApiKey::ListGroups, Some(5), "the types filter"),
        (ApiKey::Metadata, Some(12), "topic ids; tansu stops at v12"),
        (ApiKey::ConsumerGroupDescribe, Some(0), "tansu stops at v0"),
        (ApiKey::ShareGroupDescribe, None, "no share groups in tansu"),
        (
            ApiKey::DescribeShareGroupOffsets,
            None,
            "no share groups in tansu",
        ),
    ];
    for (api, want, why) in expected {
        assert_eq!(conn.version(api), want, "{api:?}: {why}");
    }
}
