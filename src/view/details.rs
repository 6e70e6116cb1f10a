//! Kafka facts reported as read, with nothing derived from them: who the members of each
//! group are and what the principal may not describe. They travel next to the
//! [`ClusterView`](super::ClusterView) (in `state`), so the view's shape stays as it is.

use crate::snapshot::{Member, Snapshot, Unauthorized};
use serde::Serialize;
use std::collections::BTreeMap;

/// What one poll read besides offsets.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KafkaDetails {
    /// Members of each described group (absent: not described this poll or earlier).
    pub members: BTreeMap<String, Vec<Member>>,
    /// Resources the principal may not describe, sorted.
    pub unauthorized: Vec<Unauthorized>,
}

impl KafkaDetails {
    /// The details of one snapshot.
    pub fn of(snap: &Snapshot) -> Self {
        KafkaDetails {
            members: snap.members.clone(),
            unauthorized: snap.unauthorized.clone(),
        }
    }
}
