//! MergeShards: two adjacent open shards become one child.

use kinesin_wire::{ApiError, Value};

use crate::lookup::{find_shard, requested_shard, requested_stream_name, shard_id, MissingShard};
use crate::model::Reshard;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn merge_shards(&self, ctx: &RequestContext, input: &Value) -> Result<Value, ApiError> {
        // Both ids are read before the stream is looked up, ShardToMerge first
        // (docs/protocol/corners.md, "Which check comes first").
        let stream_name = requested_stream_name(input);
        let requested =
            |member| requested_shard(input.str(member).unwrap_or_default(), stream_name, &ctx.account);
        let (index, adjacent_index) = (requested("ShardToMerge")?, requested("AdjacentShardToMerge")?);
        let _guard = self.control_lock().await;
        let stream = self.resolve_stream(ctx, input)?;
        let shard = find_shard(&stream, index, MissingShard::CouldNotFind)?;
        let adjacent = find_shard(&stream, adjacent_index, MissingShard::CouldNotFind)?;
        // The adjacent shard is the one just above: the reversed pair is refused
        // (docs/protocol/corners.md, "MergeShards: the adjacent shard is the one above").
        if shard.ending_hash_key.checked_add(1) != Some(adjacent.starting_hash_key) {
            return Err(ApiError::invalid_argument(format!(
                "Shards {} and {} in stream {} under account {} are not an adjacent pair of shards eligible for merging",
                shard_id(shard.index),
                shard_id(adjacent.index),
                stream.name,
                stream.account
            )));
        }
        let change = Reshard::Merge { shard: shard.index, adjacent: adjacent.index };
        self.request_reshard(ctx, &stream, &[shard.index, adjacent.index], 0, change).await?;
        Ok(Value::Null)
    }
}
