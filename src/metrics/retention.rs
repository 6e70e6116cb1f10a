//! Retention families: how long each topic keeps records, and how much of that time is
//! left before it deletes a message a group has not read.

use super::family::{b, family, Label, Num, Out};
use crate::view::{ClusterView, GroupTopicView, GroupView, TopicView};
use std::fmt::Error;

fn topic_labels<'v>((c, t): (&'v str, &'v TopicView)) -> [Label<'v>; 2] {
    [("cluster", b(c)), ("topic", b(&t.topic))]
}

/// Encodes the retention families of `views`.
pub(super) fn encode(views: &[(&str, &ClusterView)], e: &mut Out<'_, '_>) -> Result<(), Error> {
    let topics = views
        .iter()
        .flat_map(|(c, v)| v.topics.iter().map(move |t| (*c, t)));
    family(
        e,
        "lagwatch_topic_retention_seconds",
        "The topic's retention.ms in seconds, for topics that delete by time (absent when \
         unlimited or not readable)",
        topics.clone(),
        topic_labels,
        |(_, t)| t.retention_seconds.map(Num::F),
    )?;
    family(
        e,
        "lagwatch_topic_retention_bytes",
        "The topic's retention.bytes per partition (absent when unlimited or not readable)",
        topics,
        topic_labels,
        |(_, t)| t.retention_bytes.map(Num::I),
    )?;
    type Row<'v> = (&'v str, &'v GroupView, &'v GroupTopicView);
    let rows = views.iter().flat_map(|(c, v)| {
        v.groups
            .iter()
            .flat_map(move |g| g.topics.iter().map(move |t| (*c, g, t)))
    });
    family(
        e,
        "lagwatch_group_topic_retention_headroom_seconds",
        "Retention minus the age of the oldest message the group has not read (worst \
         partition): time left before retention deletes unread messages",
        rows,
        |(c, g, t): Row<'_>| {
            [
                ("cluster", b(c)),
                ("group", b(&g.group)),
                ("topic", b(&t.topic)),
            ]
        },
        |(_, _, t)| t.retention_headroom_seconds.map(Num::F),
    )
}
