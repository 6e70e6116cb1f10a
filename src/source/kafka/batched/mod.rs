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
pub mod metadata;
pub mod records;
mod share;
pub mod wire;

use self::wire::api::{Answer, Call};
use self::wire::conn::Conn;
use self::wire::versions::IMPLEMENTED;
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

/// The outcome of one broker's exchange.
enum Outcome {
    Answered(Vec<Answer>),
    Failed(WireError),
    Unsupported(String),
}

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

    /// Sends each broker its requests (in parallel across brokers, pipelined on each
    /// connection), reconnecting once when a kept connection turns out to be dead.
    fn exchange(&mut self, jobs: Vec<(Broker, Vec<Call>)>, deadline: Instant) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut jobs = jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            let batch: Vec<_> = jobs
                .by_ref()
                .take(PARALLEL_BROKERS)
                .map(|(b, reqs)| {
                    let conn = self.conns.remove(&b.key());
                    (b, reqs, conn)
                })
                .collect();
            let asked: Vec<(bool, Vec<ApiKey>)> = batch
                .iter()
                .map(|(_, reqs, conn)| (conn.is_none(), reqs.iter().map(Call::api).collect()))
                .collect();
            let security = self.security.clone();
            // One broker (the usual cluster-of-one coordinator, or a single leader) is asked
            // on this thread; several in parallel, one thread each.
            let done: Vec<(Broker, Option<Conn>, Outcome)> = if batch.len() == 1 {
                batch
                    .into_iter()
                    .map(|(b, reqs, conn)| {
                        let (conn, out) = exchange_one(&b, conn, &reqs, &security, deadline);
                        (b, conn, out)
                    })
                    .collect()
            } else {
                std::thread::scope(|s| {
                    let handles: Vec<_> = batch
                        .into_iter()
                        .map(|(b, reqs, conn)| {
                            let key = b.clone();
                            let security = &security;
                            let h =
                                s.spawn(move || exchange_one(&b, conn, &reqs, security, deadline));
                            (key, h)
                        })
                        .collect();
                    // Callers zip outcomes with their jobs: every job gets exactly one.
                    handles
                        .into_iter()
                        .map(|(b, h)| match h.join() {
                            Ok((conn, out)) => (b, conn, out),
                            Err(_) => {
                                let e = WireError::Malformed {
                                    addr: b.key(),
                                    why: "the worker thread panicked",
                                };
                                (b, None, Outcome::Failed(e))
                            }
                        })
                        .collect()
                })
            };
            for ((b, conn, out), (new_conn, apis)) in done.into_iter().zip(asked) {
                // Answered requests only: one refused before sending (versions) was not
                // sent, and a failed exchange may not have reached the broker.
                if matches!(out, Outcome::Answered(_)) {
                    for api in apis {
                        self.count(api);
                    }
                }
                if let Some(c) = conn {
                    if new_conn {
                        self.count(ApiKey::ApiVersions);
                    }
                    self.conns.insert(b.key(), c);
                }
                outcomes.push(out);
            }
        }
        outcomes
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

/// One broker's exchange on its kept connection, or a new one; a kept connection that
/// fails is replaced once (brokers close idle connections).
fn exchange_one(
    b: &Broker,
    conn: Option<Conn>,
    reqs: &[Call],
    security: &Arc<Security>,
    deadline: Instant,
) -> (Option<Conn>, Outcome) {
    let reused = conn.is_some();
    let mut conn = match conn {
        Some(c) => c,
        None => match Conn::connect(&b.host, b.port, "lagwatch", security, deadline) {
            Ok(c) => c,
            Err(e) => return (None, Outcome::Failed(e)),
        },
    };
    if let Some(api) = reqs
        .iter()
        .map(Call::api)
        .find(|a| conn.version(*a).is_none())
    {
        let (min, max) = IMPLEMENTED
            .iter()
            .find(|(k, _, _)| *k == api)
            .map_or((0, 0), |(_, min, max)| (*min, *max));
        let why = format!(
            "broker {} does not speak {api:?} v{min}..v{max}",
            conn.addr()
        );
        return (Some(conn), Outcome::Unsupported(why));
    }
    match conn.exchange(reqs, deadline) {
        Ok(r) => (Some(conn), Outcome::Answered(r)),
        Err(WireError::Timeout { addr }) => (None, Outcome::Failed(WireError::Timeout { addr })),
        Err(e) if !reused => (None, Outcome::Failed(e)),
        Err(_) => exchange_one(b, None, reqs, security, deadline),
    }
}

#[cfg(test)]
mod tests;
