//! Safe wrappers over the librdkafka admin calls that rust-rdkafka does not expose
//! (ListConsumerGroups, DescribeConsumerGroups, ListConsumerGroupOffsets, ListOffsets).
//!
//! This is the only module with `unsafe` (the crate denies it elsewhere). Safety contract, upheld by every function here:
//! - the `rd_kafka_t` pointer comes from a live `Client` that the caller borrows for the
//!   whole call, so the handle outlives every request and the queue created on it;
//! - each call creates its own private result queue, polls it until every request it issued
//!   has answered or the deadline passes, and destroys it; librdkafka drops late answers
//!   addressed to a destroyed queue;
//! - every event, options object, partition list and request object created here is
//!   destroyed here, exactly once, after the data read from it has been copied into owned
//!   Rust values (no borrowed C pointer escapes);
//! - strings from librdkafka are NUL-terminated and only read while their event is alive.
//!
//! The functions block: call them from `spawn_blocking`.

#![allow(unsafe_code)]

use super::types::{
    CallError, CommittedOffsets, GroupDescription, GroupListing, ListOffsetsResult, OffsetSpec,
    OffsetsRequest,
};
use crate::snapshot::{GroupState, Member};
use rdkafka::bindings as rd;
use rdkafka::client::Client;
use rdkafka::ClientContext;
use std::collections::HashMap;
use std::ffi::{c_void, CStr, CString};
use std::os::raw::c_char;
use std::time::{Duration, Instant};

/// Copies a C string into an owned one (empty for null).
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that stays valid for this call (one
/// that librdkafka returns from an object still alive, or a static one).
unsafe fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null and NUL-terminated per this function's contract; copied at once.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn err_name(code: rd::rd_kafka_resp_err_t) -> String {
    // SAFETY: rd_kafka_err2str returns a static NUL-terminated string for any code.
    unsafe { cstr(rd::rd_kafka_err2str(code)) }
}

/// A private result queue on a client, destroyed on drop.
struct Queue(*mut rd::rd_kafka_queue_t);

impl Queue {
    fn new(rk: *mut rd::rd_kafka_t) -> Self {
        // SAFETY: rk is a live handle (module contract).
        Queue(unsafe { rd::rd_kafka_queue_new(rk) })
    }

    /// The next event before `deadline`, or None on timeout.
    fn poll(&self, deadline: Instant) -> Option<Event> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let ms = left.as_millis().min(1000) as i32;
            // SAFETY: the queue is alive until drop.
            let ev = unsafe { rd::rd_kafka_queue_poll(self.0, ms.max(1)) };
            if !ev.is_null() {
                return Some(Event(ev));
            }
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_queue_new, destroyed once.
        unsafe { rd::rd_kafka_queue_destroy(self.0) }
    }
}

/// An admin result event, destroyed on drop.
struct Event(*mut rd::rd_kafka_event_t);

impl Event {
    fn opaque(&self) -> usize {
        // SAFETY: event alive.
        unsafe { rd::rd_kafka_event_opaque(self.0) as usize }
    }
    fn kind(&self) -> i32 {
        // SAFETY: event alive.
        unsafe { rd::rd_kafka_event_type(self.0) }
    }
    /// The request-level error, if any.
    fn error(&self) -> Option<String> {
        self.call_error().map(|e| e.to_string())
    }
    /// The request-level error, if any, classified.
    fn call_error(&self) -> Option<CallError> {
        // SAFETY: event alive.
        let code = unsafe { rd::rd_kafka_event_error(self.0) };
        if code == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            None
        } else {
            // SAFETY: the event is alive; its error string lives as long and is copied here.
            let s = unsafe { cstr(rd::rd_kafka_event_error_string(self.0)) };
            Some(call_error(code, s))
        }
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: returned by rd_kafka_queue_poll, destroyed once.
        unsafe { rd::rd_kafka_event_destroy(self.0) }
    }
}

/// Admin options for one request, destroyed on drop.
struct Options(*mut rd::rd_kafka_AdminOptions_t);

impl Options {
    fn new(
        rk: *mut rd::rd_kafka_t,
        op: rd::rd_kafka_admin_op_t,
        timeout: Duration,
        opaque: usize,
    ) -> Self {
        // SAFETY: rk alive; the options object is owned by us until drop.
        unsafe {
            let o = rd::rd_kafka_AdminOptions_new(rk, op);
            let mut errbuf = [0 as c_char; 256];
            let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
            rd::rd_kafka_AdminOptions_set_request_timeout(o, ms, errbuf.as_mut_ptr(), errbuf.len());
            rd::rd_kafka_AdminOptions_set_opaque(o, opaque as *mut c_void);
            Options(o)
        }
    }
}

