//! The requests the batched path sends and their answers, as the crate's generated
//! messages: one enum of requests (encoded at the version picked per connection) and one of
//! answers (decoded at that same version).

use super::share_offsets;
use super::WireError;
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, DescribeGroupsRequest, DescribeGroupsResponse, FetchRequest,
    FetchResponse, FindCoordinatorRequest, FindCoordinatorResponse, ListGroupsRequest,
    ListGroupsResponse, ListOffsetsRequest, ListOffsetsResponse, MetadataRequest, MetadataResponse,
    OffsetFetchRequest, OffsetFetchResponse, ShareGroupDescribeRequest, ShareGroupDescribeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable};

macro_rules! calls {
    ($($name:ident: $req:ty => $resp:ty),* $(,)?) => {
        /// A request to send, not yet encoded: its version is picked per connection.
        #[derive(Debug, Clone)]
        pub enum Call {
            $(
                #[doc = concat!("A ", stringify!($name), " request.")]
                $name($req),
            )*
        }

        /// An answer, decoded at the version its request was sent with.
        #[derive(Debug)]
        pub enum Answer {
            $(
                #[doc = concat!("A ", stringify!($name), " answer.")]
                $name($resp),
            )*
        }

        impl Call {
            /// The API this request belongs to.
            pub fn api(&self) -> ApiKey {
                match self {
                    $(Call::$name(_) => ApiKey::$name,)*
                }
            }

            /// Appends the body, encoded at `version`.
            pub fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), WireError> {
                let done = match self {
                    $(Call::$name(r) => r.encode(buf, version),)*
                };
                done.map_err(|source| WireError::Encode {
                    api: self.api(),
                    version,
                    source,
                })
            }

        }

        impl Answer {
            /// Decodes an answer of `api` from `body`; `None` for an API not sent here.
            pub fn decode(
                api: ApiKey,
                body: &mut Bytes,
                version: i16,
            ) -> Option<anyhow::Result<Answer>> {
                match api {
                    $(ApiKey::$name => Some(<$resp>::decode(body, version).map(Answer::$name)),)*
                    _ => None,
                }
            }
        }

        $(
            impl TryFrom<Answer> for $resp {
                type Error = WireError;

                fn try_from(a: Answer) -> Result<Self, WireError> {
                    match a {
                        Answer::$name(r) => Ok(r),
                        #[allow(unreachable_patterns)]
                        _ => Err(WireError::Malformed {
                            addr: String::new(),
                            why: concat!("not a ", stringify!($name), " answer"),
                        }),
                    }
                }
            }
        )*
    };
}

calls! {
    Metadata: MetadataRequest => MetadataResponse,
    FindCoordinator: FindCoordinatorRequest => FindCoordinatorResponse,
    OffsetFetch: OffsetFetchRequest => OffsetFetchResponse,
    DescribeGroups: DescribeGroupsRequest => DescribeGroupsResponse,
    ListOffsets: ListOffsetsRequest => ListOffsetsResponse,
    ListGroups: ListGroupsRequest => ListGroupsResponse,
    ShareGroupDescribe: ShareGroupDescribeRequest => ShareGroupDescribeResponse,
    ConsumerGroupDescribe: ConsumerGroupDescribeRequest => ConsumerGroupDescribeResponse,
    // By hand until the crate knows v1 (the broker's lag).
    DescribeShareGroupOffsets: share_offsets::Request => share_offsets::Response,
    Fetch: FetchRequest => FetchResponse,
    DescribeConfigs: DescribeConfigsRequest => DescribeConfigsResponse,
}
