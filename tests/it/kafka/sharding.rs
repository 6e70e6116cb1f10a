//! `shard_clusters: true`: six clusters (six names for the same brokers) and three
//! replicas. Each cluster is polled by exactly one replica; a SIGKILLed replica's clusters
//! move to the others within two session timeouts; and the incidents of a moved cluster
//! are neither opened again nor resolved twice.

use super::harness::{env, shared, unique};
use super::replicas::{changes, count, lagging, scrape, sink, Replicas, POLL, SESSION};
use crate::support::{commit, metric};
use std::time::{Duration, Instant};

const CLUSTERS: usize = 6;

pub(super) fn name(i: usize) -> String {
    format!("shard{i}")
}

/// Three replicas sharding `n` clusters (names for the same brokers), each watching
/// `groups`, with one webhook.
pub(super) fn start(bs: &str, groups: &[&str], hook: &str, n: usize) -> Replicas {
    let coord = unique("lw-shard-coord");
    let state = unique("lw-shard-state");
    let names: Vec<String> = groups.iter().map(|g| format!("\"{g}\"")).collect();
    let clusters: String = (0..n)
        .map(|i| {
            format!(
                "  - name: {}\n    bootstrap_servers: \"{bs}\"\n    groups:\n      names: [{}]\n",
                name(i),
                names.join(", ")
            )
        })
        .collect();
    Replicas::start_yaml(3, |port| {
        format!(
            r#"
listen: "127.0.0.1:{port}"
poll_interval: {poll}ms
rules: {{lag_warning: 10, lag_critical: 50, for_polls: 1}}
clusters:
{clusters}coordination:
  cluster: shard0
  group: {coord}
  state_topic: {state}
  session_timeout: {session}s
  shard_clusters: true
notifiers:
  - name: hook
    kind: webhook
    url: "{hook}/hook"
"#,
            poll = POLL.as_millis(),
            session = SESSION.as_secs(),
        )
    })
}

/// For each of the `n` clusters, the live replicas serving its series
/// (`lagwatch_cluster_up`) and those saying they own it (`lagwatch_cluster_owned` 1).
async fn who_serves(r: &Replicas, n: usize) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let mut serving = vec![Vec::new(); n];
    let mut owning = vec![Vec::new(); n];
    for (i, port) in r.ports.iter().enumerate() {
        if r.procs[i].is_none() {
            continue;
        }
        let Some(text) = scrape(*port).await else {
            continue;
        };
        for c in 0..n {
            let l = [("cluster", name(c))];
            let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
            if metric(&text, "lagwatch_cluster_up", &l) == Some(1.0) {
                serving[c].push(i);
            }
            if metric(&text, "lagwatch_cluster_owned", &l) == Some(1.0) {
                owning[c].push(i);
            }
        }
    }
    (serving, owning)
}

