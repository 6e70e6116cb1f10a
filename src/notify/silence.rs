//! Silences, pure: a silence matches incidents by cluster, group, topic and reason, each a
//! regular expression matched against the whole value (as Alertmanager's `=~`; a plain
//! name is an exact match, and an omitted matcher matches anything), from its creation
//! until it ends. A silenced change is tracked (the incident lifecycle goes on) but not
//! sent; the resolution of an incident whose last news was held back is held back too,
//! since nobody heard of it opening.

use super::incident::IncidentKey;
use crate::view::Reason;
use serde::{Deserialize, Serialize};

/// Longest silence accepted.
pub const MAX_DURATION_SECS: f64 = 90.0 * 86_400.0;

/// What a silence matches; each field is a regex over the whole value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matchers {
    /// Cluster name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Topic name ("" for an incident about the whole group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// One of the incident's reasons (`backlog_replay`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One silence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    /// Unique id (16 hex digits).
    pub id: String,
    /// What it matches.
    pub matchers: Matchers,
    /// Unix seconds.
    pub starts_at: f64,
    /// Unix seconds; expired from then on.
    pub ends_at: f64,
    /// Why.
    pub comment: String,
    /// Who.
    pub created_by: String,
}

/// Why a silence was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SilenceError {
    /// A matcher is not a valid regex.
    #[error("matcher `{field}` is not a valid regex: {reason}")]
    BadMatcher {
        /// Which matcher.
        field: &'static str,
        /// The regex library's words.
        reason: String,
    },
    /// No matcher at all would silence everything.
    #[error("at least one matcher (cluster, group, topic or reason) is needed")]
    NoMatcher,
    /// Duration out of range.
    #[error("duration must be more than 0 and at most 90 days")]
    BadDuration,
}

fn anchored(field: &'static str, re: &str) -> Result<regex::Regex, SilenceError> {
    regex::Regex::new(&format!("^(?:{re})$")).map_err(|e| SilenceError::BadMatcher {
        field,
        reason: e.to_string().lines().last().unwrap_or("").trim().to_owned(),
    })
}

