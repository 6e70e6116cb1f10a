//! lagwatch: Kafka consumer-lag monitoring and alerting.
//!
//! The modules follow the data path, each importing only from those listed before it
//! (`tests/it/shipped/layout.rs` checks this):
//!
//! - `runtime`: the clock, the tokio runtime, the TLS provider, the shutdown signal.
//! - `config`: the YAML file, typed, defaulted and validated with file:line errors.
//! - `snapshot`: what one poll read (raw offsets), the type every source produces.
//! - `source`: the readers that produce snapshots: Kafka (`source::kafka`, batched requests
//!   or librdkafka) and Spark checkpoints (`source::spark`), in that read order.
//! - `view`: what lagwatch concluded about a cluster (status, reasons), and its wording.
//! - `model`: snapshot in, view out: history rings, lag, rates, time lag, rules.
//! - `state`: the latest view per cluster, shared with every reader.
//! - `metrics`: Prometheus families, built from `state` at scrape.
//! - `poller`: one per cluster, reads on an interval and publishes views.
//! - `http`, `notify`: the outputs (endpoints and JSON API; incidents and webhooks).
//! - `app`: wires everything for `lagwatch run`, with SIGHUP reload.
//! - `cli`: the commands (`run`, `validate`, `check`, `demo`, `notify-test`, `healthcheck`).

pub mod runtime;

pub mod config;

pub mod snapshot;

pub mod source;

pub mod view;

pub mod model;

pub mod state;

pub mod metrics;

pub mod poller;

pub mod http;
pub mod notify;

pub mod app;

pub mod cli;
