//! Safe wrappers over the librdkafka admin calls that rust-rdkafka does not expose
//! (ListConsumerGroups, DescribeConsumerGroups, ListConsumerGroupOffsets, ListOffsets):
//! `requests` sends them, `answers` copies what comes back into owned values, and
//! `super::admin` (safe Rust) drives them.
//!
//! This is the only module with `unsafe` (the crate denies it elsewhere; the module is a
//! folder so that no file grows past ~400 lines). Safety contract, upheld by every function
//! in it:
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

mod answers;
mod requests;

pub(super) use requests::Admin;

use super::types::CallError;
use crate::snapshot::{GroupState, GroupType, TopicPartition};
use rdkafka::bindings as rd;
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
pub(in crate::source::kafka) struct Event(*mut rd::rd_kafka_event_t);

impl Event {
    /// The index the request was submitted with.
    pub(in crate::source::kafka) fn opaque(&self) -> usize {
        // SAFETY: event alive.
        unsafe { rd::rd_kafka_event_opaque(self.0) as usize }
    }
    fn kind(&self) -> i32 {
        // SAFETY: event alive.
        unsafe { rd::rd_kafka_event_type(self.0) }
    }
    /// The request-level error, if any.
    pub(in crate::source::kafka) fn error(&self) -> Option<String> {
        self.call_error().map(|e| e.to_string())
    }
    /// The request-level error, if any, classified.
    pub(in crate::source::kafka) fn call_error(&self) -> Option<CallError> {
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
    fn new(parts: &[TopicPartition], offset: i64) -> Result<Self, String> {
        // SAFETY: the list is owned by us; topic strings are copied by librdkafka.
        unsafe {
            let l = rd::rd_kafka_topic_partition_list_new(parts.len().max(1) as i32);
            let list = PartitionList(l);
            for tp in parts {
                let t = &*tp.topic;
                let ct = CString::new(t).map_err(|_| format!("topic name `{t}` contains NUL"))?;
                let e = rd::rd_kafka_topic_partition_list_add(l, ct.as_ptr(), tp.partition);
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

fn group_type(t: rd::rd_kafka_consumer_group_type_t) -> GroupType {
    use rd::rd_kafka_consumer_group_type_t as T;
    match t {
        T::RD_KAFKA_CONSUMER_GROUP_TYPE_CONSUMER => GroupType::Consumer,
        T::RD_KAFKA_CONSUMER_GROUP_TYPE_CLASSIC => GroupType::Classic,
        _ => GroupType::Unknown,
    }
}
