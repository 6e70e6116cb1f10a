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
        (
            "TEAMS_WORKFLOW_URL",
            "https://prod.westeurope.logic.azure.com/workflows/x",
        ),
        ("ALERTMANAGER_URL", "http://alertmanager:9093"),
        ("PAGERDUTY_ROUTING_KEY", "r0uting"),
        ("REPLAY_BOT_URL", "https://replay-bot.example/hook"),
        ("REPLAY_BOT_HMAC_SECRET", "s3cret"),
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

#[test]
fn what_run_refuses_validate_refuses_first_with_line_column_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("state-is-a-file");
    std::fs::write(&file, "x").expect("write");
    let yaml = format!(
        "poll_interval: 1ms
state_dir: \"{}\"
clusters:
  - name: a
    bootstrap_servers: \"k:9092\"
    poll_timeout: 9999999999999h
    client:
      sasl.passwrd: \"${{LW_PASS}}\"
      security.protocol: \"${{LW_PROTO}}\"
    groups:
      names: [orders-app]
    spark_queries:
      - name: q1
        checkpoint: gs://bucket/cp
      - name: q1
        checkpoint: /tmp/cp
      - name: q2
        group: orders-app
        checkpoint: /tmp/cp2
",
        file.display()
    );
    let (code, out, err) = validate(
        &yaml,
        &[("LW_PASS", "pa55word-secret"), ("LW_PROTO", "bogus-secret")],
    );
    assert_eq!(code, 2, "{out}{err}");
    // Rows: what the output must contain, why.
    let rows = [
        (
            ":1:16: poll_interval: 1ms is below the minimum of 100ms",
            "absurd values have bounds",
        ),
        (
            ":2:12: state_dir: ",
            "state_dir is a file: run cannot keep state there",
        ),
        ("exists and is not a directory", "says why"),
        (
            ":6:19: clusters[0].poll_timeout: ",
            "overflowing durations are refused",
        ),
        ("above the maximum of 5m", "names the bound"),
        (
            ":8:7: clusters[0].client.sasl.passwrd: unknown librdkafka property `sasl.passwrd`",
            "run fails creating the client with it",
        ),
        (
            ":9:7: clusters[0].client.security.protocol: librdkafka refuses the value",
            "a value librdkafka refuses",
        ),
        (
            ":14:21: clusters[0].spark_queries[0].checkpoint: checkpoint `gs://bucket/cp`: unsupported scheme `gs://`",
            "only paths, file://, s3:// and s3a:// are read",
        ),
        (
            ":15:15: clusters[0].spark_queries[1].name: duplicate Spark query name `q1` (first at line 13)",
            "two queries, one name",
        ),
        (
            ":18:16: clusters[0].spark_queries[2].group: group `orders-app` is also a Kafka consumer group watched by name (line 11)",
            "a query reusing a real group's name",
        ),
    ];
    for (want, why) in rows {
        assert!(err.contains(want), "{why}: want `{want}` in\n{err}");
    }
    for secret in ["pa55word", "bogus-secret"] {
        assert!(
            !err.contains(secret) && !out.contains(secret),
            "{secret} leaked: {err}"
        );
    }
}

#[test]
fn parser_messages_are_plain_positioned_once_and_every_duplicate_is_listed() {
    // Rows: config, what the output must contain, what it must not, why.
    let nested = "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n\
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n\
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n";
    let rows: [(&str, &[&str], &[&str], &str); 3] = [
        (
            "clusters: [1\n",
            &[":1:11: invalid YAML: unclosed bracket"],
            &["line 1", "column 11", ":0:"],
            "the position once, with its real column",
        ),
        (
            "clusters:\n  - name: a\n    bootstrap_servers: \"k:1\"\n    name: b\npoll_interval: 5s\npoll_interval: 6s\n",
            &[
                ":4:5: clusters[0].name: duplicate key `name` (first at line 2)",
                ":6:1: poll_interval: duplicate key `poll_interval` (first at line 5)",
                "2 problems",
            ],
            &["DuplicateKeyPolicy", "Options"],
            "every duplicate, each with its line, in plain words",
        ),
        (
            nested,
            &["invalid YAML: ", "far larger than any lagwatch configuration"],
            &["budget", "Nodes"],
            "library limits in plain words",
        ),
    ];
    for (yaml, want, never, why) in rows {
        let (code, out, err) = validate(yaml, &[]);
        assert_eq!(code, 2, "{why}: {out}{err}");
        for w in want {
            assert!(err.contains(w), "{why}: want `{w}` in\n{err}");
        }
        for n in never {
            assert!(!err.contains(n), "{why}: `{n}` in\n{err}");
        }
    }
}

