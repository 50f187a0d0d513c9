//! CreateStream: a provisioned stream with ShardCount shards, or an on-demand stream (4 shards).

use kinesin_wire::{ApiError, Value};
use rand::Rng;

use crate::model::{ShardMeta, StreamMeta, StreamMode, StreamStatus};
use crate::operations::tags::{check_new_tags, parse_tags};
use crate::storage::{Catalog, ShardLog};
use crate::{errors, Engine, RequestContext};

/// Shards an on-demand stream starts with (4 MiB/s of write capacity, as AWS).
const ON_DEMAND_INITIAL_SHARDS: u32 = 4;
const DEFAULT_RETENTION_HOURS: u32 = 24;
const DEFAULT_MAX_RECORD_SIZE_KIB: u32 = 1024;

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn create_stream(&self, ctx: &RequestContext, input: &Value) -> Result<Value, ApiError> {
        let name = input.str("StreamName").unwrap_or_default();
        let requested_mode = input.get("StreamModeDetails").and_then(|d| d.str("StreamMode"));
        let shard_count = input.int("ShardCount");
        let (mode, shard_count) = match (requested_mode, shard_count) {
            (Some("ON_DEMAND"), Some(_)) => {
                return Err(ApiError::invalid_argument(
                    "ShardCount cannot be specified when StreamMode is ON_DEMAND.",
                ))
            }
            (Some("PROVISIONED"), None) => {
                return Err(ApiError::invalid_argument(
                    "ShardCount must be specified when StreamMode is PROVISIONED.",
                ))
            }
            (_, Some(n)) => (StreamMode::Provisioned, n as u32),
            (_, None) => (StreamMode::OnDemand, ON_DEMAND_INITIAL_SHARDS),
        };
        let warm = input.int("WarmThroughputMiBps");
        if let Some(mibps) = warm {
            self.check_warm_throughput(ctx, name, mode, mibps).await?;
        }
        let tags = parse_tags(input.map("Tags").unwrap_or_default());
        check_new_tags("stream", name, &ctx.account, &[], &tags)?;

        let _guard = self.control_lock().await;
        let now = self.now_ms();
        {
            let registry = self.registry();
            if registry.by_name(&ctx.account, &ctx.region, name).is_some() {
                return Err(errors::stream_exists(name, &ctx.account));
            }
            let in_account: Vec<_> = registry.in_account(&ctx.account, &ctx.region).collect();
            if in_account.iter().filter(|s| s.status == StreamStatus::Creating).count()
                >= errors::MAX_CREATING
            {
                return Err(errors::too_many_creating("streams", &ctx.account));
            }
            let open: u32 = in_account.iter().map(|s| s.open_shards().count() as u32).sum();
            if open + shard_count > self.config.shard_limit {
                return Err(errors::shard_limit_exceeded(ctx, open, self.config.shard_limit, shard_count));
            }
            let on_demand = in_account.iter().filter(|s| s.mode == StreamMode::OnDemand).count() as u32;
            if mode == StreamMode::OnDemand && on_demand >= self.config.on_demand_stream_limit {
                return Err(ApiError::limit_exceeded(format!(
                    "This request would exceed the on-demand stream limit for the account {} in {}. Limit: {}.",
                    ctx.account, ctx.region, self.config.on_demand_stream_limit
                )));
            }
        }

        let shards = ShardMeta::initial(shard_count, now);
        let meta = StreamMeta {
            id: rand::thread_rng().gen(),
            version: 1,
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            name: name.to_owned(),
            status: StreamStatus::Creating,
            mode,
            created_ms: now,
            retention_hours: DEFAULT_RETENTION_HOURS,
            max_record_size_kib: input
                .int("MaxRecordSizeInKiB")
                .map_or(DEFAULT_MAX_RECORD_SIZE_KIB, |k| k as u32),
            shards,
            tags,
            shard_level_metrics: Vec::new(),
            encryption_key_id: None,
            transition_due_ms: self.due_after(self.config.create_stream_ms),
            consumers: Vec::new(),
            pending_reshard: None,
            resource_policy: None,
            warm_throughput_mibps: warm.map(|w| w as u32),
            metrics: Default::default(),
        };
        self.create_shard_logs(&meta)?;
        self.insert_stream(meta).await?;
        Ok(Value::Null)
    }
}
