//! Shard iterators: opaque, tamper-evident tokens naming a read position.
//!
//! Layout of the signed payload (see [`crate::token`]): `version (1) | stream id (8) |
//! shard index (4) | seq_ix (8) | hint (8) | issued at, epoch ms (8)`. The key is per data
//! directory (kept in the catalog), so a token cannot be forged or edited, and one from another
//! server or an older data directory is simply invalid.

use crate::token::Signer;

const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 8 + 4 + 8 + 8 + 8;

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

impl ShardIterator {
    pub fn encode(&self, signer: &Signer) -> String {
        let mut raw = Vec::with_capacity(BODY_LEN);
        raw.push(VERSION);
        raw.extend_from_slice(&self.stream_id.to_be_bytes());
        raw.extend_from_slice(&self.shard_index.to_be_bytes());
        raw.extend_from_slice(&self.seq_ix.to_be_bytes());
        raw.extend_from_slice(&self.hint.to_be_bytes());
        raw.extend_from_slice(&self.issued_ms.to_be_bytes());
        signer.sign(&raw)
    }

    /// `None` for anything `signer` did not produce unchanged.
    pub fn decode(signer: &Signer, token: &str) -> Option<ShardIterator> {
        let body = signer.verify(token)?;
        if body.len() != BODY_LEN || body[0] != VERSION {
            return None;
        }
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
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    fn sample() -> ShardIterator {
        ShardIterator { stream_id: 7, shard_index: 3, seq_ix: 42, hint: 99, issued_ms: 1_700_000_000_123 }
    }

    #[test]
    fn round_trips() {
        let signer = Signer::new([9; 32]);
        let token = sample().encode(&signer);
        assert!(token.len() <= 512);
        assert_eq!(ShardIterator::decode(&signer, &token), Some(sample()));
    }

    #[test]
    fn rejects_any_modification_and_other_keys() {
        let signer = Signer::new([9; 32]);
        let token = sample().encode(&signer);
        let mut raw = STANDARD.decode(&token).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 1;
            assert_eq!(ShardIterator::decode(&signer, &STANDARD.encode(&raw)), None, "flipped byte {i}");
            raw[i] ^= 1;
        }
        assert_eq!(ShardIterator::decode(&Signer::new([8; 32]), &token), None);
        assert_eq!(ShardIterator::decode(&signer, "not base64!"), None);
    }
}
