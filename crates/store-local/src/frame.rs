//! The record frame, the unit of the segment files.
//!
//! ```text
//! clear:      len u32 | crc32c u32 | seq_ix u64 | arrival_ms i64 | key_info u16 | partition key | data
//! encrypted:  len u32 | crc32c u32 | seq_ix u64 | arrival_ms i64 | key_info u16 | key_id u32 | epoch u32
//!             | ChaCha20-Poly1305(partition key | data) | tag (16 bytes)
//! ```
//!
//! All integers little-endian. `len` counts the bytes after the crc field; the crc32c covers
//! exactly those bytes (for an encrypted frame, the ciphertext), so a frame is whole or it is
//! not a frame: a short one or one whose crc does not match is where the valid log ends.
//! `key_info` is the partition key's length (at most 0x7fff bytes) with bit 15 set when the
//! frame is encrypted; frames written before encryption existed have it clear. An encrypted
//! frame's associated data is its header, `seq_ix` through `epoch`, and its key is the shard's
//! (see [`crate::keys`]), so a frame moved to another place or shard does not decrypt.

use bytes::Bytes;
use kinesin_engine::storage::StoredRecord;

use crate::keys::{ShardCipher, TAG_LEN};

/// `len` + `crc32c`.
pub(crate) const PREFIX_LEN: usize = 8;
/// `seq_ix` + `arrival_ms` + `key_info`.
const HEADER_LEN: usize = 18;
/// `key_id` + `epoch`, after the header of an encrypted frame.
const SEALED_HEADER_LEN: usize = HEADER_LEN + 8;
/// Bit 15 of `key_info`: the key and data are encrypted.
const ENCRYPTED: u16 = 0x8000;
/// The longest partition key a frame can hold (Kinesis allows 256 characters).
const MAX_KEY_LEN: usize = 0x7fff;
/// The largest body accepted; anything bigger is garbage (records are at most a few MiB).
pub(crate) const MAX_BODY_LEN: usize = 64 << 20;

/// The encoded size of a record's frame.
pub(crate) fn frame_len(partition_key: &str, data: &[u8], encrypted: bool) -> usize {
    let overhead = if encrypted { SEALED_HEADER_LEN + TAG_LEN } else { HEADER_LEN };
    PREFIX_LEN + overhead + partition_key.len() + data.len()
}

/// Whether a record fits in a frame (encrypted or not).
pub(crate) fn fits(partition_key: &str, data: &[u8]) -> bool {
    partition_key.len() <= MAX_KEY_LEN && frame_len(partition_key, data, true) - PREFIX_LEN <= MAX_BODY_LEN
}

/// How to encrypt a frame: the shard's cipher and the batch's nonce epoch.
#[derive(Clone, Copy)]
pub(crate) struct Seal<'a> {
    pub cipher: &'a ShardCipher,
    pub epoch: u32,
}

/// Appends one frame to `buf`, encrypted if `seal` is given. The record must [`fit`](fits).
pub(crate) fn encode(
    buf: &mut Vec<u8>,
    seq_ix: u64,
    arrival_ms: i64,
    partition_key: &str,
    data: &[u8],
    seal: Option<Seal<'_>>,
) {
    let start = buf.len();
    let body_len = frame_len(partition_key, data, seal.is_some()) - PREFIX_LEN;
    let key_info = partition_key.len() as u16 | if seal.is_some() { ENCRYPTED } else { 0 };
    buf.extend_from_slice(&(body_len as u32).to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&seq_ix.to_le_bytes());
    buf.extend_from_slice(&arrival_ms.to_le_bytes());
    buf.extend_from_slice(&key_info.to_le_bytes());
    if let Some(seal) = seal {
        buf.extend_from_slice(&seal.cipher.key_id().to_le_bytes());
        buf.extend_from_slice(&seal.epoch.to_le_bytes());
    }
    let payload = buf.len();
    buf.extend_from_slice(partition_key.as_bytes());
    buf.extend_from_slice(data);
    if let Some(seal) = seal {
        let (head, payload) = buf[start + PREFIX_LEN..].split_at_mut(payload - start - PREFIX_LEN);
        let tag = seal.cipher.seal(seq_ix, seal.epoch, head, payload);
        buf.extend_from_slice(&tag);
    }
    let crc = crc32c::crc32c(&buf[start + PREFIX_LEN..]);
    buf[start + 4..start + PREFIX_LEN].copy_from_slice(&crc.to_le_bytes());
}

