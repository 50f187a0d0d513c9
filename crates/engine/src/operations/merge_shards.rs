//! MergeShards: two adjacent open shards become one child.

use kinesin_wire::{ApiError, Value};

use crate::lookup::{find_shard, shard_id};
use crate::model::Reshard;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn merge_shards(&self, ctx: &RequestContext, input: &Value) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let stream = self.resolve_stream(ctx, input)?;
        let shard = find_shard(&stream, input.str("ShardToMerge").unwrap_or_default())?;
        let adjacent = find_shard(&stream, input.str("AdjacentShardToMerge").unwrap_or_default())?;
        let ((a_start, a_end), (b_start, b_end)) = (shard.hash_range(), adjacent.hash_range());
        let touching = a_end.checked_add(1) == Some(b_start) || b_end.checked_add(1) == Some(a_start);
        if !touching {
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
