//! The retention settings of watched topics: DescribeConfigs for topic resources, which any
//! broker answers, so the whole list goes to one broker, a thousand topics to a request.

use super::wire::api::Call;
use super::wire::{error, error_name};
use super::{Batched, Broker, Outcome, Unsupported};
use crate::snapshot::TopicConfig;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use std::collections::HashMap;
use std::time::Instant;

/// Topics per DescribeConfigs request.
const TOPICS_PER_REQUEST: usize = 1000;

/// The resource type of a topic in DescribeConfigs.
const TOPIC: i8 = 2;

/// The settings read; the rest of the topic's configuration is not asked for.
pub const KEYS: [&str; 4] = [
    "retention.ms",
    "retention.bytes",
    "cleanup.policy",
    "message.timestamp.type",
];

/// One topic's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigAnswer {
    /// Its settings.
    Read(TopicConfig),
    /// The principal may not describe its configs (DescribeConfigs ACL).
    Unauthorized,
    /// Any other failure.
    Failed(String),
}

impl Batched {
    /// The retention settings of `topics`, asked of the first broker that answers.
    pub fn topic_configs(
        &mut self,
        topics: &[&str],
        brokers: &[Broker],
        deadline: Instant,
    ) -> Result<HashMap<String, ConfigAnswer>, Unsupported> {
        let reqs: Vec<Call> = topics
            .chunks(TOPICS_PER_REQUEST)
            .map(|c| {
                let keys: Vec<StrBytes> =
                    KEYS.iter().map(|k| StrBytes::from_static_str(k)).collect();
                let resources = c
                    .iter()
                    .map(|t| {
                        DescribeConfigsResource::default()
                            .with_resource_type(TOPIC)
                            .with_resource_name(StrBytes::from_string((*t).to_owned()))
                            .with_configuration_keys(Some(keys.clone()))
                    })
                    .collect();
                Call::DescribeConfigs(DescribeConfigsRequest::default().with_resources(resources))
            })
            .collect();
        let mut order: Vec<&Broker> = brokers.iter().collect();
        order.sort_by_key(|b| !self.conns.contains_key(&b.key()));
        let mut last_err = "no broker in the metadata".to_owned();
        for b in order {
            let Some(outcome) = self
                .exchange(vec![(b.clone(), reqs.clone())], deadline)
                .pop()
            else {
                continue;
            };
            let answers = match outcome {
                Outcome::Unsupported(why) => return Err(Unsupported(why)),
                Outcome::Failed(e) => {
                    last_err = format!("DescribeConfigs: {e}");
                    continue;
                }
                Outcome::Answered(a) => a,
            };
            let mut out = HashMap::with_capacity(topics.len());
            for r in answers {
                let results = match DescribeConfigsResponse::try_from(r) {
                    Ok(r) => r.results,
                    Err(e) => {
                        last_err = format!("DescribeConfigs from {}: {e}", b.key());
                        continue;
                    }
                };
                for res in results {
                    let answer = match error(res.error_code) {
                        Some(ResponseError::TopicAuthorizationFailed) => ConfigAnswer::Unauthorized,
                        Some(e) => {
                            ConfigAnswer::Failed(format!("DescribeConfigs: {}", error_name(e)))
                        }
                        None => {
                            let values: HashMap<String, Option<String>> = res
                                .configs
                                .iter()
                                .map(|c| {
                                    (c.name.to_string(), c.value.as_ref().map(|v| v.to_string()))
                                })
                                .collect();
                            ConfigAnswer::Read(TopicConfig::from_values(|k| {
                                values.get(k).and_then(|v| v.as_deref())
                            }))
                        }
                    };
                    out.insert(res.resource_name.to_string(), answer);
                }
            }
            for t in topics {
                out.entry((*t).to_owned())
                    .or_insert_with(|| ConfigAnswer::Failed(last_err.clone()));
            }
            return Ok(out);
        }
        Ok(topics
            .iter()
            .map(|t| ((*t).to_owned(), ConfigAnswer::Failed(last_err.clone())))
            .collect())
    }
}
