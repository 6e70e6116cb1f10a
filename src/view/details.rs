//! Kafka facts reported as read, with nothing derived from them: who the members of each
//! group are, what the principal may not describe, and the share groups with the broker's
//! own lag. They travel next to the [`ClusterView`](super::ClusterView) (in `state`), so the
//! view's shape stays as it is and no status rule applies to them.

use crate::snapshot::{GroupState, KafkaPath, Member, Snapshot, Unauthorized};
use serde::Serialize;
use std::collections::BTreeMap;

/// What one poll read besides offsets.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KafkaDetails {
    /// Members of each described group (absent: not described this poll or earlier).
    pub members: BTreeMap<String, Vec<Member>>,
    /// Resources the principal may not describe, sorted.
    pub unauthorized: Vec<Unauthorized>,
    /// Share groups (KIP-932), sorted by name.
    pub share_groups: Vec<ShareGroupView>,
    /// Which client read the poll.
    pub kafka_client: Option<KafkaPath>,
}

/// One share group: its state and, per share partition, what its coordinator reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShareGroupView {
    /// Group id.
    pub group: String,
    /// State as described (else as listed).
    pub state: GroupState,
    /// Members, when the coordinator described the group.
    pub members: Option<u32>,
    /// Sum of the partitions' lags; `None` when one of them is unknown (a sum of the known
    /// ones would look like a smaller lag than there is).
    pub lag: Option<i64>,
    /// Share partitions of watched topics, sorted.
    pub partitions: Vec<SharePartitionView>,
}

/// One share partition of a share group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharePartitionView {
    /// Topic name.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The share-partition start offset (earliest record still being delivered).
    pub start_offset: i64,
    /// Records not yet acknowledged, as the broker counts them (Kafka 4.2+).
    pub lag: Option<i64>,
}

impl KafkaDetails {
    /// The details of one snapshot.
    pub fn of(snap: &Snapshot) -> Self {
        KafkaDetails {
            members: snap.members.clone(),
            unauthorized: snap.unauthorized.clone(),
            kafka_client: snap.kafka_client,
            share_groups: snap
                .share_groups
                .values()
                .map(|g| {
                    let partitions: Vec<SharePartitionView> = g
                        .partitions
                        .iter()
                        .map(|(tp, p)| SharePartitionView {
                            topic: tp.topic.to_string(),
                            partition: tp.partition,
                            start_offset: p.start_offset,
                            lag: p.lag,
                        })
                        .collect();
                    let lag = partitions
                        .iter()
                        .map(|p| p.lag)
                        .try_fold(0i64, |sum, l| Some(sum.saturating_add(l?)));
                    ShareGroupView {
                        group: g.name.clone(),
                        state: g.state,
                        members: g.members,
                        lag: lag.filter(|_| !partitions.is_empty()),
                        partitions,
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ShareGroupSnapshot, SharePartition, TopicPartition};

    fn snap(lags: &[Option<i64>]) -> Snapshot {
        let mut s = Snapshot::new("c", 0.0);
        let partitions = lags
            .iter()
            .enumerate()
            .map(|(i, lag)| {
                let p = SharePartition {
                    start_offset: 0,
                    lag: *lag,
                };
                (TopicPartition::new("t", i32::try_from(i).unwrap()), p)
            })
            .collect();
        let g = ShareGroupSnapshot {
            name: "g".into(),
            state: GroupState::Stable,
            members: None,
            partitions,
        };
        s.share_groups.insert("g".into(), g);
        s
    }

    fn group_lag(lags: &[Option<i64>]) -> Option<i64> {
        KafkaDetails::of(&snap(lags)).share_groups[0].lag
    }

    #[test]
    fn a_share_groups_lag_is_the_sum_of_its_partitions() {
        assert_eq!(group_lag(&[Some(3), Some(10)]), Some(13));
    }

    #[test]
    fn one_unknown_partition_makes_the_group_lag_unknown_not_smaller() {
        assert_eq!(group_lag(&[Some(3), None]), None);
    }

    #[test]
    fn a_share_group_without_watched_partitions_has_no_lag_rather_than_zero() {
        assert_eq!(group_lag(&[]), None);
    }
}
