//! The coordination cluster goes away while three replicas run: a private tansu hosts the
//! coordination (behind a proxy the test cuts, so its data survives the outage) and the
//! shared Kafka is the monitored cluster. Every replica keeps polling Kafka and serving
//! /metrics, the leader stops leading within the session timeout, nothing is sent while
//! the coordination is down (the leader saw the resolve but could not write it), and once
//! it returns one leader sends what is due, once.

use super::harness::{env, shared, unique};
use super::replicas::{
    changes, count, lagging, scrape, sink, wait_change, Replicas, POLL, SESSION,
};
use crate::support::cut::CutProxy;
use crate::support::{commit, free_port, metric, Tansu};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordination_cluster_down_pauses_notifications_and_they_resume_once() {
    let _brokers = shared().await;
    let upstream = free_port();
    let proxy = CutProxy::start(upstream);
    let Some((_tansu, _)) = Tansu::start_advertising_on(upstream, proxy.port) else {
        return;
    };
    let coord_bs = format!("127.0.0.1:{}", proxy.port);
    let bs = env().plaintext();
    let (topic, group) = lagging(bs).await;
    let sink = sink(200).await;
    let (coord, state) = (unique("lw-coord"), unique("lw-state"));
    let uri = sink.uri();
    let r = Replicas::start_yaml(3, |port| {
        format!(
            r#"
listen: "127.0.0.1:{port}"
poll_interval: {poll}ms
rules: {{lag_warning: 10, lag_critical: 50, for_polls: 1}}
clusters:
  - name: prod
    bootstrap_servers: "{bs}"
    groups:
      names: ["{group}"]
  - name: coord
    bootstrap_servers: "{coord_bs}"
    groups:
      include: ["^lw-none$"]
coordination:
  cluster: coord
  group: {coord}
  state_topic: {state}
  session_timeout: {session}s
notifiers:
  - name: hook
    kind: webhook
    url: "{uri}/hook"
"#,
            poll = POLL.as_millis(),
            session = SESSION.as_secs(),
        )
    });
    // tansu does not describe group members: the member count is not checked.
    r.one_leader(None, Duration::from_secs(60)).await;
    wait_change(&sink, "opened", Duration::from_secs(30)).await;
    // Let the leader record the delivery first: an outage starting between a delivery and
    // its record is the one-duplicate case of a leader crash (replicas.rs covers it).
    tokio::time::sleep(POLL * 2).await;

    proxy.cut();
    let cut = Instant::now();
    // The lag is fixed at once, so the leader sees the incident resolve while it still
    // leads: its state write fails and it must hold the "resolved" back.
    let (bs2, group2, topic2) = (bs.to_owned(), group.clone(), topic.clone());
    let fix = tokio::task::spawn_blocking(move || commit(&bs2, &group2, &[(&topic2, 0, 100)]));
    // Fencing: the leader gives the role up on its own once it has not heard from the
    // group for the session timeout (counted from its last heartbeat, before the cut);
    // the gauge drops once a delivery under way is recorded, up to half a session later.
    let fenced = loop {
        let (leaders, _) = r.leaders().await;
        if leaders.is_empty() {
            break cut.elapsed();
        }
        assert!(
            cut.elapsed() < SESSION * 3,
            "still leading {:?} after the coordination cluster went down: {leaders:?}",
            cut.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("leader stopped leading {fenced:?} after the coordination cluster went down (session timeout {SESSION:?})");
    assert!(fenced <= SESSION * 3 / 2 + POLL, "fenced after {fenced:?}");

    fix.await.expect("commit");
    // Every replica still polls the monitored cluster: all of them see the fixed lag.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut lags = Vec::new();
        for port in &r.ports {
            let text = scrape(*port).await.unwrap_or_default();
            lags.push(metric(&text, "lagwatch_group_lag", &[("group", &group)]));
        }
        if lags.iter().all(|l| *l == Some(0.0)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replicas did not all see the fixed lag while the coordination was down: {lags:?}"
        );
        tokio::time::sleep(POLL).await;
    }
    // Stay down for two session timeouts: no leader, nothing sent.
    while cut.elapsed() < SESSION * 3 {
        let (leaders, _) = r.leaders().await;
        assert!(
            leaders.is_empty(),
            "a leader without its group: {leaders:?}"
        );
        tokio::time::sleep(POLL).await;
    }
    let got = changes(&sink).await;
    assert_eq!(count(&got, "resolved"), 0, "sent while paused: {got:?}");

    proxy.restore();
    let back = Instant::now();
    r.one_leader(None, Duration::from_secs(60)).await;
    let led = back.elapsed();
    wait_change(&sink, "resolved", Duration::from_secs(60)).await;
    let resumed = back.elapsed();
    eprintln!("coordination back: a leader after {led:?}, the resolve sent after {resumed:?}");
    // Time for a duplicate to show up if one were coming.
    tokio::time::sleep(POLL * 6).await;
    let got = changes(&sink).await;
    assert_eq!(count(&got, "opened"), 1, "{got:?}");
    assert_eq!(count(&got, "resolved"), 1, "{got:?}");
}

/// The alert changes the sink received from request `from` on.
async fn changes_from(s: &wiremock::MockServer, from: usize) -> Vec<String> {
    let mut out = Vec::new();
    let reqs = s.received_requests().await.unwrap_or_default();
    for r in reqs.iter().skip(from) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
            continue;
        };
        for a in v["alerts"].as_array().into_iter().flatten() {
            out.push(a["change"].as_str().unwrap_or("").to_owned());
        }
    }
    out
}

/// A leader paused past the session timeout (SIGSTOP) with a message it keeps retrying:
/// another replica takes over and delivers it; when the old leader wakes (SIGCONT) its
/// lease has run out, so it does not deliver the message a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_paused_past_the_session_timeout_sends_nothing_when_it_wakes() {
    use wiremock::matchers::method;
    use wiremock::{Mock, ResponseTemplate};
    let _brokers = shared().await;
    let bs = env().plaintext();
    let (topic, group) = lagging(bs).await;
    // Refused with a short Retry-After: the leader retries every second.
    let sink = wiremock::MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .mount(&sink)
        .await;
    let mut r = Replicas::start(3, bs, &group, &sink.uri());
    let leader = r.one_leader(Some(3), Duration::from_secs(60)).await;
    wait_change(&sink, "opened", Duration::from_secs(30)).await;
    let paused = r.procs[leader].take().expect("alive");
    paused.signal(libc::SIGSTOP);
    let stopped = Instant::now();
    let next = r.one_leader(Some(2), SESSION * 4).await;
    eprintln!(
        "another replica leads {:?} after the leader was paused",
        stopped.elapsed()
    );
    assert_ne!(next, leader);
    // From now on deliveries succeed; the new leader delivers the "opened" once.
    let from = sink.received_requests().await.unwrap_or_default().len();
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(1)
        .mount(&sink)
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&changes_from(&sink, from).await, "opened") == 0 {
        assert!(Instant::now() < deadline, "the new leader did not deliver");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The old leader wakes with its retry due at once.
    paused.signal(libc::SIGCONT);
    r.procs[leader] = Some(paused);
    commit(bs, &group, &[(&topic, 0, 100)]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&changes_from(&sink, from).await, "resolved") == 0 {
        assert!(Instant::now() < deadline, "no resolve delivered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(POLL * 6).await;
    let got = changes_from(&sink, from).await;
    assert_eq!(
        count(&got, "opened"),
        1,
        "delivered after the pause: {got:?}"
    );
    assert_eq!(count(&got, "resolved"), 1, "{got:?}");
}
