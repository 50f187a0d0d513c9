//! GetRecords: reads from an iterator's position, and hands out the next iterator.

use kinesin_wire::iterator::ShardIterator;
use kinesin_wire::{ApiError, Value};

use crate::errors::{aws_date, invalid_shard_iterator};
use crate::lookup::shard_id;
use crate::model::ShardMeta;
use crate::operations::check_dry_run;
use crate::render::{self, sequence_number};
use crate::storage::{Catalog, Position, ShardKey, ShardLog, StoredRecord};
use crate::{Engine, RequestContext};

/// An iterator is good for five minutes after it was issued.
const ITERATOR_LIFETIME_MS: i64 = 300_000;
/// At most this many records per call.
const MAX_RECORDS: usize = 10_000;
/// At most this much data per call.
const MAX_BYTES: usize = 10 * 1024 * 1024;

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn get_records(&self, ctx: &RequestContext, input: &Value) -> Result<Value, ApiError> {
        let token = input.str("ShardIterator").unwrap_or_default();
        let iterator = ShardIterator::decode(&self.signer, token).ok_or_else(invalid_shard_iterator)?;
        let now = self.now_ms();
        if now - iterator.issued_ms > ITERATOR_LIFETIME_MS {
            return Err(ApiError::expired_iterator(format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} which is further \
                 in the future than the tolerated delay of {ITERATOR_LIFETIME_MS} milliseconds.",
                aws_date(iterator.issued_ms),
                aws_date(now)
            )));
        }
        let stream = self
            .registry()
            .by_id(iterator.stream_id)
            .filter(|s| s.account == ctx.account && s.region == ctx.region)
            .cloned()
            .ok_or_else(|| {
                ApiError::resource_not_found(format!(
                    "Shard {} in stream of this iterator under account {} does not exist",
                    shard_id(iterator.shard_index),
                    ctx.account
                ))
            })?;
        let shard = stream
            .shards
            .iter()
            .find(|s| s.index == iterator.shard_index)
            .ok_or_else(invalid_shard_iterator)?;
        check_dry_run(input)?;
        if self.config.enforce_limits {
            self.throttle.admit_read(&stream, shard.index, now)?;
        }

        let key = ShardKey { stream_id: stream.id, shard_index: shard.index };
        let limit = input.int("Limit").map_or(MAX_RECORDS, |l| (l as usize).min(MAX_RECORDS));
        let trim_horizon = now - i64::from(stream.retention_hours) * 3_600_000;
        let mut from = Position { seq_ix: iterator.seq_ix, hint: iterator.hint };
        if let Some(end) = shard.closed_at_seq_ix {
            // An iterator from a closed shard's EndingSequenceNumber points past its end.
            if from.seq_ix > end {
                from = Position { seq_ix: end, hint: 0 };
            }
        }
        let mut batch = self.log.read(key, from, limit, MAX_BYTES).await.map_err(Self::store_failure)?;
        if batch.records.first().is_some_and(|r| r.arrival_ms < trim_horizon) {
            // The iterator points into expired data: continue from the trim horizon instead.
            let horizon = self.log.seek_time(key, trim_horizon).await.map_err(Self::store_failure)?;
            let from = if horizon.seq_ix > from.seq_ix { horizon } else { from };
            batch = self.log.read(key, from, limit, MAX_BYTES).await.map_err(Self::store_failure)?;
            batch.records.retain(|r| r.arrival_ms >= trim_horizon);
        }
        if self.config.enforce_limits {
            let bytes = batch.records.iter().map(|r| r.partition_key.len() + r.data.len()).sum();
            self.throttle.charge_read(&stream, shard.index, bytes, now);
        }
        let tip = self.log.tip(key).map_err(Self::store_failure)?;
        let millis_behind =
            match (batch.next.seq_ix >= tip.next_seq_ix, batch.records.last(), tip.last_arrival_ms) {
                (false, Some(last), Some(newest)) => (newest - last.arrival_ms).max(0),
                _ => 0,
            };
        let records: Vec<Value> = batch.records.iter().map(|r| record(shard, r)).collect();
        let mut response = Value::object().with("Records", records);
        match shard.closed_at_seq_ix {
            // The end of a closed shard: no next iterator, and the children to read next.
            Some(end) if batch.next.seq_ix >= end => {
                response.set("MillisBehindLatest", 0i64);
                response.set("ChildShards", render::child_shards(&stream, shard));
            }
            _ => {
                let next = ShardIterator {
                    stream_id: stream.id,
                    shard_index: shard.index,
                    seq_ix: batch.next.seq_ix,
                    hint: batch.next.hint,
                    issued_ms: now,
                };
                response.set("NextShardIterator", next.encode(&self.signer));
                response.set("MillisBehindLatest", millis_behind);
            }
        }
        Ok(response.with_opt(
            "EncryptionType",
            stream.encryption_key_id.as_ref().map(|_| render::encryption_type(&stream)),
        ))
    }
}

fn record(shard: &ShardMeta, r: &StoredRecord) -> Value {
    Value::object()
        .with("SequenceNumber", sequence_number(shard, r.seq_ix, r.arrival_ms))
        .with("ApproximateArrivalTimestamp", Value::Timestamp(r.arrival_ms))
        .with("Data", r.data.clone())
        .with("PartitionKey", &r.partition_key)
}
