//! GetShardIterator: resolves a starting position to a signed iterator.

use kinesin_wire::iterator::ShardIterator;
use kinesin_wire::seqnum::SequenceNumber;
use kinesin_wire::{ApiError, Value};

use crate::lookup::{find_shard, shard_id};
use crate::model::{ShardMeta, StreamMeta};
use crate::operations::check_dry_run;
use crate::storage::{Catalog, Position, ShardKey, ShardLog};
use crate::{Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn get_shard_iterator(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let stream = self.resolve_stream(ctx, input)?;
        let shard = find_shard(&stream, input.str("ShardId").unwrap_or_default())?;
        if self.config.enforce_limits {
            self.throttle.admit_iterator(&stream, shard.index, self.now_ms())?;
        }
        let kind = input.str("ShardIteratorType").unwrap_or_default();
        let sequence = input.str("StartingSequenceNumber");
        let key = ShardKey { stream_id: stream.id, shard_index: shard.index };
        let now = self.now_ms();
        let trim_horizon = now - i64::from(stream.retention_hours) * 3_600_000;
        let position = match (kind, sequence) {
            ("TRIM_HORIZON" | "LATEST", Some(_)) => {
                return Err(ApiError::invalid_argument(format!(
                    "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber \
                     or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {kind} and also a \
                     StartingSequenceNumber."
                )))
            }
            ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", None) => {
                return Err(ApiError::invalid_argument(format!(
                    "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber \
                     or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {kind} and no \
                     StartingSequenceNumber."
                )))
            }
            ("TRIM_HORIZON", None) => self.log.seek_time(key, trim_horizon).await.map_err(Self::store_failure)?,
            ("LATEST", None) => {
                let tip = self.log.tip(key).map_err(Self::store_failure)?;
                Position { seq_ix: tip.next_seq_ix, hint: 0 }
            }
            (_, Some(seq)) => {
                let seq_ix = sequence_position(&stream, shard, seq)?;
                let seq_ix = if kind == "AFTER_SEQUENCE_NUMBER" { seq_ix.saturating_add(1) } else { seq_ix };
                Position { seq_ix, hint: 0 }
            }
            (_, None) => {
                // AT_TIMESTAMP
                let at = input.timestamp("Timestamp").ok_or_else(|| {
                    ApiError::invalid_argument(
                        "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request \
                         has no timestamp parameter.",
                    )
                })?;
                if at > now {
                    return Err(ApiError::invalid_argument(format!(
                        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. \
                         timestampInMillis: {at}, currentTimestampInMillis: {now}"
                    )));
                }
                self.log.seek_time(key, at.max(trim_horizon)).await.map_err(Self::store_failure)?
            }
        };
        check_dry_run(input)?;
        let iterator = ShardIterator {
            stream_id: stream.id,
            shard_index: shard.index,
            seq_ix: position.seq_ix,
            hint: position.hint,
            issued_ms: now,
        };
        Ok(Value::object().with("ShardIterator", iterator.encode(&self.signer)))
    }
}

/// The `seq_ix` a client-supplied sequence number names, if it belongs to this shard.
fn sequence_position(stream: &StreamMeta, shard: &ShardMeta, text: &str) -> Result<u64, ApiError> {
    let id = shard_id(shard.index);
    let parsed = SequenceNumber::parse(text).map_err(|_| {
        ApiError::invalid_argument(format!(
            "StartingSequenceNumber {text} used in GetShardIterator on shard {id} in stream {} under account {} \
             is invalid.",
            stream.name, stream.account
        ))
    })?;
    if parsed.shard_index != shard.index {
        return Err(ApiError::invalid_argument(format!(
            "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {id}",
            shard_id(parsed.shard_index)
        )));
    }
    if parsed.shard_created_secs != (shard.created_ms / 1000) as u64 {
        return Err(ApiError::invalid_argument(format!(
            "StartingSequenceNumber {text} used in GetShardIterator on shard {id} in stream {} under account {} \
             is invalid because it did not come from this stream.",
            stream.name, stream.account
        )));
    }
    Ok(parsed.seq_ix)
}
