//! The object format of the cluster's record data (docs/cluster.md, "The object format"): one
//! object per flush of a node, holding one frame per shard the flush wrote to.
//!
//! ```text
//! object = header frame*
//! header = magic "KNSO" | version u8 (1)
//! frame  = len u32 | stream_id u64 | shard_index u32 | count u32 | arrival_ms i64
//!          | record{count} | crc u32
//! record = flags u8 (bit 0: encrypted) | key_len u16 | data_len u32 | key | data
//! ```
//!
//! Integers are little-endian. `len` counts the bytes after it, the CRC included; the CRC32C
//! covers the frame from `len` up to the CRC. A frame is read on its own (the index holds its
//! byte range), so it carries its shard and checks itself. Sequence numbers are not in the
//! object: the commit assigns them (`crate::log`), after the upload. `arrival_ms` is the
//! node's clock when the batch closed; the commit may raise it so that arrival times never
//! decrease per shard, and the index holds the time that counts.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kinesin_engine::storage::{NewRecord, ShardKey, StoreError};

/// The first bytes of every object.
pub const MAGIC: &[u8; 4] = b"KNSO";
/// The format version this code writes and reads.
pub const VERSION: u8 = 1;
/// Header bytes before the first frame.
pub const HEADER_LEN: usize = MAGIC.len() + 1;

/// `len` + the fixed fields + the CRC.
const FRAME_OVERHEAD: usize = 4 + 8 + 4 + 4 + 8 + 4;
/// A record's bytes before its key and data.
const RECORD_OVERHEAD: usize = 1 + 2 + 4;
const ENCRYPTED: u8 = 1;

/// One shard's records in an object.
#[derive(Debug, Clone)]
pub struct Frame {
    pub shard: ShardKey,
    pub arrival_ms: i64,
    pub records: Vec<NewRecord>,
}

/// Where a frame lies in its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub offset: u64,
    pub len: u64,
}

/// The encoded size of a record, as a batch counts it towards its size bound.
pub fn record_len(record: &NewRecord) -> usize {
    RECORD_OVERHEAD + record.partition_key.len() + record.data.len()
}

/// Encodes an object of `frames`, and where each frame lies in it (in order). Fails only for
/// a record the format cannot hold (a partition key over 64 KiB, data or a frame over 4 GiB),
/// which the engine's limits never let through.
pub fn encode_object(frames: &[Frame]) -> Result<(Bytes, Vec<Span>), StoreError> {
    let size = HEADER_LEN
        + frames
            .iter()
            .map(|f| FRAME_OVERHEAD + f.records.iter().map(record_len).sum::<usize>())
            .sum::<usize>();
    let mut out = BytesMut::with_capacity(size);
    out.put_slice(MAGIC);
    out.put_u8(VERSION);
    let mut spans = Vec::with_capacity(frames.len());
    for frame in frames {
        let start = out.len();
        encode_frame(frame, &mut out)?;
        spans.push(Span { offset: start as u64, len: (out.len() - start) as u64 });
    }
    Ok((out.freeze(), spans))
}

fn encode_frame(frame: &Frame, out: &mut BytesMut) -> Result<(), StoreError> {
    let too_big =
        |what: &str| StoreError::Corrupt(format!("{what} too large for a frame of {:?}", frame.shard));
    let start = out.len();
    let body = FRAME_OVERHEAD - 4 + frame.records.iter().map(record_len).sum::<usize>();
    out.put_u32_le(u32::try_from(body).map_err(|_| too_big("frame"))?);
    out.put_u64_le(frame.shard.stream_id);
    out.put_u32_le(frame.shard.shard_index);
    out.put_u32_le(u32::try_from(frame.records.len()).map_err(|_| too_big("record count"))?);
    out.put_i64_le(frame.arrival_ms);
    for record in &frame.records {
        out.put_u8(if record.encrypted { ENCRYPTED } else { 0 });
        out.put_u16_le(u16::try_from(record.partition_key.len()).map_err(|_| too_big("partition key"))?);
        out.put_u32_le(u32::try_from(record.data.len()).map_err(|_| too_big("record data"))?);
        out.put_slice(record.partition_key.as_bytes());
        out.put_slice(&record.data);
    }
    let crc = crc32c::crc32c(&out[start..]);
    out.put_u32_le(crc);
    Ok(())
}

