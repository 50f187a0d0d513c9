//! SplitShard: one open shard becomes two children at NewStartingHashKey.

use kinesin_wire::{ApiError, Value};

use crate::hashing::parse_hash_key;
use crate::lookup::{find_shard, requested_shard, requested_stream_name, shard_id, MissingShard};
use crate::model::Reshard;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn split_shard(&self, ctx: &RequestContext, input: &Value) -> Result<Value, ApiError> {
        // The shard id is read before the stream is looked up (docs/protocol/corners.md, "Which
        // check comes first").
        let sent = input.str("ShardToSplit").unwrap_or_default();
        let index = requested_shard(sent, requested_stream_name(input), &ctx.account)?;
        let _guard = self.control_lock().await;
        let stream = self.resolve_stream(ctx, input)?;
        let shard = find_shard(&stream, index, MissingShard::CouldNotFind)?;
        let requested = input.str("NewStartingHashKey").unwrap_or_default();
        let (start, end) = shard.hash_range();
        // AWS requires start + 1 < key < end.
        match parse_hash_key(requested) {
            Some(key) if key > start.saturating_add(1) && key < end => {}
            _ => {
                return Err(ApiError::invalid_argument(format!(
                    "NewStartingHashKey {requested} used in SplitShard() on shard {} in stream {} under account {} \
                     is not both greater than one plus the shard's StartingHashKey {start} and less than the \
                     shard's EndingHashKey {end}.",
                    shard_id(shard.index),
                    stream.name,
                    stream.account
                )))
            }
        }
        let change = Reshard::Split { shard: shard.index, new_starting_hash_key: requested.to_owned() };
        self.request_reshard(ctx, &stream, &[shard.index], 1, change).await?;
        Ok(Value::Null)
    }
}
