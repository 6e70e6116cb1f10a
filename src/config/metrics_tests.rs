//! The `metrics:` section: parsing, errors with file:line:field, and granularity resolution.

use super::*;

fn parse(text: &str) -> Result<super::super::Config, super::super::ConfigErrors> {
    let text = format!("clusters:\n  - name: prod\n    bootstrap_servers: \"k:9092\"\n{text}");
    super::super::from_str("lagwatch.yaml", &text, &|_| None)
}

fn metrics(text: &str) -> MetricsConfig {
    match parse(text) {
        Ok(c) => c.metrics,
        Err(e) => panic!("{e}"),
    }
}

fn errors(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn absent_section_keeps_everything_at_partition_granularity() {
    let m = metrics("");
    assert_eq!(m.granularity, Granularity::Partition);
    assert!(m.overrides.is_empty() && m.exclude.is_empty() && m.compat.is_empty());
}

#[test]
fn full_section_is_read() {
    let m = metrics(
        "metrics:\n  granularity: topic\n  overrides:\n    - group: \"^batch-\"\n      granularity: group\n    - topic: payments\n      granularity: partition\n  exclude: [lagwatch_group_topic_reason, kafka_topic_partitions]\n  compat: [kafka_exporter, kafka_lag_exporter]\n",
    );
    assert_eq!(m.granularity, Granularity::Topic);
    assert_eq!(m.overrides.len(), 2);
    assert!(m.excluded("lagwatch_group_topic_reason"));
    assert!(m.excluded("kafka_topic_partitions"));
    assert!(!m.excluded("lagwatch_group_lag"));
    assert_eq!(m.compat.len(), 2);
}

#[test]
fn mistakes_are_errors_with_file_line_and_field() {
    // (config, what the message must contain, why)
    let cases = [
        (
            "metrics:\n  granularity: partitions\n",
            "lagwatch.yaml:5:16: metrics.granularity: unknown granularity `partitions`",
            "a typo must not silently fall back to partition granularity",
        ),
        (
            "metrics:\n  exclude:\n    - lagwatch_group_lagg\n",
            "lagwatch.yaml:6:7: metrics.exclude[0]: unknown metric family `lagwatch_group_lagg`; did you mean `lagwatch_group_lag`?",
            "excluding a family that does not exist excludes nothing: say so, with the fix",
        ),
        (
            "metrics:\n  compat: [burrow]\n",
            "metrics.compat[0]: unknown compat set `burrow`",
            "only the two documented sets exist",
        ),
        (
            "metrics:\n  overrides:\n    - granularity: group\n",
            "metrics.overrides[0]: an override needs `group` and/or `topic`",
            "an override matching everything is the global granularity, written confusingly",
        ),
        (
            "metrics:\n  overrides:\n    - group: x\n",
            "metrics.overrides[0].granularity: missing `granularity`",
            "an override that sets nothing is a mistake",
        ),
        (
            "metrics:\n  overrides:\n    - group: \"(\"\n      granularity: topic\n",
            "metrics.overrides[0].group: invalid regex",
            "regexes are checked at load, like rules.overrides",
        ),
        (
            "metrics:\n  granularity: topic\n  sample_limit: 5\n",
            "metrics.sample_limit",
            "unknown keys are refused like everywhere else in the file",
        ),
    ];
    for (text, want, why) in cases {
        let got = errors(text);
        assert!(got.contains(want), "{why}\nwant: {want}\ngot: {got}");
    }
}

fn with_overrides(
    global: Granularity,
    rows: &[(Option<&str>, Option<&str>, Granularity)],
) -> MetricsConfig {
    let re = |s: &Option<&str>| s.map(|s| Regex::new(s).expect("test regex"));
    MetricsConfig {
        granularity: global,
        overrides: rows
            .iter()
            .map(|(g, t, granularity)| GranularityOverride {
                group: re(g),
                topic: re(t),
                granularity: *granularity,
            })
            .collect(),
        ..MetricsConfig::default()
    }
}

#[test]
fn granularity_resolution() {
    use Granularity::{Group, Partition, Topic};
    let cfg = with_overrides(
        Topic,
        &[
            (Some("^batch-"), None, Group),
            (None, Some("^payments$"), Partition),
            (Some("^batch-"), Some("^payments$"), Partition),
        ],
    );
    // (group label, topic label, expected, why)
    let cases = [
        (
            Some("web"),
            Some("orders"),
            Topic,
            "no override matches: the global value",
        ),
        (Some("batch-1"), Some("orders"), Group, "group override"),
        (
            Some("batch-1"),
            Some("payments"),
            Group,
            "first match wins, even when a later override names both",
        ),
        (
            Some("web"),
            Some("payments"),
            Partition,
            "topic-only override",
        ),
        (
            None,
            Some("payments"),
            Partition,
            "a series without a group (log offsets) follows topic-only overrides",
        ),
        (
            None,
            Some("orders"),
            Topic,
            "an override naming a group never matches a series without one",
        ),
        (
            Some("web"),
            None,
            Topic,
            "a group-level series with no topic: global",
        ),
    ];
    for (group, topic, want, why) in cases {
        assert_eq!(cfg.granularity_for(group, topic), want, "{why}");
    }
}

#[test]
fn granularities_order_coarsest_first() {
    // A family is kept when the series' granularity is at least the family's level.
    assert!(Granularity::Group < Granularity::Topic);
    assert!(Granularity::Topic < Granularity::Partition);
}

#[test]
fn every_compat_family_is_a_known_family_and_none_is_native() {
    for c in Compat::ALL {
        for f in c.families() {
            assert!(known_family(f), "{f}");
            assert!(
                !METRIC_NAMES.contains(f),
                "{f} collides with a native family"
            );
        }
    }
}
