//! Fault injection on the librdkafka mock cluster (3 brokers): a broker down, the group
//! coordinator moved, 2 s of round-trip time, error codes on OffsetFetch/ListOffsets.
//! lagwatch keeps serving the last good poll, marks it stale or partial, logs one line
//! per fault (not per poll) and recovers without a restart. Two clusters in one config:
//! a slow one does not hold back the other.

use crate::support::binary::*;
use crate::support::*;
use rdkafka::mocking::{MockCluster, MockCoordinator};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use std::net::SocketAddr;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

async fn lag(addr: SocketAddr) -> Option<f64> {
    metric(
        &scrape(addr).await,
        "lagwatch_group_lag",
        &[("group", "billing")],
    )
}

async fn gauge(addr: SocketAddr, name: &str) -> Option<f64> {
    metric(&scrape(addr).await, name, &[("cluster", "mock")])
}

/// Waits until `name{cluster="mock"}` equals `want`.
async fn wait_gauge(addr: SocketAddr, name: &str, want: f64, what: &str) {
    wait_for(T, what, || async {
        (gauge(addr, name).await == Some(want)).then_some(())
    })
    .await;
}

/// Warnings about cluster `mock` among `lines`.
fn warnings(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("mock"))
        .cloned()
        .collect()
}

/// Waits until at least `n` more polls have happened (by the poll-duration count).
async fn polls(addr: SocketAddr, n: f64) {
    let count = |t: &str| {
        metric(
            t,
            "lagwatch_poll_duration_seconds_count",
            &[("cluster", "mock")],
        )
        .unwrap_or(0.0)
    };
    let start = count(&scrape(addr).await);
    wait_for(T, "more polls", || async {
        (count(&scrape(addr).await) >= start + n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_serve_last_good_poll_log_once_and_recover() {
    lagwatch::runtime::rustls_provider();
    let mock = MockCluster::new(3).expect("mock cluster");
    // Three partitions, one leader each, so one broker down loses a third of the reads.
    mock.create_topic("orders", 3, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    for p in 0..3 {
        produce(&bs, "orders", p, 10, false);
    }
    commit(
        &bs,
        "billing",
        &[("orders", 0, 4), ("orders", 1, 4), ("orders", 2, 4)],
    );
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        "lagwatch.yaml",
        &format!(
            r#"
listen: "127.0.0.1:{port}"
poll_interval: 200ms
clusters:
  - name: mock
    bootstrap_servers: "{bs}"
    poll_timeout: 1s
    groups:
      names: [billing]
"#
        ),
    );
    let proc = Proc::run(&cfg, &["--log-level", "info"], &[]);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    wait_listening(port, T).await;
    wait_for(T, "first good poll", || async {
        lag(addr).await.filter(|v| *v == 18.0)
    })
    .await;

    // 1. One of three brokers down: the poll is partial, never zero lag.
    let mark = proc.mark();
    mock.broker_down(2).expect("down");
    let text = wait_for(T, "partial or down", || async {
        let t = scrape(addr).await;
        let partial = metric(&t, "lagwatch_poll_partial", &[("cluster", "mock")]) == Some(1.0);
        let down = metric(&t, "lagwatch_cluster_up", &[("cluster", "mock")]) == Some(0.0);
        (partial || down).then_some(t)
    })
    .await;
    let lag_now = metric(&text, "lagwatch_group_lag", &[("group", "billing")]);
    assert!(
        lag_now.is_some_and(|v| v > 0.0),
        "a partial poll must not turn into zero lag: {lag_now:?}\n{text}"
    );
    polls(addr, 5.0).await;
    let w = warnings(&proc.lines_since(mark));
    assert!(!w.is_empty(), "the fault is logged");
    assert!(w.len() <= 2, "logged once per fault, not per poll: {w:#?}");
    mock.broker_up(2).expect("up");
    wait_gauge(addr, "lagwatch_poll_partial", 0.0, "partial cleared").await;
    wait_gauge(addr, "lagwatch_cluster_up", 1.0, "up again").await;
    proc.wait_line(mark, &["recovered", "mock"], T).await;

    // 2. Coordinator moved: committed offsets are still read, lag stays exact.
    mock.coordinator(MockCoordinator::Group("billing".into()), 3)
        .expect("coordinator");
    commit(&bs, "billing", &[("orders", 0, 5)]);
    wait_for(T, "lag after coordinator move", || async {
        lag(addr).await.filter(|v| *v == 17.0)
    })
    .await;

    // 3. Error codes on OffsetFetch, then ListOffsets: counted, logged once, recovered.
    //    (Not an authorization code on OffsetFetch: a refused group is reported as
    //    lagwatch_unauthorized, not as a poll fault; tests/it/kafka/access.rs covers it.)
    //    NOT_COORDINATOR is what a real coordinator answers right after its group moved
    //    (kafka::brokers); librdkafka 2.12 crashed a producer-type Admin handle on it.
    for (api, err, stage_hint) in [
        (
            RDKafkaApiKey::OffsetFetch,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN,
            "OffsetFetch",
        ),
        (
            RDKafkaApiKey::OffsetFetch,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
            "OffsetFetch NOT_COORDINATOR",
        ),
        (
            RDKafkaApiKey::ListOffsets,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
            "ListOffsets",
        ),
    ] {
        let mark = proc.mark();
        let before = scrape(addr).await;
        let errs_before: f64 = error_total(&before);
        mock.request_errors(api, &[err; 30]);
        wait_for(T, "poll errors counted", || async {
            (error_total(&scrape(addr).await) > errs_before).then_some(())
        })
        .await;
        let t = scrape(addr).await;
        assert!(
            metric(&t, "lagwatch_group_lag", &[("group", "billing")]).is_some_and(|v| v > 0.0),
            "{stage_hint}: the last good lag is still served\n{t}"
        );
        mock.clear_request_errors(api);
        wait_gauge(addr, "lagwatch_poll_partial", 0.0, "partial cleared").await;
        wait_gauge(addr, "lagwatch_cluster_up", 1.0, "up").await;
        polls(addr, 2.0).await;
        let w = warnings(&proc.lines_since(mark));
        assert!(!w.is_empty(), "{stage_hint}: the fault is logged");
        assert!(w.len() <= 2, "{stage_hint}: once per fault: {w:#?}");
    }

    // 4. 2 s round trips against a 1 s poll budget: the cluster is marked down, the last
    //    poll timestamp stops advancing, and it all comes back when the network does.
    let mark = proc.mark();
    for b in 1..=3 {
        mock.broker_round_trip_time(b, Duration::from_secs(2))
            .expect("rtt");
    }
    wait_gauge(addr, "lagwatch_cluster_up", 0.0, "down on timeout").await;
    let stale = gauge(addr, "lagwatch_last_poll_timestamp_seconds").await;
    polls(addr, 2.0).await;
    let t = scrape(addr).await;
    assert_eq!(
        metric(
            &t,
            "lagwatch_last_poll_timestamp_seconds",
            &[("cluster", "mock")]
        ),
        stale,
        "the last good poll's time stays while polls fail"
    );
    assert_eq!(
        metric(&t, "lagwatch_group_lag", &[("group", "billing")]),
        Some(17.0),
        "the last good lag is still served"
    );
    for b in 1..=3 {
        mock.broker_round_trip_time(b, Duration::ZERO).expect("rtt");
    }
    wait_gauge(addr, "lagwatch_cluster_up", 1.0, "up after RTT").await;
    let w = warnings(&proc.lines_since(mark));
    assert!(
        !w.is_empty() && w.len() <= 2,
        "RTT fault logged once: {w:#?}"
    );
    // Said as what it is: a slow cluster and the budget it overran (issue 22), not
    // librdkafka's "Broker transport failure" for the socket it closed.
    assert!(
        w[0].contains("within poll_timeout 1s") && !w[0].contains("transport failure"),
        "{w:#?}"
    );
    proc.wait_line(mark, &["recovered", "mock"], T).await;
}

fn error_total(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("lagwatch_poll_errors_total{") && l.contains("cluster=\"mock\""))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_cluster_does_not_delay_another() {
    let fast = MockCluster::new(1).expect("mock");
    let slow = MockCluster::new(1).expect("mock");
    for m in [&fast, &slow] {
        m.create_topic("orders", 1, 1).expect("topic");
        let bs = m.bootstrap_servers();
        produce(&bs, "orders", 0, 5, false);
        commit(&bs, "billing", &[("orders", 0, 2)]);
    }
    slow.broker_round_trip_time(1, Duration::from_secs(5))
        .expect("rtt");
    let cfg = config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 200ms
clusters:
  - name: fast
    bootstrap_servers: "{}"
    poll_timeout: 2s
    groups: {{names: [billing]}}
  - name: slow
    bootstrap_servers: "{}"
    poll_timeout: 2s
    groups: {{names: [billing]}}
"#,
        fast.bootstrap_servers(),
        slow.bootstrap_servers()
    ));
    let running = lagwatch::app::start(cfg).await.expect("start");
    let mut views = running.views.subscribe();
    let mut fast_views = 0;
    while fast_views < 5 {
        let v = tokio::time::timeout(T, views.recv())
            .await
            .expect("a view in time")
            .expect("view");
        if v.cluster == "fast" {
            fast_views += 1;
        }
    }
    // Five fast polls completed while the slow cluster's first poll (5 s per round trip)
    // has not: each cluster polls on its own task with its own budget.
    let states = running.state.snapshot();
    assert!(
        states["slow"].view.is_none(),
        "slow cluster should still be in its first poll"
    );
    assert!(states["fast"].up, "fast cluster is up");
    running.stop().await;
}
