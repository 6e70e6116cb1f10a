//! A whole poll with a few requests per broker instead of one per group: one Metadata
//! (`metadata`), one typed ListGroups per broker (`share`), one FindCoordinator (v4+) for
//! every group whose coordinator is not known yet, per coordinator one DescribeGroups,
//! ConsumerGroupDescribe (`consumer`) and OffsetFetch (v8+) for up to [`GROUPS_PER_FETCH`]
//! groups each, and one ListOffsets per leader and offset spec for every partition it
//! leads. librdkafka 2.12
//! sends one OffsetFetch and usually one FindCoordinator per group (its coordinator cache
//! holds ~10 entries), which is 2,000 requests a poll at 1,000 groups.
//!
//! A broker that lacks these versions (before Kafka 3.0, or the librdkafka mock) makes the
//! call return [`Unsupported`], and the reader falls back to librdkafka for that step.

mod calls;
pub mod configs;
mod consumer;
mod exchange;
pub mod metadata;
pub mod records;
mod share;
pub mod wire;

use self::exchange::{Outcome, Requests};
use self::wire::api::{Answer, Call};
use self::wire::conn::Conn;
use self::wire::{api_name, error, error_name, is_coordinator_moved, WireError};
use super::types::{CallError, CommittedOffsets};
use crate::config::security::Security;
use kafka_protocol::messages::{ApiKey, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Groups per OffsetFetch request: one request per coordinator up to this many groups.
pub const GROUPS_PER_FETCH: usize = 1000;

/// Keys per FindCoordinator request.
const KEYS_PER_LOOKUP: usize = 1000;

/// A coordinator found is trusted this long; moves are noticed sooner through
/// NOT_COORDINATOR answers and connection failures.
const COORDINATOR_TTL: Duration = Duration::from_secs(300);

/// Brokers asked at once (one thread each, for the duration of one exchange).
const PARALLEL_BROKERS: usize = 16;

/// A broker's advertised address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Broker {
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
}

