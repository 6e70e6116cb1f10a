use super::*;
use bytes::{BufMut, BytesMut};

/// Writes answers the way the schema lays them out (flexible: compact lengths, tag sections).
#[derive(Default)]
struct W(BytesMut);

impl W {
    fn len(&mut self, n: usize) -> &mut Self {
        // Lengths under 128 are one varint byte.
        self.0.put_u8(u8::try_from(n + 1).expect("short"));
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.len(s.len());
        self.0.put_slice(s.as_bytes());
        self
    }
    fn null(&mut self) -> &mut Self {
        self.0.put_u8(0);
        self
    }
    fn i16(&mut self, v: i16) -> &mut Self {
        self.0.put_i16(v);
        self
    }
    fn i32(&mut self, v: i32) -> &mut Self {
        self.0.put_i32(v);
        self
    }
    fn i64(&mut self, v: i64) -> &mut Self {
        self.0.put_i64(v);
        self
    }
    fn no_tags(&mut self) -> &mut Self {
        self.0.put_u8(0);
        self
    }
    fn bytes(&self) -> Bytes {
        self.0.clone().freeze()
    }
}

/// One group "g" with topic "t" and partitions (index, start, lag at v1).
fn answer(version: i16, parts: &[(i32, i64, i64)]) -> Bytes {
    let mut w = W::default();
    w.i32(0).len(1).str("g").len(1).str("t");
    w.0.put_slice(&[7u8; 16]);
    w.len(parts.len());
    for (p, start, lag) in parts {
        w.i32(*p).i64(*start).i32(3);
        if version >= 1 {
            w.i64(*lag);
        }
        w.i16(0).null().no_tags();
    }
    w.no_tags(); // topic
    w.i16(0).null().no_tags(); // group
    w.no_tags(); // response
    w.bytes()
}

#[test]
fn v1_carries_the_brokers_lag_per_partition() {
    let got = decode(&mut answer(1, &[(0, 0, 3), (1, 4, 10)]), 1).expect("decodes");
    let g = &got.groups[0];
    assert_eq!((g.group_id.as_str(), g.error_code), ("g", 0));
    assert_eq!(g.topics[0].name, "t");
    let parts: Vec<_> = g.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.start_offset, p.lag))
        .collect();
    assert_eq!(parts, [(0, 0, Some(3)), (1, 4, Some(10))]);
}

#[test]
fn v0_has_a_start_offset_and_no_lag() {
    let got = decode(&mut answer(0, &[(0, 5, 0)]), 0).expect("decodes");
    let p = &got.groups[0].topics[0].partitions[0];
    assert_eq!((p.start_offset, p.lag), (5, None));
}

#[test]
fn a_lag_of_minus_one_is_unknown_not_a_number() {
    let got = decode(&mut answer(1, &[(0, 0, -1)]), 1).expect("decodes");
    assert_eq!(got.groups[0].topics[0].partitions[0].lag, None);
}

#[test]
fn errors_and_tagged_fields_are_read_through() {
    let mut w = W::default();
    w.i32(0).len(1).str("g").len(0);
    // GROUP_ID_NOT_FOUND (69) with a message, then one unknown tagged field of 2 bytes.
    w.i16(69).str("no such group");
    w.0.put_slice(&[1, 5, 2, 0xab, 0xcd]);
    w.no_tags();
    let got = decode(&mut w.bytes(), 1).expect("decodes");
    assert_eq!(got.groups[0].error_code, 69);
    assert!(got.groups[0].topics.is_empty());
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let full = answer(1, &[(0, 0, 3), (1, 4, 10)]);
    for cut in 0..full.len() {
        let mut b = full.slice(..cut);
        assert!(decode(&mut b, 1).is_err(), "cut at {cut} of {}", full.len());
    }
}

#[test]
fn a_huge_length_is_refused_before_anything_is_sized_from_it() {
    let mut w = W::default();
    w.i32(0);
    // 2^28 groups announced in a 9-byte answer.
    w.0.put_slice(&[0x80, 0x80, 0x80, 0x80, 0x01]);
    let err = decode(&mut w.bytes(), 1).expect_err("refused");
    assert!(matches!(err, DecodeError::Truncated { .. }), "{err}");
}

#[test]
fn versions_past_one_are_refused() {
    assert!(matches!(
        decode(&mut answer(1, &[]), 2),
        Err(DecodeError::Version(2))
    ));
    let mut buf = BytesMut::new();
    assert!(Request::default().encode(&mut buf, 2).is_err());
}

#[test]
fn the_request_is_the_same_at_v0_and_v1() {
    use kafka_protocol::messages::describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup;
    use kafka_protocol::messages::GroupId;
    use kafka_protocol::protocol::StrBytes;
    // The crate's default topics is an empty list (no topics): null asks for all of them.
    let group = DescribeShareGroupOffsetsRequestGroup::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_topics(None);
    let req = Request(DescribeShareGroupOffsetsRequest::default().with_groups(vec![group]));
    let (mut v0, mut v1) = (BytesMut::new(), BytesMut::new());
    req.encode(&mut v0, 0).expect("v0");
    req.encode(&mut v1, 1).expect("v1");
    assert_eq!(v0, v1);
    // groups: 1 entry; "g"; topics null; no tags; no tags.
    assert_eq!(&v1[..], &[2, 2, b'g', 0, 0, 0]);
}
