//! Config errors: every problem at once, each with file, line and field.

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "KAFKA_PASSWORD" => Some("hunter2-secret".into()),
        "SLACK_URL" => Some("https://hooks.slack.com/services/T000/B000/XXXXSECRET".into()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    from_str("lagwatch.yaml", text, &env)
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

const MINIMAL: &str = "clusters:\n  - name: prod\n    bootstrap_servers: \"k1:9092,k2:9092\"\n";

#[test]
fn minimal_config_gets_defaults() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.listen.to_string(), "0.0.0.0:9358");
    assert_eq!(c.poll_interval, Duration::from_secs(15));
    let cl = &c.clusters[0];
    assert_eq!(cl.name, "prod");
    assert!(cl.groups.discover);
    assert!(cl.topics.matches("orders"));
    assert!(
        !cl.topics.matches("__consumer_offsets"),
        "internal topics excluded by default"
    );
    assert_eq!(cl.poll_timeout, c.poll_interval);
    assert_eq!(c.rules.defaults, Thresholds::default());
    assert_eq!(c.rules.defaults.lag_warning, 100_000);
    assert_eq!(c.rules.defaults.lag_critical, 1_000_000);
    assert_eq!(c.rules.defaults.headroom, 1.2);
}

#[test]
fn full_example_file_is_valid() {
    // The documented example must always parse (with its env vars set).
    let text = include_str!("../../examples/lagwatch.yaml");
    let env = |k: &str| {
        Some(if k.ends_with("_URL") {
            format!("https://hooks.example.com/{k}")
        } else {
            format!("value-of-{k}")
        })
    };
    let c = from_str("examples/lagwatch.yaml", text, &env);
    if let Err(e) = &c {
        panic!("{e}");
    }
}

