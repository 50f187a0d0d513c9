//! Shard iterators: opaque, tamper-evident tokens naming a read position.
//!
//! Layout before base64: `version (1) | stream id (8) | shard index (4) | seq_ix (8) |
//! hint (8) | issued at, epoch ms (8) | HMAC-SHA256 of the preceding bytes, truncated to 16`.
//! The key is per data directory (kept in the catalog), so a token cannot be forged or
//! edited, and one from another server or an older data directory is simply invalid.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 8 + 4 + 8 + 8 + 8;
const TAG_LEN: usize = 16;

/// What a shard iterator names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardIterator {
    pub stream_id: u64,
    pub shard_index: u32,
    pub seq_ix: u64,
    /// The storage backend's position hint (0 = none).
    pub hint: u64,
    pub issued_ms: i64,
}

/// Signs and verifies iterators with one secret key.
#[derive(Clone)]
pub struct IteratorCodec {
    key: [u8; 32],
}

impl std::fmt::Debug for IteratorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IteratorCodec { .. }")
    }
}

impl IteratorCodec {
    pub fn new(key: [u8; 32]) -> IteratorCodec {
        IteratorCodec { key }
    }

    fn tag(&self, body: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    pub fn encode(&self, it: &ShardIterator) -> String {
        let mut raw = Vec::with_capacity(BODY_LEN + TAG_LEN);
        raw.push(VERSION);
        raw.extend_from_slice(&it.stream_id.to_be_bytes());
        raw.extend_from_slice(&it.shard_index.to_be_bytes());
        raw.extend_from_slice(&it.seq_ix.to_be_bytes());
        raw.extend_from_slice(&it.hint.to_be_bytes());
        raw.extend_from_slice(&it.issued_ms.to_be_bytes());
        let tag = self.tag(&raw);
        raw.extend_from_slice(&tag);
        STANDARD.encode(raw)
    }

    /// `None` for anything this codec did not produce unchanged.
    pub fn decode(&self, token: &str) -> Option<ShardIterator> {
        let raw = STANDARD.decode(token).ok()?;
        if raw.len() != BODY_LEN + TAG_LEN || raw[0] != VERSION {
            return None;
        }
        let (body, tag) = raw.split_at(BODY_LEN);
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(body);
        mac.verify_truncated_left(tag).ok()?;
        let u64_at = |at: usize| u64::from_be_bytes(body[at..at + 8].try_into().unwrap());
        Some(ShardIterator {
            stream_id: u64_at(1),
            shard_index: u32::from_be_bytes(body[9..13].try_into().unwrap()),
            seq_ix: u64_at(13),
            hint: u64_at(21),
            issued_ms: u64_at(29) as i64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ShardIterator {
        ShardIterator { stream_id: 7, shard_index: 3, seq_ix: 42, hint: 99, issued_ms: 1_700_000_000_123 }
    }

    #[test]
    fn round_trips() {
        let codec = IteratorCodec::new([9; 32]);
        let token = codec.encode(&sample());
        assert!(token.len() <= 512);
        assert_eq!(codec.decode(&token), Some(sample()));
    }

    #[test]
    fn rejects_any_modification_and_other_keys() {
        let codec = IteratorCodec::new([9; 32]);
        let token = codec.encode(&sample());
        let mut raw = STANDARD.decode(&token).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 1;
            assert_eq!(codec.decode(&STANDARD.encode(&raw)), None, "flipped byte {i}");
            raw[i] ^= 1;
        }
        assert_eq!(IteratorCodec::new([8; 32]).decode(&token), None);
        assert_eq!(codec.decode("not base64!"), None);
        assert_eq!(codec.decode(""), None);
    }
}
