//! DeleteStream: the stream goes DELETING, then disappears with its data. A stream with
//! registered consumers is deleted only with `EnforceConsumerDeletion`, and its consumers with
//! it.

use kinesin_wire::{ApiError, Value};

use crate::model::{ConsumerStatus, StreamStatus};
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn delete_stream(&self, ctx: &RequestContext, input: &Value) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let stream = self.resolve_stream(ctx, input)?;
        let enforce = input.bool("EnforceConsumerDeletion") == Some(true);
        self.update_stream(&stream, |meta| {
            if !meta.consumers.is_empty() && !enforce {
                return Err(ApiError::resource_in_use(format!(
                    "Stream {} under account {} has registered consumers. Deregister them first, or set \
                     EnforceConsumerDeletion to delete them with the stream.",
                    meta.name, meta.account
                )));
            }
            if meta.status == StreamStatus::Creating {
                // It never got its shards: described in DELETING, it has none
                // (docs/protocol/corners.md, "A stream in CREATING has no shards"). Its logs go
                // with the stream.
                meta.shards.clear();
            }
            meta.status = StreamStatus::Deleting;
            meta.transition_due_ms = self.due_after(self.config.delete_stream_ms);
            for consumer in &mut meta.consumers {
                consumer.status = ConsumerStatus::Deleting;
                consumer.transition_due_ms = meta.transition_due_ms;
            }
            Ok(())
        })
        .await?;
        Ok(Value::Null)
    }
}
