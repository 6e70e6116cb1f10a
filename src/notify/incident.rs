//! The incident lifecycle, pure: one incident per (cluster, group, topic) and notifier.
//!
//! Group×topic keeps reasons precise (a group can replay one topic and be fine on another);
//! the coordinator then puts every change of one poll into one message per notifier.
//! Statuses arrive after the status engine's `for:` hysteresis, so no second one here.

use crate::view::Status;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What an incident is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IncidentKey {
    /// Cluster name.
    pub cluster: String,
    /// Group name.
    pub group: String,
    /// Topic name; empty when the status is about the whole group.
    pub topic: String,
}

impl IncidentKey {
    /// A key from parts.
    pub fn new(cluster: &str, group: &str, topic: &str) -> Self {
        IncidentKey {
            cluster: cluster.to_owned(),
            group: group.to_owned(),
            topic: topic.to_owned(),
        }
    }
}

/// An open incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Status last notified.
    pub status: Status,
    /// When it opened (Unix seconds).
    pub opened_at: f64,
    /// When its last message was queued; reminders count from here.
    pub last_sent_at: f64,
    /// Its last change was held back by a silence (so its resolution is held back too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub silenced: bool,
}

/// The kind of change a message reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// ok -> warning/critical.
    Opened,
    /// warning -> critical.
    Escalated,
    /// critical -> warning.
    Deescalated,
    /// Still open after `repeat_interval` without a message.
    Reminder,
    /// Back to ok.
    Resolved,
    /// The group or topic is no longer reported by a complete poll.
    Gone,
    /// Still not ok, but below this notifier's `min_severity`.
    BelowMinSeverity,
}

/// One change to notify.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// Which incident.
    pub key: IncidentKey,
    /// What changed.
    pub change: Change,
    /// Status now, as this notifier sees it (ok once closed).
    pub status: Status,
    /// Status before, when the incident was open.
    pub previous: Option<Status>,
    /// When the incident opened.
    pub opened_at: f64,
}

/// How one notifier judges incidents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Statuses below this are treated as ok (warning or critical).
    pub min_status: Status,
    /// Seconds between reminders while an incident stays open.
    pub repeat_interval: f64,
}

/// A cluster's reported group×topic statuses from one poll.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Cluster name.
    pub cluster: &'a str,
    /// The poll reached the cluster; false = no data, which is not ok.
    pub up: bool,
    /// Every group×topic was read, so an absent one is really gone.
    pub complete: bool,
    /// Statuses by incident key (already filtered for the notifier).
    pub statuses: &'a BTreeMap<IncidentKey, Status>,
    /// Keys whose status is a placeholder until hysteresis confirms one (just after a
    /// start): an incident kept open across the restart is neither resolved nor changed.
    pub settling: &'a BTreeSet<IncidentKey>,
}

/// Open incidents of one notifier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Incidents {
    #[serde(with = "as_list")]
    open: BTreeMap<IncidentKey, Incident>,
}

impl Incidents {
    /// Number of open incidents.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// True when nothing is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// The open incident for `key`.
    pub fn get(&self, key: &IncidentKey) -> Option<&Incident> {
        self.open.get(key)
    }

    /// Marks whether the last change of `key` was held back by a silence.
    pub fn set_silenced(&mut self, key: &IncidentKey, silenced: bool) {
        if let Some(i) = self.open.get_mut(key) {
            i.silenced = silenced;
        }
    }

    /// Keys whose last change was held back.
    pub fn silenced_keys(&self) -> BTreeSet<IncidentKey> {
        self.open
            .iter()
            .filter(|(_, i)| i.silenced)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Applies one poll at `now` and returns what to notify, at most one change per incident.
    pub fn step(&mut self, obs: Observed<'_>, policy: Policy, now: f64) -> Vec<Transition> {
        let mut out = Vec::new();
        if !obs.up {
            // No data is not ok: keep everything open and quiet until the cluster answers.
            return out;
        }
        for (key, &raw) in obs.statuses {
            if obs.settling.contains(key) && self.open.contains_key(key) {
                continue;
            }
            let seen = if raw >= policy.min_status {
                raw
            } else {
                Status::Ok
            };
            let t = |change, status, previous, opened_at| Transition {
                key: key.clone(),
                change,
                status,
                previous,
                opened_at,
            };
            match self.open.get_mut(key) {
                None if seen == Status::Ok => {}
                None => {
                    self.open.insert(
                        key.clone(),
                        Incident {
                            status: seen,
                            opened_at: now,
                            last_sent_at: now,
                            silenced: false,
                        },
                    );
                    out.push(t(Change::Opened, seen, None, now));
                }
                Some(inc) if seen == Status::Ok => {
                    let change = if raw == Status::Ok {
                        Change::Resolved
                    } else {
                        Change::BelowMinSeverity
                    };
                    out.push(t(change, raw, Some(inc.status), inc.opened_at));
                    self.open.remove(key);
                }
                Some(inc) if seen != inc.status => {
                    let change = if seen > inc.status {
                        Change::Escalated
                    } else {
                        Change::Deescalated
                    };
                    out.push(t(change, seen, Some(inc.status), inc.opened_at));
                    inc.status = seen;
                    inc.last_sent_at = now;
                }
                Some(inc) if now - inc.last_sent_at >= policy.repeat_interval => {
                    out.push(t(Change::Reminder, seen, Some(inc.status), inc.opened_at));
                    inc.last_sent_at = now;
                }
                Some(_) => {}
            }
        }
        if obs.complete {
            let gone: Vec<IncidentKey> = self
                .open
                .keys()
                .filter(|k| k.cluster == obs.cluster && !obs.statuses.contains_key(*k))
                .cloned()
                .collect();
            for key in gone {
                if let Some(inc) = self.open.remove(&key) {
                    out.push(Transition {
                        key,
                        change: Change::Gone,
                        status: Status::Ok,
                        previous: Some(inc.status),
                        opened_at: inc.opened_at,
                    });
                }
            }
        }
        out
    }
}

/// JSON object keys must be strings: store incidents as a list of (key, incident) records.
mod as_list {
    use super::{Incident, IncidentKey};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    #[derive(Serialize, Deserialize)]
    struct Row {
        #[serde(flatten)]
        key: IncidentKey,
        #[serde(flatten)]
        incident: Incident,
    }

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<IncidentKey, Incident>,
        ser: S,
    ) -> Result<S::Ok, S::Error> {
        ser.collect_seq(m.iter().map(|(k, i)| Row {
            key: k.clone(),
            incident: i.clone(),
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        de: D,
    ) -> Result<BTreeMap<IncidentKey, Incident>, D::Error> {
        Ok(Vec::<Row>::deserialize(de)?
            .into_iter()
            .map(|r| (r.key, r.incident))
            .collect())
    }
}

#[cfg(test)]
mod tests;
