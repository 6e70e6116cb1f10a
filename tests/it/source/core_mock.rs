//! Collection core on the in-process librdkafka mock cluster (explicit groups, no discovery).

use crate::support::*;
use rdkafka::mocking::MockCluster;
use std::time::Duration;

fn cfg(bootstrap: &str) -> lagwatch::config::Config {
    config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 300ms
clusters:
  - name: mock
    bootstrap_servers: "{bootstrap}"
    poll_timeout: 5s
    groups:
      names: [billing, audit, never-committed]
"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_offsets_and_lag_for_every_partition() {
    let mock = MockCluster::new(3).expect("mock cluster");
    mock.create_topic("orders", 3, 1).expect("topic");
    mock.create_topic("payments", 2, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    for (p, n) in [(0, 10), (1, 20), (2, 5)] {
        produce(&bs, "orders", p, n, false);
    }
    produce(&bs, "payments", 0, 7, false);
    commit(
        &bs,
        "billing",
        &[("orders", 0, 4), ("orders", 1, 20), ("orders", 2, 0)],
    );
    commit(&bs, "audit", &[("payments", 0, 3)]);

    let running = lagwatch::app::start(cfg(&bs)).await.expect("start");
    let addr = running.addr;
    let text = wait_for(Duration::from_secs(20), "billing lag", || async {
        let t = scrape(addr).await;
        metric(&t, "lagwatch_group_lag", &[("group", "billing")]).map(|_| t)
    })
    .await;

    let end = |t: &str, p: &str| {
        metric(
            &text,
            "lagwatch_partition_log_end_offset",
            &[("topic", t), ("partition", p)],
        )
    };
    assert_eq!(end("orders", "0"), Some(10.0));
    assert_eq!(end("orders", "1"), Some(20.0));
    assert_eq!(end("orders", "2"), Some(5.0));
    assert_eq!(end("payments", "0"), Some(7.0));
    assert_eq!(end("payments", "1"), Some(0.0));
    let lag = |g: &str, t: &str, p: &str| {
        metric(
            &text,
            "lagwatch_group_partition_lag",
            &[("group", g), ("topic", t), ("partition", p)],
        )
    };
    assert_eq!(lag("billing", "orders", "0"), Some(6.0));
    assert_eq!(lag("billing", "orders", "1"), Some(0.0));
    assert_eq!(lag("billing", "orders", "2"), Some(5.0));
    assert_eq!(lag("audit", "payments", "0"), Some(4.0));
    // No commit on payments/1 for audit: no invented lag.
    assert_eq!(lag("audit", "payments", "1"), None);
    assert_eq!(
        metric(
            &text,
            "lagwatch_group_topic_lag",
            &[("group", "billing"), ("topic", "orders")]
        ),
        Some(11.0)
    );
    assert_eq!(
        metric(&text, "lagwatch_group_lag", &[("group", "audit")]),
        Some(4.0)
    );
    assert_eq!(
        metric(
            &text,
            "lagwatch_group_partition_committed_offset",
            &[("group", "billing"), ("partition", "0")]
        ),
        Some(4.0)
    );
    // A named group with no commits is reported (state) but has no lag series.
    assert_eq!(
        metric(
            &text,
            "lagwatch_group_info",
            &[("group", "never-committed")]
        ),
        Some(1.0)
    );
    // Unknown is not zero: nothing committed, no lag series (issue 22).
    assert_eq!(
        metric(&text, "lagwatch_group_lag", &[("group", "never-committed")]),
        None
    );
    assert_eq!(
        metric(&text, "lagwatch_cluster_up", &[("cluster", "mock")]),
        Some(1.0)
    );
    assert!(
        text.contains("lagwatch_poll_duration_seconds_bucket"),
        "{text}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_marks_cluster_down_and_recovers() {
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic("orders", 1, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    produce(&bs, "orders", 0, 5, false);
    commit(&bs, "billing", &[("orders", 0, 2)]);
    let mut c = cfg(&bs);
    c.clusters[0].poll_timeout = Duration::from_secs(1);
    let running = lagwatch::app::start(c).await.expect("start");
    let addr = running.addr;
    wait_for(Duration::from_secs(20), "first poll", || async {
        metric(
            &scrape(addr).await,
            "lagwatch_group_lag",
            &[("group", "billing")],
        )
        .filter(|v| *v == 3.0)
    })
    .await;
    mock.broker_down(1).expect("down");
    let text = wait_for(Duration::from_secs(30), "cluster_up 0", || async {
        let t = scrape(addr).await;
        (metric(&t, "lagwatch_cluster_up", &[("cluster", "mock")]) == Some(0.0)).then_some(t)
    })
    .await;
    // The last good values are still served, marked stale by cluster_up.
    assert_eq!(
        metric(&text, "lagwatch_group_lag", &[("group", "billing")]),
        Some(3.0)
    );
    let (code, _) = http_get(addr, "/healthz").await;
    assert_eq!(code, 200);
    mock.broker_up(1).expect("up");
    wait_for(Duration::from_secs(30), "cluster_up 1 again", || async {
        (metric(
            &scrape(addr).await,
            "lagwatch_cluster_up",
            &[("cluster", "mock")],
        ) == Some(1.0))
        .then_some(())
    })
    .await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_group_without_any_watched_topic_is_not_an_error() {
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic("orders", 1, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    let mut c = cfg(&bs);
    // Watch no topic at all: the named groups have nothing to be asked about.
    c.clusters[0].topics.include = vec![regex::Regex::new("^nothing-matches$").expect("regex")];
    let running = lagwatch::app::start(c).await.expect("start");
    let addr = running.addr;
    let text = wait_for(Duration::from_secs(20), "a poll", || async {
        let t = scrape(addr).await;
        metric(&t, "lagwatch_group_info", &[("group", "billing")]).map(|_| t)
    })
    .await;
    assert_eq!(
        metric(&text, "lagwatch_poll_partial", &[("cluster", "mock")]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "lagwatch_cluster_up", &[("cluster", "mock")]),
        Some(1.0)
    );
    running.stop().await;
}