impl Drop for Options {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_AdminOptions_new, destroyed once (librdkafka copies it).
        unsafe { rd::rd_kafka_AdminOptions_destroy(self.0) }
    }
}

/// A partition list, destroyed on drop.
struct PartitionList(*mut rd::rd_kafka_topic_partition_list_t);

impl PartitionList {
    fn new(parts: &[(String, i32)], offset: i64) -> Result<Self, String> {
        // SAFETY: the list is owned by us; topic strings are copied by librdkafka.
        unsafe {
            let l = rd::rd_kafka_topic_partition_list_new(parts.len().max(1) as i32);
            let list = PartitionList(l);
            for (t, p) in parts {
                let ct = CString::new(t.as_str())
                    .map_err(|_| format!("topic name `{t}` contains NUL"))?;
                let e = rd::rd_kafka_topic_partition_list_add(l, ct.as_ptr(), *p);
                (*e).offset = offset;
            }
            Ok(list)
        }
    }
}

impl Drop for PartitionList {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_topic_partition_list_new, destroyed once.
        unsafe { rd::rd_kafka_topic_partition_list_destroy(self.0) }
    }
}

/// Copies a librdkafka partition list into owned values.
///
/// # Safety
/// `l` is null or points to a partition list owned by an event (or list) that stays alive
/// for this call.
unsafe fn read_partitions(
    l: *const rd::rd_kafka_topic_partition_list_t,
) -> Vec<(String, i32, i64, rd::rd_kafka_resp_err_t)> {
    if l.is_null() {
        return Vec::new();
    }
    // SAFETY: non-null and alive per this function's contract; `cnt` elements follow
    // `elems`, each read and copied here.
    unsafe {
        let l = &*l;
        (0..l.cnt as usize)
            .map(|i| {
                let e = &*l.elems.add(i);
                (cstr(e.topic), e.partition, e.offset, e.err)
            })
            .collect()
    }
}

/// Views a librdkafka array of `n` pointers as a slice.
///
/// # Safety
/// `p` is null or points to `n` pointers owned by an event that outlives `'a`; the caller
/// picks `'a` no longer than the event's life.
unsafe fn slice<'a, T>(p: *mut *const T, n: usize) -> &'a [*const T] {
    if p.is_null() || n == 0 {
        &[]
    } else {
        // SAFETY: `n` valid pointers live for `'a` per this function's contract.
        unsafe { std::slice::from_raw_parts(p, n) }
    }
}

/// A librdkafka error code and text as a [`CallError`]: brokers that lack an API (or the
/// mock cluster) answer with the unsupported codes, which are a gap and not a fault.
fn call_error(code: rd::rd_kafka_resp_err_t, text: String) -> CallError {
    use rd::rd_kafka_resp_err_t as E;
    let text = if text.is_empty() {
        err_name(code)
    } else {
        text
    };
    match code {
        E::RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION | E::RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE => {
            CallError::Unsupported(text)
        }
        // librdkafka's broker error codes are Kafka's (authorization: 29-31).
        _ => CallError::from_code(code as i32, text),
    }
}

/// The classified error of a librdkafka error object, `None` when it says "no error".
///
/// # Safety
/// `e` is null or points to an error object owned by an event that stays alive for this
/// call.
unsafe fn error_of(e: *const rd::rd_kafka_error_t) -> Option<CallError> {
    if e.is_null() {
        return None;
    }
    // SAFETY: `e` is a live error object per this function's contract; read only.
    let code = unsafe { rd::rd_kafka_error_code(e) };
    if code == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return None;
    }
    // SAFETY: as above; the string lives as long as `e` and is copied at once.
    Some(call_error(code, unsafe {
        cstr(rd::rd_kafka_error_string(e))
    }))
}

/// The text of a librdkafka error object, `None` when it says "no error".
///
/// # Safety
/// `e` is null or points to an error object owned by an event that stays alive for this
/// call.
unsafe fn error_text(e: *const rd::rd_kafka_error_t) -> Option<String> {
    if e.is_null() {
        return None;
    }
    // SAFETY: `e` is a live error object per this function's contract; read only.
    let code = unsafe { rd::rd_kafka_error_code(e) };
    // SAFETY: as above; the string lives as long as `e` and is copied at once.
    let s = unsafe { cstr(rd::rd_kafka_error_string(e)) };
    if code == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        None
    } else {
        Some(if s.is_empty() { err_name(code) } else { s })
    }
}

