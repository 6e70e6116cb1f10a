//! A small Kafka protocol client for the few batched requests librdkafka cannot send:
//! committed offsets of many groups per OffsetFetch (v8), coordinators of many groups per
//! FindCoordinator (v4), and log offsets of every partition a broker leads per ListOffsets.
//! Plain TCP only; clusters with TLS or SASL use librdkafka's per-group requests instead.

pub mod codec;
pub mod conn;
pub mod messages;

/// Why a request on the wire failed.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Connecting, writing or reading failed.
    #[error("{addr}: {op}: {source}")]
    Io {
        /// `host:port` of the broker.
        addr: String,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The poll's deadline passed before the broker answered.
    #[error("{addr}: no answer before the poll timeout")]
    Timeout {
        /// `host:port` of the broker.
        addr: String,
    },
    /// A response ended before a field.
    #[error("response truncated reading {what} at byte {at} (need {need} more)")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Offset in the response body.
        at: usize,
        /// Bytes the field needs.
        need: usize,
    },
    /// A response field holds an impossible value.
    #[error("malformed response reading {what}: {why}")]
    Malformed {
        /// The field being read.
        what: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A value is too long to encode.
    #[error("value of {0} bytes/items is too long to encode")]
    TooLong(usize),
    /// The broker answered with an error code for the whole request.
    #[error("broker error {}", messages::error_name(*.0))]
    Broker(i16),
}
