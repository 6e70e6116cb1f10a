//! `lagwatch demo` runs to completion with a bounded backlog and shows the seed incident
//! (critical: lag_critical + backlog_replay, rates, 1.2x verdict, ETA) and its resolution.

use std::process::Command;

fn bin() -> String {
    std::env::var("LAGWATCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_lagwatch").to_owned())
}

#[test]
fn demo_shows_the_incident_and_its_resolution() {
    // A tenth of the seed's backlog at 20x: the story resolves after ~5 s here;
    // --duration bounds the run and leaves room for a loaded CI machine.
    let out = Command::new(bin())
        .args(["demo", "--backlog", "300000", "--speed", "20"])
        .args(["--listen", "127.0.0.1:0", "--duration", "20s"])
        .output()
        .expect("run lagwatch demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pos = |s: &str| {
        text.find(s)
            .unwrap_or_else(|| panic!("missing `{s}` in:\n{text}"))
    };
    let produced = pos("produced 300,000 messages in ");
    // The console notifier's message, as Slack/Discord would get it.
    let opened = pos("CRITICAL: spark-streaming-group / transactions (opened)");
    let reasons = pos("Reasons: lag_critical, backlog_replay");
    // A status line with the rates, the headroom verdict and an ETA.
    let measured = pos("(meets 1.2x)  ETA ~");
    let batch = pos("Act 3: the runbook");
    let resolved = pos("RESOLVED: spark-streaming-group / transactions");
    let end = pos("--duration reached: demo over");
    assert!(
        produced < opened && opened < reasons && reasons < batch && measured < batch,
        "{text}"
    );
    assert!(batch < resolved && resolved < end, "{text}");
    assert!(
        !text.contains("data_loss"),
        "the backlog must fit in the mock: {text}"
    );
    assert!(text.contains("/metrics"), "{text}");
}
