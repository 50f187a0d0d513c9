//! UpdateShardCount: UNIFORM_SCALING of the open shards to TargetShardCount.

use kinesin_wire::{ApiError, Value};

use crate::model::Reshard;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

/// AWS's ceiling on TargetShardCount.
const MAX_TARGET: u32 = 10_000;

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn update_shard_count(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let stream = self.resolve_stream(ctx, input)?;
        let target = input.int("TargetShardCount").unwrap_or_default().clamp(0, i64::from(u32::MAX)) as u32;
        let current = stream.open_shards().count() as u32;
        let too_many = |why: &str| {
            ApiError::limit_exceeded(format!(
                "{why}. Current open shard count: {current}, Target shard count: {target}"
            ))
        };
        if target > MAX_TARGET || target > self.config.shard_limit {
            let limit = MAX_TARGET.min(self.config.shard_limit);
            return Err(too_many(&format!(
                "Target shard count or number of open shards cannot be greater than {limit}"
            )));
        }
        if target > current * 2 {
            return Err(too_many(
                "UpdateShardCount cannot scale up over double your current open shard count",
            ));
        }
        if target * 2 < current {
            return Err(too_many(
                "UpdateShardCount cannot scale down below half your current open shard count",
            ));
        }
        let added = target.saturating_sub(current);
        self.request_reshard(ctx, &stream, &[], added, Reshard::Scale { target }).await?;
        Ok(Value::object()
            .with("StreamName", &stream.name)
            .with("CurrentShardCount", current)
            .with("TargetShardCount", target)
            .with("StreamARN", stream.arn()))
    }
}
