//! Shard iterators: opaque, tamper-evident tokens naming a read position.
//!
//! Layout of the signed payload (see [`crate::token`]): `version (1) | stream id (8) |
//! shard index (4) | seq_ix (8) | hint (8) | issued at, epoch ms (8) | stream name`. The key is
//! per data directory (kept in the catalog), so a token cannot be forged or edited, and one
//! from another server or an older data directory is simply invalid.
//!
//! The stream's name is carried so that GetRecords can name the stream once it is gone
//! (docs/protocol/corners.md, "GetRecords after the stream is gone"). Version-1 tokens, issued
//! before the name was carried, have no name and still decode.

use crate::token::Signer;

/// Carries the stream name.
const VERSION: u8 = 2;
/// No stream name.
const VERSION_WITHOUT_NAME: u8 = 1;
/// Everything but the stream name.
const FIXED_LEN: usize = 1 + 8 + 4 + 8 + 8 + 8;

/// What a shard iterator names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIterator {
    pub stream_id: u64,
    /// `None` only in an iterator issued before names were carried.
    pub stream_name: Option<String>,
    pub shard_index: u32,
    pub seq_ix: u64,
    /// The storage backend's position hint (0 = none).
    pub hint: u64,
    pub issued_ms: i64,
}

impl ShardIterator {
    pub fn encode(&self, signer: &Signer) -> String {
        let name = self.stream_name.as_deref().unwrap_or_default();
        let mut raw = Vec::with_capacity(FIXED_LEN + name.len());
        raw.push(if self.stream_name.is_some() { VERSION } else { VERSION_WITHOUT_NAME });
        raw.extend_from_slice(&self.stream_id.to_be_bytes());
        raw.extend_from_slice(&self.shard_index.to_be_bytes());
        raw.extend_from_slice(&self.seq_ix.to_be_bytes());
        raw.extend_from_slice(&self.hint.to_be_bytes());
        raw.extend_from_slice(&self.issued_ms.to_be_bytes());
        raw.extend_from_slice(name.as_bytes());
        signer.sign(&raw)
    }

    /// `None` for anything `signer` did not produce unchanged.
    pub fn decode(signer: &Signer, token: &str) -> Option<ShardIterator> {
        let body = signer.verify(token)?;
        if body.len() < FIXED_LEN {
            return None;
        }
        let (fixed, name) = body.split_at(FIXED_LEN);
        let stream_name = match fixed[0] {
            VERSION => Some(String::from_utf8(name.to_vec()).ok()?),
            VERSION_WITHOUT_NAME if name.is_empty() => None,
            _ => return None,
        };
        let u64_at = |at: usize| u64::from_be_bytes(fixed[at..at + 8].try_into().unwrap());
        Some(ShardIterator {
            stream_id: u64_at(1),
            stream_name,
            shard_index: u32::from_be_bytes(fixed[9..13].try_into().unwrap()),
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
        ShardIterator {
            stream_id: 7,
            stream_name: Some("g1".into()),
            shard_index: 3,
            seq_ix: 42,
            hint: 99,
            issued_ms: 1_700_000_000_123,
        }
    }

    #[test]
    fn round_trips() {
        let signer = Signer::new([9; 32]);
        let token = sample().encode(&signer);
        assert_eq!(ShardIterator::decode(&signer, &token), Some(sample()));
        // The longest stream name still fits the model's 512 characters.
        let longest = ShardIterator { stream_name: Some("s".repeat(128)), ..sample() };
        let token = longest.encode(&signer);
        assert!(token.len() <= 512, "{}", token.len());
        assert_eq!(ShardIterator::decode(&signer, &token), Some(longest));
    }

    #[test]
    fn iterators_without_a_name_still_decode() {
        let signer = Signer::new([9; 32]);
        let old = ShardIterator { stream_name: None, ..sample() };
        // The version-1 payload, exactly as it was written before names were carried.
        let mut raw = vec![1u8];
        for field in [7u64.to_be_bytes().to_vec(), 3u32.to_be_bytes().to_vec(), 42u64.to_be_bytes().to_vec()]
        {
            raw.extend_from_slice(&field);
        }
        raw.extend_from_slice(&99u64.to_be_bytes());
        raw.extend_from_slice(&1_700_000_000_123i64.to_be_bytes());
        assert_eq!(ShardIterator::decode(&signer, &signer.sign(&raw)), Some(old.clone()));
        assert_eq!(old.encode(&signer), signer.sign(&raw));
        raw.push(b'x');
        assert_eq!(ShardIterator::decode(&signer, &signer.sign(&raw)), None, "a name needs version 2");
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
