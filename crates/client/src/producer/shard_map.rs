//! The producer's picture of the stream's shards, from ListShards: which open shard owns a hash
//! key, and the hash range of any shard, open or closed (docs/client.md, "Resharding").

use std::collections::HashMap;
use std::ops::RangeInclusive;

use aws_sdk_kinesis::types::{HashKeyRange, Shard};
use aws_sdk_kinesis::Client;

use crate::hash_key;
use crate::list_shards::list_shards;

#[derive(Debug, Default)]
pub struct ShardMap {
    /// The open shards, sorted by their first hash key; together they cover the key space.
    open: Vec<(RangeInclusive<u128>, String)>,
    /// Every listed shard's range, closed ones included.
    ranges: HashMap<String, RangeInclusive<u128>>,
}

impl ShardMap {
    /// Lists every shard of the stream (closed ones too, for their ranges).
    pub async fn load(client: &Client, stream: &str) -> Result<ShardMap, String> {
        ShardMap::from_shards(&list_shards(client, stream).await?)
    }

    pub fn from_shards(shards: &[Shard]) -> Result<ShardMap, String> {
        let mut map = ShardMap::default();
        for shard in shards {
            let range = shard.hash_key_range.as_ref();
            let bound = |key: fn(&HashKeyRange) -> &str| range.map(key).and_then(hash_key::parse);
            let (Some(start), Some(end)) =
                (bound(HashKeyRange::starting_hash_key), bound(HashKeyRange::ending_hash_key))
            else {
                return Err(format!("shard {} has an unreadable hash key range", shard.shard_id));
            };
            map.ranges.insert(shard.shard_id.clone(), start..=end);
            let closed =
                shard.sequence_number_range.as_ref().is_some_and(|r| r.ending_sequence_number.is_some());
            if !closed {
                map.open.push((start..=end, shard.shard_id.clone()));
            }
        }
        if map.open.is_empty() {
            return Err("the stream has no open shard".to_owned());
        }
        map.open.sort_by_key(|(range, _)| *range.start());
        Ok(map)
    }

    /// The open shard a record with this hash key goes to, as far as this map knows.
    pub fn route(&self, hash_key: u128) -> &str {
        let after = self.open.partition_point(|(range, _)| *range.start() <= hash_key);
        // The first open range starts at 0, so `after` is at least 1.
        &self.open[after.saturating_sub(1)].1
    }

    pub fn range_of(&self, shard_id: &str) -> Option<&RangeInclusive<u128>> {
        self.ranges.get(shard_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kinesis::types::SequenceNumberRange;

    fn shard(id: &str, start: u128, end: u128, closed: bool) -> Shard {
        Shard::builder()
            .shard_id(id)
            .hash_key_range(
                HashKeyRange::builder()
                    .starting_hash_key(start.to_string())
                    .ending_hash_key(end.to_string())
                    .build()
                    .unwrap(),
            )
            .sequence_number_range(
                SequenceNumberRange::builder()
                    .starting_sequence_number("1")
                    .set_ending_sequence_number(closed.then(|| "2".to_owned()))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn routes_to_the_open_shard_owning_the_key() {
        let half = u128::MAX / 2;
        let map = ShardMap::from_shards(&[
            shard("shardId-000000000000", 0, u128::MAX, true),
            shard("shardId-000000000002", half + 1, u128::MAX, false),
            shard("shardId-000000000001", 0, half, false),
        ])
        .unwrap();
        assert_eq!(map.route(0), "shardId-000000000001");
        assert_eq!(map.route(half), "shardId-000000000001");
        assert_eq!(map.route(half + 1), "shardId-000000000002");
        assert_eq!(map.route(u128::MAX), "shardId-000000000002");
        assert_eq!(map.range_of("shardId-000000000000"), Some(&(0..=u128::MAX)));
    }

    #[test]
    fn a_stream_without_open_shards_has_no_map() {
        assert!(ShardMap::from_shards(&[shard("shardId-000000000000", 0, u128::MAX, true)]).is_err());
    }
}
