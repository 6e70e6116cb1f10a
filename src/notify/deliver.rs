//! Sending one message: sinks only `send` (HTTP kinds in [`super::sinks`], console); retries with
//! exponential backoff and jitter, honouring 429 waits, live here. Webhook URLs are secrets:
//! they never reach an error, a log line or Debug output.

use super::alert::Batch;
use super::format;
use crate::config::{NotifierConfig, NotifierKind};
use std::time::Duration;

/// The wait a 429 asked for, in words.
fn asked_wait(wait: &Option<Duration>) -> String {
    match wait {
        Some(w) => format!("asked to wait {}", humantime::format_duration(*w)),
        None => "no wait given".to_owned(),
    }
}

/// Why one delivery attempt (or the whole delivery) failed. Texts never contain the URL.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    /// Connection or protocol failure (retried).
    #[error("request failed: {0}")]
    Network(String),
    /// No answer within the notifier's timeout (retried).
    #[error("no answer within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// 5xx (retried).
    #[error("server error HTTP {status}: {body}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Start of the response body.
        body: String,
    },
    /// 429 (retried after the wait the server asked for).
    #[error("rate limited (HTTP 429), {}", asked_wait(.0))]
    RateLimited(Option<Duration>),
    /// Other 4xx: the request is wrong (bad URL, revoked webhook); not retried.
    #[error("rejected with HTTP {status}: {body}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Start of the response body.
        body: String,
    },
    /// The console could not be written.
    #[error("cannot write to stdout: {0}")]
    Console(String),
    /// Every attempt failed.
    #[error("gave up after {attempts} attempts; last error: {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        last: Box<DeliveryError>,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl DeliveryError {
    /// Whether another attempt may succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            DeliveryError::Network(_)
                | DeliveryError::Timeout(_)
                | DeliveryError::Server { .. }
                | DeliveryError::RateLimited(_)
        )
    }
}

/// Where messages go. Sinks only send; lifecycle, dedup and retries live elsewhere.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// One delivery attempt of one message.
    async fn send(&self, batch: &Batch) -> Result<(), DeliveryError>;
}

/// Prints what Slack/Discord would receive.
#[derive(Debug)]
pub struct ConsoleSink {
    dashboard: Option<String>,
}

/// The sink for a configured notifier.
pub fn sink(cfg: &NotifierConfig) -> Result<Box<dyn Sink>, DeliveryError> {
    match cfg.kind {
        NotifierKind::Console => Ok(Box::new(ConsoleSink {
            dashboard: cfg.dashboard_url.clone(),
        })),
        _ => Ok(Box::new(super::sinks::HttpSink::new(cfg)?)),
    }
}

#[async_trait::async_trait]
impl Sink for ConsoleSink {
    async fn send(&self, batch: &Batch) -> Result<(), DeliveryError> {
        use std::io::Write;
        let text = format::console::text(batch, self.dashboard.as_deref());
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| DeliveryError::Console(e.to_string()))
    }
}

/// An error and its causes on one line (reqwest's own text alone says only "error sending
/// request").
pub(super) fn chain(e: reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Belt and braces: whatever a library put in a message, the URL does not get out.
fn redact(msg: &str, url: &str) -> String {
    if url.is_empty() {
        msg.to_owned()
    } else {
        msg.replace(url, "<webhook url>")
    }
}

/// [`redact`] for every secret of a notifier (URLs, header values, keys); longest first, so
/// a secret containing another is replaced whole.
pub(super) fn redact_all(msg: &str, secrets: &[String]) -> String {
    let mut sorted: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    sorted.into_iter().fold(msg.to_owned(), |m, s| {
        if s.starts_with("http://") || s.starts_with("https://") {
            redact(&m, s)
        } else {
            m.replace(s.as_str(), "<secret>")
        }
    })
}

/// `Retry-After` in seconds (integer or float); HTTP dates are not used by Slack or Discord.
pub(super) fn parse_seconds(v: &str) -> Option<Duration> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Discord's 429 body: `{"retry_after": 0.35, "global": false, ...}`.
pub(super) fn discord_retry_after(body: &str) -> Option<Duration> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let s = v.get("retry_after")?.as_f64()?;
    (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s))
}

