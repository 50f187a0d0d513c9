//! DeregisterStreamConsumer: the consumer goes DELETING (its subscriptions end), then is gone
//! after the engine's delete delay.

use kinesin_wire::{ApiError, Value};

use crate::consumers::consumer_not_active;
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
        if consumer.status != ConsumerStatus::Active {
            return Err(consumer_not_active(&stream, &consumer));
        }
        let mut meta = (*stream).clone();
        let entry = meta
            .consumers
            .iter_mut()
            .find(|c| c.name == consumer.name)
            .expect("the consumer was resolved from this stream under the control lock");
        entry.status = ConsumerStatus::Deleting;
        entry.transition_due_ms = self.due_after(self.config.delete_stream_ms);
        self.persist(meta).await?;
        Ok(Value::Null)
    }
}
