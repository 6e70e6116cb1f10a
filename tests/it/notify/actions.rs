//! Actions: run once per incident transition (across a restart too) with the incident on
//! stdin and in `LAGWATCH_*`, killed with their process group on timeout, never run under
//! `dry_run`, and a failing or slow action never holds up alerts.

use crate::support::notifiers::*;
use lagwatch::config::NotifierKind::Webhook;
use lagwatch::config::{ActionConfig, ActionOn, Filter, Severity};
use lagwatch::metrics::{ActionLabels, Metrics};
use lagwatch::notify::Coordinator;
use lagwatch::view::Reason::{BacklogReplay, LagCritical};
use lagwatch::view::Status::{Critical, Ok as Healthy};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const T0: f64 = 1_700_000_000.0;

/// An action running `sh -c script` with `$1` = `dir`.
fn action(name: &str, script: &str, dir: &Path) -> ActionConfig {
    ActionConfig {
        name: name.into(),
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            script.into(),
            "sh".into(),
            dir.display().to_string(),
        ],
        reasons: vec!["backlog_replay".into()],
        groups: Filter::from_patterns(&["^spark:".into()], &[]).expect("filter"),
        min_severity: Severity::Critical,
        on: vec![ActionOn::Opened, ActionOn::Resolved],
        timeout: Duration::from_secs(10),
        dry_run: false,
    }
}

fn runs(m: &Metrics, action: &str, outcome: &str) -> u64 {
    m.actions
        .get_or_create(&ActionLabels {
            action: action.into(),
            outcome: outcome.into(),
        })
        .get()
}

fn replaying() -> lagwatch::view::ClusterView {
    view(&[
        (
            "spark:etl",
            "transactions",
            Critical,
            &[LagCritical, BacklogReplay],
            3_000_000,
        ),
        ("spark:other", "t", Critical, &[LagCritical], 3_000_000),
        (
            "billing",
            "t",
            Critical,
            &[LagCritical, BacklogReplay],
            3_000_000,
        ),
    ])
}

const RECORD: &str = r#"cat >> "$1/stdin.jsonl"; echo >> "$1/stdin.jsonl"; echo "$LAGWATCH_TRANSITION $LAGWATCH_GROUP/$LAGWATCH_TOPIC $LAGWATCH_STATUS $LAGWATCH_REASONS $LAGWATCH_LAG" >> "$1/env.log""#;

#[tokio::test]
async fn an_action_runs_once_per_transition_across_a_restart_with_the_incident() {
    let out = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let actions = [action("replay", RECORD, out.path())];
    let start = |m| {
        Coordinator::start(&[], Default::default(), Some(state.path()), m, fast())
            .expect("start")
            .with_actions(&actions)
    };
    let m = metrics();
    let c = start(m.clone());
    c.observe(&replaying(), T0);
    c.observe(&replaying(), T0 + 10.0);
    until("opened ran", || runs(&m, "replay", "ok") == 1).await;
    c.shutdown(Duration::from_secs(1)).await;

    let m = metrics();
    let c = start(m.clone());
    c.observe(&replaying(), T0 + 20.0);
    c.observe(
        &view(&[("spark:etl", "transactions", Healthy, &[], 0)]),
        T0 + 30.0,
    );
    until("resolved ran", || runs(&m, "replay", "ok") == 1).await;
    c.shutdown(Duration::from_secs(1)).await;
    let log = std::fs::read_to_string(out.path().join("env.log")).expect("env.log");
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "opened spark:etl/transactions critical lag_critical,backlog_replay 3000000",
            "resolved spark:etl/transactions ok  0",
        ],
        "once per transition, the restart re-ran nothing; only spark: groups replaying"
    );
    let docs: Vec<Value> = std::fs::read_to_string(out.path().join("stdin.jsonl"))
        .expect("stdin")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json on stdin"))
        .collect();
    assert_eq!(docs.len(), 2);
    let d = &docs[0];
    assert_eq!(d["schema_version"], 1);
    assert_eq!(d["action"], "replay");
    assert_eq!(d["transition"], "opened");
    assert_eq!(d["cluster"], "prod");
    assert_eq!(d["alert"]["group"], "spark:etl");
    assert_eq!(d["alert"]["lag"], 3_000_000);
    assert_eq!(
        d["alert"]["reasons"],
        serde_json::json!(["lag_critical", "backlog_replay"])
    );
    assert_eq!(docs[1]["transition"], "resolved");
    assert_eq!(docs[1]["alert"]["previous"], "critical");
}

