//! Encoding one gauge family from view rows, through the `metrics:` selection: families
//! switched off, and series finer than the granularity of their group/topic, are left out.

use crate::config::{Granularity, MetricsConfig};
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use std::borrow::Cow;
use std::fmt::Error;

/// A sample value: offsets and counts stay exact integers (f64 would round above 2^53).
#[derive(Clone, Copy)]
pub(super) enum Num {
    I(i64),
    F(f64),
}

pub(super) type Label<'a> = (&'static str, Cow<'a, str>);

pub(super) fn b(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

pub(super) fn part(p: i32) -> Cow<'static, str> {
    Cow::Owned(p.to_string())
}

/// The encoder of one scrape and what the config lets it emit.
pub(super) struct Out<'a, 's> {
    pub(super) enc: DescriptorEncoder<'a>,
    pub(super) sel: &'s MetricsConfig,
}

/// The granularity a family needs, read from its label names: a `partition` label needs
/// partitions, a `topic` label topics; anything else is per group or coarser.
pub(super) fn level(labels: &[Label<'_>]) -> Granularity {
    if labels.iter().any(|(k, _)| *k == "partition") {
        Granularity::Partition
    } else if labels.iter().any(|(k, _)| *k == "topic") {
        Granularity::Topic
    } else {
        Granularity::Group
    }
}

fn label<'l>(labels: &'l [Label<'_>], names: &[&str]) -> Option<&'l str> {
    labels
        .iter()
        .find(|(k, _)| names.contains(k))
        .map(|(_, v)| v.as_ref())
}

/// Whether one series of a family at `level` is kept (compat families name the group
/// `consumergroup`, kafka_exporter's spelling).
pub(super) fn keeps(sel: &MetricsConfig, level: Granularity, labels: &[Label<'_>]) -> bool {
    level == Granularity::Group
        || sel.granularity_for(
            label(labels, &["group", "consumergroup"]),
            label(labels, &["topic"]),
        ) >= level
}

/// How a family's rows are filtered, decided once per family.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Plan {
    /// Left out entirely.
    Skip,
    /// Every row with a value.
    All,
    /// Row by row, through the overrides.
    PerRow(Granularity),
}

/// The plan for a family at `level`: only overrides make the decision per row.
pub(super) fn plan(sel: &MetricsConfig, name: &str, level: Granularity) -> Plan {
    if sel.excluded(name) {
        Plan::Skip
    } else if level == Granularity::Group {
        Plan::All
    } else if sel.overrides.is_empty() {
        if sel.granularity >= level {
            Plan::All
        } else {
            Plan::Skip
        }
    } else {
        Plan::PerRow(level)
    }
}

/// Encodes one gauge family from `rows`; a family with no sample is left out entirely, so
/// a scrape shows nothing that is not known.
pub(super) fn family<'v, R: Copy, const N: usize>(
    e: &mut Out<'_, '_>,
    name: &str,
    help: &str,
    rows: impl Iterator<Item = R> + Clone,
    labels: impl Fn(R) -> [Label<'v>; N],
    value: impl Fn(R) -> Option<Num>,
) -> Result<(), Error> {
    if e.sel.excluded(name) {
        return Ok(());
    }
    let Some(first) = rows.clone().next() else {
        return Ok(());
    };
    let plan = plan(e.sel, name, level(&labels(first)));
    let sel = e.sel;
    let kept = |r: R| match plan {
        Plan::Skip => false,
        Plan::All => true,
        Plan::PerRow(l) => keeps(sel, l, &labels(r)),
    };
    if plan == Plan::Skip || !rows.clone().any(|r| value(r).is_some() && kept(r)) {
        return Ok(());
    }
    let mut m = e
        .enc
        .encode_descriptor(name, help, None, MetricType::Gauge)?;
    for r in rows {
        let Some(v) = value(r) else { continue };
        let l = labels(r);
        if let Plan::PerRow(level) = plan {
            if !keeps(sel, level, &l) {
                continue;
            }
        }
        let mut f = m.encode_family(&l)?;
        match v {
            Num::I(i) => f.encode_gauge(&i)?,
            Num::F(x) => f.encode_gauge(&x)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn sel(global: Granularity, group_override: Option<Granularity>) -> MetricsConfig {
        MetricsConfig {
            granularity: global,
            overrides: group_override
                .map(|g| crate::config::GranularityOverride {
                    group: Some(Regex::new("^big").expect("regex")),
                    topic: None,
                    granularity: g,
                })
                .into_iter()
                .collect(),
            exclude: ["lagwatch_group_topic_reason".to_owned()].into(),
            ..MetricsConfig::default()
        }
    }

    #[test]
    fn a_family_needs_the_finest_label_it_has() {
        // (label names, level, why)
        let cases: [(&[&'static str], Granularity, &str); 4] = [
            (
                &["cluster", "group", "topic", "partition"],
                Granularity::Partition,
                "per partition",
            ),
            (
                &["cluster", "topic", "partition"],
                Granularity::Partition,
                "log offsets have no group but are per partition",
            ),
            (
                &["cluster", "group", "topic", "status"],
                Granularity::Topic,
                "one series per status is still per topic",
            ),
            (
                &["cluster", "resource_type", "name"],
                Granularity::Group,
                "unauthorized: a name, not a topic label",
            ),
        ];
        for (names, want, why) in cases {
            let labels: Vec<Label<'_>> = names.iter().map(|n| (*n, b("x"))).collect();
            assert_eq!(level(&labels), want, "{why}");
        }
    }

    #[test]
    fn plans() {
        use Granularity::{Group, Partition, Topic};
        // (global, override for ^big, family, level, plan, why)
        let cases = [
            (
                Partition,
                None,
                "lagwatch_group_topic_reason",
                Topic,
                Plan::Skip,
                "excluded by name",
            ),
            (
                Partition,
                None,
                "lagwatch_group_partition_lag",
                Partition,
                Plan::All,
                "the default keeps all",
            ),
            (
                Topic,
                None,
                "lagwatch_group_partition_lag",
                Partition,
                Plan::Skip,
                "topic drops partitions",
            ),
            (
                Topic,
                None,
                "lagwatch_group_topic_lag",
                Topic,
                Plan::All,
                "topic keeps topics",
            ),
            (
                Group,
                None,
                "lagwatch_group_topic_lag",
                Topic,
                Plan::Skip,
                "group drops topics too",
            ),
            (
                Group,
                None,
                "lagwatch_group_lag",
                Group,
                Plan::All,
                "group keeps groups",
            ),
            (
                Group,
                Some(Partition),
                "lagwatch_group_partition_lag",
                Partition,
                Plan::PerRow(Partition),
                "an override decides per row",
            ),
            (
                Group,
                Some(Partition),
                "lagwatch_group_lag",
                Group,
                Plan::All,
                "group series never depend on overrides",
            ),
        ];
        for (global, ov, name, lvl, want, why) in cases {
            assert_eq!(plan(&sel(global, ov), name, lvl), want, "{why}");
        }
    }

    #[test]
    fn rows_follow_the_first_matching_override() {
        let s = sel(Granularity::Topic, Some(Granularity::Partition));
        let row = |group: &'static str| -> [Label<'static>; 4] {
            [
                ("cluster", b("c")),
                ("group", b(group)),
                ("topic", b("t")),
                ("partition", b("0")),
            ]
        };
        assert!(
            keeps(&s, Granularity::Partition, &row("big-batch")),
            "override asks for partitions"
        );
        assert!(
            !keeps(&s, Granularity::Partition, &row("web")),
            "global topic drops them"
        );
        let compat: [Label<'static>; 3] = [
            ("consumergroup", b("big-1")),
            ("topic", b("t")),
            ("partition", b("0")),
        ];
        assert!(
            keeps(&s, Granularity::Partition, &compat),
            "kafka_exporter's group label counts as the group"
        );
    }
}
