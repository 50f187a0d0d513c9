//! EnableEnhancedMonitoring and DisableEnhancedMonitoring: which shard-level metrics a stream
//! reports. The metric set is recorded and described; `ALL` stands for every metric.

use kinesin_wire::{ApiError, Value};

use crate::storage::{Catalog, ShardLog};
use crate::{errors, Engine, RequestContext};

/// Every shard-level metric, in the order descriptions list them.
const METRICS: [&str; 7] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
];

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn set_enhanced_monitoring(
        &self,
        ctx: &RequestContext,
        input: &Value,
        enable: bool,
    ) -> Result<Value, ApiError> {
        let requested: Vec<&str> =
            input.list("ShardLevelMetrics").unwrap_or_default().iter().filter_map(Value::as_str).collect();
        let named = |metric: &str| requested.contains(&"ALL") || requested.contains(&metric);
        let _guard = self.control_lock().await;
        let stream = self.resolve_active_stream(ctx, input)?;
        let (_, (current, desired)) = self
            .update_stream(&stream, |meta| {
                errors::require_active(meta)?;
                let current = meta.shard_level_metrics.clone();
                let desired: Vec<String> = METRICS
                    .iter()
                    .filter(|m| {
                        let on = current.iter().any(|c| c == *m);
                        if enable {
                            on || named(m)
                        } else {
                            on && !named(m)
                        }
                    })
                    .map(|m| (*m).to_owned())
                    .collect();
                meta.shard_level_metrics = desired.clone();
                Ok((current, desired))
            })
            .await?;
        let list = |metrics: Vec<String>| metrics.into_iter().map(Value::from).collect::<Vec<_>>();
        Ok(Value::object()
            .with("StreamName", &stream.name)
            .with("CurrentShardLevelMetrics", list(current))
            .with("DesiredShardLevelMetrics", list(desired))
            .with("StreamARN", stream.arn()))
    }
}
