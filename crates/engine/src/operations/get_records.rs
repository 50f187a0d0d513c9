//! GetRecords: reads from an iterator's position, and hands out the next iterator.

use std::time::Instant;

use kinesin_wire::iterator::ShardIterator;
use kinesin_wire::{ApiError, Value};

use crate::errors::{self, aws_date, invalid_shard_iterator};
use crate::model::{ShardMeta, StreamMeta};
use crate::operations::check_dry_run;
use crate::render;
use crate::shard_reader::{read_shard, ShardRead};
use crate::storage::{Catalog, Position, ShardLog};
use crate::stream_metrics::StreamMetrics;
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
        // Once the stream is gone (even if one of the same name was created since), the shard
        // is reported missing in the stream the iterator names (docs/protocol/corners.md,
        // "GetRecords after the stream is gone").
        let gone = || {
            let name = iterator.stream_name.as_deref().unwrap_or("of this iterator");
            errors::shard_not_found(iterator.shard_index, name, &ctx.account)
        };
        let stream = self
            .registry()
            .by_id(iterator.stream_id)
            .filter(|s| s.account == ctx.account && s.region == ctx.region)
            .cloned()
            .ok_or_else(gone)?;
        let shard = stream.shard(iterator.shard_index).ok_or_else(gone)?;
        check_dry_run(input)?;
        let started = Instant::now();
        let result = self.read_records(&stream, shard, &iterator, input, now).await;
        let outcome = result.as_ref().ok().map(|(_, records, bytes)| (*records, *bytes));
        stream.metrics.get_records.record(outcome, started.elapsed());
        result.map(|(response, _, _)| response)
    }

    /// GetRecords once the iterator and its shard are known: the answer, and the records and
    /// bytes it carries (for the stream's figures).
    async fn read_records(
        &self,
        stream: &StreamMeta,
        shard: &ShardMeta,
        iterator: &ShardIterator,
        input: &Value,
        now: i64,
    ) -> Result<(Value, u64, u64), ApiError> {
        if self.config.enforce_limits {
            self.throttle.admit_read(stream, shard.index, now).inspect_err(|_| {
                StreamMetrics::add(&stream.metrics.read_throttled, 1);
                if stream.shard_level() {
                    StreamMetrics::add(&stream.metrics.shard(shard.index).read_throttled, 1);
                }
            })?;
        }

        let limit = input.int("Limit").map_or(MAX_RECORDS, |l| (l as usize).min(MAX_RECORDS));
        let from = Position { seq_ix: iterator.seq_ix, hint: iterator.hint };
        let read = read_shard(&*self.log, stream, shard, from, limit, MAX_BYTES, now)
            .await
            .map_err(Self::store_failure)?;
        let bytes = read.bytes();
        if self.config.enforce_limits {
            self.throttle.charge_read(stream, shard.index, bytes, now);
        }
        count_read(stream, shard, &read, bytes as u64, now);
        let records: Vec<Value> = read.records.iter().map(|r| render::record(shard, r)).collect();
        let mut response = Value::object().with("Records", records);
        if read.at_shard_end {
            // The end of a closed shard: no next iterator, and the children to read next.
            response.set("MillisBehindLatest", 0i64);
            response.set("ChildShards", render::child_shards(stream, shard));
        } else {
            let next = ShardIterator {
                stream_id: stream.id,
                stream_name: Some(stream.name.clone()),
                shard_index: shard.index,
                seq_ix: read.next.seq_ix,
                hint: read.next.hint,
                issued_ms: now,
            };
            response.set("NextShardIterator", next.encode(&self.signer));
            response.set("MillisBehindLatest", read.millis_behind);
        }
        let response = response.with_opt(
            "EncryptionType",
            stream.encryption_key_id.as_ref().map(|_| render::encryption_type(stream)),
        );
        Ok((response, read.records.len() as u64, bytes as u64))
    }
}

/// The age of the reader's position (the last record returned, else how far behind it is) and,
/// with enhanced monitoring, the shard's outgoing figures.
fn count_read(stream: &StreamMeta, shard: &ShardMeta, read: &ShardRead, bytes: u64, now: i64) {
    let age = match read.records.last() {
        Some(last) => (now - last.arrival_ms).max(0) as u64,
        None => read.millis_behind.max(0) as u64,
    };
    stream.metrics.iterator_age_ms.record(age);
    if stream.shard_level() {
        let figures = stream.metrics.shard(shard.index);
        StreamMetrics::add(&figures.outgoing_records, read.records.len() as u64);
        StreamMetrics::add(&figures.outgoing_bytes, bytes);
        figures.iterator_age_ms.record(age);
    }
}
