//! Which version of each API to speak with one broker: the highest that both the broker
//! (its ApiVersions answer) and lagwatch support. Pure: no I/O.

use super::share_offsets;
use kafka_protocol::messages::ApiKey;
use std::collections::HashMap;

/// The versions lagwatch implements per API: the lowest is the first with what the batched
/// path needs (many groups or keys per request, the types filter); the highest the newest
/// whose fields lagwatch reads the same way and that the codec knows.
pub const IMPLEMENTED: &[(ApiKey, i16, i16)] = &[
    // v4: no topic auto-creation (a poll must not create topics); v10 adds topic ids (what
    // ConsumerGroupDescribe names assigned topics by); v13 a top-level error code.
    (ApiKey::Metadata, 4, 13),
    // v4: many keys per request (KIP-699).
    (ApiKey::FindCoordinator, 4, 6),
    // v8: many groups per request (KIP-709); v10 names topics by id only.
    (ApiKey::OffsetFetch, 8, 9),
    // v5: flexible; v6 answers GROUP_ID_NOT_FOUND for a group that is not classic.
    (ApiKey::DescribeGroups, 5, 6),
    // v1: one offset per partition; v0 answered a list of offsets.
    (ApiKey::ListOffsets, 1, 10),
    // v0 lists every group; v4 adds the states filter, v5 the types filter (KIP-1043).
    (ApiKey::ListGroups, 0, 5),
    // v1 is the first version of share groups in a Kafka release (4.1).
    (ApiKey::ShareGroupDescribe, 1, 1),
    // KIP-848 groups; v0 and v1 (which adds each member's type) read the same way here.
    (ApiKey::ConsumerGroupDescribe, 0, 1),
    // v0: the share-partition start offset; v1 (Kafka 4.2, KIP-1226) adds the broker's lag.
    // Decoded by hand (`share_offsets`): the crate stops at v0.
    (
        ApiKey::DescribeShareGroupOffsets,
        0,
        share_offsets::MAX_VERSION,
    ),
    // v4: read_uncommitted/read_committed; v13 names topics by id only, so v12 at most.
    (ApiKey::Fetch, 4, 12),
    // v1: the first Kafka 4 still speaks; v4 is flexible. Only topic resources are asked.
    (ApiKey::DescribeConfigs, 1, 4),
];

/// What a broker announced: API key -> (min, max).
pub type Announced = HashMap<i16, (i16, i16)>;

/// The version of `api` to speak with a broker that announced `broker`, or `None` when
/// the two ranges do not overlap (or lagwatch does not implement `api`).
pub fn pick(broker: &Announced, api: ApiKey) -> Option<i16> {
    let (_, our_min, our_max) = IMPLEMENTED.iter().find(|(k, _, _)| *k == api)?;
    let (min, max) = broker.get(&(api as i16))?;
    let v = (*our_max).min(*max);
    (v >= *our_min.max(min)).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_version_both_sides_speak_is_picked() {
        // (broker's range of FindCoordinator, expected pick, why)
        type Case = (Option<(i16, i16)>, Option<i16>, &'static str);
        let cases: &[Case] = &[
            (Some((0, 6)), Some(6), "Kafka 4.x: our newest"),
            (
                Some((0, 4)),
                Some(4),
                "Kafka 3.0: the first batched version",
            ),
            (Some((0, 9)), Some(6), "a newer broker: still our newest"),
            (
                Some((0, 3)),
                None,
                "before 3.0: one key per request, not batched",
            ),
            (
                Some((7, 9)),
                None,
                "a broker that dropped every version we speak",
            ),
            (None, None, "a broker without the API"),
        ];
        for (range, want, why) in cases {
            let mut b = Announced::new();
            if let Some(r) = range {
                b.insert(ApiKey::FindCoordinator as i16, *r);
            }
            assert_eq!(pick(&b, ApiKey::FindCoordinator), *want, "{why}");
        }
    }

    #[test]
    fn an_api_lagwatch_does_not_implement_is_never_picked() {
        let b: Announced = [(ApiKey::Produce as i16, (0, 12))].into();
        assert_eq!(pick(&b, ApiKey::Produce), None);
    }

    #[test]
    fn every_implemented_range_is_one_the_codec_knows() {
        for (api, min, max) in IMPLEMENTED {
            if *api == ApiKey::DescribeShareGroupOffsets {
                // Hand-written codec past the crate's v0; its own tests cover v0 and v1.
                continue;
            }
            let codec = api.valid_versions();
            assert!(
                codec.min <= *min && *max <= codec.max && min <= max,
                "{api:?} {min}..={max} vs the codec's {codec}"
            );
        }
    }
}
