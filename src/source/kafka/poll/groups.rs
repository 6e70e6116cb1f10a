//! The consumer-group step of a poll: list the groups with their types, describe each with
//! the request its type needs, and say what to fetch for each.
//!
//! On the batched path one typed ListGroups per broker lists every group (share groups
//! included, kept for the share-group step), classic groups are described with
//! DescribeGroups and KIP-848 groups with ConsumerGroupDescribe, each batched per
//! coordinator. librdkafka lists and describes only what the brokers' versions keep from
//! the batched path.

use super::{admin, Poll};
use crate::snapshot::{GroupSnapshot, GroupState, GroupType, Stage};
use crate::source::kafka::describe_cache::DescribeCache;
use crate::source::kafka::types::{CallError, GroupDescription, OffsetsRequest, TypedListing};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

/// The groups of one poll: named ones first, then discovered ones, with what the listing
/// said of them.
#[derive(Debug, Default)]
pub(super) struct Listed {
    /// Group ids; the first `explicit` are named in the config.
    names: Vec<String>,
    explicit: usize,
    /// State as listed, of discovered groups.
    states: HashMap<String, GroupState>,
    /// Type as listed, of every listed group (named ones included).
    types: HashMap<String, GroupType>,
}

impl Listed {
    fn group_type(&self, name: &str) -> GroupType {
        self.types.get(name).copied().unwrap_or_default()
    }
}

/// Which describing request each group needs, by its listed type. Pure.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct DescribePlan {
    /// Classic groups, and groups of no known type: DescribeGroups.
    pub classic: Vec<String>,
    /// KIP-848 groups: ConsumerGroupDescribe.
    pub consumer: Vec<String>,
}

impl DescribePlan {
    /// Streams groups are left out: lagwatch does not speak StreamsGroupDescribe, so their
    /// listed state stands.
    pub fn of(names: &[String], group_type: impl Fn(&str) -> GroupType) -> Self {
        let mut plan = DescribePlan::default();
        for n in names {
            match group_type(n) {
                GroupType::Consumer => plan.consumer.push(n.clone()),
                GroupType::Streams | GroupType::Share => {}
                GroupType::Classic | GroupType::Unknown => plan.classic.push(n.clone()),
            }
        }
        plan
    }
}

/// Whether a DescribeGroups answer sends the group on to ConsumerGroupDescribe: described
/// Dead (the coordinator has no classic group of that id) while no listing said what type
/// it is (named in the config and not listed, or a broker before ListGroups v5), so it may
/// be a KIP-848 group. Pure.
pub(super) fn probe_as_consumer(described: &GroupDescription, listed: GroupType) -> bool {
    described.state == GroupState::Dead && listed == GroupType::Unknown
}

type Descriptions = HashMap<String, Result<GroupDescription, CallError>>;

