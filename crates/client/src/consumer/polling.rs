//! Polling retrieval: GetShardIterator, then GetRecords in a loop, each batch de-aggregated
//! with the KCL's shard-range filter (docs/protocol/kpl-aggregation.md#de-aggregation).

use std::ops::RangeInclusive;

use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::{ChildShard, ShardIteratorType};
use aws_sdk_kinesis::Client;

use crate::deaggregation::{deaggregate, UserRecord};
use crate::list_shards::describe_error;

/// Where the first iterator points.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StartingPoint {
    TrimHorizon,
    Latest,
    AtTimestamp(DateTime),
    /// At this record: with a checkpoint inside an aggregate, its remaining sub-records are
    /// still to come (the consumer skips those at or before the checkpoint).
    AtSequenceNumber(String),
}

/// One GetRecords' worth.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    pub records: Vec<UserRecord>,
    pub millis_behind_latest: Option<i64>,
    /// The shard is closed and read to its end: its children.
    pub shard_end: Option<Vec<ChildShard>>,
}

pub(crate) struct PollingFetcher {
    client: Client,
    stream: String,
    shard_id: String,
    start: StartingPoint,
    hash_range: Option<RangeInclusive<u128>>,
    max_records: i32,
    iterator: Option<String>,
    /// The sequence number of the last Kinesis record read, to resume after an expired iterator.
    last_read: Option<String>,
}

impl PollingFetcher {
    pub fn new(
        client: Client,
        stream: String,
        shard_id: String,
        start: StartingPoint,
        hash_range: Option<RangeInclusive<u128>>,
        max_records: i32,
    ) -> PollingFetcher {
        PollingFetcher {
            client,
            stream,
            shard_id,
            start,
            hash_range,
            max_records,
            iterator: None,
            last_read: None,
        }
    }

    /// The next batch. An expired iterator is replaced (the batch is then empty); other errors
    /// are the caller's to retry after a pause.
    pub async fn fetch(&mut self) -> Result<Fetched, String> {
        let iterator = match self.iterator.take() {
            Some(iterator) => iterator,
            None => self.new_iterator().await?,
        };
        let answer = self.client.get_records().shard_iterator(&iterator).limit(self.max_records).send().await;
        let output = match answer {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_expired_iterator_exception()) => {
                return Ok(Fetched::default())
            }
            Err(e) => {
                self.iterator = Some(iterator);
                return Err(describe_error(e));
            }
        };
        if let Some(last) = output.records.last() {
            self.last_read = Some(last.sequence_number.clone());
        }
        let records = output.records.iter().flat_map(|record| self.user_records(record)).collect();
        let shard_end = match output.next_shard_iterator {
            Some(next) => {
                self.iterator = Some(next);
                None
            }
            None => Some(output.child_shards.unwrap_or_default()),
        };
        Ok(Fetched { records, millis_behind_latest: output.millis_behind_latest, shard_end })
    }

    /// The records a KCL consumer delivers from one Kinesis record: its sub-records, less
    /// those whose hash key lies outside this shard (an aggregate that landed in a child after
    /// a reshard; the producer sends those again to their owner).
    fn user_records(&self, record: &aws_sdk_kinesis::types::Record) -> Vec<UserRecord> {
        let mut records = deaggregate(record);
        if let Some(range) = &self.hash_range {
            records.retain(|r| r.sub_sequence_number.is_none() || range.contains(&r.hash_key()));
        }
        records
    }

    async fn new_iterator(&self) -> Result<String, String> {
        let call = self.client.get_shard_iterator().stream_name(&self.stream).shard_id(&self.shard_id);
        let call = match (&self.last_read, &self.start) {
            (Some(last), _) => call
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(last),
            (None, StartingPoint::TrimHorizon) => call.shard_iterator_type(ShardIteratorType::TrimHorizon),
            (None, StartingPoint::Latest) => call.shard_iterator_type(ShardIteratorType::Latest),
            (None, StartingPoint::AtTimestamp(at)) => {
                call.shard_iterator_type(ShardIteratorType::AtTimestamp).timestamp(*at)
            }
            (None, StartingPoint::AtSequenceNumber(sequence_number)) => call
                .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                .starting_sequence_number(sequence_number),
        };
        let output = call.send().await.map_err(describe_error)?;
        output
            .shard_iterator
            .ok_or_else(|| format!("GetShardIterator gave no iterator for {}", self.shard_id))
    }
}
