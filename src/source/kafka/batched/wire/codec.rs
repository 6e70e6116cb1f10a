//! Kafka protocol primitives: big-endian integers, classic and compact (flexible) strings
//! and arrays, unsigned varints and tagged fields. Reading never panics: every read is
//! bounds-checked and a short or malformed buffer is an error naming what was being read.

use super::WireError;

/// Appends protocol values to a byte buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty buffer.
    pub fn new() -> Self {
        Writer::default()
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// One signed byte.
    pub fn i8(&mut self, v: i8) {
        self.buf.push(v as u8);
    }

    /// Big-endian i16.
    pub fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Big-endian i32.
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Big-endian i64.
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Unsigned LEB128 varint, as flexible versions use for lengths.
    pub fn uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// Classic string: i16 length then bytes. Longer than i16::MAX is a caller error.
    pub fn string(&mut self, s: &str) -> Result<(), WireError> {
        let len = i16::try_from(s.len()).map_err(|_| WireError::TooLong(s.len()))?;
        self.i16(len);
        self.buf.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// Classic nullable string.
    pub fn nullable_string(&mut self, s: Option<&str>) -> Result<(), WireError> {
        match s {
            Some(s) => self.string(s),
            None => {
                self.i16(-1);
                Ok(())
            }
        }
    }

    /// Classic array length (i32).
    pub fn array_len(&mut self, n: usize) -> Result<(), WireError> {
        self.i32(i32::try_from(n).map_err(|_| WireError::TooLong(n))?);
        Ok(())
    }

    /// Compact string: varint (length + 1) then bytes.
    pub fn compact_string(&mut self, s: &str) {
        self.uvarint(s.len() as u64 + 1);
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// Compact array length: varint (n + 1); `None` is the null array.
    pub fn compact_array_len(&mut self, n: Option<usize>) {
        self.uvarint(n.map_or(0, |n| n as u64 + 1));
    }

    /// An empty tagged-field section (we never send tagged fields).
    pub fn no_tags(&mut self) {
        self.uvarint(0);
    }
}

/// Reads protocol values from a response body.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.remaining() < n {
            return Err(WireError::Truncated {
                what,
                at: self.pos,
                need: n,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// One signed byte.
    pub fn i8(&mut self, what: &'static str) -> Result<i8, WireError> {
        Ok(i8::from_be_bytes(self.array(what)?))
    }

    /// Big-endian i16.
    pub fn i16(&mut self, what: &'static str) -> Result<i16, WireError> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    /// Big-endian i32.
    pub fn i32(&mut self, what: &'static str) -> Result<i32, WireError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    /// Big-endian i64.
    pub fn i64(&mut self, what: &'static str) -> Result<i64, WireError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    /// Unsigned LEB128 varint of at most 10 bytes.
    pub fn uvarint(&mut self, what: &'static str) -> Result<u64, WireError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.take(1, what)?[0];
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(WireError::Malformed {
            what,
            why: "varint longer than 10 bytes",
        })
    }

    fn utf8(&mut self, n: usize, what: &'static str) -> Result<String, WireError> {
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| WireError::Malformed {
            what,
            why: "not UTF-8",
        })
    }

    /// Classic string (i16 length; -1 = null, read as empty).
    pub fn string(&mut self, what: &'static str) -> Result<String, WireError> {
        Ok(self.nullable_string(what)?.unwrap_or_default())
    }

    /// Classic nullable string.
    pub fn nullable_string(&mut self, what: &'static str) -> Result<Option<String>, WireError> {
        let n = self.i16(what)?;
        if n < 0 {
            return Ok(None);
        }
        self.utf8(n as usize, what).map(Some)
    }

    /// Classic array length (i32; -1 = null, read as 0). Checked against the bytes left so
    /// a corrupt length cannot make the caller allocate gigabytes.
    pub fn array_len(&mut self, what: &'static str, min_item: usize) -> Result<usize, WireError> {
        let n = self.i32(what)?;
        self.checked_len(i64::from(n).max(0) as u64, what, min_item)
    }

    fn checked_len(&self, n: u64, what: &'static str, min_item: usize) -> Result<usize, WireError> {
        if n.saturating_mul(min_item.max(1) as u64) > self.remaining() as u64 {
            return Err(WireError::Malformed {
                what,
                why: "array longer than the bytes left",
            });
        }
        Ok(n as usize)
    }

    /// Compact nullable string: varint (length + 1), 0 = null.
    pub fn compact_nullable_string(
        &mut self,
        what: &'static str,
    ) -> Result<Option<String>, WireError> {
        let n = self.uvarint(what)?;
        if n == 0 {
            return Ok(None);
        }
        let len = self.checked_len(n - 1, what, 1)?;
        self.utf8(len, what).map(Some)
    }

    /// Compact string (null read as empty).
    pub fn compact_string(&mut self, what: &'static str) -> Result<String, WireError> {
        Ok(self.compact_nullable_string(what)?.unwrap_or_default())
    }

    /// Compact array length (null read as 0), checked against the bytes left.
    pub fn compact_array_len(
        &mut self,
        what: &'static str,
        min_item: usize,
    ) -> Result<usize, WireError> {
        let n = self.uvarint(what)?;
        self.checked_len(n.saturating_sub(1), what, min_item)
    }

    /// Skips compact bytes (varint length + 1, then the bytes; 0 = null).
    pub fn skip_compact_bytes(&mut self, what: &'static str) -> Result<(), WireError> {
        let n = self.uvarint(what)?;
        let len = self.checked_len(n.saturating_sub(1), what, 1)?;
        self.take(len, what)?;
        Ok(())
    }

    /// Skips a tagged-field section (fields we do not know are ignored, as the spec says).
    pub fn skip_tags(&mut self, what: &'static str) -> Result<(), WireError> {
        let n = self.uvarint(what)?;
        for _ in 0..n {
            self.uvarint(what)?;
            let size = self.uvarint(what)?;
            let size = self.checked_len(size, what, 1)?;
            self.take(size, what)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_byte_boundary() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut w = Writer::new();
            w.uvarint(v);
            let b = w.into_bytes();
            let mut r = Reader::new(&b);
            assert_eq!(r.uvarint("v").unwrap(), v, "value {v}");
            assert_eq!(r.remaining(), 0);
        }
    }

    #[test]
    fn compact_and_classic_strings_are_spelled_as_the_spec_says() {
        let mut w = Writer::new();
        w.compact_string("ab");
        w.string("ab").unwrap();
        w.nullable_string(None).unwrap();
        w.compact_array_len(None);
        w.compact_array_len(Some(2));
        assert_eq!(
            w.into_bytes(),
            vec![3, b'a', b'b', 0, 2, b'a', b'b', 0xff, 0xff, 0, 3]
        );
    }

    #[test]
    fn short_input_is_an_error_naming_the_field() {
        let mut r = Reader::new(&[0, 0, 0]);
        let e = r.i32("throttle_time_ms").unwrap_err().to_string();
        assert!(e.contains("throttle_time_ms"), "{e}");
    }

    #[test]
    fn a_huge_array_length_is_rejected_before_any_allocation() {
        // i32::MAX items of at least 4 bytes cannot fit in 4 remaining bytes.
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        assert!(r.array_len("topics", 4).is_err());
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(r.compact_array_len("groups", 1).is_err());
    }

    #[test]
    fn unknown_tagged_fields_are_skipped() {
        // two tags: (0, 2 bytes), (5, 0 bytes), then an i16.
        let b = [2, 0, 2, 9, 9, 5, 0, 0, 7];
        let mut r = Reader::new(&b);
        r.skip_tags("tags").unwrap();
        assert_eq!(r.i16("after").unwrap(), 7);
    }
}
