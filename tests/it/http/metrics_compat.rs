//! `metrics.compat`: every kafka_exporter / kafka-lag-exporter family equals the native
//! value it maps from (README's table), and promtool accepts the exposition. The live
//! Prometheus side is `shipped::prometheus_live::compat`.

use super::metrics::render_with;
use lagwatch::config::{Compat, MetricsConfig};
use lagwatch::metrics::compat::MAPPINGS;
use std::collections::BTreeMap;

type Labels = BTreeMap<String, String>;

/// Every sample of `name` (exact family, no suffix), as (labels, value).
fn samples(text: &str, name: &str) -> Vec<(Labels, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            if n != name {
                return None;
            }
            let labels = labels
                .split("\",")
                .filter(|kv| !kv.is_empty())
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
                .collect();
            Some((labels, value.parse().ok()?))
        })
        .collect()
}

/// A compat series' labels in native spelling; the labels lagwatch has no native
/// counterpart for (member and simple-consumer labels) are dropped.
fn native_labels(l: &Labels) -> Labels {
    l.iter()
        .filter(|(k, _)| {
            ![
                "member_host",
                "consumer_id",
                "client_id",
                "is_simple_consumer",
            ]
            .contains(&k.as_str())
        })
        .map(|(k, v)| {
            let k = match k.as_str() {
                "consumergroup" => "group",
                "cluster_name" => "cluster",
                other => other,
            };
            (k.to_owned(), v.clone())
        })
        .collect()
}

/// The native side of a mapping, computed from the native families like PromQL would.
fn native(text: &str, from: &str) -> BTreeMap<Labels, f64> {
    let by = |keys: &[&str], f: fn(f64, f64) -> f64, start: fn(f64) -> f64, of: &str| {
        let mut out: BTreeMap<Labels, f64> = BTreeMap::new();
        for (l, v) in samples(text, of) {
            let k: Labels = l
                .into_iter()
                .filter(|(k, _)| keys.contains(&k.as_str()))
                .collect();
            let next = out.get(&k).map_or(start(v), |acc| f(*acc, v));
            out.insert(k, next);
        }
        out
    };
    match from {
        "count by (cluster, topic) (lagwatch_partition_log_end_offset)" => by(
            &["cluster", "topic"],
            |acc, _| acc + 1.0,
            |_| 1.0,
            "lagwatch_partition_log_end_offset",
        ),
        "max by (cluster, group) (lagwatch_group_partition_lag)" => by(
            &["cluster", "group"],
            f64::max,
            |v| v,
            "lagwatch_group_partition_lag",
        ),
        family => samples(text, family).into_iter().collect(),
    }
}

fn all_compat() -> MetricsConfig {
    MetricsConfig {
        compat: Compat::ALL.into_iter().collect(),
        ..MetricsConfig::default()
    }
}

#[test]
fn every_compat_family_equals_its_native_source() {
    let text = render_with(&all_compat(), false);
    for (compat, from) in MAPPINGS {
        let got: BTreeMap<Labels, f64> = samples(&text, compat)
            .iter()
            .map(|(l, v)| (native_labels(l), *v))
            .collect();
        let mut want = native(&text, from);
        // The other exporters know no Spark query: compat shows Kafka groups only.
        want.retain(|l, _| !l.get("group").is_some_and(|g| g.starts_with("spark:")));
        assert!(!got.is_empty(), "{compat}: no series in the fixture");
        assert_eq!(got, want, "{compat} vs {from}");
    }
}

#[test]
fn compat_families_carry_their_exporters_label_names() {
    let text = render_with(&all_compat(), false);
    let labels_of = |name: &str| -> Vec<String> {
        samples(&text, name)
            .first()
            .map(|(l, _)| l.keys().cloned().collect())
            .unwrap_or_default()
    };
    // (family, label names (sorted), why)
    let cases: [(&str, &[&str], &str); 5] = [
        (
            "kafka_consumergroup_lag",
            &["cluster", "consumergroup", "partition", "topic"],
            "kafka_exporter's names, plus cluster since one lagwatch watches several",
        ),
        ("kafka_topic_partitions", &["cluster", "topic"], "per topic"),
        (
            "kafka_consumergroup_group_lag",
            &[
                "client_id",
                "cluster_name",
                "consumer_id",
                "group",
                "member_host",
                "partition",
                "topic",
            ],
            "kafka-lag-exporter's per-partition labels, members included",
        ),
        (
            "kafka_consumergroup_group_max_lag",
            &["cluster_name", "group", "is_simple_consumer"],
            "as kafka-lag-exporter documents it",
        ),
        (
            "kafka_partition_latest_offset",
            &["cluster_name", "partition", "topic"],
            "per partition",
        ),
    ];
    for (name, want, why) in cases {
        assert_eq!(labels_of(name), want.to_vec(), "{why}");
    }
    // The member holding a partition is named; an unassigned partition has empty labels,
    // as kafka-lag-exporter shows it.
    assert!(text.contains(
        "kafka_consumergroup_group_lag{cluster_name=\"prod\",group=\"billing\",topic=\"orders\",partition=\"0\",member_host=\"/10.0.0.7\",consumer_id=\"m-1\",client_id=\"billing-app\"} 40"
    ), "{text}");
    assert!(text.contains(
        "kafka_consumergroup_group_lag{cluster_name=\"prod\",group=\"billing\",topic=\"orders\",partition=\"1\",member_host=\"\",consumer_id=\"\",client_id=\"\"} 0"
    ));
}

#[test]
fn compat_is_off_by_default_and_share_groups_stay_out() {
    let plain = render_with(&MetricsConfig::default(), false);
    assert!(
        !plain.contains("kafka_"),
        "no compat family without metrics.compat"
    );
    let text = render_with(&all_compat(), false);
    // jobs is a share group: neither exporter has one, so no consumergroup series for it.
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("kafka_") && l.contains("\"jobs\"")),
        "{text}"
    );
}

#[test]
fn promtool_accepts_the_compat_exposition() {
    let Some(promtool) = std::env::var("PROMTOOL_BIN").ok() else {
        assert!(
            std::env::var("CI").is_err(),
            "PROMTOOL_BIN must be set in CI"
        );
        eprintln!("PROMTOOL_BIN not set: skipped");
        return;
    };
    use std::io::Write;
    // promtool reads the classic text format only (it knows no OpenMetrics `info` type).
    let mut child = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool");
    let body = render_with(&all_compat(), false);
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool output");
    let msg =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    // Exit 3 is lint advice (kafka_exporter's names are theirs to choose); 1 is invalid.
    assert_ne!(out.status.code(), Some(1), "promtool rejected it: {msg}");
    assert!(!msg.contains("error while linting"), "{msg}");
}

#[test]
fn every_mapping_is_documented() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics-compat.md");
    let doc = std::fs::read_to_string(path).expect("docs/metrics-compat.md");
    for (compat, from) in MAPPINGS {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{compat}` |")))
            .unwrap_or_else(|| panic!("docs/metrics-compat.md has no table row for {compat}"));
        assert!(
            row.contains(&format!("`{from}`")),
            "the row of {compat} must name its native source `{from}`: {row}"
        );
    }
}