/// A silence holds an action back like a notification: the README's own example silence
/// ("replaying on purpose") must not start the automated replay. The held transitions are
/// counted as `silenced`; an incident the silence does not match still runs.
#[tokio::test]
async fn a_silence_holds_back_the_matching_actions_and_counts_them() {
    let out = tempfile::tempdir().expect("tempdir");
    let m = metrics();
    let c = Coordinator::start(&[], Default::default(), None, m.clone(), fast())
        .expect("start")
        .with_actions(&[action("replay", RECORD, out.path())]);
    c.silences()
        .add(
            lagwatch::notify::silence::Matchers {
                group: Some("spark:etl".into()),
                reason: Some("backlog_replay".into()),
                ..Default::default()
            },
            3600.0,
            "replaying on purpose".into(),
            "ops".into(),
        )
        .expect("add");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let mut v = replaying();
    // A second replaying spark group the silence does not name.
    let other = view(&[(
        "spark:ingest",
        "events",
        Critical,
        &[LagCritical, BacklogReplay],
        2_000_000,
    )]);
    v.groups.extend(other.groups);
    c.observe(&v, now);
    c.observe(&v, now + 10.0);
    until("the unsilenced group ran", || runs(&m, "replay", "ok") == 1).await;
    assert_eq!(
        runs(&m, "replay", "silenced"),
        1,
        "spark:etl's opening held"
    );
    c.observe(
        &view(&[
            ("spark:etl", "transactions", Healthy, &[], 0),
            ("spark:ingest", "events", Healthy, &[], 0),
        ]),
        now + 20.0,
    );
    until("the unsilenced resolve ran", || {
        runs(&m, "replay", "ok") == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        runs(&m, "replay", "silenced"),
        2,
        "the resolve of a held-back opening is held back too"
    );
    c.shutdown(Duration::from_secs(1)).await;
    let log = std::fs::read_to_string(out.path().join("env.log")).expect("env.log");
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "opened spark:ingest/events critical lag_critical,backlog_replay 2000000",
            "resolved spark:ingest/events ok  0",
        ],
        "only the group the silence does not match ran"
    );
}

#[tokio::test]
async fn a_timed_out_action_is_killed_with_its_process_group() {
    let out = tempfile::tempdir().expect("tempdir");
    let mut a = action(
        "slow",
        r#"sleep 60 & echo $! > "$1/child.pid"; wait"#,
        out.path(),
    );
    a.timeout = Duration::from_millis(500);
    let m = metrics();
    let c = Coordinator::start(&[], Default::default(), None, m.clone(), fast())
        .expect("start")
        .with_actions(&[a]);
    c.observe(&replaying(), T0);
    until("timed out", || runs(&m, "slow", "timeout") == 1).await;
    let pid = std::fs::read_to_string(out.path().join("child.pid")).expect("pid");
    let proc_dir = format!("/proc/{}", pid.trim());
    // The grandchild `sleep` was in the action's process group: it dies too (its zombie
    // is reaped by init shortly after).
    until("grandchild gone", || {
        std::fs::read_to_string(format!("{proc_dir}/stat"))
            .map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"))
    })
    .await;
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_dry_run_action_never_runs() {
    let out = tempfile::tempdir().expect("tempdir");
    let mut a = action("dry", RECORD, out.path());
    a.dry_run = true;
    let m = metrics();
    let c = Coordinator::start(&[], Default::default(), None, m.clone(), fast())
        .expect("start")
        .with_actions(&[a]);
    c.observe(&replaying(), T0);
    until("dry run counted", || runs(&m, "dry", "dry_run") == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!out.path().join("env.log").exists(), "nothing ran");
    assert_eq!(runs(&m, "dry", "ok"), 0);
    c.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn failing_and_slow_actions_never_hold_up_alerts() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let out = tempfile::tempdir().expect("tempdir");
    let failing = action("failing", "echo about to fail >&2; exit 3", out.path());
    let mut slow = action("slow", "sleep 30", out.path());
    slow.timeout = Duration::from_secs(60);
    let missing = ActionConfig {
        command: vec!["/nonexistent/runbook".into()],
        ..action("missing", "", out.path())
    };
    let m = metrics();
    let c = Coordinator::start(
        &[notifier("hook", Webhook, Some(hook.uri()))],
        Default::default(),
        None,
        m.clone(),
        fast(),
    )
    .expect("start")
    .with_actions(&[failing, slow, missing]);
    let t = Instant::now();
    c.observe(&replaying(), T0);
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "observe does not wait for actions"
    );
    until("alert sent, failures counted", || {
        outcome(&m, "hook", "sent") == 1
            && runs(&m, "failing", "failed") == 1
            && runs(&m, "missing", "error") == 1
    })
    .await;
    assert_eq!(
        runs(&m, "slow", "ok") + runs(&m, "slow", "timeout"),
        0,
        "still running"
    );
    c.observe(
        &view(&[("spark:etl", "transactions", Healthy, &[], 0)]),
        T0 + 10.0,
    );
    until("resolution sent while the slow action runs", || {
        outcome(&m, "hook", "sent") == 2
    })
    .await;
    c.shutdown(Duration::from_secs(1)).await;
}

#[test]
fn the_shipped_runbook_prints_what_it_would_do_unless_told_to_act() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/actions/replay-backlog.sh"
    );
    let run = |envs: &[(&str, &str)]| {
        let mut c = std::process::Command::new(script);
        c.env_remove("RUNBOOK_EXECUTE")
            .env("LAGWATCH_GROUP", "spark:etl")
            .env("LAGWATCH_TOPIC", "transactions")
            .env("LAGWATCH_TRANSITION", "opened")
            .stdin(std::process::Stdio::null());
        for (k, v) in envs {
            c.env(k, v);
        }
        let out = c.output().expect("run the runbook");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("DRY RUN"), "{out}");
    assert!(
        out.contains("spark-submit"),
        "the batch step is shown: {out}"
    );
    let (code, out) = run(&[("RUNBOOK_EXECUTE", "1")]);
    assert_eq!(
        code,
        Some(2),
        "acting without the platform's commands is refused: {out}"
    );
}
