//! Families from the details that travel next to each view (see `view::KafkaDetails`).

use super::collector::{b, family, Num};
use crate::state::ClusterStatus;
use crate::view::KafkaDetails;
use prometheus_client::encoding::DescriptorEncoder;
use std::collections::BTreeMap;
use std::fmt::Error;

/// Encodes the detail families of every cluster that has details.
pub(super) fn encode(
    clusters: &BTreeMap<String, ClusterStatus>,
    e: &mut DescriptorEncoder,
) -> Result<(), Error> {
    let details: Vec<(&str, &KafkaDetails)> = clusters
        .iter()
        .filter_map(|(n, s)| s.details.as_deref().map(|d| (n.as_str(), d)))
        .collect();
    family(
        e,
        "lagwatch_unauthorized",
        "1 per group or topic the principal may not describe (its lag is unknown, not 0)",
        details
            .iter()
            .flat_map(|(c, d)| d.unauthorized.iter().map(move |u| (*c, u))),
        |(c, u)| {
            [
                ("cluster", b(c)),
                ("resource_type", b(u.resource_type.as_str())),
                ("name", b(&u.name)),
            ]
        },
        |_| Some(Num::I(1)),
    )
}
