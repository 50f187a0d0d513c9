//! ListShards: the shards of a stream in id order, with ShardFilter and token paging.

use kinesin_wire::{ApiError, Value};

use crate::lookup::parse_shard_id;
use crate::model::{ShardMeta, StreamMeta};
use crate::pagination::Cursor;
use crate::render;
use crate::storage::{Catalog, ShardLog};
use crate::{errors, Engine, RequestContext};

/// AWS returns at most 1000 shards per call.
const MAX_SHARDS_PER_CALL: usize = 1000;

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) fn list_shards(&self, ctx: &RequestContext, input: &Value) -> Result<Value, ApiError> {
        let names_stream = input.str("StreamName").is_some() || input.str("StreamARN").is_some();
        let (stream, after) = match input.str("NextToken") {
            Some(_) if names_stream => {
                return Err(ApiError::invalid_argument(
                    "NextToken and StreamName cannot be provided together.",
                ))
            }
            // The token already fixes where the listing continues.
            Some(_) if input.get("ExclusiveStartShardId").is_some() => {
                return Err(ApiError::invalid_argument(
                    "NextToken and ExclusiveStartShardId cannot be provided together.",
                ))
            }
            Some(_) if input.get("StreamCreationTimestamp").is_some() => {
                return Err(ApiError::invalid_argument(
                    "NextToken and StreamCreationTimestamp cannot be provided together.",
                ))
            }
            Some(token) => {
                let cursor = Cursor::decode(&self.signer, token)?;
                cursor.check_fresh(self.now_ms())?;
                let stream = self
                    .registry()
                    .by_id(cursor.stream_id)
                    .filter(|s| s.account == ctx.account && s.region == ctx.region)
                    .cloned()
                    .ok_or_else(|| {
                        ApiError::resource_not_found("The stream of this NextToken no longer exists.")
                    })?;
                (stream, cursor.after.parse::<u32>().ok())
            }
            None if !names_stream => {
                return Err(ApiError::invalid_argument("Either NextToken or StreamName should be provided."))
            }
            None => {
                let stream = self.resolve_stream(ctx, input)?;
                if let Some(created) = input.timestamp("StreamCreationTimestamp") {
                    if created != stream.created_ms {
                        return Err(errors::stream_not_found(&stream.name, &stream.account));
                    }
                }
                let after = input.str("ExclusiveStartShardId").and_then(parse_shard_id);
                (stream, after)
            }
        };
        let filter = ShardFilter::from_input(input)?;
        let limit =
            input.int("MaxResults").map_or(MAX_SHARDS_PER_CALL, |l| (l as usize).min(MAX_SHARDS_PER_CALL));
        let after = match (after, filter.after) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let now = self.now_ms();
        let mut shards = stream.live_shards_after(now, after).filter(|s| filter.admits(&stream, s, now));
        let page: Vec<&ShardMeta> = shards.by_ref().take(limit).collect();
        let next_token = match (shards.next(), page.last()) {
            (Some(_), Some(last)) => Some(
                Cursor { stream_id: stream.id, after: last.index.to_string(), issued_ms: self.now_ms() }
                    .encode(&self.signer),
            ),
            _ => None,
        };
        Ok(Value::object()
            .with("Shards", page.into_iter().map(render::shard).collect::<Vec<_>>())
            .with_opt("NextToken", next_token))
    }
}

/// A parsed `ShardFilter`.
struct ShardFilter {
    kind: FilterKind,
    /// AFTER_SHARD_ID's shard index.
    after: Option<u32>,
}

enum FilterKind {
    /// FROM_TRIM_HORIZON (the default) and AFTER_SHARD_ID: every shard that holds data.
    All,
    /// AT_TRIM_HORIZON: the shards the retained data starts in (no parent still holds data).
    AtTrimHorizon,
    /// AT_LATEST: the open shards.
    OpenNow,
    /// AT_TIMESTAMP: the shards that were open at the time.
    OpenAt(i64),
    /// FROM_TIMESTAMP: the shards open at the time and every one opened since.
    OpenSince(i64),
}

impl ShardFilter {
    fn from_input(input: &Value) -> Result<ShardFilter, ApiError> {
        let Some(filter) = input.get("ShardFilter") else {
            return Ok(ShardFilter { kind: FilterKind::All, after: None });
        };
        let kind = filter.str("Type").unwrap_or_default();
        let timestamp = || {
            filter.timestamp("Timestamp").ok_or_else(|| {
                ApiError::invalid_argument(format!(
                    "Timestamp must be specified for ShardFilter type {kind}."
                ))
            })
        };
        let (kind, after) = match kind {
            "AFTER_SHARD_ID" => {
                let id = filter.str("ShardId").ok_or_else(|| {
                    ApiError::invalid_argument(
                        "ShardId must be specified for ShardFilter type AFTER_SHARD_ID.",
                    )
                })?;
                (FilterKind::All, parse_shard_id(id))
            }
            "AT_TRIM_HORIZON" => (FilterKind::AtTrimHorizon, None),
            "AT_LATEST" => (FilterKind::OpenNow, None),
            "AT_TIMESTAMP" => (FilterKind::OpenAt(timestamp()?), None),
            "FROM_TIMESTAMP" => (FilterKind::OpenSince(timestamp()?), None),
            _ => (FilterKind::All, None),
        };
        Ok(ShardFilter { kind, after })
    }

    fn admits(&self, stream: &StreamMeta, shard: &ShardMeta, now: i64) -> bool {
        match self.kind {
            FilterKind::All => true,
            FilterKind::AtTrimHorizon => {
                let mut parents = shard.parent.iter().chain(shard.adjacent_parent.iter());
                !parents.any(|p| stream.shard(*p).is_some_and(|parent| stream.holds_data(parent, now)))
            }
            FilterKind::OpenNow => shard.closed_at_seq_ix.is_none(),
            // A time before the stream existed means "from its creation".
            FilterKind::OpenAt(t) => {
                opened_ms(stream, shard) <= t.max(stream.created_ms)
                    && shard.closed_ms.is_none_or(|closed| closed > t)
            }
            FilterKind::OpenSince(t) => shard.closed_ms.is_none_or(|closed| closed >= t),
        }
    }
}

/// When a shard started taking records: when its parent closed, for a child (its creation
/// time is set a little later so its sequence numbers sort after the parent's).
fn opened_ms(stream: &StreamMeta, shard: &ShardMeta) -> i64 {
    shard.parent.and_then(|p| stream.shard(p)).and_then(|parent| parent.closed_ms).unwrap_or(shard.created_ms)
}
