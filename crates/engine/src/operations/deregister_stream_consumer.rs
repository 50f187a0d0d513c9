//! DeregisterStreamConsumer: the consumer goes DELETING (its subscriptions end), then is gone
//! after the engine's delete delay.

use kinesin_wire::{ApiError, Value};

use crate::consumers::{consumer_arn, consumer_not_active, consumer_not_found};
use crate::model::ConsumerStatus;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn deregister_stream_consumer(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let (stream, consumer) = self.resolve_consumer(ctx, input)?;
        self.update_stream(&stream, |meta| {
            let arn = || consumer_arn(&stream, &consumer);
            let entry = meta
                .consumers
                .iter_mut()
                .find(|c| c.name == consumer.name && c.created_ms == consumer.created_ms)
                .ok_or_else(|| consumer_not_found(&arn(), &stream.account))?;
            if entry.status != ConsumerStatus::Active {
                return Err(consumer_not_active(&stream, entry));
            }
            entry.status = ConsumerStatus::Deleting;
            entry.transition_due_ms = self.due_after(self.config.delete_stream_ms);
            Ok(())
        })
        .await?;
        Ok(Value::Null)
    }
}
