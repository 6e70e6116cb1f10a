//! `metrics.granularity`, its overrides and `metrics.exclude` change exactly the families
//! they name: golden files per granularity, and each rendering compared family by family
//! with the full one.

use super::metrics::render_with;
use lagwatch::config::{Granularity, GranularityOverride, MetricsConfig};
use std::collections::BTreeMap;

/// Family name -> its lines (HELP, TYPE, samples), in exposition order. The poll error
/// counters are left out: they exist from the start in hash order (see
/// `known_series_exist_at_zero_from_the_start`).
fn families(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            current = rest.split_whitespace().next().unwrap_or("").to_owned();
        }
        if line.contains("lagwatch_poll_errors") {
            continue;
        }
        out.entry(current.clone())
            .or_default()
            .push(line.to_owned());
    }
    out
}

fn at(g: Granularity) -> MetricsConfig {
    MetricsConfig {
        granularity: g,
        ..MetricsConfig::default()
    }
}

/// The label names of a family's first sample.
fn label_names(lines: &[String]) -> Vec<String> {
    let Some(sample) = lines.iter().find(|l| !l.starts_with('#')) else {
        return Vec::new();
    };
    let Some((_, rest)) = sample.split_once('{') else {
        return Vec::new();
    };
    rest.split("\",")
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .collect()
}

fn golden(name: &str, text: &str) {
    // Partition granularity is the default: its golden file is `golden_metrics_output`'s.
    let file = match name {
        "partition" => "metrics.txt".to_owned(),
        other => format!("metrics-{other}.txt"),
    };
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var("UPDATE_GOLDEN").is_ok() {
        std::fs::write(&path, text).expect("write golden");
    }
    let want = std::fs::read_to_string(&path).expect("golden file (run with UPDATE_GOLDEN=1)");
    assert_eq!(
        text, want,
        "{path} changed; review and rerun with UPDATE_GOLDEN=1"
    );
}

#[test]
fn each_granularity_drops_exactly_the_finer_families() {
    let full = families(&render_with(&at(Granularity::Partition), false));
    // (granularity, label names that may no longer appear, why)
    let cases = [
        (Granularity::Partition, &[][..], "the default drops nothing"),
        (
            Granularity::Topic,
            &["partition"][..],
            "topic drops every per-partition family",
        ),
        (
            Granularity::Group,
            &["partition", "topic"][..],
            "group drops per-topic ones too",
        ),
    ];
    for (g, dropped, why) in cases {
        let text = render_with(&at(g), false);
        let got = families(&text);
        for (name, lines) in &full {
            let finer = label_names(lines)
                .iter()
                .any(|l| dropped.contains(&l.as_str()));
            match got.get(name) {
                Some(kept) => {
                    assert!(!finer, "{why}: {name} should be gone at {}", g.as_str());
                    assert_eq!(kept, lines, "{why}: {name} must be unchanged");
                }
                None => assert!(finer, "{why}: {name} is missing at {}", g.as_str()),
            }
        }
        assert!(
            got.keys().all(|k| full.contains_key(k)),
            "{why}: nothing new appears"
        );
        let body: String = text
            .lines()
            .filter(|l| !l.contains("lagwatch_poll_errors"))
            .map(|l| format!("{l}\n"))
            .collect();
        golden(g.as_str(), &body);
    }
}

#[test]
fn exclude_removes_exactly_the_named_families() {
    let full = families(&render_with(&MetricsConfig::default(), false));
    let named = [
        "lagwatch_group_topic_reason",
        "lagwatch_partition_log_start_offset",
        "lagwatch_build_info",
        "lagwatch_poll_duration_seconds",
    ];
    let cfg = MetricsConfig {
        exclude: named.iter().map(|s| (*s).to_owned()).collect(),
        ..MetricsConfig::default()
    };
    let got = families(&render_with(&cfg, false));
    for (name, lines) in &full {
        // The exposition names a family without the _info suffix in HELP.
        let excluded = named
            .iter()
            .any(|n| *n == name || n.strip_suffix("_info") == Some(name));
        match got.get(name) {
            Some(kept) => {
                assert!(!excluded, "{name} is excluded but rendered");
                assert_eq!(kept, lines, "{name} must be unchanged");
            }
            None => assert!(excluded, "{name} vanished without being excluded"),
        }
    }
}

#[test]
fn overrides_pick_the_granularity_of_matching_series_only() {
    let cfg = MetricsConfig {
        granularity: Granularity::Group,
        overrides: vec![GranularityOverride {
            group: Some(regex::Regex::new("^billing$").expect("regex")),
            topic: None,
            granularity: Granularity::Partition,
        }],
        ..MetricsConfig::default()
    };
    let text = render_with(&cfg, false);
    let has = |needle: &str| text.lines().any(|l| l.starts_with(needle));
    // (series prefix, expected, why)
    let cases = [
        (
            "lagwatch_group_partition_lag{cluster=\"prod\",group=\"billing\"",
            true,
            "billing asks for partitions",
        ),
        (
            "lagwatch_group_topic_lag{cluster=\"prod\",group=\"billing\"",
            true,
            "partition granularity includes topics",
        ),
        (
            "lagwatch_group_partition_lag{cluster=\"prod\",group=\"audit\"",
            false,
            "audit follows the global group granularity",
        ),
        (
            "lagwatch_group_topic_lag{cluster=\"prod\",group=\"audit\"",
            false,
            "group drops per-topic series",
        ),
        (
            "lagwatch_group_lag{cluster=\"prod\",group=\"audit\"",
            true,
            "per-group series always stay",
        ),
        (
            "lagwatch_partition_log_end_offset{",
            false,
            "a group override never matches a series without a group",
        ),
        (
            "lagwatch_share_group_partition_lag{cluster=\"prod\",group=\"jobs\"",
            false,
            "share groups follow the same rule",
        ),
    ];
    for (needle, want, why) in cases {
        assert_eq!(has(needle), want, "{why}: {needle}");
    }
}

#[test]
fn family_names_tell_their_granularity() {
    // The dashboards lint reads a family's granularity from its name; hold it to the labels.
    let cfg = MetricsConfig {
        compat: lagwatch::config::Compat::ALL.into_iter().collect(),
        ..MetricsConfig::default()
    };
    for (name, lines) in families(&render_with(&cfg, false)) {
        if !name.starts_with("lagwatch_") {
            continue;
        }
        let labels = label_names(&lines);
        let by_labels = if labels.iter().any(|l| l == "partition") {
            2
        } else if labels.iter().any(|l| l == "topic") {
            1
        } else {
            0
        };
        assert_eq!(
            crate::shipped::dashboards_lint::needs(&name),
            by_labels,
            "{name}: {labels:?}"
        );
    }
}
