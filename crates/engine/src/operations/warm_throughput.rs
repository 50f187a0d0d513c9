//! UpdateStreamWarmThroughput: the write throughput an on-demand stream is kept ready for.

use kinesin_wire::{ApiError, Value};

use crate::model::{StreamMeta, StreamMode, StreamStatus};
use crate::storage::{Catalog, ShardLog};
use crate::{errors, Engine, RequestContext};

/// AWS's ceiling: 10 GiB/s.
const MAX_WARM_THROUGHPUT_MIBPS: i64 = 10 * 1024;

/// The `WarmThroughput` shape; kinesin is always warm to its target.
pub(crate) fn warm_throughput(stream: &StreamMeta) -> Option<Value> {
    stream
        .warm_throughput_mibps
        .map(|target| Value::object().with("TargetMiBps", target).with("CurrentMiBps", target))
}

fn require_on_demand(name: &str, account: &str, mode: StreamMode) -> Result<(), ApiError> {
    if mode != StreamMode::OnDemand {
        return Err(ApiError::invalid_argument(format!(
            "Warm throughput can only be set on ON_DEMAND streams; stream {name} under account {account} is PROVISIONED."
        )));
    }
    Ok(())
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// Checks a requested warm throughput for `stream` (or for a stream about to be created
    /// in `mode`).
    pub(crate) async fn check_warm_throughput(
        &self,
        ctx: &RequestContext,
        name: &str,
        mode: StreamMode,
        mibps: i64,
    ) -> Result<(), ApiError> {
        require_on_demand(name, &ctx.account, mode)?;
        if !self.commitment(ctx).await?.enabled(self.now_ms()) {
            return Err(ApiError::invalid_argument(format!(
                "Warm throughput requires the account {} to have MinimumThroughputBillingCommitment ENABLED \
                 (UpdateAccountSettings).",
                ctx.account
            )));
        }
        if mibps > MAX_WARM_THROUGHPUT_MIBPS {
            return Err(ApiError::invalid_argument(format!(
                "WarmThroughputMiBps {mibps} exceeds the maximum of {MAX_WARM_THROUGHPUT_MIBPS}."
            )));
        }
        Ok(())
    }

    pub(crate) async fn update_stream_warm_throughput(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mibps = input.int("WarmThroughputMiBps").unwrap_or_default();
        let _guard = self.control_lock().await;
        let stream = self.resolve_active_stream(ctx, input)?;
        self.check_warm_throughput(ctx, &stream.name, stream.mode, mibps).await?;
        let (meta, ()) = self
            .update_stream(&stream, |meta| {
                errors::require_active(meta)?;
                // The account's commitment was checked above; the mode may have changed since.
                require_on_demand(&meta.name, &meta.account, meta.mode)?;
                meta.warm_throughput_mibps = Some(mibps as u32);
                meta.status = StreamStatus::Updating;
                meta.transition_due_ms = self.due_after(self.config.update_stream_ms);
                Ok(())
            })
            .await?;
        Ok(Value::object()
            .with("StreamARN", meta.arn())
            .with("StreamName", &meta.name)
            .with_opt("WarmThroughput", warm_throughput(&meta)))
    }
}
