//! lagwatch's integration tests: one test binary (the crate and librdkafka are linked once,
//! not once per file), one module per area. Each file is what used to be its own
//! `tests/*.rs` binary; a test's name is its module path, e.g. `http::metrics::…`.
//!
//! The brokers and tools these tests use (tansu, Prometheus, promtool, amtool, moto) come
//! from `bash .ci/run`: see `.ci/README.md`. Fixtures stay in `tests/fixtures/` and
//! `tests/golden/`. `layout` checks the shape of `src/` itself.

mod support;

mod cli;
mod faults;
mod http;
mod kafka;
mod model;
mod notify;
mod shipped;
mod source;