impl Poll<'_> {
    /// Named groups, then discovered ones (not share groups: the share-group step has
    /// those), with their listed states and types.
    fn list(&mut self) -> Listed {
        let mut l = Listed {
            names: self.cfg.groups.names.clone(),
            explicit: self.cfg.groups.names.len(),
            ..Listed::default()
        };
        if !self.cfg.groups.discover {
            return l;
        }
        let deadline = self.deadline();
        let (cfg, brokers) = (self.cfg, &self.brokers);
        let typed =
            self.batched
                .as_mut()
                .and_then(|d| match d.batched.list_typed(brokers, deadline) {
                    Ok(l) => Some(l),
                    Err(why) => {
                        d.fell_back(&cfg.name, why.0);
                        None
                    }
                });
        let (listed, errors) = match typed {
            Some((listed, errors)) => {
                let share = listed.iter().filter(|g| g.group_type == GroupType::Share);
                self.share_listed = Some(share.cloned().collect());
                (listed, errors)
            }
            None => match self
                .client
                .get()
                .and_then(|c| admin::list_consumer_groups(c, self.cfg.poll_timeout))
            {
                Ok((listed, errors)) => {
                    let typed = listed.into_iter().map(|g| TypedListing {
                        name: g.name,
                        group_type: g.group_type,
                        state: g.state,
                    });
                    (typed.collect(), errors)
                }
                Err(e) => (Vec::new(), vec![e]),
            },
        };
        for e in errors {
            self.error(Stage::ListGroups, None, e);
        }
        let named: HashSet<String> = l.names.iter().cloned().collect();
        for g in listed {
            if g.group_type == GroupType::Share {
                continue;
            }
            l.types.insert(g.name.clone(), g.group_type);
            if self.cfg.groups.filter.matches(&g.name) && !named.contains(&g.name) {
                l.states.insert(g.name.clone(), g.state);
                l.names.push(g.name);
            }
        }
        l
    }

    /// Descriptions of the listed groups: on the batched path every poll, each with the
    /// request of its type; otherwise (TLS/SASL, brokers without the versions) from
    /// librdkafka, one request per group, so from the cache while fresh (state and members
    /// change slowly).
    fn describe(&mut self, cache: &DescribeCache, l: &Listed) -> Descriptions {
        let now = Instant::now();
        let stale = cache.stale(&l.names, &l.states, now);
        let mut descriptions = Descriptions::new();
        // The batched path describes every group every poll: it costs one request per
        // coordinator whatever the number of groups, and a cached member list would miss a
        // member that joined between two polls without a state change (Stable -> Stable).
        let to_librdkafka: Vec<String> = match self.describe_batched(l, &mut descriptions) {
            None => stale,
            Some(left) => stale.into_iter().filter(|n| left.contains(n)).collect(),
        };
        if !to_librdkafka.is_empty() {
            match self.client.get() {
                Ok(client) => descriptions.extend(admin::describe_consumer_groups(
                    client,
                    &to_librdkafka,
                    self.cfg.poll_timeout,
                )),
                Err(e) => descriptions.extend(
                    to_librdkafka
                        .into_iter()
                        .map(|n| (n, Err(CallError::Failed(e.clone())))),
                ),
            }
        }
        cache.store_and_fill(&l.names, &mut descriptions, now);
        descriptions
    }

    /// Describes on the batched path into `out`; returns the groups it could not describe
    /// for want of versions (for librdkafka), or `None` when it described none.
    fn describe_batched(&mut self, l: &Listed, out: &mut Descriptions) -> Option<HashSet<String>> {
        let deadline = self.deadline();
        let (cfg, brokers, topics) = (self.cfg, &self.brokers, &self.topic_ids);
        let d = self.batched.as_mut()?;
        let mut plan = DescribePlan::of(&l.names, |n| l.group_type(n));
        if !plan.classic.is_empty() {
            match d.batched.describe(brokers, &plan.classic, deadline) {
                Ok(found) => {
                    for (name, r) in found {
                        if matches!(&r, Ok(g) if probe_as_consumer(g, l.group_type(&name))) {
                            plan.consumer.push(name.clone());
                        }
                        out.insert(name, r);
                    }
                }
                Err(why) => {
                    d.fell_back(&cfg.name, why.0);
                    return None;
                }
            }
        }
        if plan.consumer.is_empty() {
            return Some(HashSet::new());
        }
        match d
            .batched
            .describe_consumer(brokers, &plan.consumer, topics, deadline)
        {
            Ok(found) => {
                for (name, r) in found {
                    // A probed group ConsumerGroupDescribe does not know either is as
                    // DescribeGroups said: Dead.
                    let probed_dead = out.contains_key(&name)
                        && matches!(&r, Ok(g) if g.state == GroupState::Dead);
                    if !probed_dead {
                        out.insert(name, r);
                    }
                }
                Some(HashSet::new())
            }
            Err(why) => {
                // A broker without ConsumerGroupDescribe: librdkafka describes the KIP-848
                // groups, at the cache's pace.
                d.fell_back(&cfg.name, why.0);
                Some(plan.consumer.into_iter().collect())
            }
        }
    }

    /// Lists and describes the groups into the snapshot; returns what to fetch for each.
    pub(super) fn groups(&mut self, cache: &DescribeCache) -> Vec<OffsetsRequest> {
        let l = self.list();
        let descriptions = self.describe(cache, &l);
        let mut requests = Vec::with_capacity(l.names.len());
        for (i, name) in l.names.iter().enumerate() {
            let listed = || l.states.get(name).copied().unwrap_or_default();
            let (state, members, described_type) = match descriptions.get(name) {
                Some(Ok(d)) => {
                    self.snap
                        .members
                        .insert(name.clone(), d.member_list.clone());
                    (d.state, Some(d.members), d.group_type)
                }
                Some(Err(CallError::Unsupported(_))) => (listed(), None, GroupType::Unknown),
                Some(Err(e)) => {
                    if self.unauthorized_group(name, e) {
                        continue;
                    }
                    self.error(Stage::DescribeGroups, Some(name.clone()), e.to_string());
                    (listed(), None, GroupType::Unknown)
                }
                None => (listed(), None, GroupType::Unknown),
            };
            let mut g = GroupSnapshot::kafka(name.clone(), state, members);
            g.group_type = match l.group_type(name) {
                GroupType::Unknown => described_type,
                listed => listed,
            };
            self.snap.groups.insert(name.clone(), g);
            // A named group is asked for the watched partitions; with none watched there is
            // nothing to ask (librdkafka rejects an empty list), and nothing to lag on.
            if i < l.explicit && self.topic_parts.is_empty() {
                continue;
            }
            requests.push(OffsetsRequest {
                group: name.clone(),
                partitions: (i < l.explicit).then(|| Arc::clone(&self.topic_parts)),
            });
        }
        requests
    }
}
