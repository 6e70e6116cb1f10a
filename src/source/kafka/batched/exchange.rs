//! One exchange: every broker asked its requests at once (pipelined on its connection,
//! brokers in parallel), each answer reduced as soon as it is read.

use super::wire::api::{Answer, Call};
use super::wire::conn::Conn;
use super::wire::versions::IMPLEMENTED;
use super::wire::WireError;
use super::{Batched, Broker, PARALLEL_BROKERS};
use crate::config::security::Security;
use kafka_protocol::messages::ApiKey;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

/// The outcome of one broker's exchange: its answers, or what a digest made of each.
pub(super) enum Outcome<T = Answer> {
    Answered(Vec<T>),
    Failed(WireError),
    Unsupported(String),
}

/// One broker's requests for an exchange.
pub(super) enum Requests<'a> {
    /// Made up front and kept: a reconnect sends them again.
    Kept(Vec<Call>),
    /// Made when sent and dropped once encoded (made again for a reconnect): for requests
    /// too large to hold for every broker while all of them answer.
    Made {
        apis: Vec<ApiKey>,
        make: Box<dyn Fn() -> Vec<Call> + Send + Sync + 'a>,
    },
}

impl Requests<'_> {
    fn apis(&self) -> Vec<ApiKey> {
        match self {
            Requests::Kept(calls) => calls.iter().map(Call::api).collect(),
            Requests::Made { apis, .. } => apis.clone(),
        }
    }

    fn calls(&self) -> Cow<'_, [Call]> {
        match self {
            Requests::Kept(calls) => Cow::Borrowed(calls),
            Requests::Made { make, .. } => Cow::Owned(make()),
        }
    }
}

impl Batched {
    /// Sends each broker its requests (in parallel across brokers, pipelined on each
    /// connection), reconnecting once when a kept connection turns out to be dead.
    pub(super) fn exchange(
        &mut self,
        jobs: Vec<(Broker, Vec<Call>)>,
        deadline: Instant,
    ) -> Vec<Outcome> {
        let jobs = jobs
            .into_iter()
            .map(|(b, calls)| (b, Requests::Kept(calls)))
            .collect();
        self.exchange_with(jobs, deadline, &|_, a| a)
    }

    /// [`Batched::exchange`], each answer turned by `digest` (given its job's index) into
    /// what the caller keeps, on the thread that read it as soon as it is decoded: a large
    /// answer's decoded form then lives for one digest, not until every broker answered.
    pub(super) fn exchange_with<T: Send>(
        &mut self,
        jobs: Vec<(Broker, Requests<'_>)>,
        deadline: Instant,
        digest: &(dyn Fn(usize, Answer) -> T + Sync),
    ) -> Vec<Outcome<T>> {
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut jobs = jobs.into_iter().enumerate().peekable();
        while jobs.peek().is_some() {
            let batch: Vec<_> = jobs
                .by_ref()
                .take(PARALLEL_BROKERS)
                .map(|(i, (b, reqs))| {
                    let conn = self.conns.remove(&b.key());
                    (i, b, reqs, conn)
                })
                .collect();
            let asked: Vec<(bool, Vec<ApiKey>)> = batch
                .iter()
                .map(|(_, _, reqs, conn)| (conn.is_none(), reqs.apis()))
                .collect();
            let security = self.security.clone();
            // One broker (the usual cluster-of-one coordinator, or a single leader) is asked
            // on this thread; several in parallel, one thread each.
            let done: Vec<(Broker, Option<Conn>, Outcome<T>)> = if batch.len() == 1 {
                batch
                    .into_iter()
                    .map(|(i, b, reqs, conn)| {
                        let digest = |a| digest(i, a);
                        let (conn, out) =
                            exchange_one(&b, conn, &reqs, &security, deadline, &digest);
                        (b, conn, out)
                    })
                    .collect()
            } else {
                std::thread::scope(|s| {
                    let handles: Vec<_> = batch
                        .into_iter()
                        .map(|(i, b, reqs, conn)| {
                            let key = b.clone();
                            let security = &security;
                            let h = s.spawn(move || {
                                let digest = |a| digest(i, a);
                                exchange_one(&b, conn, &reqs, security, deadline, &digest)
                            });
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
}

/// One broker's exchange on its kept connection, or a new one; a kept connection that
/// fails is replaced once (brokers close idle connections).
fn exchange_one<T>(
    b: &Broker,
    conn: Option<Conn>,
    reqs: &Requests<'_>,
    security: &Arc<Security>,
    deadline: Instant,
    digest: &dyn Fn(Answer) -> T,
) -> (Option<Conn>, Outcome<T>) {
    let reused = conn.is_some();
    let mut conn = match conn {
        Some(c) => c,
        None => match Conn::connect(&b.host, b.port, "lagwatch", security, deadline) {
            Ok(c) => c,
            Err(e) => return (None, Outcome::Failed(e)),
        },
    };
    if let Some(api) = reqs.apis().into_iter().find(|a| conn.version(*a).is_none()) {
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
    match conn.exchange(reqs.calls(), deadline, digest) {
        Ok(r) => (Some(conn), Outcome::Answered(r)),
        Err(WireError::Timeout { addr }) => (None, Outcome::Failed(WireError::Timeout { addr })),
        Err(e) if !reused => (None, Outcome::Failed(e)),
        Err(_) => exchange_one(b, None, reqs, security, deadline, digest),
    }
}
