//! Enhanced fan-out retrieval (docs/client.md#retrieval): the application's stream consumer is
//! registered (or found) once per worker, then each shard is read through SubscribeToShard. A
//! subscription ends after five minutes, or when another one takes it over; the next fetch
//! subscribes again just after the last event's continuation sequence number, so nothing is
//! lost or repeated. The event without a continuation sequence number is the shard's end, and
//! names its children.

use std::time::Duration;

use aws_sdk_kinesis::operation::subscribe_to_shard::SubscribeToShardOutput;
use aws_sdk_kinesis::types::{
    ConsumerStatus, StartingPosition, SubscribeToShardEvent, SubscribeToShardEventStream,
};
use aws_sdk_kinesis::Client;
use tokio::time::Instant;

use super::retrieval::{user_records, Fetched, ShardToRead, StartingPoint};
use crate::list_shards::describe_error;

/// How often a worker looks whether the consumer it registered is ACTIVE yet.
const REGISTRATION_POLL: Duration = Duration::from_millis(500);
/// How long a worker waits for the consumer to become ACTIVE before it gives up starting.
const REGISTRATION_PATIENCE: Duration = Duration::from_secs(120);

/// The ARN of the stream's consumer named `consumer_name`, registered if the stream has none,
/// once it is ACTIVE (the KCL's order: describe, register if missing, describe until ACTIVE).
/// A consumer being deleted is waited for and registered again.
pub(crate) async fn active_consumer(
    client: &Client,
    stream: &str,
    consumer_name: &str,
) -> Result<String, String> {
    let summary =
        client.describe_stream_summary().stream_name(stream).send().await.map_err(describe_error)?;
    let stream_arn = summary
        .stream_description_summary
        .map(|summary| summary.stream_arn)
        .ok_or_else(|| format!("DescribeStreamSummary of {stream} gave no StreamARN"))?;
    let deadline = Instant::now() + REGISTRATION_PATIENCE;
    loop {
        let described = client
            .describe_stream_consumer()
            .stream_arn(&stream_arn)
            .consumer_name(consumer_name)
            .send()
            .await;
        match described {
            Ok(output) => {
                let consumer = output.consumer_description.ok_or_else(|| {
                    format!("DescribeStreamConsumer of {consumer_name} gave no description")
                })?;
                if consumer.consumer_status == ConsumerStatus::Active {
                    return Ok(consumer.consumer_arn);
                }
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
                let registered = client
                    .register_stream_consumer()
                    .stream_arn(&stream_arn)
                    .consumer_name(consumer_name)
                    .send()
                    .await;
                match registered {
                    Ok(_) => {}
                    // Another worker registered it meanwhile, or the old one is still being
                    // deleted: look again.
                    Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
                    Err(e) => return Err(describe_error(e)),
                }
            }
            Err(e) => return Err(describe_error(e)),
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the stream consumer {consumer_name} was not ACTIVE after {} s",
                REGISTRATION_PATIENCE.as_secs()
            ));
        }
        tokio::time::sleep(REGISTRATION_POLL).await;
    }
}

pub(crate) struct FanOutFetcher {
    shard: ShardToRead,
    consumer_arn: String,
    /// Boxed: the SDK's output is several times the size of a polling reader.
    subscription: Option<Box<SubscribeToShardOutput>>,
}

impl FanOutFetcher {
    pub fn new(shard: ShardToRead, consumer_arn: String) -> FanOutFetcher {
        FanOutFetcher { shard, consumer_arn, subscription: None }
    }

    /// The next event's records, subscribing first if no subscription is running. An ended
    /// subscription gives an empty batch (the next fetch subscribes again); a failed one, the
    /// error (ResourceInUseException while another subscription to the shard is younger than
    /// five seconds, for one).
    pub async fn fetch(&mut self) -> Result<Fetched, String> {
        let subscription = match &mut self.subscription {
            Some(subscription) => subscription,
            None => self.subscription.insert(Box::new(self.subscribe().await?)),
        };
        match subscription.event_stream.recv().await {
            Ok(Some(SubscribeToShardEventStream::SubscribeToShardEvent(event))) => Ok(self.take(event)),
            // An event kind newer than this SDK: nothing to read in it.
            Ok(Some(_)) => Ok(Fetched::default()),
            Ok(None) => {
                self.subscription = None;
                Ok(Fetched::default())
            }
            Err(e) => {
                self.subscription = None;
                Err(describe_error(e))
            }
        }
    }

    async fn subscribe(&self) -> Result<SubscribeToShardOutput, String> {
        let (kind, sequence_number, timestamp) = self.shard.start.parts();
        let position = StartingPosition::builder()
            .r#type(kind)
            .set_sequence_number(sequence_number.map(str::to_owned))
            .set_timestamp(timestamp)
            .build()
            .map_err(|e| e.to_string())?;
        self.shard
            .kinesis
            .subscribe_to_shard()
            .consumer_arn(&self.consumer_arn)
            .shard_id(&self.shard.shard_id)
            .starting_position(position)
            .send()
            .await
            .map_err(describe_error)
    }

    /// An event's records; its continuation sequence number is where a new subscription
    /// starts, and its absence is the shard's end.
    fn take(&mut self, event: SubscribeToShardEvent) -> Fetched {
        let hash_range = self.shard.hash_range.as_ref();
        let records = event.records.iter().flat_map(|record| user_records(record, hash_range)).collect();
        let shard_end = if event.continuation_sequence_number.is_empty() {
            Some(event.child_shards.unwrap_or_default())
        } else {
            self.shard.start = StartingPoint::AfterSequenceNumber(event.continuation_sequence_number);
            None
        };
        Fetched { records, millis_behind_latest: Some(event.millis_behind_latest), shard_end }
    }
}
