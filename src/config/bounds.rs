//! The sensible range of every duration in the config. A value outside is a typo or a
//! misunderstanding (`poll_interval: 1ms` hammers the brokers, `poll_timeout:
//! 9999999999999h` overflows what librdkafka accepts), so `validate` refuses it with the
//! field's line instead of `run` failing or misbehaving later. The README's configuration
//! reference lists the same ranges.

use std::time::Duration;

/// An inclusive range of durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The smallest value accepted.
    pub min: Duration,
    /// The largest value accepted.
    pub max: Duration,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const DAY: u64 = 24 * 3600;

/// `poll_interval`: faster than 100 ms is a load test on the brokers; slower than an hour
/// is not monitoring.
pub const POLL_INTERVAL: Bounds = Bounds {
    min: ms(100),
    max: secs(3600),
};
/// `clusters[].poll_timeout`: it is also librdkafka's `socket.timeout.ms`, which librdkafka
/// refuses above 300000 (5 min); a client cannot be created with more.
pub const POLL_TIMEOUT: Bounds = Bounds {
    min: ms(100),
    max: secs(300),
};
/// `shutdown_timeout`: keep it under the orchestrator's grace period (30 s in Kubernetes).
pub const SHUTDOWN_TIMEOUT: Bounds = Bounds {
    min: ms(100),
    max: secs(600),
};
/// `rules.rate_window`: rates need at least two polls inside it; a day is the longest
/// history kept in memory worth averaging over.
pub const RATE_WINDOW: Bounds = Bounds {
    min: secs(1),
    max: secs(DAY),
};
/// `rules.stopped_after`.
pub const STOPPED_AFTER: Bounds = Bounds {
    min: secs(1),
    max: secs(30 * DAY),
};
/// `clusters[].topic_config_refresh`: retention settings change rarely; more often than
/// every 10 s is load for nothing, less often than daily misses a change for too long.
pub const TOPIC_CONFIG_REFRESH: Bounds = Bounds {
    min: secs(10),
    max: secs(DAY),
};
/// `rules.retention_risk_warning` and `retention_risk_critical`.
pub const RETENTION_RISK: Bounds = Bounds {
    min: secs(0),
    max: secs(365 * DAY),
};
/// `notifiers[].repeat_interval`: a reminder more often than every minute is spam.
pub const REPEAT_INTERVAL: Bounds = Bounds {
    min: secs(60),
    max: secs(30 * DAY),
};
/// `notifiers[].timeout`: one HTTP delivery attempt.
pub const NOTIFIER_TIMEOUT: Bounds = Bounds {
    min: ms(100),
    max: secs(300),
};
/// `actions[].timeout`: a runbook step may take a while (a batch replay), but not for ever.
pub const ACTION_TIMEOUT: Bounds = Bounds {
    min: secs(1),
    max: secs(DAY),
};

impl Bounds {
    /// `Ok` when `v` is within the range, else the message to print.
    pub fn check(&self, v: Duration) -> Result<(), String> {
        let show = |d: Duration| humantime::format_duration(d).to_string();
        if v < self.min {
            Err(format!(
                "{} is below the minimum of {}",
                show(v),
                show(self.min)
            ))
        } else if v > self.max {
            Err(format!(
                "{} is above the maximum of {}",
                show(v),
                show(self.max)
            ))
        } else {
            Ok(())
        }
    }

    /// `v` moved into the range (a default derived from another field).
    pub fn clamp(&self, v: Duration) -> Duration {
        v.clamp(self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_the_range_are_refused_with_both_in_plain_units() {
        // Rows: bounds, value, expected (None = accepted), why.
        let rows = [
            (
                POLL_INTERVAL,
                ms(1),
                Some("1ms is below the minimum of 100ms"),
                "absurdly fast",
            ),
            (POLL_INTERVAL, ms(100), None, "the minimum itself is fine"),
            (
                POLL_INTERVAL,
                secs(3600),
                None,
                "the maximum itself is fine",
            ),
            (
                POLL_TIMEOUT,
                secs(9_999_999_999_999 * 3600),
                Some("is above the maximum of 5m"),
                "librdkafka refuses socket.timeout.ms above 5 min",
            ),
            (
                REPEAT_INTERVAL,
                secs(1),
                Some("below the minimum of 1m"),
                "reminder spam",
            ),
        ];
        for (b, v, want, why) in rows {
            match (b.check(v), want) {
                (Ok(()), None) => {}
                (Err(msg), Some(w)) => assert!(msg.contains(w), "{why}: {msg}"),
                (got, want) => panic!("{why}: got {got:?}, want {want:?}"),
            }
        }
    }
}
