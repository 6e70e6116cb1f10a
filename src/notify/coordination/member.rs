//! Group membership: each replica joins the coordination group subscribed to the state
//! topic; the member the group assigns partition 0 to is the leader. Kafka's group protocol
//! does the election: a member that stops heartbeating loses its partitions after the
//! session timeout, and one that cannot reach the coordinator gives them up (librdkafka
//! revokes them as lost) after the same time, so at most one replica believes it leads
//! except while a dead-but-not-yet-expired leader is still counted (see README).

use crate::config::{ClusterConfig, CoordinationConfig};
use crate::notify::Gate;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often the member count is read (a DescribeGroups request).
const MEMBERS_EVERY: Duration = Duration::from_secs(2);

/// How long a sign of life of this thread lets the leader send: half the session timeout.
/// The group gives partition 0 to another member only after a whole session timeout
/// without heartbeats, so a leader whose member thread stalled (a paused process) stops
/// sending before that, and a member that did run has heartbeated or learnt it lost the
/// role.
pub fn lease(c: &CoordinationConfig) -> Duration {
    c.session_timeout / 2
}

/// Whether the gap since this thread's previous turn means the process stalled long
/// enough that the role may have moved.
fn stalled(gap: Duration, lease: Duration) -> bool {
    gap >= lease
}

/// What the membership thread reports.
#[derive(Debug, Default)]
pub struct Status {
    /// Members of the group at the last look; -1 before the first.
    pub members: AtomicI64,
}

/// One role a partition gives: the leader's (partition 0 of the state topic) or, with
/// `shard_clusters`, one cluster's (its partition of the shard topic).
pub struct Role {
    /// The topic of the partition.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// What the holder of this role may send and write.
    pub gate: Arc<Gate>,
    /// True while this replica holds the partition.
    pub held: watch::Sender<bool>,
    /// For a cluster's role: whether this replica polls it. Changes only when the group
    /// assigns partitions, not when a rebalance starts or the group is out of reach: a
    /// replica keeps polling its clusters until another one is given them, so an outage
    /// of the coordination cluster costs no series.
    pub polls: Option<watch::Sender<bool>>,
}

/// Sees rebalances: each role is held while its partition is assigned here.
struct Ctx {
    roles: Vec<Role>,
    /// How long a hand-over waits for deliveries under way.
    drain: Duration,
}

impl ClientContext for Ctx {}

impl ConsumerContext for Ctx {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        // Stop sending, and let a delivery under way reach the state topic, before the
        // partition can go to another member: a rebalance then repeats nothing.
        if matches!(r, Rebalance::Revoke(_) | Rebalance::Error(_)) {
            hand_over_all(&self.roles, self.drain);
        }
    }

    fn post_rebalance(&self, base: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        // The whole assignment, not this rebalance's part of it: with a cooperative
        // assignor an Assign lists only what was added.
        let assigned = match r {
            Rebalance::Assign(_) => base.assignment().ok(),
            _ => None,
        };
        for role in &self.roles {
            let held = assigned.as_ref().is_some_and(|tpl| {
                tpl.elements_for_topic(&role.topic)
                    .iter()
                    .any(|e| e.partition() == role.partition)
            });
            if held {
                role.gate.grant();
            }
            set(&role.held, held);
            if let (Some(polls), Some(_)) = (&role.polls, &assigned) {
                set(polls, held);
            }
        }
    }
}

/// Closes every gate, all drains sharing one deadline so a revoke of several roles waits
/// no longer than one.
fn hand_over_all(roles: &[Role], drain: Duration) {
    let deadline = Instant::now() + drain;
    for role in roles {
        role.gate
            .hand_over(deadline.saturating_duration_since(Instant::now()));
        set(&role.held, false);
    }
}

/// Changes a role; an unchanged one is not announced (the notifier would re-read the
/// state topic for nothing).
fn set(held: &watch::Sender<bool>, now: bool) {
    held.send_if_modified(|v| {
        let changed = *v != now;
        *v = now;
        changed
    });
}

/// Closes every gate at once after a stall; true when any role was held (the member
/// must rejoin to get them back).
fn suspend_all(roles: &[Role]) -> bool {
    let mut any = false;
    for role in roles {
        if role.gate.suspend() {
            set(&role.held, false);
            any = true;
        }
    }
    any
}

