//! Reading admin answers: everything is copied into owned values while the event lives.

use super::{
    call_error, cstr, err_name, error_of, error_text, group_type, read_partitions, slice,
    state_name, Event,
};
use crate::snapshot::Member;
use crate::source::kafka::types::{
    CallError, CommittedOffsets, GroupDescription, GroupListing, ListOffsetsResult,
};
use rdkafka::bindings as rd;

impl Event {
    /// A ListConsumerGroups answer: the valid listings and the per-broker errors.
    pub(in crate::source::kafka) fn listed_groups(
        &self,
    ) -> Result<(Vec<GroupListing>, Vec<String>), String> {
        if let Some(e) = self.error() {
            return Err(e);
        }
        // SAFETY: the event is alive; its arrays live as long as it does and are copied.
        unsafe {
            let res = rd::rd_kafka_event_ListConsumerGroups_result(self.0);
            if res.is_null() {
                return Err(format!("unexpected event type {}", self.kind()));
            }
            let mut n = 0usize;
            let valid = slice(rd::rd_kafka_ListConsumerGroups_result_valid(res, &mut n), n);
            let groups = valid
                .iter()
                .map(|&g| GroupListing {
                    name: cstr(rd::rd_kafka_ConsumerGroupListing_group_id(g)),
                    state: state_name(rd::rd_kafka_ConsumerGroupListing_state(g)),
                    group_type: group_type(rd::rd_kafka_ConsumerGroupListing_type(g)),
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

    /// A DescribeConsumerGroups answer: per group a description or why not. `None` for an
    /// event of another kind.
    pub(in crate::source::kafka) fn described_groups(
        &self,
    ) -> Option<Vec<(String, Result<GroupDescription, CallError>)>> {
        // SAFETY: the event is alive; its arrays live as long as it does and are copied.
        unsafe {
            let res = rd::rd_kafka_event_DescribeConsumerGroups_result(self.0);
            if res.is_null() {
                return None;
            }
            let mut n = 0usize;
            let groups = slice(
                rd::rd_kafka_DescribeConsumerGroups_result_groups(res, &mut n),
                n,
            );
            let mut out = Vec::with_capacity(groups.len());
            for &g in groups {
                let name = cstr(rd::rd_kafka_ConsumerGroupDescription_group_id(g));
                let r = match error_of(rd::rd_kafka_ConsumerGroupDescription_error(g)) {
                    Some(e) => Err(e),
                    None => Ok(GroupDescription {
                        name: name.clone(),
                        state: state_name(rd::rd_kafka_ConsumerGroupDescription_state(g)),
                        group_type: group_type(rd::rd_kafka_ConsumerGroupDescription_type(g)),
                        members: rd::rd_kafka_ConsumerGroupDescription_member_count(g) as u32,
                        member_list: members_of(g),
                    }),
                };
                out.push((name, r));
            }
            Some(out)
        }
    }

    /// A ListConsumerGroupOffsets answer: the group's committed offsets.
    pub(in crate::source::kafka) fn group_offsets(&self) -> Result<CommittedOffsets, CallError> {
        if let Some(e) = self.call_error() {
            return Err(e);
        }
        // SAFETY: a ListConsumerGroupOffsets result; arrays live as long as `ev`.
        unsafe {
            let res = rd::rd_kafka_event_ListConsumerGroupOffsets_result(self.0);
            if res.is_null() {
                let why = format!("unexpected event type {}", self.kind());
                return Err(CallError::Failed(why));
            }
            let mut n = 0usize;
            let groups = slice(
                rd::rd_kafka_ListConsumerGroupOffsets_result_groups(res, &mut n),
                n,
            );
            let mut offsets = CommittedOffsets::default();
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
                        offsets.push(&t, p, off);
                    }
                }
            }
            Ok(offsets)
        }
    }

    /// A ListOffsets answer, added to `out`.
    pub(in crate::source::kafka) fn listed_offsets(
        &self,
        out: &mut ListOffsetsResult,
    ) -> Result<(), String> {
        if let Some(e) = self.error() {
            return Err(e);
        }
        // SAFETY: a ListOffsets result; arrays live as long as `ev`.
        unsafe {
            let res = rd::rd_kafka_event_ListOffsets_result(self.0);
            if res.is_null() {
                return Err(format!("unexpected event type {}", self.kind()));
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
                    assignment: None,
                }
            })
            .collect()
    }
}
