//! Faults are not emptiness and no alert is lost: webhook outages, a full queue, reloads
//! that keep history, prompt shutdown during a hung poll, and config that `validate` refuses.

mod config;
mod lifecycle;
mod notify;
