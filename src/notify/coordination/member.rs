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

/// Sees rebalances: leads while it holds partition 0 of the state topic.
struct Ctx {
    topic: String,
    leader: watch::Sender<bool>,
    gate: Arc<Gate>,
    /// How long a hand-over waits for a delivery under way.
    drain: Duration,
}

impl ClientContext for Ctx {}

impl ConsumerContext for Ctx {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        // Stop sending, and let a delivery under way reach the state topic, before the
        // partition can go to another member: a rebalance then repeats nothing.
        if matches!(r, Rebalance::Revoke(_) | Rebalance::Error(_)) {
            self.gate.hand_over(self.drain);
            set(&self.leader, false);
        }
    }

    fn post_rebalance(&self, base: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        // The whole assignment, not this rebalance's part of it: with a cooperative
        // assignor an Assign lists only what was added.
        let lead = matches!(r, Rebalance::Assign(_))
            && base.assignment().is_ok_and(|tpl| {
                tpl.elements_for_topic(&self.topic)
                    .iter()
                    .any(|e| e.partition() == 0)
            });
        if lead {
            self.gate.grant();
        }
        set(&self.leader, lead);
    }
}

/// Changes the role; an unchanged one is not announced (the notifier would re-read the
/// state topic for nothing).
fn set(leader: &watch::Sender<bool>, lead: bool) {
    leader.send_if_modified(|v| {
        let changed = *v != lead;
        *v = lead;
        changed
    });
}

/// Runs the membership until `stop`; leaves the group on the way out, so a clean shutdown
/// hands leadership over at once instead of after the session timeout. Blocks: run it on
/// its own thread.
pub fn run(
    cluster: &ClusterConfig,
    c: &CoordinationConfig,
    leader: watch::Sender<bool>,
    gate: Arc<Gate>,
    status: Arc<Status>,
    stop: Arc<AtomicBool>,
) {
    let mut cc = cluster.client_config();
    let session = c.session_timeout.as_millis();
    cc.set("group.id", &c.group)
        .set("session.timeout.ms", session.to_string())
        .set("heartbeat.interval.ms", (session / 3).max(100).to_string())
        .set("enable.auto.commit", "false")
        // Only new state records are fetched (and dropped): the group is for election.
        .set("auto.offset.reset", "latest")
        .set(
            "fetch.message.max.bytes",
            super::store::MAX_RECORD.to_string(),
        );
    let ctx = Ctx {
        topic: c.state_topic.clone(),
        leader: leader.clone(),
        gate: gate.clone(),
        drain: c.session_timeout / 2,
    };
    let consumer: BaseConsumer<Ctx> = match cc.create_with_context(ctx) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("coordination: cannot create the group member: {e}");
            return;
        }
    };
    if let Err(e) = consumer.subscribe(&[&c.state_topic]) {
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
        if stalled(now.saturating_duration_since(last), lease) && gate.suspend() {
            // The group may still count this member as the leader (a pause shorter than
            // the session timeout), so no rebalance would ever hand the role back:
            // rejoining lets the group decide again, and a new grant re-reads the state.
            set(&leader, false);
            consumer.unsubscribe();
            if let Err(e) = consumer.subscribe(&[&c.state_topic]) {
                tracing::error!("coordination: cannot rejoin the group: {e}");
            }
        }
        gate.renew(now);
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
    gate.hand_over(c.session_timeout / 2);
    set(&leader, false);
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
