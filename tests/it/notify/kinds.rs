//! The webhook, Alertmanager, PagerDuty and Microsoft Teams notifiers against recording
//! local servers (wiremock): the payload each service's schema expects, 5xx and 429
//! retried as for Slack, routing by reason, and secrets never in what lagwatch reports.

use crate::support::notifiers::*;
use lagwatch::config::NotifierKind::{Alertmanager, MsTeams, PagerDuty, Webhook};
use lagwatch::notify::format::webhook::signature;
use lagwatch::notify::Coordinator;
use lagwatch::view::Reason::{BacklogReplay, LagCritical, LagWarning};
use lagwatch::view::Status::{Critical, Ok as Healthy, Warning};
use serde_json::Value;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const T0: f64 = 1_700_000_000.0;

/// A server answering `status` once per entry of `first`, then 200 for ever.
async fn recording(first: &[u16]) -> MockServer {
    let s = MockServer::start().await;
    for code in first {
        let mut r = ResponseTemplate::new(*code);
        if *code == 429 {
            r = r.insert_header("Retry-After", "0");
        }
        Mock::given(method("POST"))
            .respond_with(r)
            .up_to_n_times(1)
            .mount(&s)
            .await;
    }
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&s)
        .await;
    s
}

async fn requests(s: &MockServer) -> Vec<wiremock::Request> {
    s.received_requests().await.unwrap_or_default()
}

fn json(r: &wiremock::Request) -> Value {
    serde_json::from_slice(&r.body).expect("json body")
}

fn open_then_resolve(c: &Coordinator) {
    c.observe(
        &view(&[(
            "spark:etl",
            "transactions",
            Critical,
            &[LagCritical, BacklogReplay],
            3_000_000,
        )]),
        T0,
    );
    c.observe(
        &view(&[("spark:etl", "transactions", Healthy, &[], 3)]),
        T0 + 600.0,
    );
}