/// Waits until each of the `n` clusters is served and owned by exactly one replica and
/// every live replica has its share (the first to join owns everything until the others
/// are in the group); returns who owns each cluster.
pub(super) async fn one_each(r: &Replicas, n: usize, timeout: Duration) -> Vec<usize> {
    let deadline = Instant::now() + timeout;
    loop {
        let (serving, owning) = who_serves(r, n).await;
        let everyone = (0..r.procs.len())
            .filter(|i| r.procs[*i].is_some())
            .all(|i| serving.iter().any(|s| s.contains(&i)));
        if serving.iter().all(|s| s.len() == 1) && serving == owning && everyone {
            return serving.iter().map(|s| s[0]).collect();
        }
        assert!(
            Instant::now() < deadline,
            "not one replica per cluster within {timeout:?}: serving {serving:?}, owning {owning:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_clusters_three_replicas_each_cluster_polled_once_and_moved_on_a_kill() {
    let _brokers = shared().await;
    across_a_kill(env().plaintext()).await;
}

/// The same on the shared tansu broker (monitored and coordinating).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_tansu_each_cluster_polled_once_and_moved_on_a_kill() {
    let bs = std::env::var("LAGWATCH_TEST_TANSU")
        .expect("LAGWATCH_TEST_TANSU: the shared tansu broker (.ci/services.sh starts it)");
    across_a_kill(&bs).await;
}

async fn across_a_kill(bs: &str) {
    let (topic, group) = lagging(bs).await;
    let hook = sink(200).await;
    let mut r = start(bs, &[&group], &hook.uri(), CLUSTERS);
    let owners = one_each(&r, CLUSTERS, Duration::from_secs(60)).await;
    eprintln!("owners of the clusters: {owners:?}");
    for i in 0..3 {
        assert!(owners.contains(&i), "replica {i} owns nothing: {owners:?}");
    }
    for port in &r.ports {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], *port));
        let (status, body) = crate::support::http_get(addr, "/readyz").await;
        assert_eq!(status, 200, "{body}");
        // Shared by every replica (see sharded_silences.rs).
        let (status, body) = crate::support::http_get(addr, "/api/v1/silences").await;
        assert_eq!(status, 200, "{body}");
    }
    // Each cluster's group lags: one incident per cluster, each opened by its owner.
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&changes(&hook).await, "opened") < CLUSTERS {
        assert!(Instant::now() < deadline, "{:?}", changes(&hook).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let victim = owners[0];
    let moved: Vec<usize> = (0..CLUSTERS).filter(|c| owners[*c] == victim).collect();
    let mut p = r.procs[victim].take().expect("alive");
    p.signal(9);
    p.wait(Duration::from_secs(10));
    let t0 = Instant::now();
    // Every cluster's longest time without a replica serving its series, watched until
    // well past the bound; the victim's clusters were last served at the kill.
    let mut last_seen = [t0; CLUSTERS];
    let mut gaps = [Duration::ZERO; CLUSTERS];
    while t0.elapsed() < SESSION * 2 + Duration::from_secs(3) {
        let (serving, _) = who_serves(&r, CLUSTERS).await;
        let now = Instant::now();
        for c in 0..CLUSTERS {
            if serving[c].is_empty() {
                gaps[c] = gaps[c].max(now - last_seen[c]);
            } else {
                last_seen[c] = now;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = one_each(&r, CLUSTERS, Duration::from_secs(1)).await;
    eprintln!(
        "SIGKILL of replica {victim} (clusters {moved:?}): longest gap per cluster {gaps:?}, owners now {after:?} (session timeout {SESSION:?})"
    );
    for c in 0..CLUSTERS {
        assert!(
            gaps[c] <= SESSION * 2,
            "cluster {} without series for {:?}",
            name(c),
            gaps[c]
        );
        assert_ne!(after[c], victim);
    }
    commit(bs, &group, &[(&topic, 0, 100)]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&changes(&hook).await, "resolved") < CLUSTERS {
        assert!(Instant::now() < deadline, "{:?}", changes(&hook).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Time for a duplicate to show up if one were coming.
    tokio::time::sleep(POLL * 6).await;
    let got = changes(&hook).await;
    assert_eq!(count(&got, "opened"), CLUSTERS, "{got:?}");
    assert_eq!(count(&got, "resolved"), CLUSTERS, "{got:?}");
    let by_cluster = per_cluster(&hook).await;
    for c in 0..CLUSTERS {
        assert_eq!(
            by_cluster.get(&name(c)).cloned().unwrap_or_default(),
            vec!["opened".to_owned(), "resolved".to_owned()],
            "cluster {}",
            name(c)
        );
    }
}

/// More replicas than clusters (3 and 2): the replica left over owns nothing, yet is
/// ready (a Deployment's rollout would otherwise never finish) and says it is a standby;
/// when an owner is killed, it takes the cluster over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_left_over_is_a_ready_standby_and_takes_a_cluster_over() {
    let _brokers = shared().await;
    let bs = env().plaintext();
    let (_topic, group) = lagging(bs).await;
    let hook = sink(200).await;
    let mut r = start(bs, &[&group], &hook.uri(), 2);
    let readyz = |port: u16| async move {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        crate::support::http_get(addr, "/readyz").await
    };
    // Each cluster owned once, every replica ready, and exactly one of them a standby.
    let deadline = Instant::now() + Duration::from_secs(60);
    let standby = loop {
        let (serving, owning) = who_serves(&r, 2).await;
        let mut answers = Vec::new();
        for port in &r.ports {
            answers.push(readyz(*port).await);
        }
        let idle: Vec<usize> = (0..3)
            .filter(|i| serving.iter().all(|s| !s.contains(i)))
            .collect();
        let settled = serving.iter().all(|s| s.len() == 1) && serving == owning && idle.len() == 1;
        if settled && answers.iter().all(|(status, _)| *status == 200) {
            let body = &answers[idle[0]].1;
            assert!(body.contains("standby"), "{body}");
            for (i, (_, body)) in answers.iter().enumerate().filter(|(i, _)| *i != idle[0]) {
                assert!(
                    !body.contains("standby"),
                    "replica {i} owns a cluster: {body}"
                );
            }
            break idle[0];
        }
        assert!(
            Instant::now() < deadline,
            "not settled within 60 s: serving {serving:?}, owning {owning:?}, readyz {answers:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (serving, _) = who_serves(&r, 2).await;
    let victim = serving[0][0];
    let mut p = r.procs[victim].take().expect("alive");
    p.signal(9);
    p.wait(Duration::from_secs(10));
    let t0 = Instant::now();
    loop {
        let (serving, _) = who_serves(&r, 2).await;
        if serving.iter().all(|s| s.len() == 1) && serving.iter().any(|s| s.contains(&standby)) {
            break;
        }
        assert!(
            t0.elapsed() <= SESSION * 2 + Duration::from_secs(3),
            "the standby (replica {standby}) did not take over replica {victim}'s cluster: {serving:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "standby replica {standby} took over from {victim} after {:?}",
        t0.elapsed()
    );
    let (status, body) = readyz(r.ports[standby]).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("standby"), "it owns a cluster now: {body}");
}

/// Each cluster's changes, in the order the sink received them.
async fn per_cluster(s: &wiremock::MockServer) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::<String, Vec<String>>::new();
    for r in s.received_requests().await.unwrap_or_default() {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
            continue;
        };
        let cluster = v["cluster"].as_str().unwrap_or("").to_owned();
        for a in v["alerts"].as_array().into_iter().flatten() {
            let change = a["change"].as_str().unwrap_or("").to_owned();
            out.entry(cluster.clone()).or_default().push(change);
        }
    }
    out
}
