//! `lagwatch validate` as a user runs it: exit codes, every error at once, no secrets echoed.

use std::process::Command;

fn validate(yaml: &str, envs: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lagwatch.yaml");
    std::fs::write(&path, yaml).expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_lagwatch"))
        .args(["validate", "--config"])
        .arg(&path)
        .envs(envs.iter().copied())
        .output()
        .expect("run lagwatch");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn valid_config_exits_zero() {
    let (code, out, err) = validate(
        "clusters:\n  - name: prod\n    bootstrap_servers: \"k:9092\"\n",
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OK (1 cluster(s), 0 notifier(s))"), "{out}");
}

#[test]
fn invalid_config_lists_every_problem_and_exits_two() {
    let secret = "https://hooks.slack.com/services/T1/B2/verysecret";
    let (code, out, err) = validate(
        "poll_intervall: 15s\nclusters:\n  - name: prod\n    bootstrap_servers: \"k:9092\"\n    client:\n      sasl.password: \"${LW_PASS}\"\nnotifiers:\n  - name: n\n    kind: teams\n    url: \"${LW_HOOK}\"\n",
        &[("LW_PASS", "pa55word-secret"), ("LW_HOOK", secret)],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("2 problems in the configuration"), "{err}");
    assert!(
        err.contains(
            ":1:1: poll_intervall: unknown key `poll_intervall` (did you mean `poll_interval`?)"
        ),
        "{err}"
    );
    assert!(
        err.contains(":9:11: notifiers[0].kind: unknown notifier kind `teams`"),
        "{err}"
    );
    assert!(
        !err.contains("verysecret") && !out.contains("verysecret"),
        "secret leaked: {err}"
    );
    assert!(
        !err.contains("pa55word") && !out.contains("pa55word"),
        "secret leaked: {err}"
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_lagwatch"))
        .args(["validate", "--config", "/nonexistent/lagwatch.yaml"])
        .output()
        .expect("run lagwatch");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/lagwatch.yaml:0:0: cannot read the file"),
        "{err}"
    );
}

#[test]
fn shipped_example_configs_validate() {
    // Every config we ship must pass `lagwatch validate` with its env vars provided.
    let root = env!("CARGO_MANIFEST_DIR");
    let envs = [
        ("KAFKA_USER", "u"),
        ("KAFKA_PASSWORD", "p"),
        ("S3_ACCESS_KEY_ID", "a"),
        ("S3_SECRET_ACCESS_KEY", "s"),
        ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/x"),
        ("DISCORD_WEBHOOK_URL", "https://discord.com/api/webhooks/x"),
    ];
    for entry in std::fs::read_dir(format!("{root}/examples")).expect("examples dir") {
        let p = entry.expect("entry").path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with("lagwatch") && (name.ends_with(".yaml") || name.ends_with(".yml"))) {
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_lagwatch"))
            .args(["validate", "--config"])
            .arg(&p)
            .envs(envs)
            .output()
            .expect("run lagwatch");
        assert!(
            out.status.success(),
            "{}: {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
