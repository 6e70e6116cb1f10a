//! Committed and log offsets with a few requests per broker instead of one per group:
//! one FindCoordinator (v4) for every group whose coordinator is not known yet, one
//! OffsetFetch (v8) per coordinator for up to [`GROUPS_PER_FETCH`] groups, and one
//! ListOffsets per leader and offset spec for every partition it leads. librdkafka 2.12
//! sends one OffsetFetch and usually one FindCoordinator per group (its coordinator cache
//! holds ~10 entries), which is 2,000 requests a poll at 1,000 groups.
//!
//! A broker that lacks these versions (before Kafka 3.0, or the librdkafka mock) makes the
//! call return [`Unsupported`], and the reader falls back to librdkafka for that step.

use super::ffi::{CommittedOffsets, ListOffsetsResult, OffsetsRequest};
use super::wire::conn::{Conn, Request, Response};
use super::wire::messages::{self as msg, GroupFetch};
use super::wire::WireError;
use std::collections::{BTreeMap, HashMap};
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
    Answered(Vec<Response>),
    Failed(WireError),
    Unsupported(String),
}

/// Connections and coordinators of one cluster, kept between polls.
#[derive(Debug, Default)]
pub struct Direct {
    conns: HashMap<String, Conn>,
    coordinators: HashMap<String, (Broker, Instant)>,
}

type Committed = Result<CommittedOffsets, String>;

impl Direct {
    /// No connections yet; they are opened on first use.
    pub fn new() -> Self {
        Direct::default()
    }