impl Broker {
    fn key(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The brokers do not speak the batched versions; use librdkafka for this step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// Connections and coordinators of one cluster, kept between polls.
#[derive(Debug, Default)]
pub struct Batched {
    conns: HashMap<String, Conn>,
    /// The brokers of the last Metadata answer, asked before the bootstrap servers.
    known: Vec<Broker>,
    /// Requests answered and not yet reported, by API name.
    sent: BTreeMap<String, u64>,
    coordinators: HashMap<String, (Broker, Instant)>,
    security: Arc<Security>,
}

type Committed = Result<CommittedOffsets, CallError>;

impl Batched {
    /// No connections yet; they are opened on first use, with TLS and SASL as `security`
    /// says.
    pub fn new(security: Security) -> Self {
        Batched {
            security: Arc::new(security),
            ..Batched::default()
        }
    }

    fn count(&mut self, api: ApiKey) {
        *self.sent.entry(api_name(api)).or_default() += 1;
    }

    /// The requests answered since the last call, by API name: for
    /// `lagwatch_kafka_requests_total`.
    pub fn take_sent(&mut self) -> BTreeMap<String, u64> {
        std::mem::take(&mut self.sent)
    }

    /// Finds the coordinators of `groups` with one FindCoordinator on the first broker that
    /// answers; per group a coordinator or why there is none.
    fn find_coordinators(
        &mut self,
        brokers: &[Broker],
        groups: &[&str],
        deadline: Instant,
    ) -> Result<HashMap<String, Result<Broker, CallError>>, Unsupported> {
        let reqs: Vec<Call> = groups
            .chunks(KEYS_PER_LOOKUP)
            .map(|c| {
                let keys = c.iter().map(|g| StrBytes::from_string((*g).to_owned()));
                // Key type 0 (GROUP): classic, consumer and share groups alike.
                Call::FindCoordinator(
                    FindCoordinatorRequest::default()
                        .with_key_type(0)
                        .with_coordinator_keys(keys.collect()),
                )
            })
            .collect();
        // Prefer a broker we are connected to; then the others in order.
        let mut order: Vec<&Broker> = brokers.iter().collect();
        order.sort_by_key(|b| !self.conns.contains_key(&b.key()));
        let mut last_err = "no broker in the metadata".to_owned();
        for b in order {
            let Some(out) = self
                .exchange(vec![(b.clone(), reqs.clone())], deadline)
                .pop()
            else {
                continue;
            };
            match out {
                Outcome::Unsupported(why) => return Err(Unsupported(why)),
                Outcome::Failed(e) => last_err = format!("FindCoordinator: {e}"),
                Outcome::Answered(responses) => {
                    let mut found = HashMap::new();
                    for r in responses {
                        let coords = match FindCoordinatorResponse::try_from(r) {
                            Ok(c) => c.coordinators,
                            Err(e) => {
                                last_err = format!("FindCoordinator from {}: {e}", b.key());
                                continue;
                            }
                        };
                        for c in coords {
                            let v = match error(c.error_code) {
                                None => Ok(Broker {
                                    host: c.host.to_string(),
                                    port: c.port,
                                }),
                                // Classified by its code: a group the principal may not
                                // describe is refused here already, before any describe.
                                Some(e) => Err(CallError::from_error(
                                    e,
                                    format!(
                                        "FindCoordinator: {}{}",
                                        error_name(e),
                                        c.error_message
                                            .map(|m| format!(": {m}"))
                                            .unwrap_or_default()
                                    ),
                                )),
                            };
                            found.insert(c.key.to_string(), v);
                        }
                    }
                    for g in groups {
                        found
                            .entry((*g).to_owned())
                            .or_insert_with(|| Err(CallError::Failed(last_err.clone())));
                    }
                    return Ok(found);
                }
            }
        }
        Ok(groups
            .iter()
            .map(|g| ((*g).to_owned(), Err(CallError::Failed(last_err.clone()))))
            .collect())
    }

    /// Sends every group's coordinator one batched request for its groups: looks up the
    /// coordinators not known yet, sends what `build` makes of each coordinator's groups,
    /// and reads each answer with `decode` into `(group, error code, value)`. Groups whose
    /// coordinator moved or went away are looked up and asked again once.
    fn per_coordinator<T>(
        &mut self,
        api: &str,
        brokers: &[Broker],
        groups: &[&str],
        deadline: Instant,
        build: impl Fn(&[&str]) -> Vec<Call>,
        decode: impl Fn(Answer) -> Result<Vec<(String, i16, T)>, WireError>,
    ) -> Result<HashMap<String, Result<T, CallError>>, Unsupported> {
        let mut out: HashMap<String, Result<T, CallError>> = HashMap::with_capacity(groups.len());
        for round in 0..2 {
            let last = round == 1;
            let now = Instant::now();
            let pending: Vec<&str> = groups
                .iter()
                .copied()
                .filter(|g| !out.contains_key(*g))
                .collect();
            if pending.is_empty() {
                break;
            }
            let unknown: Vec<&str> = pending
                .iter()
                .copied()
                .filter(|g| {
                    self.coordinators
                        .get(*g)
                        .is_none_or(|(_, at)| now.duration_since(*at) > COORDINATOR_TTL)
                })
                .collect();
            if !unknown.is_empty() {
                for (g, found) in self.find_coordinators(brokers, &unknown, deadline)? {
                    match found {
                        Ok(b) => {
                            self.coordinators.insert(g, (b, now));
                        }
                        Err(e) => {
                            self.coordinators.remove(&g);
                            out.insert(g, Err(e));
                        }
                    }
                }
            }
            let mut by_coord: BTreeMap<Broker, Vec<&str>> = BTreeMap::new();
            for g in pending {
                if out.contains_key(g) {
                    continue;
                }
                match self.coordinators.get(g) {
                    Some((b, _)) => by_coord.entry(b.clone()).or_default().push(g),
                    None => {
                        let e = CallError::Failed("no coordinator".into());
                        out.insert(g.to_owned(), Err(e));
                    }
                }
            }
            let jobs: Vec<(Broker, Vec<Call>)> = by_coord
                .iter()
                .map(|(b, gs)| (b.clone(), build(gs)))
                .collect();
            let outcomes = self.exchange(jobs, deadline);
            for ((b, gs), outcome) in by_coord.iter().zip(outcomes) {
                let answers = match outcome {
                    Outcome::Unsupported(why) => return Err(Unsupported(why)),
                    Outcome::Failed(e) => {
                        for g in gs {
                            self.coordinators.remove(*g);
                            if last {
                                let e = CallError::Failed(format!("{api}: {e}"));
                                out.insert((*g).to_owned(), Err(e));
                            }
                        }
                        continue;
                    }
                    Outcome::Answered(a) => a,
                };
                for r in answers {
                    let decoded = match decode(r) {
                        Ok(d) => d,
                        Err(e) => {
                            let why = CallError::Failed(format!("{api} from {}: {e}", b.key()));
                            for g in gs {
                                out.entry((*g).to_owned())
                                    .or_insert_with(|| Err(why.clone()));
                            }
                            continue;
                        }
                    };
                    for (g, code, value) in decoded {
                        let code = error(code);
                        if code.is_some_and(is_coordinator_moved) {
                            self.coordinators.remove(&g);
                            if !last {
                                continue;
                            }
                        }
                        let v = match code {
                            None => Ok(value),
                            Some(e) => {
                                let why = format!("{api}: {}", error_name(e));
                                Err(CallError::from_error(e, why))
                            }
                        };
                        out.insert(g, v);
                    }
                }
                if last {
                    for g in gs {
                        out.entry((*g).to_owned()).or_insert_with(|| {
                            Err(CallError::Failed("group missing from the answer".into()))
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
