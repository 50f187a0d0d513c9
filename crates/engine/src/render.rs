//! Building the response shapes shared by several operations (Shard, stream descriptions).

use kinesin_wire::seqnum::{SequenceNumber, SequenceText};
use kinesin_wire::Value;

use crate::lookup::shard_id;
use crate::model::{ShardMeta, StreamMeta};
use crate::storage::StoredRecord;

/// The sequence index of a closed shard's EndingSequenceNumber.
pub const CLOSED_SHARD_END_SEQ_IX: u64 = 0x7fff_ffff_ffff_ffff;

/// The sequence number of record `seq_ix` of `shard`, which arrived at `arrival_ms`.
pub fn sequence_number(shard: &ShardMeta, seq_ix: u64, arrival_ms: i64) -> String {
    sequence(shard, seq_ix, arrival_ms).encode()
}

/// The sequence numbers of `count` records appended to `shard` together, from `first_seq_ix`
/// on.
pub fn sequence_numbers(
    shard: &ShardMeta,
    first_seq_ix: u64,
    arrival_ms: i64,
    count: usize,
) -> impl Iterator<Item = SequenceText> {
    sequence(shard, first_seq_ix, arrival_ms).encode_run(count)
}

fn sequence(shard: &ShardMeta, seq_ix: u64, arrival_ms: i64) -> SequenceNumber {
    SequenceNumber {
        shard_created_secs: (shard.created_ms / 1000) as u64,
        seq_ix,
        arrival_secs: (arrival_ms.max(0) / 1000) as u64,
        shard_index: shard.index,
    }
}

/// The `Record` shape of GetRecords and SubscribeToShard events.
pub fn record(shard: &ShardMeta, r: &StoredRecord) -> Value {
    Value::object()
        .with("SequenceNumber", sequence_number(shard, r.seq_ix, r.arrival_ms))
        .with("ApproximateArrivalTimestamp", Value::Timestamp(r.arrival_ms))
        .with("Data", r.data.clone())
        .with("PartitionKey", &r.partition_key)
}

/// The `Shard` shape of DescribeStream and ListShards.
pub fn shard(shard: &ShardMeta) -> Value {
    let mut range =
        Value::object().with("StartingSequenceNumber", sequence_number(shard, 0, shard.created_ms));
    if shard.closed_at_seq_ix.is_some() {
        // The largest sequence index, as AWS reports it: above any record the shard holds.
        range.set("EndingSequenceNumber", sequence_number(shard, CLOSED_SHARD_END_SEQ_IX, shard.created_ms));
    }
    Value::object()
        .with("ShardId", shard_id(shard.index))
        .with_opt("ParentShardId", shard.parent.map(shard_id))
        .with_opt("AdjacentParentShardId", shard.adjacent_parent.map(shard_id))
        .with(
            "HashKeyRange",
            Value::object()
                .with("StartingHashKey", shard.starting_hash_key.to_string())
                .with("EndingHashKey", shard.ending_hash_key.to_string()),
        )
        .with("SequenceNumberRange", range)
}

pub fn stream_mode_details(stream: &StreamMeta) -> Value {
    Value::object().with("StreamMode", stream.mode.as_str())
}

pub fn enhanced_monitoring(stream: &StreamMeta) -> Value {
    let metrics = stream.shard_level_metrics.iter().map(Value::from).collect::<Vec<_>>();
    Value::List(vec![Value::object().with("ShardLevelMetrics", metrics)])
}

pub fn encryption_type(stream: &StreamMeta) -> &'static str {
    if stream.encryption_key_id.is_some() {
        "KMS"
    } else {
        "NONE"
    }
}

/// The `ChildShards` of a closed shard, each naming its parents.
pub fn child_shards(stream: &StreamMeta, parent: &ShardMeta) -> Vec<Value> {
    stream
        .shards
        .iter()
        .filter(|s| s.parent == Some(parent.index) || s.adjacent_parent == Some(parent.index))
        .map(|child| {
            let parents: Vec<Value> = child
                .parent
                .iter()
                .chain(child.adjacent_parent.iter())
                .map(|p| Value::from(shard_id(*p)))
                .collect();
            Value::object().with("ShardId", shard_id(child.index)).with("ParentShards", parents).with(
                "HashKeyRange",
                Value::object()
                    .with("StartingHashKey", child.starting_hash_key.to_string())
                    .with("EndingHashKey", child.ending_hash_key.to_string()),
            )
        })
        .collect()
}
