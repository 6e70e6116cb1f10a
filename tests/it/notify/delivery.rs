//! The coordinator against real local HTTP servers (wiremock): lifecycle messages, retries,
//! rate limits, hung servers, queue overflow and restarts. Time is injected into `observe`.

use crate::support::notifiers::*;
use lagwatch::config::NotifierKind::{Console, Discord, Slack};
use lagwatch::notify::Coordinator;
use lagwatch::view::Reason::{BacklogReplay, LagCritical, LagWarning};
use lagwatch::view::Status::{Critical, Ok as Healthy, Warning};
use serde_json::Value;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const T0: f64 = 1_700_000_000.0;

async fn server_ok(p: &str) -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(200))
        .mount(&s)
        .await;
    s
}

async fn bodies(s: &MockServer) -> Vec<Value> {
    s.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("json body"))
        .collect()
}

/// First line of Slack's fallback text, e.g. `lagwatch [prod]: 1 warning`.
fn slack_headlines(b: &[Value]) -> Vec<String> {
    b.iter()
        .map(|v| {
            v["text"]
                .as_str()
                .unwrap_or("")
                .lines()
                .nth(1)
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

fn discord_titles(b: &[Value]) -> Vec<String> {
    b.iter()
        .map(|v| v["embeds"][0]["title"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn open_escalate_repeat_resolve_sends_exactly_four_messages_per_notifier() {
    let slack = server_ok("/slack").await;
    let discord = server_ok("/discord").await;
    let m = metrics();
    let c = Coordinator::start(
        &[
            notifier("ops-slack", Slack, Some(format!("{}/slack", slack.uri()))),
            notifier(
                "ops-discord",
                Discord,
                Some(format!("{}/discord", discord.uri())),
            ),
        ],
        Default::default(),
        None,
        m.clone(),
        fast(),
    )
    .expect("start");
    let g = "spark-streaming-group";
    for (rows, now) in [
        (vec![(g, "transactions", Healthy, &[][..], 10)], T0),
        (
            vec![(g, "transactions", Warning, &[LagWarning][..], 150_000)],
            T0 + 10.0,
        ),
        (
            vec![(g, "transactions", Warning, &[LagWarning][..], 160_000)],
            T0 + 20.0,
        ),
        (
            vec![(
                g,
                "transactions",
                Critical,
                &[LagCritical, BacklogReplay][..],
                3_000_000,
            )],
            T0 + 30.0,
        ),
        (
            vec![(
                g,
                "transactions",
                Critical,
                &[LagCritical, BacklogReplay][..],
                2_900_000,
            )],
            T0 + 1800.0,
        ),
        (
            vec![(
                g,
                "transactions",
                Critical,
                &[LagCritical, BacklogReplay][..],
                2_000_000,
            )],
            T0 + 3630.0,
        ),
        (
            vec![(
                g,
                "transactions",
                Critical,
                &[LagCritical, BacklogReplay][..],
                1_900_000,
            )],
            T0 + 3700.0,
        ),
        (vec![(g, "transactions", Healthy, &[][..], 12)], T0 + 5000.0),
        (vec![(g, "transactions", Healthy, &[][..], 3)], T0 + 5010.0),
    ] {
        c.observe(&view(&rows), now);
    }
    until("4 sent per notifier", || {
        outcome(&m, "ops-slack", "sent") == 4 && outcome(&m, "ops-discord", "sent") == 4
    })
    .await;
    assert_eq!(c.pending(), 0, "nothing else queued");
    let sb = bodies(&slack).await;
    assert_eq!(
        slack_headlines(&sb),
        [
            "🟠 WARNING: spark-streaming-group / transactions (opened) · lag 150,000 · lag_warning",
            "🔴 CRITICAL: spark-streaming-group / transactions (escalated from warning) · lag 3,000,000 · lag_critical, backlog_replay",
            "🔴 CRITICAL: spark-streaming-group / transactions (still open after 1 h) · lag 2,000,000 · lag_critical, backlog_replay",
            "✅ RESOLVED: spark-streaming-group / transactions (was critical for 1 h 23 min) · lag 12",
        ]
    );
    let db = bodies(&discord).await;
    assert_eq!(
        discord_titles(&db),
        [
            "🟠 WARNING: spark-streaming-group / transactions (opened)",
            "🔴 CRITICAL: spark-streaming-group / transactions (escalated from warning)",
            "🔴 CRITICAL: spark-streaming-group / transactions (still open after 1 h)",
            "✅ RESOLVED: spark-streaming-group / transactions (was critical for 1 h 23 min)",
        ]
    );
    let colors: Vec<u64> = db
        .iter()
        .map(|v| v["embeds"][0]["color"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(
        colors,
        [0xF57C00, 0xD32F2F, 0xD32F2F, 0x2E7D32],
        "orange, red, red, green"
    );
    assert_eq!(outcome(&m, "ops-slack", "retried"), 0);
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn many_groups_firing_in_one_poll_make_one_message() {
    let slack = server_ok("/s").await;
    let m = metrics();
    let c = Coordinator::start(
        &[notifier("s", Slack, Some(format!("{}/s", slack.uri())))],
        Default::default(),
        None,
        m.clone(),
        fast(),
    )
    .expect("start");
    let names: Vec<String> = (0..30).map(|i| format!("group-{i:02}")).collect();
    let rows: Vec<_> = names
        .iter()
        .map(|g| (g.as_str(), "t", Critical, &[LagCritical][..], 2_000_000))
        .collect();
    c.observe(&view(&rows), T0);
    until("sent", || outcome(&m, "s", "sent") == 1).await;
    let b = bodies(&slack).await;
    assert_eq!(b.len(), 1);
    assert!(b[0]["text"]
        .as_str()
        .unwrap_or("")
        .starts_with("lagwatch [prod]: 30 critical"));
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_delivered_once() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&slack)
        .await;
    let discord = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(serde_json::json!({
            "message": "You are being rate limited.", "retry_after": 0.05, "global": false
        })))
        .up_to_n_times(1)
        .mount(&discord)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&discord)
        .await;
    let m = metrics();
    let c = Coordinator::start(
        &[
            notifier("sl", Slack, Some(slack.uri())),
            notifier("dc", Discord, Some(discord.uri())),
        ],
        Default::default(),
        None,
        m.clone(),
        fast(),
    )
    .expect("start");
    c.observe(
        &view(&[("g", "t", Critical, &[LagCritical], 2_000_000)]),
        T0,
    );
    until("both sent", || {
        outcome(&m, "sl", "sent") == 1 && outcome(&m, "dc", "sent") == 1
    })
    .await;
    for (name, s) in [("sl", &slack), ("dc", &discord)] {
        assert_eq!(
            outcome(&m, name, "retried"),
            1,
            "{name}: one retry after the 429"
        );
        assert_eq!(outcome(&m, name, "failed"), 0, "{name}");
        assert_eq!(bodies(s).await.len(), 2, "{name}: the 429 and the delivery");
    }
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn server_error_then_ok_delivers_once_and_4xx_is_not_retried() {
    let flaky = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&flaky)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&flaky)
        .await;
    let gone = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no_service"))
        .mount(&gone)
        .await;
    let m = metrics();
    let c = Coordinator::start(
        &[
            notifier("flaky", Slack, Some(flaky.uri())),
            notifier(
                "revoked",
                Slack,
                Some(format!("{}/services/T0/B0/SECRET", gone.uri())),
            ),
        ],
        Default::default(),
        None,
        m.clone(),
        fast(),
    )
    .expect("start");
    c.observe(&view(&[("g", "t", Warning, &[LagWarning], 200_000)]), T0);
    until("flaky sent, revoked failed", || {
        outcome(&m, "flaky", "sent") == 1 && outcome(&m, "revoked", "failed") == 1
    })
    .await;
    assert_eq!(outcome(&m, "flaky", "retried"), 1);
    assert_eq!(bodies(&flaky).await.len(), 2, "the 500 and the delivery");
    assert_eq!(outcome(&m, "revoked", "retried"), 0, "a 404 is final");
    assert_eq!(bodies(&gone).await.len(), 1);
    assert_eq!(c.pending(), 0);
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_hung_server_times_out_and_is_retried_while_intake_keeps_going() {
    let hung = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .up_to_n_times(1)
        .mount(&hung)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hung)
        .await;
    let ok = server_ok("/").await;
    let m = metrics();
    let c = Coordinator::start(
        &[
            notifier("hung", Slack, Some(hung.uri())),
            notifier("fine", Slack, Some(ok.uri())),
        ],
        Default::default(),
        None,
        m.clone(),
        fast(),
    )
    .expect("start");
    c.observe(&view(&[("a", "t", Warning, &[LagWarning], 200_000)]), T0);
    while hung
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // `observe` is synchronous: it returns while the hung delivery is in flight, and queues.
    c.observe(
        &view(&[
            ("a", "t", Warning, &[LagWarning], 200_000),
            ("b", "t", Critical, &[LagCritical], 2_000_000),
        ]),
        T0 + 10.0,
    );
    until("both notifiers sent both messages", || {
        outcome(&m, "hung", "sent") == 2 && outcome(&m, "fine", "sent") == 2
    })
    .await;
    assert!(
        outcome(&m, "hung", "retried") >= 1,
        "the timed-out attempt was retried"
    );
    assert_eq!(outcome(&m, "hung", "failed"), 0);
    assert_eq!(
        outcome(&m, "fine", "retried"),
        0,
        "a dead notifier does not hold up the others"
    );
    assert_eq!(queue_length(&m, "hung"), 0);
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_full_queue_folds_instead_of_dropping() {
    let hung = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&hung)
        .await;
    let m = metrics();
    let mut n = notifier("small", Slack, Some(hung.uri()));
    n.queue_size = 2;
    n.timeout = Duration::from_secs(30);
    let c = Coordinator::start(&[n], Default::default(), None, m.clone(), fast()).expect("start");
    for (i, g) in ["a", "b", "c", "d"].iter().enumerate() {
        c.observe(
            &view(&[(g, "t", Warning, &[LagWarning], 200_000)]),
            T0 + i as f64,
        );
    }
    assert_eq!(
        outcome(&m, "small", "dropped"),
        0,
        "4 messages into a queue of 2: the last ones are folded into the queued one, not dropped"
    );
    assert_eq!(queue_length(&m, "small"), 2);
    assert_eq!(c.pending(), 2);
    c.shutdown(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn restart_with_open_incidents_sends_nothing_new_then_resolves() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = server_ok("/").await;
    let n = [notifier("ops", Slack, Some(s.uri()))];
    let critical = view(&[("g", "t", Critical, &[LagCritical], 2_000_000)]);
    let m1 = metrics();
    let first = Coordinator::start(&n, Default::default(), Some(dir.path()), m1.clone(), fast())
        .expect("start");
    first.observe(&critical, T0);
    until("opened", || outcome(&m1, "ops", "sent") == 1).await;
    first.shutdown(Duration::from_secs(1)).await;

    let m2 = metrics();
    let second = Coordinator::start(&n, Default::default(), Some(dir.path()), m2.clone(), fast())
        .expect("restart");
    assert_eq!(
        second.open_incidents("ops"),
        1,
        "the incident survived the restart"
    );
    second.observe(&critical, T0 + 60.0);
    assert_eq!(
        second.pending(),
        0,
        "still critical after a restart: nothing new to say"
    );
    second.observe(&view(&[("g", "t", Healthy, &[], 0)]), T0 + 120.0);
    until("resolved", || outcome(&m2, "ops", "sent") == 1).await;
    let headlines = slack_headlines(&bodies(&s).await);
    assert_eq!(headlines.len(), 2, "{headlines:?}");
    assert!(headlines[0].contains("opened"), "{headlines:?}");
    assert!(headlines[1].contains("RESOLVED"), "{headlines:?}");
    second.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn pending_messages_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&down)
        .await;
    let mut opts = fast();
    opts.retry.max_attempts = 1_000;
    let m1 = metrics();
    let first = Coordinator::start(
        &[notifier("ops", Slack, Some(down.uri()))],
        Default::default(),
        Some(dir.path()),
        m1.clone(),
        opts,
    )
    .expect("start");
    first.observe(
        &view(&[("g", "t", Critical, &[LagCritical], 2_000_000)]),
        T0,
    );
    until("retrying", || outcome(&m1, "ops", "retried") >= 1).await;
    first.shutdown(Duration::from_millis(100)).await;
    assert_eq!(outcome(&m1, "ops", "sent"), 0);
    let saved = std::fs::read_to_string(dir.path().join("notifications.json")).expect("state file");
    assert!(saved.contains("\"pending\""), "{saved}");

    // Back with a working webhook: the pending message goes out without any new poll.
    let up = server_ok("/").await;
    let m2 = metrics();
    let second = Coordinator::start(
        &[notifier("ops", Slack, Some(up.uri()))],
        Default::default(),
        Some(dir.path()),
        m2.clone(),
        fast(),
    )
    .expect("restart");
    until("pending delivered", || outcome(&m2, "ops", "sent") == 1).await;
    assert_eq!(
        slack_headlines(&bodies(&up).await),
        ["🔴 CRITICAL: g / t (opened) · lag 2,000,000 · lag_critical"]
    );
    assert_eq!(second.pending(), 0);
    second.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_down_cluster_does_not_resolve_its_incidents() {
    let s = server_ok("/").await;
    let m = metrics();
    let c = Coordinator::start(
        &[notifier("ops", Slack, Some(s.uri()))],
        Default::default(),
        None,
        m.clone(),
        fast(),
    )
    .expect("start");
    c.observe(
        &view(&[("g", "t", Critical, &[LagCritical], 2_000_000)]),
        T0,
    );
    let mut down = view(&[]);
    down.up = false;
    c.observe(&down, T0 + 10.0);
    let mut partial = view(&[]);
    partial.partial = true;
    c.observe(&partial, T0 + 20.0);
    assert_eq!(c.open_incidents("ops"), 1);
    until("opened", || outcome(&m, "ops", "sent") == 1).await;
    assert_eq!(c.pending(), 0);
    c.observe(&view(&[]), T0 + 30.0);
    until("resolved as gone", || outcome(&m, "ops", "sent") == 2).await;
    let h = slack_headlines(&bodies(&s).await);
    assert_eq!(h[1], "✅ RESOLVED: g / t (no longer reported)");
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn console_notifier_needs_no_server() {
    let m = metrics();
    let c = Coordinator::start(
        &[notifier("demo", Console, None)],
        Default::default(),
        None,
        m.clone(),
        fast(),
    )
    .expect("start");
    c.observe(&view(&[("g", "t", Warning, &[LagWarning], 200_000)]), T0);
    until("printed", || outcome(&m, "demo", "sent") == 1).await;
    c.shutdown(Duration::from_secs(1)).await;
}

#[test]
fn delivery_and_timeout_errors_read_as_words_not_debug_output() {
    use lagwatch::notify::deliver::DeliveryError;
    use lagwatch::source::spark::SparkError;
    // (error, its message); issue 22 saw "asked to wait Some(3s)".
    let rows: [(String, &str); 4] = [
        (
            DeliveryError::RateLimited(Some(Duration::from_secs(3))).to_string(),
            "rate limited (HTTP 429), asked to wait 3s",
        ),
        (
            DeliveryError::RateLimited(None).to_string(),
            "rate limited (HTTP 429), no wait given",
        ),
        (
            DeliveryError::Timeout(Duration::from_millis(10_500)).to_string(),
            "no answer within 10s 500ms",
        ),
        (
            SparkError::Timeout(Duration::from_secs(5)).to_string(),
            "reading the checkpoint took longer than 5s",
        ),
    ];
    for (got, want) in rows {
        assert_eq!(got, want);
    }
}
