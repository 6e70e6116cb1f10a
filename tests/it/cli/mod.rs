//! The real `lagwatch` binary as a user runs it: `check`, `validate`, `demo`, signals
//! (reload, shutdown) and secrets never leaving it.

mod check_mock;
mod check_tansu;
mod demo;
mod reload;
mod secrets;
mod validate;
