//! Spark micro-batch families: per query, what its recent batches took and read, and how
//! long the batch in flight has run.

use super::family::{b, family, Label, Num, Out};
use crate::view::{ClusterView, GroupView, SparkView};
use std::fmt::Error;

type Row<'v> = (&'v str, &'v GroupView, &'v SparkView);

fn labels<'v>((c, g, _): Row<'v>) -> [Label<'v>; 2] {
    [("cluster", b(c)), ("query", b(&g.group))]
}

/// Encodes the Spark batch families of `views`.
pub(super) fn encode(views: &[(&str, &ClusterView)], e: &mut Out<'_, '_>) -> Result<(), Error> {
    let rows = views.iter().flat_map(|(c, v)| {
        v.groups
            .iter()
            .filter_map(move |g| g.spark.as_ref().map(|s| (*c, g, s)))
    });
    family(
        e,
        "lagwatch_spark_batch_duration_seconds",
        "Median duration of the Spark query's recent micro-batches, from one batch's \
         batchTimestampMs to the next's",
        rows.clone(),
        labels,
        |(_, _, s)| s.batch_duration_seconds.map(Num::F),
    )?;
    family(
        e,
        "lagwatch_spark_records_per_batch",
        "Median records per micro-batch of the Spark query (offset deltas between \
         consecutive batches, summed over partitions)",
        rows.clone(),
        labels,
        |(_, _, s)| s.records_per_batch.map(Num::I),
    )?;
    family(
        e,
        "lagwatch_spark_inflight_batch_age_seconds",
        "Seconds the Spark query's planned but uncommitted batch has run (absent when every \
         batch is committed)",
        rows,
        labels,
        |(_, _, s)| s.inflight_batch_age_seconds.map(Num::F),
    )
}
