//! The few protobuf (proto2) wire-format pieces the KPL aggregation format needs: varints, field
//! keys, length-delimited fields, and a reader that skips fields it does not know.
//!
//! Written by hand rather than with `prost`: the format is three small messages
//! (docs/protocol/kpl-aggregation.md, "The protobuf messages"),
//! the encoder must compute sizes incrementally as records are added (to stop at the aggregate
//! size limit), and the decoder must refuse malformed input without panicking — all of which is
//! less code here than a code generator and its build step, and is property-tested
//! (`tests/aggregation.rs`).

/// Wire type 0: a varint.
pub const VARINT: u8 = 0;
/// Wire type 2: a length-delimited byte string (strings, bytes, embedded messages).
pub const LEN: u8 = 2;

/// How many bytes the varint encoding of `value` takes.
pub fn varint_len(value: u64) -> usize {
    // 7 bits per byte; 0 still takes one byte.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The field key: field number and wire type. Every field number used here is below 16, so a key
/// is one byte.
pub fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, u64::from(field << 3 | u32::from(wire_type)));
}

pub fn put_bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

pub fn put_varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    put_key(out, field, VARINT);
    put_varint(out, value);
}

/// The encoded size of a length-delimited field holding `len` bytes (one-byte key).
pub fn bytes_field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// The encoded size of a varint field (one-byte key).
pub fn varint_field_len(value: u64) -> usize {
    1 + varint_len(value)
}

/// A field's value as read from the wire.
#[derive(Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// A fixed 32- or 64-bit value: skipped by every message here.
    Fixed,
}

/// Reads a message's fields in order. `next` gives `None` at the end, `Some(Err(()))` on
/// malformed input (truncated, an over-long varint, a group or an unknown wire type).
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(message: &'a [u8]) -> Self {
        Reader { rest: message }
    }

    fn varint(&mut self) -> Result<u64, ()> {
        let mut value = 0u64;
        for (i, &byte) in self.rest.iter().enumerate().take(10) {
            let bits = u64::from(byte & 0x7f);
            // The tenth byte may only carry the top bit of a u64.
            if i == 9 && bits > 1 {
                return Err(());
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                self.rest = &self.rest[i + 1..];
                return Ok(value);
            }
        }
        Err(())
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], ()> {
        let n = usize::try_from(n).map_err(|_| ())?;
        if n > self.rest.len() {
            return Err(());
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }

    fn field(&mut self) -> Result<(u32, Value<'a>), ()> {
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).map_err(|_| ())?;
        if field == 0 {
            return Err(());
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => self.take(8).map(|_| Value::Fixed)?,
            2 => {
                let len = self.varint()?;
                Value::Bytes(self.take(len)?)
            }
            5 => self.take(4).map(|_| Value::Fixed)?,
            // 3 and 4 are proto2 groups, which these messages never contain; 6 and 7 do not exist.
            _ => return Err(()),
        };
        Ok((field, value))
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<(u32, Value<'a>), ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let field = self.field();
        if field.is_err() {
            // Stop after the first error: the position is no longer meaningful.
            self.rest = &[];
        }
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_round_trip_and_their_length_is_predicted(value: u64) {
            let mut out = Vec::new();
            put_varint_field(&mut out, 1, value);
            prop_assert_eq!(out.len(), varint_field_len(value));
            let fields: Vec<_> = Reader::new(&out).collect();
            prop_assert_eq!(fields, vec![Ok((1, Value::Varint(value)))]);
        }

        #[test]
        fn bytes_fields_round_trip_and_their_length_is_predicted(bytes: Vec<u8>) {
            let mut out = Vec::new();
            put_bytes_field(&mut out, 3, &bytes);
            prop_assert_eq!(out.len(), bytes_field_len(bytes.len()));
            let fields: Vec<_> = Reader::new(&out).collect();
            prop_assert_eq!(fields, vec![Ok((3, Value::Bytes(&bytes[..])))]);
        }

        #[test]
        fn the_reader_never_panics_and_ends(bytes: Vec<u8>) {
            // Every call either consumes input or ends the iteration.
            prop_assert!(Reader::new(&bytes).count() <= bytes.len());
        }
    }

    #[test]
    fn varint_lengths_at_the_boundaries() {
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(varint_len(u64::MAX), 10);
    }

    #[test]
    fn malformed_input_is_an_error() {
        // Truncated length-delimited field, an over-long varint, a group, field number 0.
        for bad in [
            &[0x0a, 0x05, b'a'][..],
            &[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
            &[0x0b],
            &[0x00, 0x01],
        ] {
            assert_eq!(Reader::new(bad).last(), Some(Err(())), "{bad:02x?}");
        }
    }
}
