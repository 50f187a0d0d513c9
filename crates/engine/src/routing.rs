//! Routing records to shards by hash key, and appending them to the shards' logs.

use std::time::Duration;

use kinesin_wire::input::RecordInput;
use kinesin_wire::put_records_answer::{PutRecordsEntry, WrittenRecord};
use kinesin_wire::ApiError;

use crate::hashing::{parse_hash_key, partition_key_hash};
use crate::log_limit::LogLimit;
use crate::model::{ShardMeta, StreamMeta, StreamMode, StreamStatus};
use crate::render::sequence_numbers;
use crate::storage::{Catalog, NewRecord, ShardKey, ShardLog};
use crate::stream_metrics::StreamMetrics;
use crate::{errors, Engine};

/// Failed appends come in floods (a full disk fails them all): one line a second, counting the
/// lines held back since the last.
static APPEND_FAILED: LogLimit = LogLimit::new(Duration::from_secs(1));

/// Requests may carry at most this much data (partition keys included), the limit since 2025.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// The open shards of a stream, sorted by hash range, for binary search.
pub struct Router<'a> {
    ranges: Vec<(u128, u128, &'a ShardMeta)>,
}

impl<'a> Router<'a> {
    pub fn new(stream: &'a StreamMeta) -> Router<'a> {
        let mut ranges: Vec<_> =
            stream.open_shards().map(|s| (s.starting_hash_key, s.ending_hash_key, s)).collect();
        ranges.sort_by_key(|r| r.0);
        Router { ranges }
    }

    /// The slot of the open shard whose range holds `hash`. Open shards always tile the whole
    /// space.
    pub fn route(&self, hash: u128) -> Slot {
        Slot(self.ranges.partition_point(|r| r.0 <= hash).saturating_sub(1))
    }

    pub fn shard(&self, slot: Slot) -> &'a ShardMeta {
        self.ranges[slot.0].2
    }
}

/// An open shard's position in a [`Router`], one per open shard: records are grouped by shard with
/// it rather than by hashing the shard's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot(usize);

/// A record accepted for writing, and where it goes.
pub struct Routed {
    pub slot: Slot,
    pub record: NewRecord,
}

impl Routed {
    /// The record's size as Kinesis counts it: partition key and data.
    pub fn size(&self) -> usize {
        self.record.partition_key.len() + self.record.data.len()
    }
}

/// Checks and routes one `PutRecord` input or `PutRecords` entry, moving its partition key and
/// data into the record.
pub fn route_entry(stream: &StreamMeta, router: &Router, entry: RecordInput) -> Result<Routed, ApiError> {
    let size = entry.size();
    let max = stream.max_record_size_kib as usize * 1024;
    if size > max {
        return Err(ApiError::invalid_argument(format!(
            "Record size {size} bytes (partition key plus data) exceeds the maximum record size of {max} bytes \
             for stream {} under account {}. Raise it with UpdateMaxRecordSize.",
            stream.name, stream.account
        )));
    }
    let hash = match &entry.explicit_hash_key {
        Some(text) => parse_hash_key(text).ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {text}"
            ))
        })?,
        None => partition_key_hash(&entry.partition_key),
    };
    let RecordInput { partition_key, data, .. } = entry;
    Ok(Routed {
        slot: router.route(hash),
        record: NewRecord { partition_key, data, encrypted: stream.encryption_key_id.is_some() },
    })
}

