//! Silences: the coordinator holds back exactly the matching incidents (still tracking
//! them), silences expire by themselves and survive a restart through the state file;
//! `/api/v1/silences` and `lagwatch silence` behind basic auth.

use crate::support::notifiers::*;
use lagwatch::config::NotifierKind::Webhook;
use lagwatch::notify::silence::Matchers;
use lagwatch::notify::Coordinator;
use lagwatch::view::Reason::{BacklogReplay, LagCritical, LagWarning};
use lagwatch::view::Status::{Critical, Ok as Healthy, Warning};
use serde_json::Value;
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn now() -> f64 {
    lagwatch::runtime::now()
}

async fn hook() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&s)
        .await;
    s
}

/// (group, change) of every alert the hook received, in order.
async fn heard(s: &MockServer) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in s.received_requests().await.unwrap_or_default() {
        let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        for a in v["alerts"].as_array().into_iter().flatten() {
            let s = |k: &str| a[k].as_str().unwrap_or("").to_owned();
            out.push((s("group"), s("change")));
        }
    }
    out
}

fn group(g: &str) -> Matchers {
    Matchers {
        group: Some(g.into()),
        ..Matchers::default()
    }
}

#[tokio::test]
async fn a_silence_holds_back_exactly_the_matching_incidents_which_stay_tracked() {
    let s = hook().await;
    let m = metrics();
    let c = Coordinator::start(
        &[notifier("hook", Webhook, Some(s.uri()))],
        Default::default(),
        None,
        m.clone(),
        fast(),
    )
    .expect("start");
    let sil = c.silences();
    sil.add(
        group("spark:etl"),
        3600.0,
        "replaying on purpose".into(),
        "ops".into(),
    )
    .expect("add");
    sil.add(
        Matchers {
            reason: Some("backlog_replay".into()),
            group: Some("billing-.*".into()),
            ..Matchers::default()
        },
        3600.0,
        String::new(),
        "ops".into(),
    )
    .expect("add");
    let t = now();
    c.observe(
        &view(&[
            (
                "spark:etl",
                "transactions",
                Critical,
                &[LagCritical, BacklogReplay],
                3_000_000,
            ),
            (
                "spark:etl2",
                "transactions",
                Critical,
                &[LagCritical],
                3_000_000,
            ),
            (
                "billing-eu",
                "invoices",
                Critical,
                &[LagCritical, BacklogReplay],
                3_000_000,
            ),
            ("billing-us", "invoices", Warning, &[LagWarning], 200_000),
        ]),
        t,
    );
    until("sent", || outcome(&m, "hook", "sent") == 1).await;
    c.observe(
        &view(&[
            ("spark:etl", "transactions", Healthy, &[], 0),
            (
                "spark:etl2",
                "transactions",
                Critical,
                &[LagCritical],
                3_000_000,
            ),
            (
                "billing-eu",
                "invoices",
                Critical,
                &[LagCritical, BacklogReplay],
                3_000_000,
            ),
            ("billing-us", "invoices", Warning, &[LagWarning], 200_000),
        ]),
        t + 10.0,
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        heard(&s).await,
        [
            ("spark:etl2".into(), "opened".into()),
            ("billing-us".into(), "opened".into())
        ],
        "exact group (not its prefix) and group+reason silenced; the resolution of a \
         silenced incident is held back too"
    );
    assert_eq!(
        c.open_incidents("hook"),
        3,
        "silenced incidents are still tracked"
    );
    assert_eq!(sil.list().len(), 2);
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_silence_expires_by_itself_and_survives_a_restart() {
    let s = hook().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let m = metrics();
    let n = [notifier("hook", Webhook, Some(s.uri()))];
    let c = Coordinator::start(&n, Default::default(), Some(dir.path()), m.clone(), fast())
        .expect("start");
    let short = c
        .silences()
        .add(group("a"), 30.0, "short".into(), "ops".into())
        .expect("add");
    let long = c
        .silences()
        .add(group("b"), 3600.0, "long".into(), "ops".into())
        .expect("add");
    c.shutdown(Duration::from_secs(1)).await;

    let c = Coordinator::start(&n, Default::default(), Some(dir.path()), m.clone(), fast())
        .expect("restart");
    let ids: Vec<String> = c.silences().list().into_iter().map(|x| x.id).collect();
    assert_eq!(
        ids,
        [short.id.clone(), long.id.clone()],
        "both came back from the state file"
    );
    let t = now();
    c.observe(
        &view(&[
            ("a", "t", Warning, &[LagWarning], 200_000),
            ("b", "t", Warning, &[LagWarning], 200_000),
        ]),
        t,
    );
    // 60 s later the short silence has ended on its own: a's escalation is heard.
    c.observe(
        &view(&[
            ("a", "t", Critical, &[LagCritical], 3_000_000),
            ("b", "t", Critical, &[LagCritical], 3_000_000),
        ]),
        t + 60.0,
    );
    until("sent", || outcome(&m, "hook", "sent") == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(heard(&s).await, [("a".into(), "escalated".into())]);
    c.shutdown(Duration::from_secs(1)).await;
    let state = std::fs::read_to_string(dir.path().join("notifications.json")).expect("state");
    assert!(
        !state.contains(&short.id),
        "the expired silence is pruned from the state file"
    );
    assert!(state.contains(&long.id));
}
