//! lagwatch: Kafka consumer-lag monitoring and alerting.
//!
//! The modules follow the data path:
//! `config` → `kafka` (one client per cluster, batched reads) and `spark` (checkpoints
//! read as virtual groups) → `snapshot` → `history` (bounded sample rings) → `model`
//! (lag via `lag`, `rates`, `timelag`, status via `rules`) → `view` → `state` →
//! `metrics` / `http` / `report` / `notify` / `page` (the built-in web page),
//! driven by `poller` and wired together in `app`; `cli` parses the command line;
//! `check` is the one-shot table/JSON verdict and `demo` replays the seed incident.

pub mod app;
pub mod check;
pub mod cli;
pub mod config;
pub mod demo;
pub mod history;
pub mod http;
pub mod kafka;
pub mod lag;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod page;
pub mod poller;
pub mod rates;
pub mod report;
pub mod rules;
pub mod snapshot;
pub mod spark;
pub mod state;
pub mod timelag;
pub mod view;
pub mod web;

/// Current wall-clock time as Unix seconds (the only place lagwatch reads the clock for data).
pub fn now() -> snapshot::Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
