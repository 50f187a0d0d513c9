//! StartStreamEncryption and StopStreamEncryption: server-side encryption with a KMS key id.
//! The key id is recorded and reported (EncryptionType KMS on stream descriptions and on
//! Put/Get responses); kinesin needs no KMS to honour it.

use kinesin_wire::{ApiError, Value};

use crate::model::StreamStatus;
use crate::storage::{Catalog, ShardLog};
use crate::{errors, Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// Both go through UPDATING, as on AWS.
    pub(crate) async fn set_encryption(
        &self,
        ctx: &RequestContext,
        input: &Value,
        start: bool,
    ) -> Result<Value, ApiError> {
        let key_id = input.str("KeyId").unwrap_or_default();
        let _guard = self.control_lock().await;
        let stream = self.resolve_active_stream(ctx, input)?;
        self.update_stream(&stream, |meta| {
            errors::require_active(meta)?;
            if start {
                meta.encryption_key_id = Some(key_id.to_owned());
            } else {
                if meta.encryption_key_id.as_deref() != Some(key_id) {
                    return Err(ApiError::invalid_argument(format!(
                        "Stream {} under account {} is not encrypted with the key {key_id}.",
                        meta.name, meta.account
                    )));
                }
                meta.encryption_key_id = None;
            }
            meta.status = StreamStatus::Updating;
            meta.transition_due_ms = self.due_after(self.config.update_stream_ms);
            Ok(())
        })
        .await?;
        Ok(Value::Null)
    }
}
