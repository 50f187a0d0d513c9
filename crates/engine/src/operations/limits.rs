//! DescribeLimits.

use kinesin_wire::Value;

use crate::model::StreamMode;
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) fn describe_limits(&self, ctx: &RequestContext) -> Value {
        let registry = self.registry();
        let streams: Vec<_> = registry.in_account(&ctx.account, &ctx.region).collect();
        let open_shards: usize = streams.iter().map(|s| s.open_shards().count()).sum();
        let on_demand = streams.iter().filter(|s| s.mode == StreamMode::OnDemand).count();
        Value::object()
            .with("ShardLimit", self.config.shard_limit)
            .with("OpenShardCount", open_shards)
            .with("OnDemandStreamCount", on_demand)
            .with("OnDemandStreamCountLimit", self.config.on_demand_stream_limit)
    }
}
