//! End to end on a real broker (librdkafka mock cluster): a consumer crossing lag_warning,
//! then lag_critical, then draining, reaches Slack and Discord receivers exactly once each.

use crate::support::*;
use rdkafka::mocking::MockCluster;
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn receiver(status: u16) -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&s)
        .await;
    s
}

/// Titles of what a receiver got: Slack's first fallback line after the headline, or the
/// first Discord embed title.
async fn received(s: &MockServer) -> Vec<String> {
    s.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        .map(|v| match v["embeds"][0]["title"].as_str() {
            Some(t) => t.to_owned(),
            None => v["text"]
                .as_str()
                .unwrap_or("")
                .lines()
                .nth(1)
                .unwrap_or("")
                .to_owned(),
        })
        .collect()
}

async fn wait_messages(s: &MockServer, n: usize, what: &str) -> Vec<String> {
    wait_for(Duration::from_secs(30), what, || async {
        let got = received(s).await;
        (got.len() >= n).then_some(got)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn warning_critical_resolved_reach_slack_and_discord_once_each() {
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic("orders", 1, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    produce(&bs, "orders", 0, 50, false);
    commit(&bs, "billing", &[("orders", 0, 50)]);
    let slack = receiver(200).await;
    let discord = receiver(204).await;
    let cfg = config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 200ms
rules: {{lag_warning: 100, lag_critical: 1000, for_polls: 1}}
clusters:
  - name: mock
    bootstrap_servers: "{bs}"
    poll_timeout: 5s
    groups:
      names: [billing]
notifiers:
  - name: slack
    kind: slack
    url: "{}/slack"
  - name: discord
    kind: discord
    url: "{}/discord"
"#,
        slack.uri(),
        discord.uri()
    ));
    let running = lagwatch::app::start(cfg).await.expect("start");
    let addr = running.addr;
    // A few healthy polls first: no message on a healthy run.
    wait_for(Duration::from_secs(20), "healthy polls", || async {
        metric(
            &scrape(addr).await,
            "lagwatch_group_lag",
            &[("group", "billing")],
        )
        .filter(|v| *v == 0.0)
    })
    .await;
    let mut views = running.views.subscribe();
    for _ in 0..3 {
        let _ = views.recv().await;
    }
    assert!(received(&slack).await.is_empty() && received(&discord).await.is_empty());

    produce(&bs, "orders", 0, 150, false); // lag 150 >= lag_warning
    for s in [&slack, &discord] {
        let got = wait_messages(s, 1, "warning").await;
        assert!(
            got[0].contains("WARNING: billing / orders (opened)"),
            "{got:?}"
        );
    }
    produce(&bs, "orders", 0, 1000, false); // lag 1,150 >= lag_critical
    for s in [&slack, &discord] {
        let got = wait_messages(s, 2, "critical").await;
        assert!(
            got[1].contains("CRITICAL: billing / orders (escalated from warning)"),
            "{got:?}"
        );
    }
    commit(&bs, "billing", &[("orders", 0, 1200)]); // drained
    for s in [&slack, &discord] {
        let got = wait_messages(s, 3, "resolved").await;
        assert!(got[2].contains("RESOLVED: billing / orders"), "{got:?}");
    }
    // A few more healthy polls: still exactly three messages each.
    for _ in 0..3 {
        let _ = views.recv().await;
    }
    let text = scrape(addr).await;
    for (n, s) in [("slack", &slack), ("discord", &discord)] {
        assert_eq!(received(s).await.len(), 3, "{n}");
        assert_eq!(
            metric(
                &text,
                "lagwatch_notifications_total",
                &[("notifier", n), ("outcome", "sent")]
            ),
            Some(3.0),
            "{n}"
        );
        assert_eq!(
            metric(&text, "lagwatch_notifier_queue_length", &[("notifier", n)]),
            Some(0.0)
        );
    }
    assert!(
        !text.contains("/slack\"") && !text.contains("/discord\""),
        "no URL in metrics"
    );
    running.stop().await;
}