fn state_name(s: rd::rd_kafka_consumer_group_state_t) -> GroupState {
    // SAFETY: returns a static NUL-terminated string for any state value.
    GroupState::parse(&unsafe { cstr(rd::rd_kafka_consumer_group_state_name(s)) })
}

/// Lists consumer groups; returns the valid listings and the per-broker errors.
pub fn list_consumer_groups<C: ClientContext>(
    client: &Client<C>,
    timeout: Duration,
) -> Result<(Vec<GroupListing>, Vec<String>), String> {
    let rk = client.native_ptr();
    let q = Queue::new(rk);
    let opts = Options::new(
        rk,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS,
        timeout,
        0,
    );
    // SAFETY: rk, opts and q are alive; the request copies the options.
    unsafe { rd::rd_kafka_ListConsumerGroups(rk, opts.0, q.0) };
    let deadline = Instant::now() + timeout + Duration::from_secs(1);
    let ev = q.poll(deadline).ok_or("ListConsumerGroups timed out")?;
    if let Some(e) = ev.error() {
        return Err(e);
    }
    // SAFETY: the event is a ListConsumerGroups result; arrays live as long as `ev`.
    unsafe {
        let res = rd::rd_kafka_event_ListConsumerGroups_result(ev.0);
        if res.is_null() {
            return Err(format!("unexpected event type {}", ev.kind()));
        }
        let mut n = 0usize;
        let valid = slice(rd::rd_kafka_ListConsumerGroups_result_valid(res, &mut n), n);
        let groups = valid
            .iter()
            .map(|&g| GroupListing {
                name: cstr(rd::rd_kafka_ConsumerGroupListing_group_id(g)),
                state: state_name(rd::rd_kafka_ConsumerGroupListing_state(g)),
            })
            .collect();
        let mut m = 0usize;
        let errs = slice(
            rd::rd_kafka_ListConsumerGroups_result_errors(res, &mut m),
            m,
        );
        let errors = errs.iter().filter_map(|&e| error_text(e)).collect();
        Ok((groups, errors))
    }
}

/// Describes groups in batches; per group a description or an error text.
pub fn describe_consumer_groups<C: ClientContext>(
    client: &Client<C>,
    names: &[String],
    timeout: Duration,
) -> HashMap<String, Result<GroupDescription, CallError>> {
    let mut out = HashMap::new();
    if names.is_empty() {
        return out;
    }
    let rk = client.native_ptr();
    let q = Queue::new(rk);
    let chunks: Vec<&[String]> = names.chunks(500).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let cs: Vec<CString> = chunk
            .iter()
            .filter_map(|n| CString::new(n.as_str()).ok())
            .collect();
        let mut ptrs: Vec<*const c_char> = cs.iter().map(|c| c.as_ptr()).collect();
        let opts = Options::new(
            rk,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS,
            timeout,
            i,
        );
        // SAFETY: the name array and strings outlive the call; librdkafka copies them.
        unsafe {
            rd::rd_kafka_DescribeConsumerGroups(rk, ptrs.as_mut_ptr(), ptrs.len(), opts.0, q.0)
        };
    }
    let deadline = Instant::now() + timeout + Duration::from_secs(1);
    let mut pending: Vec<bool> = vec![true; chunks.len()];
    while pending.iter().any(|p| *p) {
        let Some(ev) = q.poll(deadline) else { break };
        let idx = ev.opaque();
        if idx >= pending.len() {
            continue;
        }
        pending[idx] = false;
        if let Some(e) = ev.call_error() {
            for n in chunks[idx] {
                out.insert(n.clone(), Err(e.clone()));
            }
            continue;
        }
        // SAFETY: a DescribeConsumerGroups result; arrays live as long as `ev`.
        unsafe {
            let res = rd::rd_kafka_event_DescribeConsumerGroups_result(ev.0);
            if res.is_null() {
                continue;
            }
            let mut n = 0usize;
            for &g in slice(
                rd::rd_kafka_DescribeConsumerGroups_result_groups(res, &mut n),
                n,
            ) {
                let name = cstr(rd::rd_kafka_ConsumerGroupDescription_group_id(g));
                let r = match error_of(rd::rd_kafka_ConsumerGroupDescription_error(g)) {
                    Some(e) => Err(e),
                    None => Ok(GroupDescription {
                        name: name.clone(),
                        state: state_name(rd::rd_kafka_ConsumerGroupDescription_state(g)),
                        members: rd::rd_kafka_ConsumerGroupDescription_member_count(g) as u32,
                        member_list: members_of(g),
                    }),
                };
                out.insert(name, r);
            }
        }
    }
    for (i, p) in pending.iter().enumerate() {
        if *p {
            for n in chunks[i] {
                out.entry(n.clone()).or_insert_with(|| {
                    Err(CallError::Failed("DescribeConsumerGroups timed out".into()))
                });
            }
        }
    }
    out
}