#[tokio::test]
async fn webhook_posts_the_alerts_as_json_signed_with_custom_headers() {
    let s = recording(&[]).await;
    let mut n = notifier("hook", Webhook, Some(format!("{}/in", s.uri())));
    n.headers = vec![("X-Api-Key".into(), "key-from-a-secret-file".into())];
    n.secret = Some("hmac-secret".into());
    let m = metrics();
    let c = Coordinator::start(&[n], Default::default(), None, m.clone(), fast()).expect("start");
    open_then_resolve(&c);
    until("2 sent", || outcome(&m, "hook", "sent") == 2).await;
    let got = requests(&s).await;
    assert_eq!(got.len(), 2);
    for r in &got {
        assert_eq!(r.url.path(), "/in");
        let h = |k: &str| {
            r.headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        assert_eq!(h("x-api-key"), "key-from-a-secret-file");
        assert_eq!(h("content-type"), "application/json");
        assert_eq!(
            h("x-lagwatch-signature"),
            signature(b"hmac-secret", &r.body).expect("hmac"),
            "the signature is over exactly the bytes sent"
        );
    }
    let (open, done) = (json(&got[0]), json(&got[1]));
    assert_eq!(open["schema_version"], 1);
    assert_eq!(open["cluster"], "prod");
    let a = &open["alerts"][0];
    assert_eq!(
        (&a["change"], &a["group"], &a["topic"], &a["status"]),
        (
            &Value::from("opened"),
            &Value::from("spark:etl"),
            &Value::from("transactions"),
            &Value::from("critical")
        )
    );
    assert_eq!(
        a["reasons"],
        serde_json::json!(["lag_critical", "backlog_replay"])
    );
    assert_eq!(a["lag"], 3_000_000);
    assert_eq!(done["alerts"][0]["change"], "resolved");
    assert_eq!(done["alerts"][0]["previous"], "critical");
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn alertmanager_gets_every_url_reposts_while_open_and_ends_on_resolve() {
    let (a, b) = (recording(&[]).await, recording(&[]).await);
    let mut n = notifier("am", Alertmanager, Some(a.uri()));
    n.urls = vec![format!("{}/", b.uri())];
    let m = metrics();
    let c = Coordinator::start(&[n], Default::default(), None, m.clone(), fast()).expect("start");
    let firing = view(&[(
        "spark:etl",
        "transactions",
        Critical,
        &[BacklogReplay, LagCritical],
        3_000_000,
    )]);
    c.observe(&firing, T0);
    c.observe(&firing, T0 + 30.0);
    c.observe(&firing, T0 + 61.0);
    c.observe(
        &view(&[("spark:etl", "transactions", Healthy, &[], 3)]),
        T0 + 90.0,
    );
    until("3 sent", || outcome(&m, "am", "sent") == 3).await;
    for s in [&a, &b] {
        let got = requests(s).await;
        assert_eq!(
            got.len(),
            3,
            "opened, re-posted after 1 min (not after 30 s), resolved"
        );
        assert!(got.iter().all(|r| r.url.path() == "/api/v2/alerts"));
        let bodies: Vec<Value> = got.iter().map(json).collect();
        let first = &bodies[0][0];
        for (k, want) in [
            ("alertname", "KafkaConsumerLag"),
            ("cluster", "prod"),
            ("group", "spark:etl"),
            ("topic", "transactions"),
            ("severity", "critical"),
            ("reason", "backlog_replay"),
        ] {
            assert_eq!(first["labels"][k], want, "label {k}");
        }
        assert!(first["annotations"]["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("CRITICAL: spark:etl / transactions")));
        assert!(first["annotations"]["runbook_action"]
            .as_str()
            .is_some_and(|s| s.contains("spark.read")));
        assert!(first["annotations"]["drain_eta"].is_string());
        assert_eq!(first["startsAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(
            first["endsAt"], "2023-11-14T22:17:20.000Z",
            "4 re-post periods ahead"
        );
        assert_eq!(
            bodies[1][0]["labels"], first["labels"],
            "the re-post is the same alert"
        );
        assert_eq!(bodies[1][0]["endsAt"], "2023-11-14T22:18:21.000Z");
        let end = &bodies[2][0];
        assert_eq!(
            end["labels"], first["labels"],
            "the resolution ends what fired"
        );
        assert_eq!(
            end["endsAt"], "2023-11-14T22:14:50.000Z",
            "ended at the resolution"
        );
    }
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn pagerduty_triggers_and_resolves_one_incident_by_dedup_key() {
    let s = recording(&[]).await;
    let mut n = notifier("pd", PagerDuty, Some(format!("{}/v2/enqueue", s.uri())));
    n.routing_key = Some("R0UT1NGKEY".into());
    let m = metrics();
    let c = Coordinator::start(&[n], Default::default(), None, m.clone(), fast()).expect("start");
    open_then_resolve(&c);
    until("2 sent", || outcome(&m, "pd", "sent") == 2).await;
    let got: Vec<Value> = requests(&s).await.iter().map(json).collect();
    assert_eq!(got.len(), 2);
    let (t, r) = (&got[0], &got[1]);
    assert_eq!(t["routing_key"], "R0UT1NGKEY");
    assert_eq!(t["event_action"], "trigger");
    assert_eq!(t["payload"]["severity"], "critical");
    assert_eq!(t["payload"]["source"], "lagwatch/prod");
    assert_eq!(t["payload"]["component"], "spark:etl");
    assert!(t["payload"]["summary"]
        .as_str()
        .is_some_and(|s| s.starts_with("CRITICAL: spark:etl / transactions (opened)")));
    assert_eq!(t["payload"]["custom_details"]["Cluster"], "prod");
    assert_eq!(r["event_action"], "resolve");
    assert_eq!(r["routing_key"], "R0UT1NGKEY");
    assert_eq!(r["dedup_key"], t["dedup_key"]);
    assert_eq!(
        t["dedup_key"],
        "lagwatch/prod/spark:etl/transactions/1700000000"
    );
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn msteams_gets_an_adaptive_card() {
    let s = recording(&[]).await;
    let m = metrics();
    let c = Coordinator::start(
        &[notifier("teams", MsTeams, Some(s.uri()))],
        Default::default(),
        None,
        m.clone(),
        fast(),
    )
    .expect("start");
    open_then_resolve(&c);
    until("2 sent", || outcome(&m, "teams", "sent") == 2).await;
    let got: Vec<Value> = requests(&s).await.iter().map(json).collect();
    for (v, headline, color) in [
        (&got[0], "lagwatch [prod]: 1 critical", "Attention"),
        (&got[1], "lagwatch [prod]: 1 resolved", "Good"),
    ] {
        assert_eq!(v["type"], "message");
        let att = &v["attachments"][0];
        assert_eq!(
            att["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &att["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(
            card["$schema"],
            "http://adaptivecards.io/schemas/adaptive-card.json"
        );
        assert_eq!(card["body"][0]["text"], headline);
        assert_eq!(card["body"][1]["color"], color);
        assert_eq!(card["body"][2]["type"], "FactSet");
        assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    }
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn every_new_kind_retries_5xx_and_429_and_delivers_once() {
    let kinds = [
        ("hook", Webhook),
        ("am", Alertmanager),
        ("pd", PagerDuty),
        ("teams", MsTeams),
    ];
    let mut servers = Vec::new();
    let mut cfgs = Vec::new();
    for (name, kind) in kinds {
        let s = recording(&[503, 429]).await;
        let mut n = notifier(name, kind, Some(s.uri()));
        if kind == PagerDuty {
            n.routing_key = Some("rk".into());
        }
        cfgs.push(n);
        servers.push(s);
    }
    let m = metrics();
    let c = Coordinator::start(&cfgs, Default::default(), None, m.clone(), fast()).expect("start");
    c.observe(&view(&[("g", "t", Warning, &[LagWarning], 200_000)]), T0);
    until("all sent", || {
        kinds.iter().all(|(n, _)| outcome(&m, n, "sent") == 1)
    })
    .await;
    for ((name, _), s) in kinds.iter().zip(&servers) {
        assert_eq!(
            outcome(&m, name, "retried"),
            2,
            "{name}: after the 503 and the 429"
        );
        assert_eq!(outcome(&m, name, "failed"), 0, "{name}");
        assert_eq!(requests(s).await.len(), 3, "{name}: 503, 429, delivered");
    }
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_notifier_routed_by_reason_hears_only_of_those_incidents() {
    let s = recording(&[]).await;
    let mut n = notifier("replays", Webhook, Some(s.uri()));
    n.reasons = vec!["backlog_replay".into()];
    let m = metrics();
    let c = Coordinator::start(&[n], Default::default(), None, m.clone(), fast()).expect("start");
    c.observe(
        &view(&[
            (
                "spark:etl",
                "transactions",
                Critical,
                &[LagCritical, BacklogReplay],
                3_000_000,
            ),
            ("billing", "invoices", Critical, &[LagCritical], 3_000_000),
        ]),
        T0,
    );
    until("sent", || outcome(&m, "replays", "sent") == 1).await;
    let got = json(&requests(&s).await[0]);
    let groups: Vec<&str> = got["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["group"].as_str())
        .collect();
    assert_eq!(
        groups,
        ["spark:etl"],
        "billing lags without a replay: not this notifier's"
    );
    assert_eq!(c.open_incidents("replays"), 1);
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn secrets_echoed_by_a_rejecting_server_never_reach_the_timeline() {
    // Each server echoes the secrets its notifier sent, as some services do in errors.
    let echo = |body: &'static str| async move {
        let s = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/enqueue"))
            .respond_with(ResponseTemplate::new(400).set_body_string(body))
            .mount(&s)
            .await;
        s
    };
    let pd_server = echo("invalid routing key R0UT1NGKEY-SECRET").await;
    let hook_server = echo("bad Authorization H3ADER-SECRET (HMAC key HMAC-SECRET)").await;
    let mut pd = notifier(
        "pd",
        PagerDuty,
        Some(format!("{}/v2/enqueue", pd_server.uri())),
    );
    pd.routing_key = Some("R0UT1NGKEY-SECRET".into());
    let mut hook = notifier(
        "hook",
        Webhook,
        Some(format!("{}/v2/enqueue", hook_server.uri())),
    );
    hook.headers = vec![("Authorization".into(), "H3ADER-SECRET".into())];
    hook.secret = Some("HMAC-SECRET".into());
    let debug = format!("{pd:?} {hook:?}");
    assert!(!debug.contains("SECRET"), "Debug output: {debug}");
    let m = metrics();
    let c = Coordinator::start(&[pd, hook], Default::default(), None, m.clone(), fast())
        .expect("start");
    c.observe(
        &view(&[("g", "t", Critical, &[LagCritical], 3_000_000)]),
        T0,
    );
    until("both failed", || {
        outcome(&m, "pd", "failed") == 1 && outcome(&m, "hook", "failed") == 1
    })
    .await;
    let errors: Vec<String> = c
        .timeline()
        .group("prod", "g")
        .iter()
        .flat_map(|l| l.entries.iter())
        .flat_map(|e| e.deliveries.iter())
        .filter_map(|d| d.error.as_deref().map(str::to_owned))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    for e in &errors {
        assert!(e.contains("400"), "{e}");
        assert!(!e.contains("SECRET"), "a secret leaked: {e}");
    }
    c.shutdown(Duration::from_secs(1)).await;
}
