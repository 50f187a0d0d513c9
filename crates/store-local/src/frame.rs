//! The record frame, the unit of the segment files.
//!
//! ```text
//! len u32 | crc32c u32 | seq_ix u64 | arrival_ms i64 | pk_len u16 | partition key | data
//! ```
//!
//! All integers little-endian. `len` counts the bytes after the crc field (18 + key + data);
//! the crc32c covers exactly those bytes. A frame is whole or it is not a frame: a short one or
//! one whose crc does not match is where the valid log ends.

use bytes::Bytes;
use kinesin_engine::storage::StoredRecord;

/// `len` + `crc32c`.
pub(crate) const PREFIX_LEN: usize = 8;
/// `seq_ix` + `arrival_ms` + `pk_len`.
const HEADER_LEN: usize = 18;
/// The largest body accepted; anything bigger is garbage (records are at most a few MiB).
pub(crate) const MAX_BODY_LEN: usize = 64 << 20;

/// The encoded size of a record's frame.
pub(crate) fn frame_len(partition_key: &str, data: &[u8]) -> usize {
    PREFIX_LEN + HEADER_LEN + partition_key.len() + data.len()
}

/// Whether a record fits in a frame.
pub(crate) fn fits(partition_key: &str, data: &[u8]) -> bool {
    partition_key.len() <= u16::MAX as usize && frame_len(partition_key, data) - PREFIX_LEN <= MAX_BODY_LEN
}

/// Appends one frame to `buf`. The record must [`fit`](fits).
pub(crate) fn encode(buf: &mut Vec<u8>, seq_ix: u64, arrival_ms: i64, partition_key: &str, data: &[u8]) {
    let start = buf.len();
    let body_len = frame_len(partition_key, data) - PREFIX_LEN;
    buf.extend_from_slice(&(body_len as u32).to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&seq_ix.to_le_bytes());
    buf.extend_from_slice(&arrival_ms.to_le_bytes());
    buf.extend_from_slice(&(partition_key.len() as u16).to_le_bytes());
    buf.extend_from_slice(partition_key.as_bytes());
    buf.extend_from_slice(data);
    let crc = crc32c::crc32c(&buf[start + PREFIX_LEN..]);
    buf[start + 4..start + PREFIX_LEN].copy_from_slice(&crc.to_le_bytes());
}

/// What [`decode`] found at an offset of a buffer.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A whole, valid frame of `len` bytes.
    Frame { record: StoredRecord, len: usize },
    /// The buffer ends inside the frame, which is `need` bytes long (or at least `need`, if the
    /// length prefix itself is cut).
    Short { need: usize },
    /// Not a frame: bad length, crc mismatch, or a key that is not UTF-8.
    Invalid(&'static str),
}

/// Decodes the frame starting at `buf[at..]`; the record's data is a slice of `buf`.
pub(crate) fn decode(buf: &Bytes, at: usize) -> Decoded {
    let rest = &buf[at..];
    if rest.len() < PREFIX_LEN {
        return Decoded::Short { need: PREFIX_LEN };
    }
    let body_len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
    if !(HEADER_LEN..=MAX_BODY_LEN).contains(&body_len) {
        return Decoded::Invalid("frame length out of range");
    }
    let len = PREFIX_LEN + body_len;
    if rest.len() < len {
        return Decoded::Short { need: len };
    }
    let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
    let body = &rest[PREFIX_LEN..len];
    if crc32c::crc32c(body) != crc {
        return Decoded::Invalid("crc mismatch");
    }
    let seq_ix = u64::from_le_bytes(body[0..8].try_into().expect("8 bytes"));
    let arrival_ms = i64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
    let key_len = u16::from_le_bytes(body[16..18].try_into().expect("2 bytes")) as usize;
    if HEADER_LEN + key_len > body_len {
        return Decoded::Invalid("partition key longer than the frame");
    }
    let Ok(partition_key) = std::str::from_utf8(&body[HEADER_LEN..HEADER_LEN + key_len]) else {
        return Decoded::Invalid("partition key is not UTF-8");
    };
    let data_start = at + PREFIX_LEN + HEADER_LEN + key_len;
    let record = StoredRecord {
        seq_ix,
        arrival_ms,
        partition_key: partition_key.to_owned(),
        data: buf.slice(data_start..at + len),
    };
    Decoded::Frame { record, len }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let mut buf = Vec::new();
        encode(&mut buf, 7, 1_700_000_000_000, "key", b"data");
        encode(&mut buf, 8, 1_700_000_000_001, "", b"");
        let bytes = Bytes::from(buf.clone());
        let Decoded::Frame { record, len } = decode(&bytes, 0) else { panic!() };
        assert_eq!(
            (record.seq_ix, record.partition_key.as_str(), &record.data[..]),
            (7, "key", &b"data"[..])
        );
        assert_eq!(len, frame_len("key", b"data"));
        let Decoded::Frame { record, .. } = decode(&bytes, len) else { panic!() };
        assert_eq!((record.seq_ix, record.arrival_ms), (8, 1_700_000_000_001));

        assert!(
            matches!(decode(&Bytes::from(buf[..len - 1].to_vec()), 0), Decoded::Short { need } if need == len)
        );
        assert!(matches!(decode(&Bytes::from(buf[..3].to_vec()), 0), Decoded::Short { .. }));
        let mut flipped = buf.clone();
        flipped[len - 1] ^= 1;
        assert!(matches!(decode(&Bytes::from(flipped), 0), Decoded::Invalid(_)));
        assert!(matches!(decode(&Bytes::from(vec![0u8; 64]), 0), Decoded::Invalid(_)));
    }
}
