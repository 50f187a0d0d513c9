//! UpdateMaxRecordSize: raises (or lowers) a stream's record size limit, 1 to 10 MiB.

use kinesin_wire::{ApiError, Value};

use crate::storage::{Catalog, ShardLog};
use crate::{errors, Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// The 1024..10240 KiB range is enforced by model validation before this runs.
    pub(crate) async fn update_max_record_size(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let stream = self.resolve_active_stream(ctx, input)?;
        let kib = input.int("MaxRecordSizeInKiB").unwrap_or_default() as u32;
        self.update_stream(&stream, |meta| {
            errors::require_active(meta)?;
            meta.max_record_size_kib = kib;
            Ok(())
        })
        .await?;
        Ok(Value::Null)
    }
}
