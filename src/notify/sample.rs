//! `lagwatch notify-test`: sends the seed incident to configured notifiers to check the wiring.

use super::alert;
use super::deliver::{self, DeliveryError, RetryPolicy};
use crate::config::NotifierConfig;
use std::time::Duration;

/// Why the test could not even start.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// `--notifier` named none of the configured ones.
    #[error("no notifier named `{name}`; configured: {known}")]
    UnknownNotifier {
        /// The name asked for.
        name: String,
        /// The configured names.
        known: String,
    },
    /// The config has no notifiers.
    #[error("the config has no notifiers")]
    NoNotifiers,
}

/// Few, quick retries: a person is waiting at the terminal.
const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_backoff: Duration::from_millis(500),
    max_backoff: Duration::from_secs(2),
    max_retry_after: Duration::from_secs(10),
};

/// Sends the sample to `only` (or every notifier) and returns each notifier's outcome.
pub async fn send(
    notifiers: &[NotifierConfig],
    only: Option<&str>,
    cluster: &str,
    now: f64,
) -> Result<Vec<(String, Result<(), DeliveryError>)>, SampleError> {
    if notifiers.is_empty() {
        return Err(SampleError::NoNotifiers);
    }
    let chosen: Vec<&NotifierConfig> = notifiers
        .iter()
        .filter(|n| only.is_none_or(|o| o == n.name))
        .collect();
    if chosen.is_empty() {
        return Err(SampleError::UnknownNotifier {
            name: only.unwrap_or_default().to_owned(),
            known: notifiers
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let batch = alert::sample(cluster, now);
    let mut out = Vec::with_capacity(chosen.len());
    for n in chosen {
        let res = match deliver::sink(n) {
            Ok(sink) => deliver::deliver(sink.as_ref(), &batch, &POLICY, |_| {}).await,
            Err(e) => Err(e),
        };
        out.push((n.name.clone(), res));
    }
    Ok(out)
}