/// Copies the members of a group description.
///
/// # Safety
/// `g` points to a group description owned by an event that stays alive for this call.
unsafe fn members_of(g: *const rd::rd_kafka_ConsumerGroupDescription_t) -> Vec<Member> {
    // SAFETY: `g` is alive per this function's contract; every member pointer below
    // `member_count` is valid while it is, and its strings are copied at once.
    unsafe {
        (0..rd::rd_kafka_ConsumerGroupDescription_member_count(g))
            .map(|i| rd::rd_kafka_ConsumerGroupDescription_member(g, i))
            .filter(|m| !m.is_null())
            .map(|m| {
                let instance = rd::rd_kafka_MemberDescription_group_instance_id(m);
                Member {
                    member_id: cstr(rd::rd_kafka_MemberDescription_consumer_id(m)),
                    group_instance_id: (!instance.is_null()).then(|| cstr(instance)),
                    client_id: cstr(rd::rd_kafka_MemberDescription_client_id(m)),
                    host: cstr(rd::rd_kafka_MemberDescription_host(m)),
                }
            })
            .collect()
    }
}

/// Fetches committed offsets for many groups, at most `in_flight` requests at once on one client.
pub fn list_consumer_group_offsets<C: ClientContext>(
    client: &Client<C>,
    requests: &[OffsetsRequest],
    in_flight: usize,
    timeout: Duration,
) -> Vec<Result<CommittedOffsets, CallError>> {
    let mut out: Vec<Option<Result<CommittedOffsets, CallError>>> = vec![None; requests.len()];
    let rk = client.native_ptr();
    let q = Queue::new(rk);
    let deadline = Instant::now() + timeout;
    let mut next = 0usize;
    let mut outstanding = 0usize;
    let issue = |i: usize| -> Result<(), String> {
        let r = &requests[i];
        let group =
            CString::new(r.group.as_str()).map_err(|_| "group name contains NUL".to_owned())?;
        let list = match &r.partitions {
            Some(p) => Some(PartitionList::new(p, -1001)?),
            None => None,
        };
        let opts = Options::new(
            rk,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
            timeout,
            i,
        );
        // SAFETY: librdkafka copies the request; we destroy our copy right after the call.
        unsafe {
            let req = rd::rd_kafka_ListConsumerGroupOffsets_new(
                group.as_ptr(),
                list.as_ref().map_or(std::ptr::null(), |l| l.0 as *const _),
            );
            let mut reqs = [req];
            rd::rd_kafka_ListConsumerGroupOffsets(rk, reqs.as_mut_ptr(), 1, opts.0, q.0);
            rd::rd_kafka_ListConsumerGroupOffsets_destroy(req);
        }
        Ok(())
    };
    while next < requests.len() || outstanding > 0 {
        while next < requests.len() && outstanding < in_flight.max(1) {
            match issue(next) {
                Ok(()) => outstanding += 1,
                Err(e) => out[next] = Some(Err(CallError::Failed(e))),
            }
            next += 1;
        }
        if outstanding == 0 {
            continue;
        }
        let Some(ev) = q.poll(deadline) else { break };
        let idx = ev.opaque();
        if idx >= out.len() || out[idx].is_some() {
            continue;
        }
        outstanding -= 1;
        out[idx] = Some(read_group_offsets(&ev));
    }
    out.into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                Err(CallError::Failed(
                    "ListConsumerGroupOffsets timed out".into(),
                ))
            })
        })
        .collect()
}

