//! The HTTP sinks: every kind but `console` posts JSON; what differs is the body, how many
//! requests one message takes (Alertmanager: one per URL; PagerDuty: one per alert) and
//! the headers. Status handling (429 waits, 5xx retried, other 4xx final) is shared.
//! Every secret (URLs, header values, HMAC secret, routing key) is redacted from errors.

use super::alert::Batch;
use super::deliver::{chain, discord_retry_after, parse_seconds, redact_all, DeliveryError, Sink};
use super::format;
use crate::config::{NotifierConfig, NotifierKind};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use std::sync::Mutex;
use std::time::Duration;

/// How often open incidents are re-posted to Alertmanager (at most), so they never expire
/// there: Alertmanager ends an alert without news after its `resolve_timeout` (5 min).
pub const ALERTMANAGER_REPOST: Duration = Duration::from_secs(60);

/// One HTTP notifier.
pub struct HttpSink {
    kind: NotifierKind,
    urls: Vec<String>,
    headers: HeaderMap,
    secret: Option<String>,
    routing_key: String,
    dashboard: Option<String>,
    timeout: Duration,
    repost: Duration,
    secrets: Vec<String>,
    posted: Mutex<format::alertmanager::Posted>,
    client: reqwest::Client,
}

impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSink")
            .field("kind", &self.kind)
            .field("urls", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl HttpSink {
    /// The sink of `cfg` (not console).
    pub fn new(cfg: &NotifierConfig) -> Result<HttpSink, DeliveryError> {
        let secrets = cfg.secrets();
        let urls: Vec<String> = cfg.url.iter().chain(&cfg.urls).cloned().collect();
        if urls.is_empty() {
            return Err(DeliveryError::Client("no URL configured".into()));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &cfg.headers {
            // The value is a secret: the error names the header only.
            let bad =
                || DeliveryError::Client(format!("header `{name}` is not a valid HTTP header"));
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let mut v = HeaderValue::from_str(value).map_err(|_| bad())?;
            v.set_sensitive(true);
            headers.insert(n, v);
        }
        crate::runtime::rustls_provider();
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .user_agent(concat!("lagwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DeliveryError::Client(redact_all(&chain(e.without_url()), &secrets)))?;
        Ok(HttpSink {
            kind: cfg.kind,
            urls,
            headers,
            secret: cfg.secret.clone(),
            routing_key: cfg.routing_key.clone().unwrap_or_default(),
            dashboard: cfg.dashboard_url.clone(),
            timeout: cfg.timeout,
            repost: cfg.repeat_interval.min(ALERTMANAGER_REPOST),
            secrets,
            posted: Mutex::default(),
            client,
        })
    }

    /// The requests of one message: (URL, JSON body).
    fn requests(
        &self,
        b: &Batch,
        posted: &mut format::alertmanager::Posted,
    ) -> Vec<(String, Vec<u8>)> {
        let dash = self.dashboard.as_deref();
        let one = |v: serde_json::Value| serde_json::to_vec(&v).unwrap_or_default();
        let first = || self.urls[0].clone();
        match self.kind {
            NotifierKind::Discord => vec![(first(), one(format::discord::payload(b, dash)))],
            NotifierKind::MsTeams => vec![(first(), one(format::msteams::payload(b, dash)))],
            NotifierKind::Webhook => vec![(first(), one(format::webhook::payload(b)))],
            NotifierKind::PagerDuty => format::pagerduty::events(b, &self.routing_key, dash)
                .into_iter()
                .map(|e| (first(), one(e)))
                .collect(),
            NotifierKind::Alertmanager => {
                let body = one(format::alertmanager::payload(b, posted, self.repost, dash));
                self.urls
                    .iter()
                    .map(|u| (alerts_endpoint(u), body.clone()))
                    .collect()
            }
            NotifierKind::Slack | NotifierKind::Console => {
                vec![(first(), one(format::slack::payload(b, dash)))]
            }
        }
    }

    async fn post(&self, url: &str, body: Vec<u8>) -> Result<(), DeliveryError> {
        let mut req = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json");
        if let Some(secret) = &self.secret {
            let sig = format::webhook::signature(secret.as_bytes(), &body)
                .map_err(|_| DeliveryError::Client("the HMAC secret is not usable".into()))?;
            req = req.header(format::webhook::SIGNATURE_HEADER, sig);
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| self.http_error(e))?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            return Ok(());
        }
        let header_wait = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_seconds);
        let text = resp.text().await.unwrap_or_default();
        let body = redact_all(&format::truncate(text.trim(), 200), &self.secrets);
        Err(match status {
            // Discord puts the exact wait (float seconds) in the body; the others in the header.
            429 => DeliveryError::RateLimited(discord_retry_after(&text).or(header_wait)),
            500..=599 => DeliveryError::Server { status, body },
            _ => DeliveryError::Rejected { status, body },
        })
    }

    fn http_error(&self, e: reqwest::Error) -> DeliveryError {
        if e.is_timeout() {
            DeliveryError::Timeout(self.timeout)
        } else {
            DeliveryError::Network(redact_all(&chain(e.without_url()), &self.secrets))
        }
    }
}

/// Alertmanager's v2 alerts endpoint under a configured base URL (a URL that already names
/// the endpoint is kept).
pub fn alerts_endpoint(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/api/v2/alerts") {
        base.to_owned()
    } else {
        format!("{base}/api/v2/alerts")
    }
}

#[async_trait::async_trait]
impl Sink for HttpSink {
    async fn send(&self, batch: &Batch) -> Result<(), DeliveryError> {
        // Alertmanager's remembered labels change only once every request succeeded, so a
        // retry posts the same alerts again.
        let mut posted = self
            .posted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (url, body) in self.requests(batch, &mut posted) {
            self.post(&url, body).await?;
        }
        *self.posted.lock().unwrap_or_else(|p| p.into_inner()) = posted;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alertmanager_endpoint_from_a_base_url() {
        for (base, want, why) in [
            ("http://am:9093", "http://am:9093/api/v2/alerts", "base URL"),
            (
                "http://am:9093/",
                "http://am:9093/api/v2/alerts",
                "trailing slash",
            ),
            (
                "http://am/prefix/api/v2/alerts",
                "http://am/prefix/api/v2/alerts",
                "already the endpoint",
            ),
        ] {
            assert_eq!(alerts_endpoint(base), want, "{why}");
        }
    }
}
