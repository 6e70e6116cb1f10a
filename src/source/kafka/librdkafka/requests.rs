//! Sending admin requests; answers arrive on the [`Admin`]'s queue.

use super::{Event, Options, PartitionList, Queue};
use crate::snapshot::TopicPartition;
use crate::source::kafka::types::{OffsetSpec, OffsetsRequest};
use rdkafka::bindings as rd;
use rdkafka::client::Client;
use rdkafka::ClientContext;
use std::ffi::CString;
use std::marker::PhantomData;
use std::os::raw::c_char;
use std::time::{Duration, Instant};

/// Admin requests on one client, answered on a private queue that lives as long as this.
pub(in crate::source::kafka) struct Admin<'c> {
    rk: *mut rd::rd_kafka_t,
    q: Queue,
    _client: PhantomData<&'c ()>,
}

impl<'c> Admin<'c> {
    /// A queue on `client`, which stays borrowed (and so alive) while requests are out.
    pub(in crate::source::kafka) fn new<C: ClientContext>(client: &'c Client<C>) -> Self {
        let rk = client.native_ptr();
        Admin {
            rk,
            q: Queue::new(rk),
            _client: PhantomData,
        }
    }

    /// The next answer before `deadline`.
    pub(in crate::source::kafka) fn poll(&self, deadline: Instant) -> Option<Event> {
        self.q.poll(deadline)
    }

    fn options(&self, op: rd::rd_kafka_admin_op_t, timeout: Duration, opaque: usize) -> Options {
        Options::new(self.rk, op, timeout, opaque)
    }

    /// Sends ListConsumerGroups (answered with opaque 0).
    pub(in crate::source::kafka) fn list_groups(&self, timeout: Duration) {
        let opts = self.options(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS,
            timeout,
            0,
        );
        // SAFETY: rk, opts and q are alive; the request copies the options.
        unsafe { rd::rd_kafka_ListConsumerGroups(self.rk, opts.0, self.q.0) };
    }

    /// Sends DescribeConsumerGroups for `names` (names with a NUL cannot be sent, and are
    /// left out: the caller marks what gets no answer).
    pub(in crate::source::kafka) fn describe_groups(
        &self,
        names: &[String],
        timeout: Duration,
        opaque: usize,
    ) {
        let cs: Vec<CString> = names
            .iter()
            .filter_map(|n| CString::new(n.as_str()).ok())
            .collect();
        let mut ptrs: Vec<*const c_char> = cs.iter().map(|c| c.as_ptr()).collect();
        let opts = self.options(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS,
            timeout,
            opaque,
        );
        // SAFETY: the name array and strings outlive the call; librdkafka copies them.
        unsafe {
            rd::rd_kafka_DescribeConsumerGroups(
                self.rk,
                ptrs.as_mut_ptr(),
                ptrs.len(),
                opts.0,
                self.q.0,
            )
        };
    }

    /// Sends ListConsumerGroupOffsets for one group.
    pub(in crate::source::kafka) fn group_offsets(
        &self,
        r: &OffsetsRequest,
        timeout: Duration,
        opaque: usize,
    ) -> Result<(), String> {
        let group =
            CString::new(r.group.as_str()).map_err(|_| "group name contains NUL".to_owned())?;
        let list = match &r.partitions {
            Some(p) => Some(PartitionList::new(p, -1001)?),
            None => None,
        };
        let opts = self.options(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
            timeout,
            opaque,
        );
        // SAFETY: librdkafka copies the request; we destroy our copy right after the call.
        unsafe {
            let req = rd::rd_kafka_ListConsumerGroupOffsets_new(
                group.as_ptr(),
                list.as_ref().map_or(std::ptr::null(), |l| l.0 as *const _),
            );
            let mut reqs = [req];
            rd::rd_kafka_ListConsumerGroupOffsets(self.rk, reqs.as_mut_ptr(), 1, opts.0, self.q.0);
            rd::rd_kafka_ListConsumerGroupOffsets_destroy(req);
        }
        Ok(())
    }

    /// Sends ListOffsets (read_uncommitted) for `partitions`.
    pub(in crate::source::kafka) fn list_offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
        timeout: Duration,
        opaque: usize,
    ) -> Result<(), String> {
        let offset = match spec {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
        };
        let list = PartitionList::new(partitions, offset)?;
        let opts = self.options(
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTOFFSETS,
            timeout,
            opaque,
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
            rd::rd_kafka_ListOffsets(self.rk, list.0, opts.0, self.q.0);
        }
        Ok(())
    }
}
