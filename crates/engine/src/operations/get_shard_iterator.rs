//! GetShardIterator: resolves a starting position to a signed iterator.

use kinesin_wire::iterator::ShardIterator;
use kinesin_wire::{ApiError, Value};

use crate::errors;
use crate::lookup::{find_shard, requested_shard, requested_stream_name, MissingShard};
use crate::operations::check_dry_run;
use crate::starting_position::StartingPosition;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn get_shard_iterator(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        // The shard id is read before the stream is looked up, and a missing stream is
        // reported as a missing shard (docs/protocol/corners.md, "Which check comes first").
        let sent = input.str("ShardId").unwrap_or_default();
        let index = requested_shard(sent, requested_stream_name(input), &ctx.account)?;
        let stream = self
            .resolve_stream_or(ctx, input, |name, account| errors::shard_not_found(index, name, account))?;
        let shard = find_shard(&stream, index, MissingShard::DoesNotExist)?;
        if self.config.enforce_limits {
            self.throttle.admit_iterator(&stream, shard.index, self.now_ms())?;
        }
        let start = StartingPosition {
            kind: input.str("ShardIteratorType").unwrap_or_default(),
            sequence_number: input.str("StartingSequenceNumber"),
            timestamp: input.timestamp("Timestamp"),
            operation: "GetShardIterator",
        };
        let position = self.resolve_start(&stream, shard, start).await?;
        check_dry_run(input)?;
        let iterator = ShardIterator {
            stream_id: stream.id,
            stream_name: Some(stream.name.clone()),
            shard_index: shard.index,
            seq_ix: position.seq_ix,
            hint: position.hint,
            issued_ms: self.now_ms(),
        };
        Ok(Value::object().with("ShardIterator", iterator.encode(&self.signer)))
    }
}