fn read_group_offsets(ev: &Event) -> Result<CommittedOffsets, CallError> {
    if let Some(e) = ev.call_error() {
        return Err(e);
    }
    // SAFETY: a ListConsumerGroupOffsets result; arrays live as long as `ev`.
    unsafe {
        let res = rd::rd_kafka_event_ListConsumerGroupOffsets_result(ev.0);
        if res.is_null() {
            let why = format!("unexpected event type {}", ev.kind());
            return Err(CallError::Failed(why));
        }
        let mut n = 0usize;
        let groups = slice(
            rd::rd_kafka_ListConsumerGroupOffsets_result_groups(res, &mut n),
            n,
        );
        let mut offsets = HashMap::new();
        for &g in groups {
            if let Some(e) = error_of(rd::rd_kafka_group_result_error(g)) {
                return Err(e);
            }
            for (t, p, off, err) in read_partitions(rd::rd_kafka_group_result_partitions(g)) {
                if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                    return Err(call_error(err, format!("{t}/{p}: {}", err_name(err))));
                }
                // -1001 (invalid) means "no commit": not a lag of anything.
                if off >= 0 {
                    offsets.insert((t, p), off);
                }
            }
        }
        Ok(offsets)
    }
}

/// Partitions per ListOffsets call. librdkafka matches partitions to leaders and answers to
/// requests by linear search (O(n²) strcmp per call): one call of 10,000 partitions cost
/// ~1.1 s CPU per poll; chunks of 500 cost n × 500 compares and add n/500 requests per broker.
const LIST_OFFSETS_CHUNK: usize = 500;

/// Lists earliest or latest offsets (read_uncommitted) of many partitions: batched calls
/// of [`LIST_OFFSETS_CHUNK`] partitions, all in flight at once on one queue.
pub fn list_offsets<C: ClientContext>(
    client: &Client<C>,
    partitions: &[(String, i32)],
    spec: OffsetSpec,
    timeout: Duration,
) -> Result<ListOffsetsResult, String> {
    let mut out = HashMap::new();
    if partitions.is_empty() {
        return Ok(out);
    }
    let rk = client.native_ptr();
    let q = Queue::new(rk);
    let offset = match spec {
        OffsetSpec::Earliest => -2,
        OffsetSpec::Latest => -1,
    };
    let chunks: Vec<&[(String, i32)]> = partitions.chunks(LIST_OFFSETS_CHUNK).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let list = PartitionList::new(chunk, offset)?;
        let opts = Options::new(
            rk,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTOFFSETS,
            timeout,
            i,
        );
        // SAFETY: options alive; read_uncommitted gives the high watermark, not the LSO.
        unsafe {
            let e = rd::rd_kafka_AdminOptions_set_isolation_level(
                opts.0,
                rd::rd_kafka_IsolationLevel_t::RD_KAFKA_ISOLATION_LEVEL_READ_UNCOMMITTED,
            );
            if !e.is_null() {
                rd::rd_kafka_error_destroy(e);
            }
            rd::rd_kafka_ListOffsets(rk, list.0, opts.0, q.0);
        }
    }
    let deadline = Instant::now() + timeout + Duration::from_secs(1);
    let mut answered = vec![false; chunks.len()];
    let mut pending = chunks.len();
    while pending > 0 {
        let ev = q.poll(deadline).ok_or("ListOffsets timed out")?;
        let idx = ev.opaque();
        if idx >= answered.len() || answered[idx] {
            continue;
        }
        answered[idx] = true;
        pending -= 1;
        if let Some(e) = ev.error() {
            return Err(e);
        }
        read_list_offsets(&ev, &mut out)?;
    }
    Ok(out)
}

fn read_list_offsets(ev: &Event, out: &mut ListOffsetsResult) -> Result<(), String> {
    // SAFETY: a ListOffsets result; arrays live as long as `ev`.
    unsafe {
        let res = rd::rd_kafka_event_ListOffsets_result(ev.0);
        if res.is_null() {
            return Err(format!("unexpected event type {}", ev.kind()));
        }
        let mut n = 0usize;
        for &info in slice(rd::rd_kafka_ListOffsets_result_infos(res, &mut n), n) {
            let tp = rd::rd_kafka_ListOffsetsResultInfo_topic_partition(info);
            if tp.is_null() {
                continue;
            }
            let tp = &*tp;
            let v = if tp.err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
                && tp.offset >= 0
            {
                Ok(tp.offset)
            } else if tp.err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                Err(format!("broker answered offset {}", tp.offset))
            } else {
                Err(err_name(tp.err))
            };
            out.insert((cstr(tp.topic), tp.partition), v);
        }
    }
    Ok(())
}
