//! Collection core on the tansu broker: group discovery, exact lag, deletions, broker restart.

use crate::support::*;
use std::time::Duration;

fn cfg(bootstrap: &str) -> lagwatch::config::Config {
    config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 300ms
clusters:
  - name: tansu
    bootstrap_servers: "{bootstrap}"
    poll_timeout: 3s
    groups: {{ include: [".*"], exclude: ["^ignored-"] }}
"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_exact_lag_deletions_and_restart() {
    let Some(mut broker) = Tansu::start() else {
        return;
    };
    let bs = broker.addr.clone();
    create_topic(&bs, "orders", 4).await;
    create_topic(&bs, "payments", 2).await;
    let counts = [
        ("orders", 0, 5),
        ("orders", 1, 8),
        ("orders", 3, 3),
        ("payments", 0, 4),
        ("payments", 1, 2),
    ];
    for (t, p, n) in counts {
        produce(&bs, t, p, n, true);
    }
    commit(
        &bs,
        "billing",
        &[("orders", 0, 2), ("orders", 1, 8), ("orders", 3, 0)],
    );
    commit(&bs, "audit", &[("payments", 0, 1), ("payments", 1, 2)]);
    commit(&bs, "ignored-tool", &[("payments", 0, 1)]);
    commit(&bs, "short-lived", &[("orders", 0, 1)]);

    let running = lagwatch::app::start(cfg(&bs)).await.expect("start");
    let addr = running.addr;
    let text = wait_for(Duration::from_secs(30), "both groups polled", || async {
        let t = scrape(addr).await;
        (metric(&t, "lagwatch_group_lag", &[("group", "billing")]).is_some()
            && metric(&t, "lagwatch_group_lag", &[("group", "audit")]).is_some())
        .then_some(t)
    })
    .await;
    for (t, p, n) in counts {
        let p = p.to_string();
        assert_eq!(
            metric(
                &text,
                "lagwatch_partition_log_end_offset",
                &[("topic", t), ("partition", &p)]
            ),
            Some(n as f64),
            "log end of {t}/{p}"
        );
    }
    assert_eq!(
        metric(
            &text,
            "lagwatch_partition_log_end_offset",
            &[("topic", "orders"), ("partition", "2")]
        ),
        Some(0.0)
    );
    let lag = |g: &str, t: &str, p: &str| {
        metric(
            &text,
            "lagwatch_group_partition_lag",
            &[("group", g), ("topic", t), ("partition", p)],
        )
    };
    assert_eq!(lag("billing", "orders", "0"), Some(3.0));
    assert_eq!(lag("billing", "orders", "1"), Some(0.0));
    assert_eq!(lag("billing", "orders", "3"), Some(3.0));
    assert_eq!(
        lag("billing", "orders", "2"),
        None,
        "no commit, no invented lag"
    );
    assert_eq!(lag("audit", "payments", "0"), Some(3.0));
    assert_eq!(lag("audit", "payments", "1"), Some(0.0));
    assert_eq!(
        metric(&text, "lagwatch_group_lag", &[("group", "billing")]),
        Some(6.0)
    );
    assert_eq!(
        metric(&text, "lagwatch_group_lag", &[("group", "ignored-tool")]),
        None,
        "excluded by regex"
    );
    // Groups with no members (these never joined) keep being reported.
    assert!(metric(&text, "lagwatch_group_info", &[("group", "audit")]).is_some());

    // A deleted group's series disappear on the next poll.
    assert_eq!(
        metric(&text, "lagwatch_group_lag", &[("group", "short-lived")]),
        Some(4.0)
    );
    delete_group(&bs, "short-lived").await;
    wait_for(
        Duration::from_secs(30),
        "short-lived series gone",
        || async {
            let t = scrape(addr).await;
            (metric(&t, "lagwatch_group_info", &[("group", "short-lived")]).is_none()
                && metric(
                    &t,
                    "lagwatch_group_partition_lag",
                    &[("group", "short-lived")],
                )
                .is_none())
            .then_some(())
        },
    )
    .await;

    // A deleted topic's series disappear on the next poll, and with them the group's lag on it.
    delete_topic(&bs, "payments").await;
    wait_for(Duration::from_secs(30), "payments series gone", || async {
        let t = scrape(addr).await;
        (metric(
            &t,
            "lagwatch_partition_log_end_offset",
            &[("topic", "payments")],
        )
        .is_none()
            && metric(&t, "lagwatch_group_partition_lag", &[("topic", "payments")]).is_none())
        .then_some(())
    })
    .await;

    // Broker gone: lagwatch keeps serving the last values with cluster_up 0, then recovers.
    broker.kill();
    let text = wait_for(Duration::from_secs(30), "cluster_up 0", || async {
        let t = scrape(addr).await;
        (metric(&t, "lagwatch_cluster_up", &[("cluster", "tansu")]) == Some(0.0)).then_some(t)
    })
    .await;
    assert_eq!(
        metric(&text, "lagwatch_group_lag", &[("group", "billing")]),
        Some(6.0)
    );
    assert!(
        metric(
            &text,
            "lagwatch_poll_errors_total",
            &[("cluster", "tansu"), ("stage", "metadata")]
        )
        .unwrap_or(0.0)
            >= 1.0
    );
    broker.restart();
    // The restarted in-memory broker is empty: recovery shows up as cluster_up 1 and no groups.
    wait_for(Duration::from_secs(60), "recovered", || async {
        let t = scrape(addr).await;
        (metric(&t, "lagwatch_cluster_up", &[("cluster", "tansu")]) == Some(1.0)
            && metric(&t, "lagwatch_group_lag", &[("group", "billing")]).is_none())
        .then_some(())
    })
    .await;
    running.stop().await;
}
