//! Hand-made config inputs a hostile new user tries: YAML 1.1 booleans as names, `${VAR}`
//! in non-string fields, `clusters: []`. What `run` would refuse (or misread), `validate`
//! refuses first, with file:line.

use lagwatch::config::{from_str, Config, ConfigErrors};
use std::time::Duration;

fn parse(yaml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    from_str("lagwatch.yaml", yaml, &env)
}

#[test]
fn names_are_strings_even_when_yaml_1_1_would_read_a_boolean() {
    let c = parse(
        "clusters:\n  - name: no\n    bootstrap_servers: \"k:9092\"\n  - name: off\n    \
         bootstrap_servers: \"k:9093\"\nnotifiers:\n  - name: y\n    kind: console\n  - name: n\n    \
         kind: console\n",
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let clusters: Vec<&str> = c.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(clusters, ["no", "off"]);
    let notifiers: Vec<&str> = c.notifiers.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(notifiers, ["y", "n"], "not true/false, not duplicates");
}

#[test]
fn env_vars_work_in_durations_numbers_and_booleans() {
    let c = parse(
        "poll_interval: ${POLL:-20s}\nshutdown_timeout: ${STOP}\nclusters:\n  - name: p\n    \
         bootstrap_servers: \"k:9092\"\n    poll_timeout: ${PT}\n    batched_offsets: ${BATCHED}\n\
         rules:\n  for_polls: ${FOR}\n  lag_warning: ${WARN:-5000}\n",
        &[
            ("STOP", "3s"),
            ("PT", "7s"),
            ("BATCHED", "false"),
            ("FOR", "4"),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.poll_interval, Duration::from_secs(20), "default used");
    assert_eq!(c.shutdown_timeout, Duration::from_secs(3));
    assert_eq!(c.clusters[0].poll_timeout, Duration::from_secs(7));
    assert_eq!(
        c.clusters[0].kafka_client,
        lagwatch::config::security::KafkaClient::Librdkafka,
        "batched_offsets: false is the older spelling of kafka_client: librdkafka"
    );
    assert_eq!(c.rules.defaults.for_polls, 4);
    assert_eq!(c.rules.defaults.lag_warning, 5000);
    let e = parse(
        "clusters:\n  - name: p\n    bootstrap_servers: \"k:9092\"\n    batched_offsets: ${B}\n",
        &[("B", "yes")],
    )
    .expect_err("not a boolean")
    .to_string();
    assert!(e.contains("lagwatch.yaml:4:"), "{e}");
    assert!(e.contains("batched_offsets"), "{e}");
}

/// `kafka_client: fast` is a promise: a config the fast path cannot serve is refused with
/// the line and the reason, never quietly read by librdkafka.
#[test]
fn kafka_client_fast_is_refused_where_only_librdkafka_can_read() {
    // (why, client lines, refused with)
    let rows: &[(&str, &str, Option<&str>)] = &[
        (
            "Kerberos",
            "security.protocol: SASL_SSL, sasl.mechanisms: GSSAPI",
            Some("SASL mechanism `GSSAPI`"),
        ),
        (
            "an encrypted key",
            "security.protocol: SSL, ssl.key.password: x",
            Some("`ssl.key.password` is set"),
        ),
        (
            "SCRAM over TLS is served",
            "security.protocol: SASL_SSL, sasl.mechanisms: SCRAM-SHA-512, sasl.username: u, sasl.password: p",
            None,
        ),
    ];
    for (why, client, refused) in rows {
        let text = format!(
            "clusters:\n  - name: p\n    bootstrap_servers: \"k:9092\"\n    kafka_client: fast\n    \
             client: {{{client}}}\n"
        );
        match (parse(&text, &[]), refused) {
            (Ok(_), None) => {}
            (Err(e), Some(want)) => {
                let e = e.to_string();
                assert!(e.contains("lagwatch.yaml:4:"), "{why}: the line: {e}");
                assert!(e.contains("kafka_client"), "{why}: the field: {e}");
                assert!(e.contains(want), "{why}: the reason: {e}");
            }
            (r, _) => panic!(
                "{why}: {:?}",
                r.map(|_| "accepted").map_err(|e| e.to_string())
            ),
        }
    }
    let e = parse(
        "clusters:\n  - name: p\n    bootstrap_servers: \"k:9092\"\n    kafka_client: quick\n",
        &[],
    )
    .expect_err("not a client")
    .to_string();
    assert!(e.contains("not one of auto, fast, librdkafka"), "{e}");
}

#[test]
fn an_empty_cluster_list_is_refused_with_its_line() {
    let e = parse("poll_interval: 15s\nclusters: []\n", &[])
        .expect_err("nothing to monitor")
        .to_string();
    assert!(e.contains("lagwatch.yaml:2:"), "{e}");
    assert!(e.contains("at least one cluster"), "{e}");
}

#[test]
fn validate_refuses_an_empty_cluster_list() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("lagwatch.yaml");
    std::fs::write(&p, "clusters: []\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lagwatch"))
        .args(["validate", "--config"])
        .arg(&p)
        .output()
        .expect("run validate");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("at least one cluster"), "{text}");
}
