//! The share-group step of a poll (batched path only): the share groups of the typed
//! listing, each one's description, share-partition start offsets and the broker's lag.
//! librdkafka neither lists share groups nor describes their offsets, so on clusters it serves
//! there are none to report.

use super::Poll;
use crate::snapshot::{
    ResourceType, ShareGroupSnapshot, SharePartition, Stage, TopicPartition, Unauthorized,
};
use crate::source::kafka::types::{CallError, GroupType};
use std::collections::{BTreeMap, HashMap};

impl Poll<'_> {
    /// Discovered share groups, filtered like consumer groups, into the snapshot.
    pub(super) fn share_groups(&mut self) {
        // Listed by the consumer-group step's typed listing; none when it was not typed
        // (discovery off, or librdkafka listed): librdkafka lists no share groups.
        let Some(listed) = self.share_listed.take() else {
            return;
        };
        let deadline = self.deadline();
        let (cfg, brokers) = (self.cfg, &self.brokers);
        let Some(d) = self.batched.as_mut() else {
            return;
        };
        let mut groups: BTreeMap<String, ShareGroupSnapshot> = listed
            .into_iter()
            .filter(|g| g.group_type == GroupType::Share && cfg.groups.filter.matches(&g.name))
            .map(|g| {
                let s = ShareGroupSnapshot {
                    name: g.name.clone(),
                    state: g.state,
                    members: None,
                    partitions: BTreeMap::new(),
                };
                (g.name, s)
            })
            .collect();
        let names: Vec<String> = groups.keys().cloned().collect();
        let mut described = HashMap::new();
        if !names.is_empty() {
            match d.batched.describe_share(brokers, &names, deadline) {
                Ok(found) => described.extend(found),
                Err(why) => {
                    tracing::debug!(cluster = cfg.name, "share groups not described: {}", why.0)
                }
            }
        }
        let offsets = if names.is_empty() {
            Ok(Default::default())
        } else {
            d.batched.share_offsets(brokers, &names, deadline)
        };
        let offsets = match offsets {
            Ok(o) => o,
            Err(why) => {
                // A broker that lists share groups without this API (Kafka 4.0's preview):
                // the groups are reported, their partitions are not.
                tracing::debug!(cluster = self.cfg.name, "no share offsets: {}", why.0);
                HashMap::new()
            }
        };
        for (name, r) in described {
            let Some(g) = groups.get_mut(&name) else {
                continue;
            };
            match r {
                Ok(d) => {
                    g.state = d.state;
                    g.members = Some(d.members);
                }
                Err(e) => {
                    if self.refused_share_group(&name, &e) {
                        groups.remove(&name);
                        continue;
                    }
                    self.error(Stage::ShareGroups, Some(name.clone()), e.to_string());
                }
            }
        }
        for (name, r) in offsets {
            let Some(g) = groups.get_mut(&name) else {
                continue;
            };
            match r {
                Ok(parts) => {
                    for p in parts {
                        // Only watched topics, as for consumer groups.
                        let Some(topic) = self.topic_arcs.get(&p.topic) else {
                            continue;
                        };
                        let tp = TopicPartition {
                            topic: topic.clone(),
                            partition: p.partition,
                        };
                        let sp = SharePartition {
                            start_offset: p.start_offset,
                            lag: p.lag,
                        };
                        g.partitions.insert(tp, sp);
                    }
                }
                Err(e) => {
                    if self.refused_share_group(&name, &e) {
                        groups.remove(&name);
                        continue;
                    }
                    self.error(Stage::ShareGroups, Some(name.clone()), e.to_string());
                }
            }
        }
        self.snap.share_groups = groups;
    }

    /// Records a share group the principal may not describe; true if `e` says so. Refused is
    /// reported as refused, never as a lag of 0.
    fn refused_share_group(&mut self, group: &str, e: &CallError) -> bool {
        let refused = matches!(
            e,
            CallError::Unauthorized {
                resource: ResourceType::Group,
                ..
            }
        );
        if refused {
            self.snap.unauthorized.push(Unauthorized {
                resource_type: ResourceType::Group,
                name: group.to_owned(),
            });
        }
        refused
    }
}