/// A whole, valid frame as read: its header, and its payload still encrypted if it was.
#[derive(Debug)]
pub(crate) struct Frame {
    pub seq_ix: u64,
    pub arrival_ms: i64,
    payload: Payload,
}

#[derive(Debug)]
enum Payload {
    Clear {
        partition_key: String,
        data: Bytes,
    },
    Sealed {
        /// The associated data: `seq_ix` through `epoch`.
        header: [u8; SEALED_HEADER_LEN],
        key_len: usize,
        key_id: u32,
        epoch: u32,
        /// Ciphertext, then the tag.
        sealed: Bytes,
    },
}

impl Frame {
    /// Bytes of partition key and data.
    pub fn size(&self) -> usize {
        match &self.payload {
            Payload::Clear { partition_key, data } => partition_key.len() + data.len(),
            Payload::Sealed { sealed, .. } => sealed.len() - TAG_LEN,
        }
    }

    /// The record, decrypted with the shard's cipher if it is encrypted. Fails if the frame
    /// was encrypted under another data key or does not authenticate (it was altered).
    pub fn open(self, cipher: &ShardCipher) -> Result<StoredRecord, String> {
        let (partition_key, data) = match self.payload {
            Payload::Clear { partition_key, data } => (partition_key, data),
            Payload::Sealed { header, key_len, key_id, epoch, sealed } => {
                if key_id != cipher.key_id() {
                    return Err(format!(
                        "the record is encrypted under data key {key_id:08x}, but this store's key \
                         (keys/data.key) is {:08x}: the key it was written with is missing",
                        cipher.key_id()
                    ));
                }
                let mut buf = sealed.to_vec();
                let plain = cipher.open(self.seq_ix, epoch, &header, &mut buf).ok_or_else(|| {
                    "the encrypted record does not authenticate: it was altered on disk".to_owned()
                })?;
                let partition_key = std::str::from_utf8(&plain[..key_len])
                    .map_err(|_| "the decrypted partition key is not UTF-8".to_owned())?
                    .to_owned();
                let plain_len = plain.len();
                buf.truncate(plain_len);
                (partition_key, Bytes::from(buf).slice(key_len..))
            }
        };
        Ok(StoredRecord { seq_ix: self.seq_ix, arrival_ms: self.arrival_ms, partition_key, data })
    }
}

/// What [`decode`] found at an offset of a buffer.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A whole, valid frame of `len` bytes.
    Frame { frame: Frame, len: usize },
    /// The buffer ends inside the frame, which is `need` bytes long (or at least `need`, if the
    /// length prefix itself is cut).
    Short { need: usize },
    /// Not a frame: bad length, crc mismatch, or a key that is not UTF-8.
    Invalid(&'static str),
}