#[test]
fn unknown_keys_are_errors_with_suggestions_and_lines() {
    let e = errors(
        "listen: \"127.0.0.1:9358\"\npoll_intervl: 15s\nclusters:\n  - name: prod\n    bootstrap_server: \"k:9092\"\n",
    );
    assert_eq!(e.len(), 3, "{e:#?}");
    assert_eq!(
        e[0],
        "lagwatch.yaml:2:1: poll_intervl: unknown key `poll_intervl` (did you mean `poll_interval`?); known keys: listen, poll_interval, clusters, rules, notifiers, state_dir, shutdown_timeout, web, actions, metrics, coordination"
    );
    assert!(
        e[1].starts_with("lagwatch.yaml:4:5: clusters[0].bootstrap_servers: missing required key"),
        "{}",
        e[1]
    );
    assert!(e[2].starts_with("lagwatch.yaml:5:5: clusters[0].bootstrap_server: unknown key `bootstrap_server` (did you mean `bootstrap_servers`?)"), "{}", e[2]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"poll_interval: -5s
clusters:
  - name: prod
    bootstrap_servers: "k:9092"
    groups: { include: ["(unclosed"], exclude: [] }
    client:
      sasl.password: "${KAFKA_PASSWORD}"
      sasl.username: "${MISSING_USER}"
  - name: prod
    bootstrap_servers: "nohostport"
rules:
  lag_warning: 2000000
  headroom: 0.8
  for_polls: "two"
notifiers:
  - name: chat
    kind: slak
    url: "${SLACK_URL}"
"#;
    let e = errors(text);
    let joined = e.join("\n");
    let expect = [
        "lagwatch.yaml:1:16: poll_interval: negative duration `-5s`",
        "lagwatch.yaml:5:25: clusters[0].groups.include[0]: invalid regex `(unclosed`",
        "lagwatch.yaml:8:22: clusters[0].client.sasl.username: environment variable `MISSING_USER` is not set",
        "lagwatch.yaml:9:11: clusters[1].name: duplicate cluster name `prod`",
        "lagwatch.yaml:10:24: clusters[1].bootstrap_servers: `nohostport` is not host:port",
        "lagwatch.yaml:12:16: rules.lag_warning: lag_warning 2000000 is above lag_critical 1000000",
        "lagwatch.yaml:13:13: rules.headroom: headroom 0.8 is below 1.0",
        "lagwatch.yaml:14:14: rules.for_polls: expected an integer, found the string `two`",
        "lagwatch.yaml:17:11: notifiers[0].kind: unknown notifier kind `slak` (did you mean `slack`?)",
    ];
    for x in expect {
        assert!(joined.contains(x), "missing `{x}` in:\n{joined}");
    }
    assert_eq!(e.len(), expect.len(), "{joined}");
    assert!(
        !joined.contains("hunter2"),
        "a secret leaked into an error: {joined}"
    );
    assert!(
        !joined.contains("XXXXSECRET"),
        "a secret leaked into an error: {joined}"
    );
}

#[test]
fn bad_yaml_names_the_line() {
    let e = errors("clusters:\n  - name: prod\n    bootstrap_servers: [k:9092\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("lagwatch.yaml:"), "{}", e[0]);
    assert!(e[0].contains("invalid YAML"), "{}", e[0]);
}

#[test]
fn wrong_types_are_precise() {
    let e = errors(
        "listen: 9358\nclusters:\n  - name: [a]\n    bootstrap_servers: \"k:9092\"\n    topics: \"all\"\n",
    );
    let joined = e.join("\n");
    assert!(
        joined.contains("lagwatch.yaml:1:9: listen: `9358` is not an address"),
        "{joined}"
    );
    assert!(
        joined.contains("lagwatch.yaml:3:11: clusters[0].name: expected a string, found a list"),
        "{joined}"
    );
    assert!(
        joined
            .contains("lagwatch.yaml:5:13: clusters[0].topics: expected a mapping, found a string"),
        "{joined}"
    );
}

#[test]
fn env_expansion_and_secrets_in_debug() {
    let c = parse(
        "clusters:\n  - name: p\n    bootstrap_servers: \"k:9092\"\nnotifiers:\n  - name: s\n    kind: slack\n    url: \"${SLACK_URL}\"\n",
    )
    .unwrap();
    assert_eq!(c.notifiers[0].url.as_deref(), env("SLACK_URL").as_deref());
    let dbg = format!("{:?}", c.notifiers[0]);
    assert!(!dbg.contains("XXXXSECRET"), "{dbg}");
}

#[test]
fn explicit_group_names_skip_discovery() {
    let c = parse("clusters:\n  - name: p\n    bootstrap_servers: \"k:9092\"\n    groups: { names: [a, b] }\n").unwrap();
    assert_eq!(c.clusters[0].groups.names, vec!["a", "b"]);
    assert!(!c.clusters[0].groups.discover);
    let c = parse(
        "clusters:\n  - name: p\n    bootstrap_servers: \"k:9092\"\n    groups: { names: [a], include: [\"^orders-\"] }\n",
    )
    .unwrap();
    assert!(c.clusters[0].groups.discover);
}

#[test]
fn overrides_pick_first_match() {
    let c = parse(
        "clusters:\n  - name: p\n    bootstrap_servers: \"k:9092\"\nrules:\n  lag_warning: 5000\n  overrides:\n    - group: \"^spark:\"\n      lag_critical: 50000000\n    - topic: \"^audit$\"\n      headroom: 2\n",
    )
    .unwrap();
    let r = &c.rules;
    assert_eq!(r.for_group_topic("spark:q", "t").lag_critical, 50_000_000);
    assert_eq!(
        r.for_group_topic("spark:q", "t").lag_warning,
        5000,
        "override inherits global"
    );
    assert_eq!(r.for_group_topic("g", "audit").headroom, 2.0);
    assert_eq!(r.for_group_topic("g", "t").lag_critical, 1_000_000);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Arbitrary text never panics the parser; failures always carry a position.
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
            if let Err(e) = from_str("f.yaml", &s, &env) {
                prop_assert!(!e.0.is_empty());
            }
        }

        /// Structured-looking input with random keys and values never panics either.
        #[test]
        fn random_config_shapes_never_panic(
            key in "[a-z_]{1,12}",
            val in prop_oneof![Just("15s".to_owned()), Just("-1".to_owned()), Just("[1, 2]".to_owned()), Just("{a: b}".to_owned()), "\\PC{0,20}"],
        ) {
            let text = format!("{key}: {val}\nclusters:\n  - name: x\n    bootstrap_servers: \"h:1\"\n    {key}: {val}\nrules:\n  {key}: {val}\n");
            let _ = from_str("f.yaml", &text, &env);
        }

        /// Arbitrary bytes (lossily decoded, as from a corrupt file) never panic.
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let s = String::from_utf8_lossy(&b);
            let _ = from_str("f.yaml", &s, &env);
        }
    }
}