impl Matchers {
    fn fields(&self) -> [(&'static str, Option<&String>); 4] {
        [
            ("cluster", self.cluster.as_ref()),
            ("group", self.group.as_ref()),
            ("topic", self.topic.as_ref()),
            ("reason", self.reason.as_ref()),
        ]
    }

    /// Checks every matcher compiles and at least one is set.
    pub fn validate(&self) -> Result<(), SilenceError> {
        let mut any = false;
        for (field, re) in self.fields() {
            if let Some(re) = re {
                anchored(field, re)?;
                any = true;
            }
        }
        if any {
            Ok(())
        } else {
            Err(SilenceError::NoMatcher)
        }
    }

    /// Whether an incident with `reasons` matches (an invalid regex matches nothing).
    pub fn matches(&self, key: &IncidentKey, reasons: &[Reason]) -> bool {
        let one = |field, re: Option<&String>, value: &str| {
            re.is_none_or(|re| anchored(field, re).is_ok_and(|r| r.is_match(value)))
        };
        one("cluster", self.cluster.as_ref(), &key.cluster)
            && one("group", self.group.as_ref(), &key.group)
            && one("topic", self.topic.as_ref(), &key.topic)
            && self.reason.as_ref().is_none_or(|re| {
                anchored("reason", re).is_ok_and(|r| reasons.iter().any(|x| r.is_match(x.as_str())))
            })
    }
}

impl Silence {
    /// Whether it is in force at `now`.
    pub fn active(&self, now: f64) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

/// A new silence from `now` for `duration_secs`, checked.
pub fn new(
    id: String,
    matchers: Matchers,
    duration_secs: f64,
    comment: String,
    created_by: String,
    now: f64,
) -> Result<Silence, SilenceError> {
    if !(duration_secs > 0.0 && duration_secs <= MAX_DURATION_SECS) {
        return Err(SilenceError::BadDuration);
    }
    matchers.validate()?;
    Ok(Silence {
        id,
        matchers,
        starts_at: now,
        ends_at: now + duration_secs,
        comment,
        created_by,
    })
}

/// Whether an active silence in `list` matches.
pub fn silenced(list: &[Silence], key: &IncidentKey, reasons: &[Reason], now: f64) -> bool {
    list.iter()
        .any(|s| s.active(now) && s.matchers.matches(key, reasons))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Reason::{BacklogReplay, LagCritical};

    fn m(
        cluster: Option<&str>,
        group: Option<&str>,
        topic: Option<&str>,
        reason: Option<&str>,
    ) -> Matchers {
        let s = |x: Option<&str>| x.map(str::to_owned);
        Matchers {
            cluster: s(cluster),
            group: s(group),
            topic: s(topic),
            reason: s(reason),
        }
    }

    #[test]
    fn matching() {
        let key = IncidentKey::new("prod", "spark:etl", "transactions");
        let reasons = [LagCritical, BacklogReplay];
        for (matchers, want, why) in [
            (m(None, Some("spark:etl"), None, None), true, "exact group"),
            (
                m(None, Some("spark"), None, None),
                false,
                "anchored: a prefix is not the group",
            ),
            (
                m(None, Some("spark:.*"), None, None),
                true,
                "regex over the whole group",
            ),
            (
                m(Some("prod"), Some("spark:etl"), Some("transactions"), None),
                true,
                "all given, all match",
            ),
            (
                m(Some("staging"), Some("spark:etl"), None, None),
                false,
                "every matcher must match",
            ),
            (
                m(None, None, None, Some("backlog_replay")),
                true,
                "any of the incident's reasons",
            ),
            (
                m(None, None, None, Some("stalled")),
                false,
                "a reason it does not have",
            ),
            (
                m(None, None, Some(""), None),
                false,
                "topic \"\" matches only group-level incidents",
            ),
            (
                m(None, Some("a|spark:etl"), None, None),
                true,
                "alternation stays inside the anchors",
            ),
        ] {
            assert_eq!(matchers.matches(&key, &reasons), want, "{why}");
        }
    }

    #[test]
    fn a_silence_is_in_force_from_its_start_until_its_end() {
        let s = new(
            "x".into(),
            m(None, Some("g"), None, None),
            60.0,
            String::new(),
            String::new(),
            100.0,
        )
        .unwrap();
        let key = IncidentKey::new("prod", "g", "t");
        for (now, want, why) in [
            (99.0, false, "not started"),
            (100.0, true, "from its start"),
            (159.9, true, "until its end"),
            (160.0, false, "expired by itself"),
        ] {
            assert_eq!(
                silenced(std::slice::from_ref(&s), &key, &[], now),
                want,
                "{why}"
            );
        }
    }

    #[test]
    fn refusals() {
        let ok = m(None, Some("g"), None, None);
        for (matchers, secs, want, why) in [
            (
                Matchers::default(),
                60.0,
                Some(SilenceError::NoMatcher),
                "silencing everything is refused",
            ),
            (
                ok.clone(),
                0.0,
                Some(SilenceError::BadDuration),
                "no duration",
            ),
            (
                ok.clone(),
                91.0 * 86_400.0,
                Some(SilenceError::BadDuration),
                "longer than 90 days",
            ),
            (ok.clone(), 3600.0, None, "fine"),
        ] {
            let got = new(
                "x".into(),
                matchers,
                secs,
                String::new(),
                String::new(),
                0.0,
            )
            .err();
            assert_eq!(got, want, "{why}");
        }
        let bad = new(
            "x".into(),
            m(None, Some("(("), None, None),
            60.0,
            String::new(),
            String::new(),
            0.0,
        );
        assert!(matches!(
            bad,
            Err(SilenceError::BadMatcher { field: "group", .. })
        ));
    }
}
