//! How a shard consumer gets its shard's records (docs/client.md#retrieval): by polling
//! (GetRecords) or by enhanced fan-out (SubscribeToShard). Both hand the shard consumer the same
//! [`Fetched`] batches, de-aggregated with the KCL's shard-range filter, so one processing loop
//! serves both.

use std::ops::RangeInclusive;
use std::time::Duration;

use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::{ChildShard, Record, ShardIteratorType};

use super::fan_out::FanOutFetcher;
use super::polling::PollingFetcher;
use crate::deaggregation::{deaggregate, UserRecord};

/// How a consumer reads its shards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Retrieval {
    /// GetRecords every `idle_time_between_reads`; the read throughput of a shard is shared
    /// with every other application polling it. The default, as for the KCL.
    #[default]
    Polling,
    /// Enhanced fan-out: each shard's records are pushed through SubscribeToShard to the
    /// stream consumer of this name, which has a shard's full read throughput to itself. The
    /// consumer is registered at start if the stream has none of that name. Every worker of the
    /// application uses the same name.
    FanOut { consumer_name: String },
}

/// What a worker reads through, once resolved at start.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Polling { max_records: i32, idle_time_between_reads: Duration },
    FanOut { consumer_arn: String },
}

impl Source {
    /// The pause between two fetches: polling spares the shard's read limit (shared by every
    /// application); a subscription pushes records as they come.
    pub fn idle_time(&self) -> Duration {
        match self {
            Source::Polling { idle_time_between_reads, .. } => *idle_time_between_reads,
            Source::FanOut { .. } => Duration::ZERO,
        }
    }
}

/// Where the next read starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StartingPoint {
    TrimHorizon,
    Latest,
    AtTimestamp(DateTime),
    /// At this record: with a checkpoint inside an aggregate, its remaining sub-records are
    /// still to come (the consumer skips those at or before the checkpoint).
    AtSequenceNumber(String),
    /// Just after the last record read (resuming after an expired iterator or an ended
    /// subscription).
    AfterSequenceNumber(String),
}

impl StartingPoint {
    /// The position's type, sequence number and timestamp, as GetShardIterator and
    /// SubscribeToShard's `StartingPosition` both take them.
    pub fn parts(&self) -> (ShardIteratorType, Option<&str>, Option<DateTime>) {
        match self {
            StartingPoint::TrimHorizon => (ShardIteratorType::TrimHorizon, None, None),
            StartingPoint::Latest => (ShardIteratorType::Latest, None, None),
            StartingPoint::AtTimestamp(at) => (ShardIteratorType::AtTimestamp, None, Some(*at)),
            StartingPoint::AtSequenceNumber(sequence_number) => {
                (ShardIteratorType::AtSequenceNumber, Some(sequence_number), None)
            }
            StartingPoint::AfterSequenceNumber(sequence_number) => {
                (ShardIteratorType::AfterSequenceNumber, Some(sequence_number), None)
            }
        }
    }
}

/// One GetRecords answer's or one SubscribeToShard event's worth.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    pub records: Vec<UserRecord>,
    pub millis_behind_latest: Option<i64>,
    /// The shard is closed and read to its end: its children.
    pub shard_end: Option<Vec<ChildShard>>,
}

/// Reads one shard, by whichever means the worker was configured with.
pub(crate) enum ShardReader {
    Polling(PollingFetcher),
    FanOut(FanOutFetcher),
}

/// What every reader needs to know about its shard.
pub(crate) struct ShardToRead {
    pub kinesis: aws_sdk_kinesis::Client,
    pub stream: String,
    pub shard_id: String,
    pub start: StartingPoint,
    pub hash_range: Option<RangeInclusive<u128>>,
}

impl ShardReader {
    pub fn new(source: &Source, shard: ShardToRead) -> ShardReader {
        match source {
            Source::Polling { max_records, .. } => {
                ShardReader::Polling(PollingFetcher::new(shard, *max_records))
            }
            Source::FanOut { consumer_arn } => {
                ShardReader::FanOut(FanOutFetcher::new(shard, consumer_arn.clone()))
            }
        }
    }

    /// The next batch: at once when polling, when the next event arrives with fan-out (at
    /// least every few seconds: the service sends events without records to an idle reader).
    /// An empty batch is normal (an expired iterator, an ended subscription); errors are the
    /// caller's to retry after a pause.
    pub async fn fetch(&mut self) -> Result<Fetched, String> {
        match self {
            ShardReader::Polling(fetcher) => fetcher.fetch().await,
            ShardReader::FanOut(fetcher) => fetcher.fetch().await,
        }
    }
}

/// The records a KCL consumer delivers from one Kinesis record: its sub-records, less those
/// whose hash key lies outside the shard's range (an aggregate that landed in a child after a
/// reshard; the producer sends those again to their owner).
/// See docs/protocol/kpl-aggregation.md#de-aggregation.
pub(crate) fn user_records(record: &Record, hash_range: Option<&RangeInclusive<u128>>) -> Vec<UserRecord> {
    let mut records = deaggregate(record);
    if let Some(range) = hash_range {
        records.retain(|r| r.sub_sequence_number.is_none() || range.contains(&r.hash_key()));
    }
    records
}