    /// Sends each broker its requests (in parallel across brokers, pipelined on each
    /// connection), reconnecting once when a kept connection turns out to be dead.
    fn exchange(&mut self, jobs: Vec<(Broker, Vec<Request>)>, deadline: Instant) -> Vec<Outcome> {
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
            let done: Vec<(Broker, Option<Conn>, Outcome)> = std::thread::scope(|s| {
                let handles: Vec<_> = batch
                    .into_iter()
                    .map(|(b, reqs, conn)| {
                        s.spawn(move || {
                            let (conn, out) = exchange_one(&b, conn, &reqs, deadline);
                            (b, conn, out)
                        })
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            for (b, conn, out) in done {
                if let Some(c) = conn {
                    self.conns.insert(b.key(), c);
                }
                outcomes.push(out);
            }
        }
        outcomes
    }

    /// Finds the coordinators of `groups` with FindCoordinator v4 on the first broker that
    /// answers; per group a coordinator or why there is none.
    fn find_coordinators(
        &mut self,
        brokers: &[Broker],
        groups: &[&str],
        deadline: Instant,
    ) -> Result<HashMap<String, Result<Broker, String>>, Unsupported> {
        let reqs: Vec<Request> = groups
            .chunks(KEYS_PER_LOOKUP)
            .map(|c| Request {
                api_key: msg::FIND_COORDINATOR,
                version: msg::FIND_COORDINATOR_VERSION,
                body: msg::find_coordinator_request(c),
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
                    for r in &responses {
                        let coords = match msg::find_coordinator_response(&mut r.body()) {
                            Ok(c) => c,
                            Err(e) => {
                                last_err = format!("FindCoordinator from {}: {e}", b.key());
                                continue;
                            }
                        };
                        for c in coords {
                            let v = if c.error_code == 0 {
                                Ok(Broker {
                                    host: c.host,
                                    port: c.port,
                                })
                            } else {
                                Err(format!(
                                    "FindCoordinator: {}{}",
                                    msg::error_name(c.error_code),
                                    c.error_message
                                        .map(|m| format!(": {m}"))
                                        .unwrap_or_default()
                                ))
                            };
                            found.insert(c.key, v);
                        }
                    }
                    for g in groups {
                        found
                            .entry((*g).to_owned())
                            .or_insert_with(|| Err(last_err.clone()));
                    }
                    return Ok(found);
                }
            }
        }
        Ok(groups
            .iter()
            .map(|g| ((*g).to_owned(), Err(last_err.clone())))
            .collect())
    }

    /// Committed offsets of every request's group, in request order.
    pub fn committed(
        &mut self,
        brokers: &[Broker],
        requests: &[OffsetsRequest],
        deadline: Instant,
    ) -> Result<Vec<Committed>, Unsupported> {
        let mut out: Vec<Option<Committed>> = vec![None; requests.len()];
        let index: HashMap<&str, usize> = requests
            .iter()
            .enumerate()
            .map(|(i, r)| (r.group.as_str(), i))
            .collect();
        // Round two retries the groups whose coordinator moved or went away in round one.
        for round in 0..2 {
            let last = round == 1;
            let now = Instant::now();
            let pending: Vec<usize> = (0..requests.len()).filter(|i| out[*i].is_none()).collect();
            if pending.is_empty() {
                break;
            }
            let unknown: Vec<&str> = pending
                .iter()
                .map(|i| requests[*i].group.as_str())
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
                            if let Some(i) = index.get(g.as_str()) {
                                out[*i] = Some(Err(e));
                            }
                        }
                    }
                }
            }
            let mut by_coord: BTreeMap<Broker, Vec<usize>> = BTreeMap::new();
            for i in pending {
                if out[i].is_some() {
                    continue;
                }
                match self.coordinators.get(&requests[i].group) {
                    Some((b, _)) => by_coord.entry(b.clone()).or_default().push(i),
                    None => out[i] = Some(Err("no coordinator".into())),
                }
            }
            let jobs: Vec<(Broker, Vec<Request>)> = by_coord
                .iter()
                .map(|(b, idx)| (b.clone(), fetch_requests(requests, idx)))
                .collect();
            let outcomes = self.exchange(jobs, deadline);
            for ((b, idx), outcome) in by_coord.iter().zip(outcomes) {
                match outcome {
                    Outcome::Unsupported(why) => return Err(Unsupported(why)),
                    Outcome::Failed(e) => {
                        for i in idx {
                            self.coordinators.remove(&requests[*i].group);
                            if last {
                                out[*i] = Some(Err(format!("OffsetFetch: {e}")));
                            }
                        }
                    }
                    Outcome::Answered(responses) => {
                        let mut answered = 0usize;
                        for r in &responses {
                            match msg::offset_fetch_response(&mut r.body()) {
                                Ok(groups) => {
                                    for g in groups {
                                        let Some(&i) = index.get(g.group.as_str()) else {
                                            continue;
                                        };
                                        answered += 1;
                                        if msg::is_coordinator_moved(g.error_code) {
                                            self.coordinators.remove(&g.group);
                                            if !last {
                                                continue;
                                            }
                                        }
                                        out[i] = Some(group_offsets(&g));
                                    }
                                }
                                Err(e) => {
                                    let why = format!("OffsetFetch from {}: {e}", b.key());
                                    for i in idx {
                                        out[*i].get_or_insert_with(|| Err(why.clone()));
                                    }
                                }
                            }
                        }
                        if answered < idx.len() {
                            for i in idx {
                                if out[*i].is_none() && last {
                                    out[*i] = Some(Err("group missing from the answer".into()));
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(out
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Err("no answer".into())))
            .collect())
    }

    /// Earliest and latest offsets of every partition, asked of its leader.
    pub fn log_offsets(
        &mut self,
        partitions: &[(String, i32)],
        leaders: &HashMap<(String, i32), Broker>,
        deadline: Instant,
    ) -> Result<(ListOffsetsResult, ListOffsetsResult), Unsupported> {
        let mut earliest = ListOffsetsResult::with_capacity(partitions.len());
        let mut latest = ListOffsetsResult::with_capacity(partitions.len());
        let mut by_leader: BTreeMap<Broker, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
        for (t, p) in partitions {
            match leaders.get(&(t.clone(), *p)) {
                Some(b) => by_leader
                    .entry(b.clone())
                    .or_default()
                    .entry(t.as_str())
                    .or_default()
                    .push(*p),
                None => {
                    let e = Err("partition has no leader".to_owned());
                    earliest.insert((t.clone(), *p), e.clone());
                    latest.insert((t.clone(), *p), e);
                }
            }
        }
        let mut jobs = Vec::with_capacity(by_leader.len());
        for (b, topics) in &by_leader {
            let topics: Vec<(&str, Vec<i32>)> =
                topics.iter().map(|(t, p)| (*t, p.clone())).collect();
            let mut reqs = Vec::with_capacity(2);
            for ts in [msg::EARLIEST, msg::LATEST] {
                let body = msg::list_offsets_request(&topics, ts)
                    .map_err(|e| Unsupported(format!("ListOffsets: {e}")))?;
                reqs.push(Request {
                    api_key: msg::LIST_OFFSETS,
                    version: msg::LIST_OFFSETS_VERSION,
                    body,
                });
            }
            jobs.push((b.clone(), reqs));
        }
        let outcomes = self.exchange(jobs, deadline);
        for ((b, topics), outcome) in by_leader.iter().zip(outcomes) {
            let failed = |why: String, e: &mut ListOffsetsResult, l: &mut ListOffsetsResult| {
                for (t, parts) in topics {
                    for p in parts {
                        e.insert(((*t).to_owned(), *p), Err(why.clone()));
                        l.insert(((*t).to_owned(), *p), Err(why.clone()));
                    }
                }
            };
            match outcome {
                Outcome::Unsupported(why) => return Err(Unsupported(why)),
                Outcome::Failed(e) => {
                    failed(format!("ListOffsets: {e}"), &mut earliest, &mut latest)
                }
                Outcome::Answered(responses) => {
                    for (r, into) in responses.iter().zip([&mut earliest, &mut latest]) {
                        match msg::list_offsets_response(&mut r.body()) {
                            Ok(parts) => {
                                for lo in parts {
                                    let v = if lo.error_code == 0 {
                                        Ok(lo.offset)
                                    } else {
                                        Err(msg::error_name(lo.error_code))
                                    };
                                    into.insert((lo.topic, lo.partition), v);
                                }
                            }
                            Err(e) => {
                                let why = format!("ListOffsets from {}: {e}", b.key());
                                for (t, parts) in topics {
                                    for p in parts {
                                        into.insert(((*t).to_owned(), *p), Err(why.clone()));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok((earliest, latest))
    }
}

/// OffsetFetch v8 requests for these groups, [`GROUPS_PER_FETCH`] to a request.
fn fetch_requests(requests: &[OffsetsRequest], idx: &[usize]) -> Vec<Request> {
    idx.chunks(GROUPS_PER_FETCH)
        .map(|chunk| {
            let groups: Vec<GroupFetch<'_>> = chunk
                .iter()
                .map(|i| {
                    let r = &requests[*i];
                    GroupFetch {
                        group: &r.group,
                        topics: r.partitions.as_ref().map(|parts| {
                            let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
                            for (t, p) in parts {
                                by_topic.entry(t.as_str()).or_default().push(*p);
                            }
                            by_topic.into_iter().collect()
                        }),
                    }
                })
                .collect();
            Request {
                api_key: msg::OFFSET_FETCH,
                version: msg::OFFSET_FETCH_VERSION,
                body: msg::offset_fetch_request(&groups),
            }
        })
        .collect()
}

/// One group's answer as the librdkafka path gives it: a partition error fails the group,
/// and "no commit" (-1) is left out.
fn group_offsets(g: &msg::GroupCommitted) -> Committed {
    if g.error_code != 0 {
        return Err(format!("OffsetFetch: {}", msg::error_name(g.error_code)));
    }
    let mut offsets = CommittedOffsets::with_capacity(g.partitions.len());
    for p in &g.partitions {
        if p.error_code != 0 {
            return Err(format!(
                "{}/{}: {}",
                p.topic,
                p.partition,
                msg::error_name(p.error_code)
            ));
        }
        if p.offset >= 0 {
            offsets.insert((p.topic.clone(), p.partition), p.offset);
        }
    }
    Ok(offsets)
}

/// One broker's exchange on its kept connection, or a new one; a kept connection that
/// fails is replaced once (brokers close idle connections).
fn exchange_one(
    b: &Broker,
    conn: Option<Conn>,
    reqs: &[Request],
    deadline: Instant,
) -> (Option<Conn>, Outcome) {
    let reused = conn.is_some();
    let mut conn = match conn {
        Some(c) => c,
        None => match Conn::connect(&b.host, b.port, "lagwatch", deadline) {
            Ok(c) => c,
            Err(e) => return (None, Outcome::Failed(e)),
        },
    };
    if let Some(r) = reqs.iter().find(|r| !conn.supports(r.api_key, r.version)) {
        let why = format!(
            "broker {} does not speak {} v{}",
            conn.addr(),
            api_name(r.api_key),
            r.version
        );
        return (Some(conn), Outcome::Unsupported(why));
    }
    match conn.exchange(reqs, deadline) {
        Ok(r) => (Some(conn), Outcome::Answered(r)),
        Err(WireError::Timeout { addr }) => (None, Outcome::Failed(WireError::Timeout { addr })),
        Err(e) if !reused => (None, Outcome::Failed(e)),
        Err(_) => exchange_one(b, None, reqs, deadline),
    }
}

fn api_name(key: i16) -> &'static str {
    match key {
        msg::LIST_OFFSETS => "ListOffsets",
        msg::OFFSET_FETCH => "OffsetFetch",
        msg::FIND_COORDINATOR => "FindCoordinator",
        _ => "ApiVersions",
    }
}
