//! DescribeStream and DescribeStreamSummary.

use kinesin_wire::{ApiError, Value};

use crate::lookup::parse_shard_id;
use crate::operations::warm_throughput::warm_throughput;
use crate::render;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

/// AWS returns at most 100 shards per DescribeStream call, whatever Limit says.
const MAX_SHARDS_PER_CALL: usize = 100;

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) fn describe_stream(&self, ctx: &RequestContext, input: &Value) -> Result<Value, ApiError> {
        let stream = self.resolve_stream(ctx, input)?;
        let limit = input.int("Limit").map_or(MAX_SHARDS_PER_CALL, |l| (l as usize).min(MAX_SHARDS_PER_CALL));
        // Shards after ExclusiveStartShardId, read like every shard id (aliases too); an id that
        // does not read starts from the beginning.
        let after = input.str("ExclusiveStartShardId").and_then(parse_shard_id);
        let mut shards = stream.live_shards_after(self.now_ms(), after);
        let page: Vec<Value> = shards.by_ref().take(limit).map(render::shard).collect();
        let has_more = shards.next().is_some();
        let description = Value::object()
            .with("StreamName", &stream.name)
            .with("StreamARN", stream.arn())
            .with("StreamStatus", stream.status.as_str())
            .with("StreamModeDetails", render::stream_mode_details(&stream))
            .with("Shards", page)
            .with("HasMoreShards", has_more)
            .with("RetentionPeriodHours", stream.retention_hours)
            .with("StreamCreationTimestamp", Value::Timestamp(stream.created_ms))
            .with("EnhancedMonitoring", render::enhanced_monitoring(&stream))
            .with("EncryptionType", render::encryption_type(&stream))
            .with_opt("KeyId", stream.encryption_key_id.as_ref());
        Ok(Value::object().with("StreamDescription", description))
    }

    /// Never reports `StreamId`: SDK endpoint rules would then send calls to AWS
    /// (`docs/protocol/operations.md`, "Endpoint resolution: never return StreamId").
    pub(crate) fn describe_stream_summary(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let stream = self.resolve_stream(ctx, input)?;
        let summary = Value::object()
            .with("StreamName", &stream.name)
            .with("StreamARN", stream.arn())
            .with("StreamStatus", stream.status.as_str())
            .with("StreamModeDetails", render::stream_mode_details(&stream))
            .with("RetentionPeriodHours", stream.retention_hours)
            .with("StreamCreationTimestamp", Value::Timestamp(stream.created_ms))
            .with("EnhancedMonitoring", render::enhanced_monitoring(&stream))
            .with("EncryptionType", render::encryption_type(&stream))
            .with_opt("KeyId", stream.encryption_key_id.as_ref())
            .with(
                "OpenShardCount",
                stream.visible_shards().iter().filter(|s| s.closed_at_seq_ix.is_none()).count(),
            )
            .with("ConsumerCount", stream.consumers.len())
            .with("MaxRecordSizeInKiB", stream.max_record_size_kib)
            .with_opt("WarmThroughput", warm_throughput(&stream));
        Ok(Value::object().with("StreamDescriptionSummary", summary))
    }
}