/// Decodes a whole object into its frames. Any bytes: a damaged object is
/// [`StoreError::Corrupt`], never a panic.
pub fn decode_object(object: &Bytes) -> Result<Vec<Frame>, StoreError> {
    if object.len() < HEADER_LEN || &object[..MAGIC.len()] != MAGIC {
        return Err(corrupt("not a kinesin object (bad magic)"));
    }
    if object[MAGIC.len()] != VERSION {
        return Err(corrupt(&format!("unknown object version {}", object[MAGIC.len()])));
    }
    let mut frames = Vec::new();
    let mut at = HEADER_LEN;
    while at < object.len() {
        let len = frame_len(&object[at..])?;
        frames.push(decode_frame(object.slice(at..at + len))?);
        at += len;
    }
    Ok(frames)
}

/// The whole length of the frame starting `rest`, checked to fit in it.
fn frame_len(rest: &[u8]) -> Result<usize, StoreError> {
    let body =
        rest.get(..4).map(|mut len| len.get_u32_le() as usize).ok_or_else(|| corrupt("torn frame length"))?;
    let len = body.checked_add(4).filter(|&len| len <= rest.len() && len >= FRAME_OVERHEAD);
    len.ok_or_else(|| corrupt("frame length out of bounds"))
}

/// Decodes one frame: exactly the bytes of its [`Span`]. The records' data share `frame`'s
/// memory. Any bytes: damage is [`StoreError::Corrupt`], never a panic.
pub fn decode_frame(frame: Bytes) -> Result<Frame, StoreError> {
    if frame_len(&frame)? != frame.len() {
        return Err(corrupt("frame length disagrees with its span"));
    }
    let (checked, crc) = frame.split_at(frame.len() - 4);
    if crc32c::crc32c(checked) != (&crc[..]).get_u32_le() {
        return Err(corrupt("frame checksum mismatch"));
    }
    let mut body = frame.slice(4..frame.len() - 4);
    let shard = ShardKey { stream_id: body.get_u64_le(), shard_index: body.get_u32_le() };
    let count = body.get_u32_le() as usize;
    let arrival_ms = body.get_i64_le();
    // The count is only trusted as far as the bytes can hold that many records.
    let mut records = Vec::with_capacity(count.min(body.len() / RECORD_OVERHEAD));
    for _ in 0..count {
        if body.len() < RECORD_OVERHEAD {
            return Err(corrupt("torn record header"));
        }
        let flags = body.get_u8();
        if flags & !ENCRYPTED != 0 {
            return Err(corrupt("unknown record flags"));
        }
        let key_len = body.get_u16_le() as usize;
        let data_len = body.get_u32_le() as usize;
        if body.len() < key_len.saturating_add(data_len) {
            return Err(corrupt("record longer than its frame"));
        }
        let key = body.split_to(key_len);
        let partition_key =
            String::from_utf8(key.to_vec()).map_err(|_| corrupt("partition key is not UTF-8"))?;
        let data = body.split_to(data_len);
        records.push(NewRecord { partition_key, data, encrypted: flags & ENCRYPTED != 0 });
    }
    if !body.is_empty() {
        return Err(corrupt("bytes after the last record"));
    }
    Ok(Frame { shard, arrival_ms, records })
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("object frame: {what}"))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A record's fields, comparable (`NewRecord` is not `PartialEq`).
    type Fields<'a> = (&'a str, &'a [u8], bool);

    /// A frame's contents, comparable.
    fn parts(frame: &Frame) -> (ShardKey, i64, Vec<Fields<'_>>) {
        let records = frame.records.iter().map(|r| (r.partition_key.as_str(), &r.data[..], r.encrypted));
        (frame.shard, frame.arrival_ms, records.collect())
    }

    fn record() -> impl Strategy<Value = NewRecord> {
        ("\\PC{0,20}", proptest::collection::vec(any::<u8>(), 0..64), any::<bool>()).prop_map(
            |(partition_key, data, encrypted)| NewRecord { partition_key, data: data.into(), encrypted },
        )
    }

    fn frame() -> impl Strategy<Value = Frame> {
        (any::<u64>(), any::<u32>(), any::<i64>(), proptest::collection::vec(record(), 0..8)).prop_map(
            |(stream_id, shard_index, arrival_ms, records)| Frame {
                shard: ShardKey { stream_id, shard_index },
                arrival_ms,
                records,
            },
        )
    }

    proptest! {
        /// What is encoded decodes the same, whole or frame by frame through its span.
        #[test]
        fn objects_round_trip(frames in proptest::collection::vec(frame(), 0..5)) {
            let (object, spans) = encode_object(&frames).unwrap();
            let decoded = decode_object(&object).unwrap();
            prop_assert_eq!(decoded.iter().map(parts).collect::<Vec<_>>(), frames.iter().map(parts).collect::<Vec<_>>());
            prop_assert_eq!(spans.len(), frames.len());
            for (span, frame) in spans.iter().zip(&frames) {
                let bytes = object.slice(span.offset as usize..(span.offset + span.len) as usize);
                let decoded = decode_frame(bytes).unwrap();
                prop_assert_eq!(parts(&decoded), parts(frame));
            }
        }

        /// Flipping any bit, or cutting the object anywhere, is detected: the object no longer
        /// decodes (the CRC, the magic or the lengths say so) rather than decoding to
        /// different records.
        #[test]
        fn damage_is_detected(
            frames in proptest::collection::vec(frame(), 1..4),
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
            cut in any::<prop::sample::Index>(),
        ) {
            let (object, _) = encode_object(&frames).unwrap();
            let mut flipped = object.to_vec();
            let at = flip.index(flipped.len());
            flipped[at] ^= 1 << bit;
            prop_assert!(matches!(decode_object(&Bytes::from(flipped)), Err(StoreError::Corrupt(_))));
            let cut = cut.index(object.len());
            if cut >= HEADER_LEN {
                // Cut inside a frame (cuts between frames leave a valid, shorter object).
                let boundaries = frame_boundaries(&object);
                if !boundaries.contains(&cut) {
                    prop_assert!(matches!(decode_object(&object.slice(..cut)), Err(StoreError::Corrupt(_))));
                }
            } else {
                prop_assert!(decode_object(&object.slice(..cut)).is_err());
            }
        }

        /// Any bytes at all: an error or frames, never a panic.
        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut object = MAGIC.to_vec();
            object.push(VERSION);
            object.extend_from_slice(&bytes);
            let _ = decode_object(&Bytes::from(object));
            let _ = decode_frame(Bytes::from(bytes));
        }
    }

    fn frame_boundaries(object: &Bytes) -> Vec<usize> {
        let mut at = HEADER_LEN;
        let mut boundaries = vec![at];
        while at < object.len() {
            at += frame_len(&object[at..]).unwrap();
            boundaries.push(at);
        }
        boundaries
    }

    #[test]
    fn a_frame_read_through_another_span_is_refused() {
        let frame = Frame {
            shard: ShardKey { stream_id: 1, shard_index: 2 },
            arrival_ms: 5,
            records: vec![NewRecord {
                partition_key: "k".into(),
                data: Bytes::from_static(b"d"),
                encrypted: true,
            }],
        };
        let (object, spans) = encode_object(&[frame.clone(), frame]).unwrap();
        let two = object.slice(spans[0].offset as usize..object.len());
        assert!(matches!(decode_frame(two), Err(StoreError::Corrupt(_))));
        assert!(matches!(decode_object(&object.slice(1..)), Err(StoreError::Corrupt(_))));
    }
}