/// Data-plane calls need a stream that exists and accepts records.
pub fn check_writable(stream: &StreamMeta) -> Result<(), ApiError> {
    match stream.status {
        StreamStatus::Active | StreamStatus::Updating => Ok(()),
        _ => Err(errors::stream_not_found(&stream.name, &stream.account)),
    }
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// Appends routed records, all shards at once in one call to the log. Outcomes come back
    /// in input order; a failed shard fails only its own records. The work per request grows
    /// with its records, not with the stream's shard count.
    pub(crate) async fn append_routed(
        &self,
        stream: &StreamMeta,
        router: &Router<'_>,
        routed: Vec<Routed>,
    ) -> Vec<PutRecordsEntry> {
        let count = routed.len();
        let mut outcomes: Vec<Option<PutRecordsEntry>> = (0..count).map(|_| None).collect();
        let now = self.now_ms();
        let mut accepted: Vec<(Slot, usize, NewRecord)> = Vec::with_capacity(count);
        for (i, r) in routed.into_iter().enumerate() {
            let shard = router.shard(r.slot);
            if self.config.enforce_limits {
                if let Err(throttled) = self.throttle.admit_write(stream, shard.index, r.size(), now) {
                    StreamMetrics::add(&stream.metrics.write_throttled, 1);
                    if stream.shard_level() {
                        StreamMetrics::add(&stream.metrics.shard(shard.index).write_throttled, 1);
                    }
                    outcomes[i] = Some(Err(throttled));
                    continue;
                }
            }
            accepted.push((r.slot, i, r.record));
        }
        // Grouped by shard by a stable sort: each shard's records stay in request order.
        accepted.sort_by_key(|(slot, _, _)| *slot);
        // Per shard: the records' positions in the request, and the records.
        let mut groups: Vec<(&ShardMeta, Vec<usize>)> = Vec::new();
        let mut batches: Vec<(ShardKey, Vec<NewRecord>)> = Vec::new();
        let mut last_slot = None;
        for (slot, position, record) in accepted {
            if last_slot != Some(slot) {
                let shard = router.shard(slot);
                groups.push((shard, Vec::new()));
                batches.push((ShardKey { stream_id: stream.id, shard_index: shard.index }, Vec::new()));
                last_slot = Some(slot);
            }
            groups.last_mut().expect("a group was started").1.push(position);
            batches.last_mut().expect("a batch was started").1.push(record);
        }
        let sizes: Vec<(usize, usize)> = batches
            .iter()
            .map(|(_, records)| {
                (records.len(), records.iter().map(|r| r.partition_key.len() + r.data.len()).sum())
            })
            .collect();
        if stream.mode == StreamMode::OnDemand {
            for ((key, _), &(count, bytes)) in batches.iter().zip(&sizes) {
                self.load.record(*key, count, bytes);
            }
        }
        let results = self.log.append_to_shards(batches).await;
        let (mut records_in, mut bytes_in) = (0, 0);
        for (((shard, positions), result), (count, bytes)) in groups.into_iter().zip(results).zip(sizes) {
            if result.is_ok() {
                (records_in, bytes_in) = (records_in + count, bytes_in + bytes);
                if stream.shard_level() {
                    let shard_figures = stream.metrics.shard(shard.index);
                    StreamMetrics::add(&shard_figures.incoming_records, count as u64);
                    StreamMetrics::add(&shard_figures.incoming_bytes, bytes as u64);
                }
            }
            match result {
                Ok(appended) => {
                    let numbers =
                        sequence_numbers(shard, appended.first_seq_ix, appended.arrival_ms, positions.len());
                    for (position, sequence_number) in positions.into_iter().zip(numbers) {
                        outcomes[position] =
                            Some(Ok(WrittenRecord { shard_index: shard.index, sequence_number }));
                    }
                }
                Err(e) => {
                    crate::exhaustion::report_store(&e);
                    if let Some(held_back) = APPEND_FAILED.pass() {
                        tracing::error!(
                            shard = shard.index,
                            records = positions.len(),
                            error = %e,
                            held_back,
                            "append failed"
                        );
                    }
                    for position in positions {
                        outcomes[position] = Some(Err(ApiError::internal_failure()));
                    }
                }
            }
        }
        if records_in > 0 {
            StreamMetrics::add(&stream.metrics.incoming_records, records_in as u64);
            StreamMetrics::add(&stream.metrics.incoming_bytes, bytes_in as u64);
        }
        outcomes.into_iter().map(|o| o.expect("every record belongs to one shard group")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::model::test_stream as stream;

    #[test]
    fn an_explicit_hash_key_routes_instead_of_the_partition_key() {
        let s = stream(4);
        let router = Router::new(&s);
        let top = u128::MAX.to_string();
        let entry =
            RecordInput { partition_key: "a".into(), explicit_hash_key: Some(top), ..RecordInput::default() };
        let routed = route_entry(&s, &router, entry).unwrap();
        assert_eq!(routed.slot, router.route(u128::MAX));
        assert_ne!(routed.slot, router.route(partition_key_hash("a")));
    }

    proptest! {
        /// The router picks the one shard whose inclusive range holds the key.
        #[test]
        fn routes_to_the_owning_shard(n in 1u32..50, key in any::<u128>()) {
            let s = stream(n);
            let router = Router::new(&s);
            let shard = router.shard(router.route(key));
            prop_assert!(shard.starting_hash_key <= key && key <= shard.ending_hash_key);
        }

        /// Partition keys route by MD5, so the same key always lands on the same shard.
        #[test]
        fn partition_keys_route_by_md5(n in 1u32..50, pk in "\\PC{1,64}") {
            let s = stream(n);
            let router = Router::new(&s);
            let entry = RecordInput { partition_key: pk.clone(), ..RecordInput::default() };
            let routed = route_entry(&s, &router, entry).unwrap();
            prop_assert_eq!(routed.slot, router.route(partition_key_hash(&pk)));
        }
    }
}
