//! UpdateStreamMode: switches a stream between PROVISIONED and ON_DEMAND capacity.

use kinesin_wire::{ApiError, Value};

use crate::model::{StreamMeta, StreamMode, StreamStatus};
use crate::storage::{Catalog, ShardLog};
use crate::{errors, Engine, RequestContext};

/// A switch to the mode the stream is in is refused.
fn already_in(stream: &StreamMeta, mode: StreamMode) -> Result<(), ApiError> {
    if mode == stream.mode {
        return Err(ApiError::invalid_argument(format!(
            "Stream {} under account {} is already in {} mode.",
            stream.name,
            stream.account,
            mode.as_str()
        )));
    }
    Ok(())
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// The shards stay as they are; in ON_DEMAND mode the engine then splits hot shards and
    /// merges cold ones itself.
    pub(crate) async fn update_stream_mode(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let _guard = self.control_lock().await;
        let stream = self.resolve_active_stream(ctx, input)?;
        let mode = match input.get("StreamModeDetails").and_then(|d| d.str("StreamMode")) {
            Some("ON_DEMAND") => StreamMode::OnDemand,
            _ => StreamMode::Provisioned,
        };
        already_in(&stream, mode)?;
        if mode == StreamMode::OnDemand {
            let on_demand = self
                .registry()
                .in_account(&ctx.account, &ctx.region)
                .filter(|s| s.mode == StreamMode::OnDemand)
                .count() as u32;
            if on_demand >= self.config.on_demand_stream_limit {
                return Err(ApiError::limit_exceeded(format!(
                    "This request would exceed the on-demand stream limit for the account {} in {}. Limit: {}.",
                    ctx.account, ctx.region, self.config.on_demand_stream_limit
                )));
            }
        }
        let warm = input.int("WarmThroughputMiBps");
        if let Some(mibps) = warm {
            self.check_warm_throughput(ctx, &stream.name, mode, mibps).await?;
        }
        self.update_stream(&stream, |meta| {
            errors::require_active(meta)?;
            already_in(meta, mode)?;
            meta.mode = mode;
            // Warm throughput exists only in ON_DEMAND mode.
            meta.warm_throughput_mibps =
                if mode == StreamMode::OnDemand { warm.map(|w| w as u32) } else { None };
            meta.status = StreamStatus::Updating;
            meta.transition_due_ms = self.due_after(self.config.update_stream_ms);
            Ok(())
        })
        .await?;
        Ok(Value::Null)
    }
}
