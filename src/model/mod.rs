//! Turns each snapshot into conclusions: lag per partition, topic and group, produce and
//! consume rates, time lag, drain ETA, and status with reasons after hysteresis.
//!
//! `track` keeps what must survive between polls (bounded); `build` derives the view.
//! Both are pure: time comes in as `now`.

pub mod history;
pub mod lag;
pub mod rates;
pub mod rules;
pub mod spark;
pub mod timelag;

mod build;
mod index;
mod track;

use crate::config::RulesConfig;
use crate::model::history::RingPolicy;
use crate::snapshot::{Snapshot, Timestamp};
use crate::view::ClusterView;
use index::SnapIndex;
use std::time::Duration;
use track::{Faults, Tracks};

/// Keeps what must survive between polls of one cluster and builds each poll's view.
#[derive(Debug)]
pub struct Model {
    rules: RulesConfig,
    policy: RingPolicy,
    min_span: f64,
    tracks: Tracks,
}

impl Model {
    /// A model with the given rules, fed a snapshot every `poll_interval`.
    pub fn new(rules: RulesConfig, poll_interval: Duration) -> Self {
        // One ring serves every group on a partition: size it for the longest window.
        let window = std::iter::once(&rules.defaults)
            .chain(rules.overrides.iter().map(|o| &o.thresholds))
            .map(|t| t.rate_window.as_secs_f64())
            .fold(0.0, f64::max);
        let poll = poll_interval.as_secs_f64();
        Model {
            policy: RingPolicy::new(window, poll),
            // Two samples from consecutive polls are enough; closer ones are one poll read twice.
            min_span: poll * 0.5,
            rules,
            tracks: Tracks::default(),
        }
    }

    /// This model's history (rings, stall clocks, hysteresis) under new rules: what a
    /// reload of the same cluster continues from, so rates and incidents do not restart.
    pub fn with_rules(self, rules: RulesConfig, poll_interval: Duration) -> Self {
        Model {
            tracks: self.tracks,
            ..Model::new(rules, poll_interval)
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> &RulesConfig {
        &self.rules
    }

    /// Builds the view of one poll; `now` is injected so tests control time.
    pub fn update(&mut self, snap: &Snapshot, now: Timestamp) -> ClusterView {
        let faults = Faults::of(snap);
        let idx = SnapIndex::of(snap);
        self.tracks.observe(snap, &idx, &faults, now, &self.policy);
        let ctx = build::Ctx {
            rules: &self.rules,
            min_span: self.min_span,
            now,
            records: &snap.first_records,
            configs: &snap.topic_configs,
        };
        build::view(&ctx, &mut self.tracks, snap, &idx, &faults)
    }

    /// Samples held in all rings: what the model's memory grows with.
    pub fn samples_held(&self) -> usize {
        self.tracks.samples_held()
    }
}

#[cfg(test)]
mod tests;
