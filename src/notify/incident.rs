//! The incident lifecycle, pure: one incident per (cluster, group, topic) and notifier.
//!
//! Group×topic keeps reasons precise (a group can replay one topic and be fine on another);
//! the coordinator then puts every change of one poll into one message per notifier.
//! Statuses arrive after the status engine's `for:` hysteresis, so no second one here.

use super::alert::status_serde;
use crate::view::Status;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    #[serde(with = "status_serde")]
    pub status: Status,
    /// When it opened (Unix seconds).
    pub opened_at: f64,
    /// When its last message was queued; reminders count from here.
    pub last_sent_at: f64,
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

    /// Applies one poll at `now` and returns what to notify, at most one change per incident.
    pub fn step(&mut self, obs: Observed<'_>, policy: Policy, now: f64) -> Vec<Transition> {
        let mut out = Vec::new();
        if !obs.up {
            // No data is not ok: keep everything open and quiet until the cluster answers.
            return out;
        }
        for (key, &raw) in obs.statuses {
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
mod tests {
    use super::*;
    use Change::*;
    use Status::{Critical as C, Ok as O, Warning as W};

    const HOUR: f64 = 3600.0;

    fn key(g: &str) -> IncidentKey {
        IncidentKey::new("prod", g, "orders")
    }

    fn run(
        inc: &mut Incidents,
        statuses: &[(&str, Status)],
        up: bool,
        complete: bool,
        min: Status,
        now: f64,
    ) -> Vec<(String, Change, Status, Option<Status>)> {
        let m: BTreeMap<IncidentKey, Status> = statuses.iter().map(|(g, s)| (key(g), *s)).collect();
        let obs = Observed {
            cluster: "prod",
            up,
            complete,
            statuses: &m,
        };
        let policy = Policy {
            min_status: min,
            repeat_interval: HOUR,
        };
        inc.step(obs, policy, now)
            .into_iter()
            .map(|t| (t.key.group, t.change, t.status, t.previous))
            .collect()
    }

    type Row = (
        &'static str,
        &'static [(&'static str, Status)],
        bool,
        f64,
        &'static [(&'static str, Change, Status, Option<Status>)],
    );

    /// One scenario: each row is one poll (statuses, complete, now) and the exact messages.
    fn scenario(min: Status, rows: &[Row]) {
        let mut inc = Incidents::default();
        for (why, statuses, complete, now, want) in rows {
            let got = run(&mut inc, statuses, true, *complete, min, *now);
            let want: Vec<_> = want
                .iter()
                .map(|(g, c, s, p)| (g.to_string(), *c, *s, *p))
                .collect();
            assert_eq!(got, want, "{why}");
        }
    }

    #[test]
    fn full_lifecycle_one_message_per_change() {
        scenario(
            W,
            &[
                ("healthy run: no message", &[("a", O)], true, 0.0, &[]),
                (
                    "ok -> warning opens",
                    &[("a", W)],
                    true,
                    10.0,
                    &[("a", Opened, W, None)],
                ),
                ("same status again: quiet", &[("a", W)], true, 20.0, &[]),
                (
                    "warning -> critical escalates",
                    &[("a", C)],
                    true,
                    30.0,
                    &[("a", Escalated, C, Some(W))],
                ),
                (
                    "escalation reset the reminder clock",
                    &[("a", C)],
                    true,
                    30.0 + HOUR - 1.0,
                    &[],
                ),
                (
                    "an hour without a message: one reminder",
                    &[("a", C)],
                    true,
                    30.0 + HOUR,
                    &[("a", Reminder, C, Some(C))],
                ),
                (
                    "right after a reminder: quiet",
                    &[("a", C)],
                    true,
                    40.0 + HOUR,
                    &[],
                ),
                (
                    "critical -> warning de-escalates",
                    &[("a", W)],
                    true,
                    50.0 + HOUR,
                    &[("a", Deescalated, W, Some(C))],
                ),
                (
                    "back to ok resolves once",
                    &[("a", O)],
                    true,
                    60.0 + HOUR,
                    &[("a", Resolved, O, Some(W))],
                ),
                ("stays ok: nothing", &[("a", O)], true, 70.0 + HOUR, &[]),
            ],
        );
    }

    #[test]
    fn disappearing_groups_resolve_only_on_complete_polls() {
        scenario(
            W,
            &[
                (
                    "open two",
                    &[("a", C), ("b", W)],
                    true,
                    0.0,
                    &[("a", Opened, C, None), ("b", Opened, W, None)],
                ),
                (
                    "partial poll without `a`: a may just be unreadable",
                    &[("b", W)],
                    false,
                    10.0,
                    &[],
                ),
                (
                    "complete poll without `a`: resolved as gone",
                    &[("b", W)],
                    true,
                    20.0,
                    &[("a", Gone, O, Some(C))],
                ),
                (
                    "ok from the start never opens",
                    &[("b", W), ("c", O)],
                    true,
                    30.0,
                    &[],
                ),
            ],
        );
    }

    #[test]
    fn min_severity_critical_sees_warnings_as_ok() {
        scenario(
            C,
            &[
                ("warning is below this channel", &[("a", W)], true, 0.0, &[]),
                (
                    "critical opens here",
                    &[("a", C)],
                    true,
                    10.0,
                    &[("a", Opened, C, None)],
                ),
                (
                    "critical -> warning closes it, saying it is still a warning",
                    &[("a", W)],
                    true,
                    20.0,
                    &[("a", BelowMinSeverity, W, Some(C))],
                ),
                (
                    "critical again opens a new one",
                    &[("a", C)],
                    true,
                    30.0,
                    &[("a", Opened, C, None)],
                ),
            ],
        );
    }

    #[test]
    fn a_down_cluster_neither_resolves_nor_reminds() {
        let mut inc = Incidents::default();
        assert_eq!(run(&mut inc, &[("a", C)], true, true, W, 0.0).len(), 1);
        // Down with no groups: no data is not ok, and stale data is not worth a reminder.
        assert_eq!(run(&mut inc, &[], false, true, W, 2.0 * HOUR), vec![]);
        assert_eq!(
            run(&mut inc, &[("a", O)], false, true, W, 2.0 * HOUR),
            vec![]
        );
        assert_eq!(inc.len(), 1);
        // Back up and still critical: the overdue reminder.
        assert_eq!(
            run(&mut inc, &[("a", C)], true, true, W, 2.0 * HOUR),
            vec![("a".to_string(), Reminder, C, Some(C))]
        );
    }

    #[test]
    fn other_clusters_incidents_are_left_alone() {
        let mut inc = Incidents::default();
        run(&mut inc, &[("a", C)], true, true, W, 0.0);
        let empty = BTreeMap::new();
        let obs = Observed {
            cluster: "staging",
            up: true,
            complete: true,
            statuses: &empty,
        };
        let policy = Policy {
            min_status: W,
            repeat_interval: HOUR,
        };
        assert!(inc.step(obs, policy, 10.0).is_empty());
        assert_eq!(inc.len(), 1);
    }

    #[test]
    fn persists_as_json_and_back() {
        let mut inc = Incidents::default();
        run(&mut inc, &[("a", C)], true, true, W, 5.0);
        let json = serde_json::to_string(&inc).unwrap_or_default();
        assert_eq!(
            json,
            r#"[{"cluster":"prod","group":"a","topic":"orders","status":"critical","opened_at":5.0,"last_sent_at":5.0}]"#
        );
        let back: Incidents = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, inc);
    }
}
