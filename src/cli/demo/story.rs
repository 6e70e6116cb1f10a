//! The demo's script, pure: the rates and thresholds of the seed incident scaled to the
//! chosen backlog and speed, when to move to the next act, and the line printed per poll.

use crate::view::text::{count, duration, eta, rate, reason_list};
use crate::view::{GroupTopicView, Reason, Status};
use std::time::Duration;

/// The seed's backlog: 3,000,000 messages produced before the stream started.
pub const SEED_BACKLOG: u64 = 3_000_000;
/// The seed's producer rate once the stream ran (messages/s).
pub const SEED_PRODUCE_RATE: f64 = 100.0;
/// The seed's Spark stream replaying from earliest (messages/s).
pub const SEED_STREAM_RATE: f64 = 1_000.0;
/// How long (seed seconds) the batch job takes to read the whole backlog.
pub const SEED_BATCH_SECONDS: f64 = 20.0;
/// How long (seed seconds) the incident stays on screen before the batch job starts.
pub const SEED_HOLD_SECONDS: f64 = 20.0;

/// Rates, thresholds and timings for one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Messages produced before the consumer starts.
    pub backlog: u64,
    /// Speed-up: every rate × speed, every wait ÷ speed.
    pub speed: f64,
    /// New messages per second while the demo runs.
    pub produce_rate: f64,
    /// The streaming consumer replaying from earliest.
    pub stream_rate: f64,
    /// The batch job draining the backlog.
    pub batch_rate: f64,
    /// Lag warning threshold (100,000 at the seed's backlog).
    pub lag_warning: i64,
    /// Lag critical threshold (1,000,000 at the seed's backlog).
    pub lag_critical: i64,
    /// Time the incident is shown before the batch job starts.
    pub hold: Duration,
    /// lagwatch's poll interval.
    pub poll_interval: Duration,
    /// lagwatch's rate window.
    pub rate_window: Duration,
}

impl Plan {
    /// The seed incident at `backlog` messages, `speed` times faster. At the defaults
    /// (3,000,000, 1) every number is the seed's: 100 msg/s in, 1,000 msg/s out, 100k / 1M.
    pub fn new(backlog: u64, speed: f64) -> Plan {
        let speed = speed.max(0.01);
        // Rates shrink with the backlog so the story keeps its proportions (the consumer is
        // still near the log start, so `backlog_replay` holds, when the incident is shown).
        let scale = backlog as f64 / SEED_BACKLOG as f64;
        let secs = |s: f64| Duration::from_secs_f64((s / speed).max(0.25));
        let poll_interval = secs(1.0);
        Plan {
            backlog,
            speed,
            produce_rate: SEED_PRODUCE_RATE * scale * speed,
            stream_rate: SEED_STREAM_RATE * scale * speed,
            batch_rate: backlog as f64 / SEED_BATCH_SECONDS * speed,
            lag_warning: (backlog / 30).max(1) as i64,
            lag_critical: (backlog / 3).max(2) as i64,
            hold: secs(SEED_HOLD_SECONDS),
            rate_window: secs(30.0).max(poll_interval * 4),
            poll_interval,
        }
    }

    /// Whether these are exactly the seed's numbers.
    pub fn is_seed(&self) -> bool {
        self.backlog == SEED_BACKLOG && self.speed == 1.0
    }
}

/// The acts of the story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// The stream replays the backlog from earliest at the seed's slow rate.
    Replay,
    /// A batch job reads the backlog; the stream then follows the log end.
    Drain,
    /// The incident resolved; lagwatch keeps running until stopped.
    Done,
}

/// What the story needs to see before it moves on.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Seen {
    /// When (seconds since the demo started) the full incident was first reported:
    /// critical with `lag_critical` and `backlog_replay`, rates and ETA known.
    pub incident_at: Option<f64>,
    /// Whether the status went back to ok after the incident.
    pub resolved: bool,
}

/// Whether `t` shows the whole seed incident, as the user should see it.
pub fn is_full_incident(t: &GroupTopicView) -> bool {
    t.status == Status::Critical
        && t.reasons.contains(&Reason::LagCritical)
        && t.reasons.contains(&Reason::BacklogReplay)
        && t.throughput_ratio.is_some()
        && t.drain_eta_seconds.is_some()
}

/// Records what a new view of the consumer shows at `at` seconds, and returns the act to
/// switch to, if any.
pub fn observe(act: Act, seen: &mut Seen, t: &GroupTopicView, at: f64, plan: &Plan) -> Option<Act> {
    if seen.incident_at.is_none() && is_full_incident(t) {
        seen.incident_at = Some(at);
    }
    match act {
        Act::Replay => seen
            .incident_at
            .filter(|first| at - first >= plan.hold.as_secs_f64())
            .map(|_| Act::Drain),
        Act::Drain if t.status == Status::Ok => {
            seen.resolved = true;
            Some(Act::Done)
        }
        _ => None,
    }
}

/// One line per poll: lag, rates, the headroom verdict, ETA and status, as lagwatch sees them.
pub fn status_line(at: f64, t: &GroupTopicView, headroom: f64) -> String {
    let r = |x: Option<f64>| x.map_or("?".to_owned(), rate);
    let caught_up = t.reasons.is_empty() && t.status == Status::Ok;
    let verdict = match t.throughput_ratio {
        // The headroom rule is for backlogged consumers; a caught-up one consumes exactly
        // what is produced, so 0.97x there is jitter, not a verdict.
        Some(x) if caught_up => format!("ratio {x:.2}x (caught up)"),
        None => "ratio ?".to_owned(),
        Some(x) if x < 1.0 => format!("ratio {x:.2}x (< 1.0x: lag grows)"),
        Some(x) if x < headroom => format!("ratio {x:.2}x (< {headroom}x rule)"),
        Some(x) => format!("ratio {x:.2}x (meets {headroom}x)"),
    };
    let reasons = if t.reasons.is_empty() {
        String::new()
    } else {
        format!(" [{}]", reason_list(&t.reasons))
    };
    let eta_text = if t.lag > 0 && !caught_up {
        eta(t.drain_eta_seconds)
    } else {
        "-".to_owned()
    };
    // The oldest unread message's age, read from its timestamp: seconds after the backlog
    // was produced, growing as the replay goes on.
    let age = match t.max_lag_seconds {
        Some(s) if t.lag > 0 => format!("  oldest unread {} old", duration(s)),
        _ => String::new(),
    };
    format!(
        "[{at:>5.0}s] lag {:>9}  produce {} msg/s  consume {} msg/s  {verdict}  ETA {eta_text}{age}  {}{reasons}",
        count(t.lag),
        r(t.produce_rate),
        r(t.consume_rate),
        t.status.as_str().to_uppercase(),
    )
}

#[cfg(test)]
mod tests;
