//! Group descriptions kept between polls: state and members change slowly, and describing
//! every group every poll would be most of a poll's requests.

use super::types::GroupDescription;
use crate::snapshot::GroupState;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a group description is reused before the group is described again.
const DESCRIBE_TTL: Duration = Duration::from_secs(60);

/// Descriptions with the time they were read.
#[derive(Debug, Default)]
pub struct DescribeCache(Mutex<HashMap<String, (GroupDescription, Instant)>>);

impl DescribeCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (GroupDescription, Instant)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets groups no longer watched and returns those of `names` to describe now: never
    /// described, described over a TTL ago, or listed in a state other than the cached one.
    pub fn stale(
        &self,
        names: &[String],
        listed: &HashMap<String, GroupState>,
        now: Instant,
    ) -> Vec<String> {
        let mut cache = self.lock();
        let wanted: HashSet<&str> = names.iter().map(String::as_str).collect();
        cache.retain(|name, _| wanted.contains(name.as_str()));
        names
            .iter()
            .filter(|n| match cache.get(*n) {
                None => true,
                Some((d, at)) => {
                    now.duration_since(*at) > DESCRIBE_TTL
                        || listed
                            .get(*n)
                            .is_some_and(|s| *s != GroupState::Unknown && *s != d.state)
                }
            })
            .cloned()
            .collect()
    }

    /// Stores the fresh descriptions read at `now`, then adds the cached ones for every name
    /// of `names` that has none.
    pub fn store_and_fill<E>(
        &self,
        names: &[String],
        descriptions: &mut HashMap<String, Result<GroupDescription, E>>,
        now: Instant,
    ) {
        let mut cache = self.lock();
        for (name, d) in descriptions.iter() {
            if let Ok(d) = d {
                cache.insert(name.clone(), (d.clone(), now));
            }
        }
        for name in names {
            if let Some((d, _)) = cache.get(name) {
                descriptions
                    .entry(name.clone())
                    .or_insert_with(|| Ok(d.clone()));
            }
        }
    }
}
