//! A small Kafka protocol client for the batched requests librdkafka cannot send: committed
//! offsets of many groups per OffsetFetch, coordinators of many groups per FindCoordinator,
//! log offsets of every partition a broker leads per ListOffsets, the metadata, and the group
//! listings and descriptions (classic, KIP-848, share) of one coordinator per request.
//! Messages are the `kafka-protocol` crate's, generated from Kafka's own schemas; each API's
//! version is picked per connection from the broker's ApiVersions answer. Connections are plain TCP or TLS
//! (rustls), with SASL PLAIN or SCRAM when the cluster asks for it.

pub mod api;
pub mod conn;
pub mod msk;
pub mod oauth;
pub mod sasl;
pub mod share_offsets;
mod stream;
pub mod tls;
pub mod versions;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;

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
    /// A request could not be encoded (a name or list too long for the protocol).
    #[error("encoding {api:?} v{version}: {source}")]
    Encode {
        /// The API being encoded.
        api: ApiKey,
        /// Its version.
        version: i16,
        /// The codec's words.
        source: anyhow::Error,
    },
    /// An answer could not be decoded (truncated, or not what the schema says).
    #[error("decoding {api:?} v{version} from {addr}: {source}")]
    Decode {
        /// `host:port` of the broker.
        addr: String,
        /// The API being decoded.
        api: ApiKey,
        /// Its version.
        version: i16,
        /// The codec's words.
        source: anyhow::Error,
    },
    /// A frame holds an impossible value.
    #[error("{addr}: malformed answer: {why}")]
    Malformed {
        /// `host:port` of the broker.
        addr: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The TLS configuration could not be built from the `ssl.*` properties.
    #[error("TLS setup: {0}")]
    TlsSetup(#[from] tls::TlsSetupError),
    /// The TLS handshake or session failed: a certificate refused on either side.
    #[error("{addr}: TLS: {source}{}", tls::hint(.source))]
    Tls {
        /// `host:port` of the broker.
        addr: String,
        /// rustls's error.
        source: rustls::Error,
    },
    /// SASL authentication failed.
    #[error("{addr}: SASL {mechanism}: {cause}")]
    Sasl {
        /// `host:port` of the broker.
        addr: String,
        /// The mechanism used.
        mechanism: &'static str,
        /// Why.
        cause: sasl::SaslCause,
    },
    /// The broker answered with an error code for the whole request.
    #[error("{addr}: broker error {}", error_name(*.code))]
    Broker {
        /// `host:port` of the broker.
        addr: String,
        /// The Kafka error.
        code: ResponseError,
    },
}

/// The protocol's name of an API (`ConsumerGroupDescribe`), for labels and messages.
pub fn api_name(api: ApiKey) -> String {
    format!("{api:?}")
}

/// A Kafka error code as the crate's typed error; `None` for 0 (no error).
pub fn error(code: i16) -> Option<ResponseError> {
    ResponseError::try_from_code(code)
}

/// The name of a Kafka error with its code, for messages ("NotCoordinator (16)").
pub fn error_name(e: ResponseError) -> String {
    match e {
        ResponseError::Unknown(code) => format!("Kafka error {code}"),
        e => format!("{e} ({})", e.code()),
    }
}

/// Whether a coordinator's error means the group is to be looked up again.
pub fn is_coordinator_moved(e: ResponseError) -> bool {
    matches!(
        e,
        ResponseError::CoordinatorLoadInProgress
            | ResponseError::CoordinatorNotAvailable
            | ResponseError::NotCoordinator
    )
}