#[test]
fn a_path_from_an_env_var_is_named_by_the_variable_never_by_its_value() {
    let (code, out, err) = validate(
        "clusters:\n  - name: a\n    bootstrap_servers: \"k:1\"\nnotifiers:\n  - name: n\n    kind: slack\n    url_file: \"/nonexistent-${LW_HOOK_ID}\"\n",
        &[("LW_HOOK_ID", "T0-s3cr3t-hook")],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(":7:15: notifiers[0].url_file: cannot read `/nonexistent-${LW_HOOK_ID}` (value from the environment not shown)"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t") && !out.contains("s3cr3t"), "{err}");
    assert!(
        !err.contains("need `url`"),
        "no second, false problem: {err}"
    );
}

#[test]
fn webhook_url_problems_blame_the_field_that_holds_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let not_url = dir.path().join("hook");
    std::fs::write(&not_url, "hooks.slack.com/services/x\n").expect("write");
    let good = dir.path().join("good");
    std::fs::write(&good, "http://hooks.example/x\n").expect("write");
    let notifier = |body: &str| {
        format!("clusters:\n  - name: a\n    bootstrap_servers: \"k:1\"\nnotifiers:\n  - name: n\n    kind: slack\n{body}")
    };
    // Rows: notifier keys, exit code, must contain, must not contain, why.
    let rows = [
        (
            format!(
                "    url: \"http://hooks.example/x\"\n    url_file: \"{}\"\n",
                good.display()
            ),
            2,
            ":8:15: notifiers[0].url_file: set either `url` or `url_file`, not both",
            "must start with",
            "an http:// URL is fine; only the pair is wrong",
        ),
        (
            format!("    url_file: \"{}\"\n", not_url.display()),
            2,
            ":7:15: notifiers[0].url_file: the file named by `url_file` must hold a webhook URL",
            "notifiers[0].url:",
            "the file's content is wrong, not `url`",
        ),
        (
            format!("    url_file: \"{}\"\n", good.display()),
            0,
            "OK",
            "must start with",
            "http:// from a file is accepted",
        ),
    ];
    for (body, code, want, never, why) in rows {
        let (got, out, err) = validate(&notifier(&body), &[]);
        let all = format!("{out}{err}");
        assert_eq!(got, code, "{why}: {all}");
        assert!(all.contains(want), "{why}: want `{want}` in\n{all}");
        assert!(!all.contains(never), "{why}: `{never}` in\n{all}");
    }
}

#[test]
fn new_notifier_kinds_are_checked_with_line_column_and_field_and_secrets_unshown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("pd-key");
    std::fs::write(&key, "s3cr3t-routing-key\n").expect("write");
    let notifier = |body: &str| {
        format!("clusters:\n  - name: a\n    bootstrap_servers: \"k:1\"\nnotifiers:\n  - name: n\n{body}")
    };
    // Rows: notifier keys, exit code, must contain, why.
    let rows = [
        (
            format!("    kind: pagerduty\n    routing_key_file: \"{}\"\n", key.display()),
            0,
            "OK".to_owned(),
            "a routing key from a file; the events URL defaults to PagerDuty's",
        ),
        (
            "    kind: pagerduty\n    routing_key: \"${LW_HMAC}\"\n".to_owned(),
            0,
            "OK".to_owned(),
            "an inline routing key from the environment",
        ),
        (
            "    kind: pagerduty\n".to_owned(),
            2,
            ":5:5: notifiers[0].routing_key: pagerduty notifiers need `routing_key` or `routing_key_file`".to_owned(),
            "pagerduty needs its key",
        ),
        (
            "    kind: alertmanager\n    urls: [\"http://am1:9093\", \"am2:9093\"]\n".to_owned(),
            2,
            ":7:31: notifiers[0].urls[1]: must hold a webhook URL".to_owned(),
            "each Alertmanager URL is checked where it is written",
        ),
        (
            "    kind: alertmanager\n    urls: [\"http://am1:9093\", \"http://am2:9093\"]\n".to_owned(),
            0,
            "OK".to_owned(),
            "urls alone are enough for alertmanager",
        ),
        (
            "    kind: slack\n    url: \"http://h/x\"\n    secret: \"${LW_HMAC}\"\n".to_owned(),
            2,
            ":8:13: notifiers[0].secret: `secret` is only for webhook notifiers".to_owned(),
            "a key the kind ignores is an error, not silently unused",
        ),
        (
            "    kind: webhook\n    url: \"http://h/x\"\n    secret: \"${LW_HMAC}\"\n    headers: {X-Token: \"${LW_HMAC}\"}\n    reasons: [backlog_replay, stoped]\n".to_owned(),
            2,
            ":10:31: notifiers[0].reasons: unknown reason `stoped` (did you mean `stopped`?)".to_owned(),
            "reasons are the status engine's names",
        ),
        (
            "    kind: msteam\n    url: \"http://h/x\"\n".to_owned(),
            2,
            ":6:11: notifiers[0].kind: unknown notifier kind `msteam` (did you mean `msteams`?)".to_owned(),
            "kinds are suggested",
        ),
    ];
    for (body, code, want, why) in rows {
        let (got, out, err) = validate(&notifier(&body), &[("LW_HMAC", "s3cr3t-hmac")]);
        let all = format!("{out}{err}");
        assert_eq!(got, code, "{why}: {all}");
        assert!(all.contains(&want), "{why}: want `{want}` in\n{all}");
        assert!(
            !all.contains("s3cr3t"),
            "{why}: a secret was printed:\n{all}"
        );
    }
}

