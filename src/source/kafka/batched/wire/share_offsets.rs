//! DescribeShareGroupOffsets v0 and v1, by hand until `kafka-protocol` knows v1: v1 (KIP-1226,
//! Kafka 4.2) adds the broker's exact `Lag` per share partition, the number a share group's
//! lag is. The request is the same at both versions, so the crate's v0 encoder writes it; the
//! answer is decoded here, every length checked against the bytes left before anything is
//! sized from it.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::DescribeShareGroupOffsetsRequest;
use kafka_protocol::protocol::buf::{ByteBuf, ByteBufMut};
use kafka_protocol::protocol::{Decodable, Encodable};

/// The highest version decoded here.
pub const MAX_VERSION: i16 = 1;

/// A DescribeShareGroupOffsets request: the crate's v0 message, sent at v0 or v1.
#[derive(Debug, Clone, Default)]
pub struct Request(pub DescribeShareGroupOffsetsRequest);

impl Encodable for Request {
    fn encode<B: ByteBufMut>(&self, buf: &mut B, version: i16) -> anyhow::Result<()> {
        check(version)?;
        // Same fields at v0 and v1 (only the answer grew).
        self.0.encode(buf, 0)
    }

    fn compute_size(&self, version: i16) -> anyhow::Result<usize> {
        check(version)?;
        self.0.compute_size(0)
    }
}

fn check(version: i16) -> anyhow::Result<()> {
    if (0..=MAX_VERSION).contains(&version) {
        Ok(())
    } else {
        anyhow::bail!("DescribeShareGroupOffsets v{version} is not implemented")
    }
}

/// The answer, as much of it as lagwatch reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// One entry per group asked.
    pub groups: Vec<Group>,
}

/// One group's share-partition state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    /// Group id.
    pub group_id: String,
    /// Topics with share-partition state.
    pub topics: Vec<Topic>,
    /// Group-level error code (0: none).
    pub error_code: i16,
}

/// One topic of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topic {
    /// Topic name.
    pub name: String,
    /// Its share partitions.
    pub partitions: Vec<Partition>,
}

/// One share partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Partition {
    /// Partition index.
    pub partition_index: i32,
    /// The share-partition start offset (the earliest record still in flight).
    pub start_offset: i64,
    /// The records not yet acknowledged, as the broker counts them; `None` before v1 and
    /// when the broker says -1 (unknown).
    pub lag: Option<i64>,
    /// Partition-level error code (0: none).
    pub error_code: i16,
}

/// Why an answer could not be read: it is shorter than it says, or says something impossible.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes left than the next field needs.
    #[error("truncated: {need} bytes needed, {left} left")]
    Truncated {
        /// Bytes the field needs.
        need: usize,
        /// Bytes left.
        left: usize,
    },
    /// A varint longer than 5 bytes.
    #[error("varint too long")]
    Varint,
    /// A string that is not UTF-8.
    #[error("string is not UTF-8")]
    Utf8,
    /// A null where the schema has no null.
    #[error("null {0}")]
    Null(&'static str),
    /// A version this decoder does not know.
    #[error("version {0} is not implemented")]
    Version(i16),
}

impl Decodable for Response {
    fn decode<B: ByteBuf>(buf: &mut B, version: i16) -> anyhow::Result<Self> {
        let mut body = buf.copy_to_bytes(buf.remaining());
        Ok(decode(&mut body, version)?)
    }
}

/// Decodes an answer at `version` from `b` (the body after the response header).
pub fn decode(b: &mut Bytes, version: i16) -> Result<Response, DecodeError> {
    if !(0..=MAX_VERSION).contains(&version) {
        return Err(DecodeError::Version(version));
    }
    let mut r = Reader(b);
    r.take(4)?; // throttle time
    let groups = r.array(1, |r| {
        let group_id = r.string("group id")?;
        // The smallest topic: name, 16-byte id, empty partitions, no tags.
        let topics = r.array(19, |r| {
            let name = r.string("topic name")?;
            r.take(16)?; // topic id
            let partitions = r.array(19, |r| {
                let partition_index = r.i32()?;
                let start_offset = r.i64()?;
                r.take(4)?; // leader epoch
                let lag = if version >= 1 {
                    Some(r.i64()?).filter(|l| *l >= 0)
                } else {
                    None
                };
                let error_code = r.i16()?;
                r.nullable_string()?;
                r.tags()?;
                Ok(Partition {
                    partition_index,
                    start_offset,
                    lag,
                    error_code,
                })
            })?;
            r.tags()?;
            Ok(Topic { name, partitions })
        })?;
        let error_code = r.i16()?;
        r.nullable_string()?;
        r.tags()?;
        Ok(Group {
            group_id,
            topics,
            error_code,
        })
    })?;
    r.tags()?;
    Ok(Response { groups })
}

/// Reads flexible-version fields, never past the end.
struct Reader<'a>(&'a mut Bytes);

impl Reader<'_> {
    fn need(&self, n: usize) -> Result<(), DecodeError> {
        let left = self.0.remaining();
        if left < n {
            return Err(DecodeError::Truncated { need: n, left });
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        self.need(n)?;
        Ok(self.0.split_to(n))
    }

    fn i16(&mut self) -> Result<i16, DecodeError> {
        self.need(2)?;
        Ok(self.0.get_i16())
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        self.need(4)?;
        Ok(self.0.get_i32())
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        self.need(8)?;
        Ok(self.0.get_i64())
    }

    fn uvarint(&mut self) -> Result<u32, DecodeError> {
        let mut v: u32 = 0;
        for i in 0..5 {
            self.need(1)?;
            let byte = self.0.get_u8();
            v |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Varint)
    }

    /// A compact length: `None` for null (0 on the wire), else the length, checked to fit
    /// in what is left at `min` bytes per item.
    fn length(&mut self, min: usize) -> Result<Option<usize>, DecodeError> {
        let n = self.uvarint()?;
        let Some(len) = n.checked_sub(1) else {
            return Ok(None);
        };
        let len = len as usize;
        self.need(len.saturating_mul(min))?;
        Ok(Some(len))
    }

    fn nullable_string(&mut self) -> Result<Option<String>, DecodeError> {
        let Some(len) = self.length(1)? else {
            return Ok(None);
        };
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| DecodeError::Utf8)
    }

    fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        self.nullable_string()?.ok_or(DecodeError::Null(what))
    }

    /// A compact array of items at least `min` bytes long each.
    fn array<T>(
        &mut self,
        min: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let Some(len) = self.length(min)? else {
            return Err(DecodeError::Null("array"));
        };
        let mut out = Vec::with_capacity(len);
        for _ in 0..len {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// Skips tagged fields: none are read at these versions.
    fn tags(&mut self) -> Result<(), DecodeError> {
        let n = self.uvarint()?;
        for _ in 0..n {
            self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
