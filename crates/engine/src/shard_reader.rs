//! Reading a shard from a position, as GetRecords and SubscribeToShard both do: records past the
//! retention period are skipped, a read never passes a closed shard's end, and the reader learns
//! how far behind the shard's newest record it is.

use crate::model::{ShardMeta, StreamMeta};
use crate::storage::{Position, ShardKey, ShardLog, StoreError, StoredRecord};

/// What one read returned.
#[derive(Debug)]
pub(crate) struct ShardRead {
    pub records: Vec<StoredRecord>,
    /// Where the next read continues.
    pub next: Position,
    /// Arrival-time distance from the last record read to the newest one in the shard; 0 once
    /// the reader has caught up.
    pub millis_behind: i64,
    /// The shard is closed and this read reached its end: there is nothing more to read here.
    pub at_shard_end: bool,
}

impl ShardRead {
    /// The records' size as Kinesis counts it: partition keys and data.
    pub fn bytes(&self) -> usize {
        self.records.iter().map(|r| r.partition_key.len() + r.data.len()).sum()
    }
}

/// Reads at most `max_records` records / `max_bytes` of data from `from`.
pub(crate) async fn read_shard<L: ShardLog>(
    log: &L,
    stream: &StreamMeta,
    shard: &ShardMeta,
    from: Position,
    max_records: usize,
    max_bytes: usize,
    now_ms: i64,
) -> Result<ShardRead, StoreError> {
    let key = ShardKey { stream_id: stream.id, shard_index: shard.index };
    let trim_horizon = now_ms - i64::from(stream.retention_hours) * 3_600_000;
    let mut from = from;
    if let Some(end) = shard.closed_at_seq_ix {
        // A position from a closed shard's EndingSequenceNumber points past its end.
        if from.seq_ix > end {
            from = Position { seq_ix: end, hint: 0 };
        }
    }
    let mut batch = log.read(key, from, max_records, max_bytes).await?;
    if batch.records.first().is_some_and(|r| r.arrival_ms < trim_horizon) {
        // The position points into expired data: continue from the trim horizon instead.
        let horizon = log.seek_time(key, trim_horizon).await?;
        let from = if horizon.seq_ix > from.seq_ix { horizon } else { from };
        batch = log.read(key, from, max_records, max_bytes).await?;
        batch.records.retain(|r| r.arrival_ms >= trim_horizon);
    }
    let tip = log.tip(key).await?;
    let millis_behind =
        match (batch.next.seq_ix >= tip.next_seq_ix, batch.records.last(), tip.last_arrival_ms) {
            (false, Some(last), Some(newest)) => (newest - last.arrival_ms).max(0),
            _ => 0,
        };
    let at_shard_end = shard.closed_at_seq_ix.is_some_and(|end| batch.next.seq_ix >= end);
    Ok(ShardRead { records: batch.records, next: batch.next, millis_behind, at_shard_end })
}
