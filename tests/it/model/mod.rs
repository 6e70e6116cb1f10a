//! The status engine: every reason driven through lagwatch by real traffic.

mod status_mock;