/// Decodes the frame starting at `buf[at..]`; the payload is a slice of `buf`. An encrypted
/// payload is not decrypted here (recovery and seeks need only the header).
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
    let key_info = u16::from_le_bytes(body[16..18].try_into().expect("2 bytes"));
    let key_len = (key_info & !ENCRYPTED) as usize;
    let payload = if key_info & ENCRYPTED == 0 {
        if HEADER_LEN + key_len > body_len {
            return Decoded::Invalid("partition key longer than the frame");
        }
        let Ok(partition_key) = std::str::from_utf8(&body[HEADER_LEN..HEADER_LEN + key_len]) else {
            return Decoded::Invalid("partition key is not UTF-8");
        };
        let data_start = at + PREFIX_LEN + HEADER_LEN + key_len;
        Payload::Clear { partition_key: partition_key.to_owned(), data: buf.slice(data_start..at + len) }
    } else {
        if SEALED_HEADER_LEN + key_len + TAG_LEN > body_len {
            return Decoded::Invalid("partition key longer than the frame");
        }
        Payload::Sealed {
            header: body[..SEALED_HEADER_LEN].try_into().expect("the sealed header"),
            key_len,
            key_id: u32::from_le_bytes(body[18..22].try_into().expect("4 bytes")),
            epoch: u32::from_le_bytes(body[22..26].try_into().expect("4 bytes")),
            sealed: buf.slice(at + PREFIX_LEN + SEALED_HEADER_LEN..at + len),
        }
    };
    Decoded::Frame { frame: Frame { seq_ix, arrival_ms, payload }, len }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use kinesin_engine::storage::ShardKey;

    use super::*;
    use crate::keys::Keys;
    use crate::SimFs;

    fn cipher() -> ShardCipher {
        let keys = Keys::open(Arc::new(SimFs::new()), Path::new("/data")).unwrap();
        keys.shard_cipher(ShardKey { stream_id: 1, shard_index: 0 })
    }

    #[test]
    fn round_trip_and_damage() {
        let cipher = cipher();
        let mut buf = Vec::new();
        encode(&mut buf, 7, 1_700_000_000_000, "key", b"data", None);
        encode(&mut buf, 8, 1_700_000_000_001, "", b"", None);
        let bytes = Bytes::from(buf.clone());
        let Decoded::Frame { frame, len } = decode(&bytes, 0) else { panic!() };
        let record = frame.open(&cipher).unwrap();
        assert_eq!(
            (record.seq_ix, record.partition_key.as_str(), &record.data[..]),
            (7, "key", &b"data"[..])
        );
        assert_eq!(len, frame_len("key", b"data", false));
        let Decoded::Frame { frame, .. } = decode(&bytes, len) else { panic!() };
        assert_eq!((frame.seq_ix, frame.arrival_ms), (8, 1_700_000_000_001));

        assert!(
            matches!(decode(&Bytes::from(buf[..len - 1].to_vec()), 0), Decoded::Short { need } if need == len)
        );
        assert!(matches!(decode(&Bytes::from(buf[..3].to_vec()), 0), Decoded::Short { .. }));
        let mut flipped = buf.clone();
        flipped[len - 1] ^= 1;
        assert!(matches!(decode(&Bytes::from(flipped), 0), Decoded::Invalid(_)));
        assert!(matches!(decode(&Bytes::from(vec![0u8; 64]), 0), Decoded::Invalid(_)));
    }

    #[test]
    fn encrypted_frames_hide_the_record_and_detect_tampering() {
        let cipher = cipher();
        let seal = Some(Seal { cipher: &cipher, epoch: 3 });
        let mut buf = Vec::new();
        encode(&mut buf, 7, 1_700_000_000_000, "user-42", b"the secret data", seal);
        let len = buf.len();
        assert_eq!(len, frame_len("user-42", b"the secret data", true));
        assert!(!buf.windows(6).any(|w| w == b"secret" || w == b"user-4"));
        let Decoded::Frame { frame, len: decoded_len } = decode(&Bytes::from(buf.clone()), 0) else {
            panic!()
        };
        assert_eq!((decoded_len, frame.seq_ix, frame.size()), (len, 7, 22));
        let record = frame.open(&cipher).unwrap();
        assert_eq!((record.partition_key.as_str(), &record.data[..]), ("user-42", &b"the secret data"[..]));

        // Any altered byte after the length, its crc fixed up, fails to decrypt.
        for i in PREFIX_LEN..len {
            let mut altered = buf.clone();
            altered[i] ^= 0x10;
            let crc = crc32c::crc32c(&altered[PREFIX_LEN..]);
            altered[4..8].copy_from_slice(&crc.to_le_bytes());
            match decode(&Bytes::from(altered), 0) {
                Decoded::Frame { frame, .. } => assert!(frame.open(&cipher).is_err(), "byte {i}"),
                Decoded::Invalid(_) => {} // the key length now overruns the frame
                Decoded::Short { .. } => panic!("byte {i}"),
            }
        }
        // Another store's key does not open it, and says so.
        let Decoded::Frame { frame, .. } = decode(&Bytes::from(buf), 0) else { panic!() };
        let err = frame.open(&super::tests::cipher()).unwrap_err();
        assert!(err.contains("data key"), "{err}");
    }
}
