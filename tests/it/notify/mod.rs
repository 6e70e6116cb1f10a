//! Notifications: message formats (insta snapshots in `snapshots/`), delivery against real
//! local webhooks, `lagwatch notify-test`, and end to end from a broker.

mod actions;
mod alertmanager_live;
mod cli;
mod delivery;
mod e2e;
mod format;
mod kinds;
mod silences;