/// How to retry. The delivery workers never give up on a transient failure (they warn
/// after `max_attempts` and keep going with waits capped at `max_backoff`); [`deliver`]
/// (`notify-test`) gives up after `max_attempts`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, including the first ([`deliver`]); failures before the workers warn.
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time.
    pub base_backoff: Duration,
    /// Upper bound of one backoff wait.
    pub max_backoff: Duration,
    /// Upper bound of a server-requested 429 wait.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based) after `err`; `jitter` in [0, 1).
    pub fn wait(&self, retry: u32, err: &DeliveryError, jitter: f64) -> Duration {
        if let DeliveryError::RateLimited(Some(d)) = err {
            return (*d).min(self.max_retry_after);
        }
        let exp = self
            .base_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(20)))
            .min(self.max_backoff);
        // "Equal jitter": at least half the backoff, so retries never bunch up at zero.
        exp.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// Sends with retries; `on_retry` is called before each retry (for the `retried` counter).
pub async fn deliver(
    sink: &dyn Sink,
    batch: &Batch,
    policy: &RetryPolicy,
    mut on_retry: impl FnMut(&DeliveryError),
) -> Result<(), DeliveryError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match sink.send(batch).await {
            Ok(()) => return Ok(()),
            Err(e) if !e.retryable() => return Err(e),
            Err(e) if attempt >= policy.max_attempts.max(1) => {
                return Err(DeliveryError::GaveUp {
                    attempts: attempt,
                    last: Box::new(e),
                })
            }
            Err(e) => {
                on_retry(&e);
                let wait = policy.wait(attempt - 1, &e, rand::random::<f64>());
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_429() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(30),
        };
        let net = DeliveryError::Network("reset".into());
        for (retry, jitter, want_ms, why) in [
            (0, 0.0, 500, "first retry, lowest jitter: half the base"),
            (0, 1.0, 1000, "first retry, highest jitter: the base"),
            (2, 1.0, 4000, "doubles per retry"),
            (10, 1.0, 10_000, "capped at max_backoff"),
            (40, 0.0, 5000, "huge retry counts do not overflow"),
        ] {
            assert_eq!(
                p.wait(retry, &net, jitter),
                Duration::from_millis(want_ms),
                "{why}"
            );
        }
        let asked = DeliveryError::RateLimited(Some(Duration::from_millis(2500)));
        assert_eq!(
            p.wait(0, &asked, 0.9),
            Duration::from_millis(2500),
            "429: exactly as asked"
        );
        let greedy = DeliveryError::RateLimited(Some(Duration::from_secs(3600)));
        assert_eq!(
            p.wait(0, &greedy, 0.0),
            Duration::from_secs(30),
            "429 wait is capped"
        );
        let unsaid = DeliveryError::RateLimited(None);
        assert_eq!(
            p.wait(1, &unsaid, 1.0),
            Duration::from_secs(2),
            "429 without a wait: backoff"
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            parse_seconds("3"),
            Some(Duration::from_secs(3)),
            "Slack: integer seconds"
        );
        assert_eq!(parse_seconds(" 0.25 "), Some(Duration::from_millis(250)));
        assert_eq!(parse_seconds("-1"), None);
        assert_eq!(parse_seconds("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(
            discord_retry_after(
                r#"{"message":"You are being rate limited.","retry_after":0.35,"global":false}"#
            ),
            Some(Duration::from_millis(350))
        );
        assert_eq!(discord_retry_after("not json"), None);
    }

    #[test]
    fn only_transient_errors_are_retried() {
        for (e, want) in [
            (DeliveryError::Network("x".into()), true),
            (DeliveryError::Timeout(Duration::from_secs(1)), true),
            (
                DeliveryError::Server {
                    status: 502,
                    body: String::new(),
                },
                true,
            ),
            (DeliveryError::RateLimited(None), true),
            (
                DeliveryError::Rejected {
                    status: 404,
                    body: "no_service".into(),
                },
                false,
            ),
            (DeliveryError::Console("broken pipe".into()), false),
        ] {
            assert_eq!(e.retryable(), want, "{e}");
        }
    }

    #[test]
    fn urls_are_redacted() {
        let url = "https://hooks.slack.com/services/T0/B0/secret";
        assert_eq!(
            redact(&format!("error for url ({url}): refused"), url),
            "error for url (<webhook url>): refused"
        );
    }

    #[test]
    fn every_secret_is_redacted_longest_first() {
        let secrets = vec![
            "https://events.example/enqueue".to_owned(),
            "rk-123".to_owned(),
            "rk-123456".to_owned(),
            String::new(),
        ];
        assert_eq!(
            redact_all(
                "posting to https://events.example/enqueue with rk-123456 and rk-123",
                &secrets
            ),
            "posting to <webhook url> with <secret> and <secret>"
        );
    }
}
