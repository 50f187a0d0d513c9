//! AWS's rate limits, enforced only with `--enforce-limits`: per-shard write and read
//! throughput, and the control-plane call rates (`docs/protocol/operations.md`, "Call rates"
//! and "Throttling").
//!
//! Every limit is a token bucket refilled continuously. Write buckets hold a burst (AWS
//! absorbs up to 10 MiB records on a 1 MiB/s shard); the read-bytes bucket may go into debt,
//! so a call that returned 10 MiB makes the next calls wait about five seconds, as AWS does.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use kinesin_wire::{ApiError, Operation};

use crate::lookup::shard_id;
use crate::model::StreamMeta;
use crate::storage::ShardKey;
use crate::RequestContext;

const MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Clone, Copy)]
struct Rate {
    per_sec: f64,
    burst: f64,
}

const WRITE_RECORDS: Rate = Rate { per_sec: 1000.0, burst: 1000.0 };
const WRITE_BYTES: Rate = Rate { per_sec: MIB, burst: 10.0 * MIB };
const READ_CALLS: Rate = Rate { per_sec: 5.0, burst: 5.0 };
const READ_BYTES: Rate = Rate { per_sec: 2.0 * MIB, burst: 10.0 * MIB };
const ITERATOR_CALLS: Rate = Rate { per_sec: 5.0, burst: 5.0 };

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

/// Token buckets by key.
#[derive(Debug)]
struct Buckets<K> {
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq> Default for Buckets<K> {
    fn default() -> Self {
        Buckets { buckets: Mutex::new(HashMap::new()) }
    }
}

impl<K: Hash + Eq> Buckets<K> {
    /// Runs `f` on the refilled bucket; `f` returns whether to allow and how much to take.
    fn with<T>(&self, key: K, rate: Rate, now_ms: i64, f: impl FnOnce(&mut f64) -> T) -> T {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: rate.burst, at_ms: now_ms });
        let elapsed = (now_ms - bucket.at_ms).max(0) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * rate.per_sec).min(rate.burst);
        bucket.at_ms = now_ms;
        f(&mut bucket.tokens)
    }

    /// Takes `amount` if the bucket holds it.
    fn take(&self, key: K, rate: Rate, now_ms: i64, amount: f64) -> bool {
        self.with(key, rate, now_ms, |tokens| {
            let ok = *tokens >= amount;
            if ok {
                *tokens -= amount;
            }
            ok
        })
    }
}

/// The control-plane rate of an operation, and whether it counts per stream (else per account).
fn control_rate(op: Operation) -> Option<(f64, bool)> {
    use Operation as Op;
    Some(match op {
        Op::AddTagsToStream
        | Op::RemoveTagsFromStream
        | Op::ListTagsForStream
        | Op::CreateStream
        | Op::DeleteStream
        | Op::MergeShards
        | Op::SplitShard
        | Op::ListStreams
        | Op::RegisterStreamConsumer
        | Op::DescribeAccountSettings
        | Op::UpdateAccountSettings
        | Op::UpdateStreamWarmThroughput => (5.0, false),
        Op::DeregisterStreamConsumer | Op::ListStreamConsumers => (5.0, true),
        Op::DescribeStreamConsumer => (20.0, true),
        Op::DescribeStream => (10.0, false),
        Op::DescribeStreamSummary => (20.0, false),
        Op::DescribeLimits => (1.0, false),
        Op::ListShards => (1000.0, true),
        Op::UpdateShardCount => (10.0, false),
        _ => return None,
    })
}

/// Every limit's current state.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    writes: Buckets<(ShardKey, bool)>,
    read_calls: Buckets<ShardKey>,
    read_bytes: Buckets<ShardKey>,
    iterator_calls: Buckets<ShardKey>,
    control: Buckets<(String, String, Operation, Option<String>)>,
}

fn shard_rate_exceeded(stream: &StreamMeta, shard: u32) -> ApiError {
    ApiError::new(
        "ProvisionedThroughputExceededException",
        format!(
            "Rate exceeded for shard {} in stream {} under account {}.",
            shard_id(shard),
            stream.name,
            stream.account
        ),
    )
}

impl Throttle {
    /// Admits one record of `bytes` to a shard, or says why not.
    pub(crate) fn admit_write(
        &self,
        stream: &StreamMeta,
        shard: u32,
        bytes: usize,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let key = ShardKey { stream_id: stream.id, shard_index: shard };
        // Check both before taking either, so a refused record costs nothing.
        let has = |bucket: bool, rate: Rate, amount: f64| {
            self.writes.with((key, bucket), rate, now_ms, |t| *t >= amount)
        };
        if has(false, WRITE_RECORDS, 1.0) && has(true, WRITE_BYTES, bytes as f64) {
            self.writes.take((key, false), WRITE_RECORDS, now_ms, 1.0);
            self.writes.take((key, true), WRITE_BYTES, now_ms, bytes as f64);
            return Ok(());
        }
        Err(shard_rate_exceeded(stream, shard))
    }

    /// Admits a GetRecords call: five per second per shard, and no read-bytes debt.
    pub(crate) fn admit_read(&self, stream: &StreamMeta, shard: u32, now_ms: i64) -> Result<(), ApiError> {
        let key = ShardKey { stream_id: stream.id, shard_index: shard };
        let in_debt = self.read_bytes.with(key, READ_BYTES, now_ms, |t| *t <= 0.0);
        if in_debt || !self.read_calls.take(key, READ_CALLS, now_ms, 1.0) {
            return Err(shard_rate_exceeded(stream, shard));
        }
        Ok(())
    }

    /// Charges the bytes a GetRecords call returned.
    pub(crate) fn charge_read(&self, stream: &StreamMeta, shard: u32, bytes: usize, now_ms: i64) {
        let key = ShardKey { stream_id: stream.id, shard_index: shard };
        self.read_bytes.with(key, READ_BYTES, now_ms, |t| *t -= bytes as f64);
    }

    pub(crate) fn admit_iterator(
        &self,
        stream: &StreamMeta,
        shard: u32,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let key = ShardKey { stream_id: stream.id, shard_index: shard };
        if self.iterator_calls.take(key, ITERATOR_CALLS, now_ms, 1.0) {
            Ok(())
        } else {
            Err(shard_rate_exceeded(stream, shard))
        }
    }

    /// Admits a control-plane call by its operation's rate for the account (or per stream).
    pub(crate) fn admit_control(
        &self,
        ctx: &RequestContext,
        op: Operation,
        stream: Option<&str>,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let Some((per_sec, per_stream)) = control_rate(op) else { return Ok(()) };
        let scope = if per_stream { stream.map(str::to_owned) } else { None };
        let key = (ctx.account.clone(), ctx.region.clone(), op, scope);
        if self.control.take(key, Rate { per_sec, burst: per_sec }, now_ms, 1.0) {
            return Ok(());
        }
        Err(ApiError::limit_exceeded(format!("Rate exceeded for {} in account {}.", op.name(), ctx.account)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_allow_the_burst_then_the_rate() {
        let buckets: Buckets<u8> = Buckets::default();
        let rate = Rate { per_sec: 5.0, burst: 5.0 };
        assert_eq!((0..7).filter(|_| buckets.take(0, rate, 1_000, 1.0)).count(), 5);
        assert!(!buckets.take(0, rate, 1_100, 1.0), "100 ms refill half a token");
        assert!(buckets.take(0, rate, 1_200, 1.0), "200 ms refill one token");
        assert_eq!(
            (0..10).filter(|_| buckets.take(0, rate, 60_000, 1.0)).count(),
            5,
            "never above the burst"
        );
    }
}
