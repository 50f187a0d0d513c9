//! SubscribeToShard: checks the consumer, the shard and the starting position, takes the
//! (consumer, shard) lease and starts the subscription that feeds the event stream. Failures
//! up to here are ordinary error responses; later ones are exception events.

use kinesin_wire::{ApiError, Value};
use tokio::sync::mpsc;

use crate::consumers::consumer_not_active;
use crate::errors;
use crate::fanout::LeaseKey;
use crate::lookup::{find_shard, requested_shard, MissingShard};
use crate::model::{ConsumerStatus, StreamStatus};
use crate::operations::check_dry_run;
use crate::starting_position::StartingPosition;
use crate::storage::{Catalog, ShardKey, ShardLog};
use crate::stream_metrics::StreamMetrics;
use crate::subscription::Target;
use crate::{Engine, Event, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn subscribe_to_shard(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<mpsc::Receiver<Event>, ApiError> {
        let consumer_arn = input.str("ConsumerARN").unwrap_or_default();
        let (stream, consumer) = self.consumer_by_arn(ctx, consumer_arn)?;
        if stream.status == StreamStatus::Deleting {
            return Err(errors::stream_not_found(&stream.name, &stream.account));
        }
        if consumer.status != ConsumerStatus::Active {
            return Err(consumer_not_active(&stream, &consumer));
        }
        let index = requested_shard(input.str("ShardId").unwrap_or_default(), &stream.name, &stream.account)?;
        let shard = find_shard(&stream, index, MissingShard::DoesNotExist)?;
        let position = input.get("StartingPosition");
        let start = StartingPosition {
            kind: position.and_then(|p| p.str("Type")).unwrap_or_default(),
            sequence_number: position.and_then(|p| p.str("SequenceNumber")),
            timestamp: position.and_then(|p| p.timestamp("Timestamp")),
            operation: "SubscribeToShard",
        };
        let from = self.resolve_start(&stream, shard, start).await?;
        check_dry_run(input)?;
        let key = LeaseKey {
            shard: ShardKey { stream_id: stream.id, shard_index: shard.index },
            consumer_arn: consumer_arn.to_owned(),
        };
        let lease = self.view.fanout.acquire(key, self.now_ms()).inspect_err(|_| {
            StreamMetrics::add(&stream.metrics.subscribe_rate_exceeded, 1);
        })?;
        Ok(self.start_subscription(Target {
            lease,
            consumer_name: consumer.name,
            consumer_created_ms: consumer.created_ms,
            from,
        }))
    }
}