#[test]
fn actions_are_checked_with_line_column_and_field() {
    let base = "clusters:\n  - name: a\n    bootstrap_servers: \"k:1\"\nactions:\n";
    // Rows: the actions section, exit code, must contain, why.
    let rows = [
        (
            "  - name: replay-in-batch\n    command: [\"/opt/runbooks/replay-backlog.sh\"]\n    reasons: [backlog_replay]\n    groups: { include: [\"^spark:\"] }\n    min_severity: critical\n    on: [opened]\n    timeout: 10m\n    dry_run: false\n",
            0,
            "OK",
            "the issue's example",
        ),
        (
            "  - name: r\n    command: \"/opt/replay.sh --all\"\n",
            2,
            ":6:14: actions[0].command: expected a list",
            "a shell line is refused: argv only",
        ),
        (
            "  - name: r\n    command: [\"/x\"]\n    on: [opened, reopened]\n",
            2,
            ":7:18: actions[0].on: unknown transition `reopened`",
            "transitions are opened, escalated, resolved",
        ),
        (
            "  - name: r\n    command: [\"/x\"]\n    timeout: 2d\n",
            2,
            ":7:14: actions[0].timeout: 2days is above the maximum of 1day",
            "timeouts are bounded",
        ),
        (
            "  - name: r\n    command: [\"/x\"]\n  - name: r\n    command: [\"/y\"]\n",
            2,
            ":7:11: actions[1].name: duplicate action name `r`",
            "names are unique (the metric label)",
        ),
    ];
    for (body, code, want, why) in rows {
        let (got, out, err) = validate(&format!("{base}{body}"), &[]);
        let all = format!("{out}{err}");
        assert_eq!(got, code, "{why}: {all}");
        assert!(all.contains(want), "{why}: want `{want}` in\n{all}");
    }
}
