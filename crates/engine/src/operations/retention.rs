//! IncreaseStreamRetentionPeriod and DecreaseStreamRetentionPeriod.

use kinesin_wire::{ApiError, Value};

use crate::model::StreamMeta;
use crate::storage::{Catalog, ShardLog};
use crate::{errors, Engine, RequestContext};

const MIN_RETENTION_HOURS: i64 = 24;
const MAX_RETENTION_HOURS: i64 = 8760;

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// Shortening takes effect at once (older records become invisible); lengthening does not
    /// bring back what already expired.
    pub(crate) async fn change_retention(
        &self,
        ctx: &RequestContext,
        input: &Value,
        increase: bool,
    ) -> Result<Value, ApiError> {
        let hours = input.int("RetentionPeriodHours").unwrap_or_default();
        let _guard = self.control_lock().await;
        let stream = self.resolve_active_stream(ctx, input)?;
        self.update_stream(&stream, |meta| {
            errors::require_active(meta)?;
            check_retention(meta, hours, increase)?;
            meta.retention_hours = hours as u32;
            Ok(())
        })
        .await?;
        Ok(Value::Null)
    }
}

/// Whether `hours` is a valid new retention period for `stream`.
fn check_retention(stream: &StreamMeta, hours: i64, increase: bool) -> Result<(), ApiError> {
    if hours < MIN_RETENTION_HOURS {
        return Err(ApiError::invalid_argument(format!(
            "Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Requested retention period ({hours} \
             hours) is too short."
        )));
    }
    if hours > MAX_RETENTION_HOURS {
        return Err(ApiError::invalid_argument(format!(
            "Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested retention period ({hours} \
             hours) is too long."
        )));
    }
    let current = i64::from(stream.retention_hours);
    if increase && hours < current {
        return Err(ApiError::invalid_argument(format!(
            "Requested retention period ({hours} hours) for stream {} can not be shorter than existing retention \
             period ({current} hours). Use DecreaseRetentionPeriod API.",
            stream.name
        )));
    }
    if !increase && hours > current {
        return Err(ApiError::invalid_argument(format!(
            "Requested retention period ({hours} hours) for stream {} can not be longer than existing retention \
             period ({current} hours). Use IncreaseRetentionPeriod API.",
            stream.name
        )));
    }
    Ok(())
}
