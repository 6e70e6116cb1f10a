//! Silences and the incident timeline with `shard_clusters: true`: three clusters (three
//! names for the same brokers), three replicas, each cluster's incidents with its owner.
//! A silence added on one replica holds back the changes of a cluster another replica
//! owns, every replica lists it, it still holds after its cluster's owner is SIGKILLed,
//! and expiring it on a third replica lets the next change through (as without sharding:
//! the resolution of an incident nobody heard of stays quiet, the next change is sent).

use super::harness::{env, unique};
use super::replicas::{sink, POLL, SESSION};
use super::sharding::{name, one_each, start};
use crate::support::{commit, create_topic, http_get, produce};
use std::process::Command;
use std::time::{Duration, Instant};

const CLUSTERS: usize = 3;

/// `lagwatch silence ARGS` against replica `port`; (exit code, stdout, stderr).
fn cli(port: u16, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lagwatch"))
        .arg("silence")
        .arg("--url")
        .arg(format!("http://127.0.0.1:{port}"))
        .args(args)
        .env_remove("LAGWATCH_USER")
        .output()
        .expect("run lagwatch silence");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The ids of the silences replica `port` lists.
async fn listed(port: u16) -> Vec<String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let (status, body) = http_get(addr, "/api/v1/silences").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["silences"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["id"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Every (cluster, group, change) the sink received, in order.
async fn received(s: &wiremock::MockServer) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for r in s.received_requests().await.unwrap_or_default() {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
            continue;
        };
        let cluster = v["cluster"].as_str().unwrap_or("").to_owned();
        for a in v["alerts"].as_array().into_iter().flatten() {
            let group = a["group"].as_str().unwrap_or("").to_owned();
            let change = a["change"].as_str().unwrap_or("").to_owned();
            out.push((cluster.clone(), group, change));
        }
    }
    out
}

fn of(got: &[(String, String, String)], cluster: &str, group: &str) -> Vec<String> {
    got.iter()
        .filter(|(c, g, _)| c == cluster && g == group)
        .map(|(_, _, ch)| ch.clone())
        .collect()
}

/// Waits until every (cluster, group) in `want` has received `change` `times` times.
async fn wait_for_changes(
    s: &wiremock::MockServer,
    want: &[(String, &str)],
    change: &str,
    times: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = received(s).await;
        let done = want
            .iter()
            .all(|(c, g)| of(&got, c, g).iter().filter(|x| *x == change).count() >= times);
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not {times} × {change} for {want:?}: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The incident lines of `group` in `cluster` on replica `port` (the page's timeline).
async fn timeline(port: u16, cluster: &str, group: &str) -> serde_json::Value {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let path = format!("/api/v1/clusters/{cluster}/groups/{group}/history");
    let (status, body) = http_get(addr, &path).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["incidents"].clone()
}

/// The first event of replica `port`'s event stream (what the page reads first).
async fn hello(port: u16) -> String {
    let mut stream = reqwest::get(format!("http://127.0.0.1:{port}/api/v1/events"))
        .await
        .expect("events");
    let mut events = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !events.contains("\n\n") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk()).await;
        let Ok(Ok(Some(bytes))) = chunk else {
            panic!("no hello event; got: {events}");
        };
        events.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert!(events.starts_with("event: hello\n"), "{events}");
    events
}

/// Waits until the timeline of `group` in `cluster` on replica `port` has a `change`
/// entry whose delivery is sent (the outcome is recorded just after the sink answered).
async fn wait_sent(port: u16, cluster: &str, group: &str, change: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let incidents = timeline(port, cluster, group).await;
        if sent(&incidents, change) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timeline of {group} in {cluster} on port {port}: no `{change}` sent: {incidents}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether any line has a `change` entry whose delivery is sent.
fn sent(incidents: &serde_json::Value, change: &str) -> bool {
    let entries = incidents
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["entries"].as_array().into_iter().flatten());
    entries
        .filter(|e| e["change"] == change)
        .any(|e| e["deliveries"][0]["outcome"] == "sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_added_anywhere_holds_on_every_owner_across_a_kill() {
    let _brokers = super::harness::shared().await;
    silence_across_replicas(env().plaintext()).await;
}

/// The same on the shared tansu broker (monitored and coordinating).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_tansu_a_silence_added_anywhere_holds_on_every_owner() {
    let bs = std::env::var("LAGWATCH_TEST_TANSU")
        .expect("LAGWATCH_TEST_TANSU: the shared tansu broker (.ci/services.sh starts it)");
    silence_across_replicas(&bs).await;
}

async fn silence_across_replicas(bs: &str) {
    let topic = unique("shsil-orders");
    let (quiet, loud) = (unique("shsil-quiet"), unique("shsil-loud"));
    create_topic(bs, &topic, 1).await;
    // Offsets only move forward (a rewind is a reason of its own): both groups start
    // caught up on an empty topic and lag as records arrive.
    let at = |g: &str, offset: i64| commit(bs, g, &[(&topic, 0, offset)]);
    // One record per batch: tansu's high watermark is exact only so.
    let arrive = || produce(bs, &topic, 0, 100, true);
    at(&quiet, 0);
    at(&loud, 0);
    let hook = sink(200).await;
    let mut r = start(bs, &[&quiet, &loud], &hook.uri(), CLUSTERS);
    let owners = one_each(&r, CLUSTERS, Duration::from_secs(60)).await;
    // A adds the silence for a cluster B owns; C expires it later.
    let a = 0;
    let k = (0..CLUSTERS).find(|c| owners[*c] != a).expect("A owns one");
    let b = owners[k];
    let c = 3 - a - b;
    let silenced = name(k);
    eprintln!("owners {owners:?}: silence {silenced} (owner {b}) on {a}, expire on {c}");

    let (code, out, err) = tokio::task::spawn_blocking({
        let (port, cluster, group) = (r.ports[a], silenced.clone(), quiet.clone());
        move || {
            cli(
                port,
                &[
                    "add",
                    "--cluster",
                    &cluster,
                    "--group",
                    &group,
                    "--duration",
                    "1h",
                ],
            )
        }
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "{out}{err}");
    let id = out.trim().to_owned();
    assert_eq!(
        listed(r.ports[a]).await,
        vec![id.clone()],
        "A reads its own write"
    );
    let t0 = Instant::now();
    let mut seen_after = Vec::new();
    for port in [r.ports[b], r.ports[c]] {
        while listed(port).await != vec![id.clone()] {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "not listed on {port}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        seen_after.push(t0.elapsed());
    }
    eprintln!("{bs}: the silence was listed by the other replicas after {seen_after:?}");
    let (code, out, err) = tokio::task::spawn_blocking({
        let port = r.ports[c];
        move || cli(port, &["list"])
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&id), "`silence list` on C: {out}");

    // Both groups lag on every cluster: all open, but the silenced one on B's cluster.
    arrive();
    let others: Vec<String> = (0..CLUSTERS).filter(|x| *x != k).map(name).collect();
    let mut want: Vec<(String, &str)> = (0..CLUSTERS).map(|x| (name(x), loud.as_str())).collect();
    want.extend(others.iter().map(|c| (c.clone(), quiet.as_str())));
    wait_for_changes(&hook, &want, "opened", 1).await;
    tokio::time::sleep(POLL * 6).await;
    let got = received(&hook).await;
    assert_eq!(of(&got, &silenced, &quiet), Vec::<String>::new(), "{got:?}");

    // The page says this replica shows only its own clusters.
    assert!(
        hello(r.ports[a]).await.contains(r#""owned_only":true"#),
        "the page's hello event"
    );
    // The timeline: each owner shows its cluster's incidents, delivered.
    for (x, owner) in owners.iter().enumerate() {
        wait_sent(r.ports[*owner], &name(x), &loud, "opened").await;
    }

    // The quiet group recovers (its silenced resolution stays quiet), B dies, and the
    // quiet group lags again: the new owner of B's cluster holds it back too.
    at(&quiet, 100);
    let others_quiet: Vec<(String, &str)> =
        others.iter().map(|c| (c.clone(), quiet.as_str())).collect();
    wait_for_changes(&hook, &others_quiet, "resolved", 1).await;
    let mut p = r.procs[b].take().expect("alive");
    p.signal(9);
    p.wait(Duration::from_secs(10));
    let after = one_each(&r, CLUSTERS, SESSION * 4).await;
    let x = after[k];
    eprintln!("after the SIGKILL of {b}: owners {after:?}");
    // 100 more: the quiet group lags again, the loud one stays critical.
    arrive();
    wait_for_changes(&hook, &others_quiet, "opened", 2).await;
    tokio::time::sleep(POLL * 6).await;
    let got = received(&hook).await;
    assert_eq!(of(&got, &silenced, &quiet), Vec::<String>::new(), "{got:?}");

    // Expired on C (any live replica): the next change of the held incident is sent.
    let (code, out, err) = tokio::task::spawn_blocking({
        let (port, id) = (r.ports[c], id.clone());
        move || cli(port, &["expire", &id])
    })
    .await
    .expect("join");
    assert_eq!((code, out), (0, format!("expired {id}\n")), "{err}");
    for port in [r.ports[a], r.ports[c]] {
        let t0 = Instant::now();
        while !listed(port).await.is_empty() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "still listed on {port}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    at(&quiet, 160);
    let all_quiet: Vec<(String, &str)> = (0..CLUSTERS).map(|x| (name(x), quiet.as_str())).collect();
    wait_for_changes(&hook, &all_quiet, "deescalated", 1).await;
    let got = received(&hook).await;
    assert_eq!(
        of(&got, &silenced, &quiet),
        vec!["deescalated".to_owned()],
        "{got:?}"
    );

    // The new owner has two clusters: each one's timeline, no outcome lost to the other.
    for y in (0..CLUSTERS).filter(|y| after[*y] == x) {
        wait_sent(r.ports[x], &name(y), &quiet, "deescalated").await;
    }

    // Silences are in Kafka: a restart of every replica keeps the one in force and does
    // not bring back the expired one.
    let (code, out, err) = tokio::task::spawn_blocking({
        let (port, group) = (r.ports[a], loud.clone());
        move || cli(port, &["add", "--group", &group, "--duration", "1h"])
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "{out}{err}");
    let kept = out.trim().to_owned();
    for i in 0..3 {
        if let Some(mut p) = r.procs[i].take() {
            p.signal(9);
            p.wait(Duration::from_secs(10));
        }
    }
    for i in 0..3 {
        r.restart(i);
    }
    for port in r.ports.clone() {
        crate::support::binary::wait_listening(port, Duration::from_secs(30)).await;
        let t0 = Instant::now();
        while listed(port).await != vec![kept.clone()] {
            assert!(
                t0.elapsed() < SESSION * 2,
                "after a restart, port {port} lists {:?}, not only {kept}",
                listed(port).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
