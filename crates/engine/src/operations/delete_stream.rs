//! DeleteStream: the stream goes DELETING, then disappears with its data.

use kinesin_wire::{ApiError, Value};

use crate::model::StreamStatus;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// `EnforceConsumerDeletion` is accepted; with no registered consumers it changes nothing.
    pub(crate) async fn delete_stream(&self, ctx: &RequestContext, input: &Value) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let mut meta = (*self.resolve_stream(ctx, input)?).clone();
        meta.status = StreamStatus::Deleting;
        meta.transition_due_ms = self.due_after(self.config.delete_stream_ms);
        self.persist(meta).await?;
        Ok(Value::Null)
    }
}