/// Runs the membership until `stop`; leaves the group on the way out, so a clean shutdown
/// hands leadership over at once instead of after the session timeout. Blocks: run it on
/// its own thread.
pub fn run(
    cluster: &ClusterConfig,
    c: &CoordinationConfig,
    roles: Vec<Role>,
    status: Arc<Status>,
    stop: Arc<AtomicBool>,
) {
    let topics: Vec<String> = {
        let mut t: Vec<String> = roles.iter().map(|r| r.topic.clone()).collect();
        t.dedup();
        t
    };
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    let mut cc = cluster.client_config();
    let session = c.session_timeout.as_millis();
    cc.set("group.id", &c.group)
        .set("session.timeout.ms", session.to_string())
        .set("heartbeat.interval.ms", (session / 3).max(100).to_string())
        .set("enable.auto.commit", "false")
        // Only new state records are fetched (and dropped): the group is for election.
        .set("auto.offset.reset", "latest")
        // A member joins with the subscribed topics its metadata knows: one that joined
        // before the shard topic (just created by another replica) reached its metadata
        // would get no cluster until the next refresh (5 min by default) rejoined it.
        .set("topic.metadata.refresh.interval.ms", "5000")
        .set(
            "fetch.message.max.bytes",
            super::store::MAX_RECORD.to_string(),
        );
    let ctx = Ctx {
        roles,
        drain: c.session_timeout / 2,
    };
    let consumer: BaseConsumer<Ctx> = match cc.create_with_context(ctx) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("coordination: cannot create the group member: {e}");
            return;
        }
    };
    if let Err(e) = consumer.subscribe(&topics) {
        tracing::error!("coordination: cannot subscribe to the state topic: {e}");
        return;
    }
    let lease = lease(c);
    // Counting members must not hold this thread up for anything near a lease.
    let count_timeout = MEMBERS_EVERY.min(lease / 2);
    let mut next_count = Instant::now();
    let mut last = Instant::now();
    while !stop.load(Ordering::Acquire) {
        // Taken before anything else: a pause after this point leaves the lease stale.
        let now = Instant::now();
        let roles = &consumer.context().roles;
        if stalled(now.saturating_duration_since(last), lease) && suspend_all(roles) {
            // The group may still count this member as the leader (a pause shorter than
            // the session timeout), so no rebalance would ever hand the role back:
            // rejoining lets the group decide again, and a new grant re-reads the state.
            consumer.unsubscribe();
            if let Err(e) = consumer.subscribe(&topics) {
                tracing::error!("coordination: cannot rejoin the group: {e}");
            }
        }
        for role in roles {
            role.gate.renew(now);
        }
        last = now;
        if let Some(Err(e)) = consumer.poll(Duration::from_millis(100)) {
            tracing::debug!("coordination: {e}");
        }
        if Instant::now() >= next_count {
            next_count = Instant::now() + MEMBERS_EVERY;
            match consumer.fetch_group_list(Some(&c.group), count_timeout) {
                Ok(list) => {
                    let n = list
                        .groups()
                        .iter()
                        .find(|g| g.name() == c.group)
                        .map_or(0, |g| g.members().len());
                    status.members.store(n as i64, Ordering::Release);
                }
                Err(e) => tracing::debug!("coordination: members not counted: {e}"),
            }
        }
    }
    hand_over_all(&consumer.context().roles, c.session_timeout / 2);
    // Leaving the group (a LeaveGroup) lets the others rebalance now.
    consumer.unsubscribe();
    let _ = consumer.poll(Duration::from_millis(100));
}

#[cfg(test)]
mod tests {
    use super::stalled;
    use std::time::Duration;

    #[test]
    fn a_gap_of_a_lease_or_more_is_a_stall() {
        let lease = Duration::from_secs(3);
        // (gap between two turns of the member thread, stalled, why)
        let cases = [
            (Duration::from_millis(100), false, "one poll"),
            (
                Duration::from_millis(1600),
                false,
                "a poll and a slow member count",
            ),
            (lease, true, "a whole lease: the senders' lease ran out"),
            (Duration::from_secs(30), true, "a paused process"),
        ];
        for (gap, want, why) in cases {
            assert_eq!(stalled(gap, lease), want, "{why}");
        }
    }
}
