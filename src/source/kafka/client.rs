//! The librdkafka handle of one cluster. A cluster the fast path reads gets it only when a
//! step first falls back: a handle is a consumer with a group id (see `new_client`), which
//! runs threads, keeps connections and looks up its own group's coordinator in the
//! background, none of which a poll the fast path serves in full needs.

use super::{new_client, redact_client_error};
use crate::config::ClusterConfig;
use crate::source::ReadError;
use rdkafka::client::{Client, DefaultClientContext};
use std::sync::OnceLock;

/// librdkafka's client of one cluster, made now or on first use.
pub struct LibrdkafkaClient {
    cfg: ClusterConfig,
    made: OnceLock<Result<Client<DefaultClientContext>, String>>,
}

impl LibrdkafkaClient {
    /// The handle made now: librdkafka reads this cluster from the first poll.
    pub fn now(cfg: ClusterConfig) -> Result<Self, ReadError> {
        let client = new_client(&cfg)
            .map_err(|e| ReadError::Client(redact_client_error(&e.to_string(), &cfg)))?;
        Ok(LibrdkafkaClient {
            cfg,
            made: OnceLock::from(Ok(client)),
        })
    }

    /// The handle made on first use. Its properties need no check here: loading the config
    /// made a client with them already (`config::refusals`).
    pub fn on_first_use(cfg: ClusterConfig) -> Self {
        LibrdkafkaClient {
            cfg,
            made: OnceLock::new(),
        }
    }

    /// The handle, made if it was not yet; why not when librdkafka refuses to make it.
    pub fn get(&self) -> Result<&Client<DefaultClientContext>, String> {
        self.made
            .get_or_init(|| {
                tracing::debug!(cluster = self.cfg.name, "starting the librdkafka client");
                new_client(&self.cfg).map_err(|e| redact_client_error(&e.to_string(), &self.cfg))
            })
            .as_ref()
            .map_err(|e| format!("cannot create the Kafka client: {e}"))
    }

    /// Whether the handle exists (made now, or by a step that fell back).
    #[cfg(test)]
    pub fn started(&self) -> bool {
        self.made.get().is_some_and(Result::is_ok)
    }
}

#[cfg(test)]
mod tests {
    use super::super::KafkaReader;

    fn reader(kafka_client: &str, client: &str) -> KafkaReader {
        let yaml = format!(
            "clusters: [{{name: c, bootstrap_servers: '127.0.0.1:1', \
             kafka_client: {kafka_client}{client}}}]"
        );
        let cfg = crate::config::from_str("t.yaml", &yaml, &|_| None)
            .expect("config")
            .clusters
            .remove(0);
        KafkaReader::new(cfg).expect("reader")
    }

    #[test]
    fn librdkafka_starts_only_where_it_reads_from_the_first_poll() {
        // (why, kafka_client, extra client properties, handle made at start)
        let cases: &[(&str, &str, &str, bool)] = &[
            (
                "the fast path reads it: librdkafka only if a step falls back",
                "auto",
                "",
                false,
            ),
            ("librdkafka by config", "librdkafka", "", true),
            (
                "a setting only librdkafka serves",
                "auto",
                ", client: {ssl.key.password: x, security.protocol: SSL}",
                true,
            ),
        ];
        for (why, kc, client, want) in cases {
            assert_eq!(reader(kc, client).admin.started(), *want, "{why}");
        }
    }
}
