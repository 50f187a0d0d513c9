//! On-demand capacity: the engine splits a shard of an ON_DEMAND stream that stays over one
//! shard's write capacity, and merges two sibling shards back once both have stayed cold.
//!
//! Appends to on-demand streams add to a per-shard load counter; [`Engine::maintain`] turns
//! the counters into rates each time it runs and keeps, per shard, since when it has been
//! continuously hot or cold.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::{Reshard, ShardMeta, StreamMeta, StreamMode};
use crate::storage::{Catalog, ShardKey, ShardLog};
use crate::Engine;

/// One shard's write capacity (AWS's per-shard limits).
const SHARD_BYTES_PER_SEC: f64 = 1024.0 * 1024.0;
const SHARD_RECORDS_PER_SEC: f64 = 1000.0;
/// A shard over capacity this long is split.
const HOT_FOR_MS: i64 = 10_000;
/// Two sibling shards both under a tenth of capacity this long are merged.
const COLD_FOR_MS: i64 = 10 * 60_000;
const COLD_FRACTION: f64 = 0.1;

#[derive(Debug, Default)]
struct ShardLoad {
    records: u64,
    bytes: u64,
    hot_since: Option<i64>,
    cold_since: Option<i64>,
}

/// Write load of on-demand shards since the last look.
#[derive(Debug, Default)]
pub(crate) struct LoadTracker {
    shards: Mutex<HashMap<ShardKey, ShardLoad>>,
    last_look_ms: Mutex<Option<i64>>,
}

impl LoadTracker {
    pub(crate) fn record(&self, shard: ShardKey, records: usize, bytes: usize) {
        let mut shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        let load = shards.entry(shard).or_default();
        load.records += records as u64;
        load.bytes += bytes as u64;
    }

    /// Turns the counts since the last look into rates and updates each open shard's hot or
    /// cold streak.
    fn look(&self, now_ms: i64, open: &[ShardKey]) {
        let mut last = self.last_look_ms.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed_secs = last.map_or(0.0, |t| (now_ms - t) as f64 / 1000.0);
        *last = Some(now_ms);
        if elapsed_secs <= 0.0 {
            return;
        }
        let mut shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        shards.retain(|key, _| open.contains(key));
        for key in open {
            let load = shards.entry(*key).or_default();
            let use_fraction = (load.bytes as f64 / elapsed_secs / SHARD_BYTES_PER_SEC)
                .max(load.records as f64 / elapsed_secs / SHARD_RECORDS_PER_SEC);
            (load.records, load.bytes) = (0, 0);
            load.hot_since = if use_fraction > 1.0 { load.hot_since.or(Some(now_ms)) } else { None };
            load.cold_since =
                if use_fraction < COLD_FRACTION { load.cold_since.or(Some(now_ms)) } else { None };
        }
    }

    fn hot(&self, key: &ShardKey, now_ms: i64) -> bool {
        let shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        shards.get(key).and_then(|l| l.hot_since).is_some_and(|since| now_ms - since >= HOT_FOR_MS)
    }

    fn cold(&self, key: &ShardKey, now_ms: i64) -> bool {
        let shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        shards.get(key).and_then(|l| l.cold_since).is_some_and(|since| now_ms - since >= COLD_FOR_MS)
    }
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// Splits hot shards and merges cold siblings of every ACTIVE on-demand stream.
    pub(crate) async fn scale_on_demand_streams(&self) {
        let now = self.now_ms();
        let streams: Vec<_> =
            self.registry().all().filter(|s| s.mode == StreamMode::OnDemand).cloned().collect();
        let open: Vec<ShardKey> = streams
            .iter()
            .flat_map(|s| s.open_shards().map(|sh| ShardKey { stream_id: s.id, shard_index: sh.index }))
            .collect();
        self.load.look(now, &open);
        for stream in streams {
            let changes = self.capacity_changes(&stream, now);
            if changes.is_empty() {
                continue;
            }
            if let Err(e) = self.apply_capacity_changes(stream.id, &changes).await {
                tracing::warn!(stream = %stream.name, error = %e, "on-demand scaling failed");
            }
        }
    }

    fn capacity_changes(&self, stream: &StreamMeta, now: i64) -> Vec<Reshard> {
        let key = |s: &ShardMeta| ShardKey { stream_id: stream.id, shard_index: s.index };
        let mut changes = Vec::new();
        let open: u32 = self
            .registry()
            .in_account(&stream.account, &stream.region)
            .map(|s| s.open_shards().count() as u32)
            .sum();
        let mut room = self.config.shard_limit.saturating_sub(open);
        for shard in stream.open_shards() {
            let (start, end) = shard.hash_range();
            if room > 0 && end - start >= 2 && self.load.hot(&key(shard), now) {
                room -= 1;
                let middle = start + (end - start) / 2 + 1;
                changes
                    .push(Reshard::Split { shard: shard.index, new_starting_hash_key: middle.to_string() });
            }
        }
        // Siblings: the two children of one split, still both open and adjacent.
        let open: Vec<&ShardMeta> = stream.open_shards().collect();
        for a in &open {
            for b in &open {
                let siblings = a.parent.is_some() && a.parent == b.parent && a.adjacent_parent.is_none();
                if siblings
                    && a.hash_range().1.checked_add(1) == Some(b.hash_range().0)
                    && self.load.cold(&key(a), now)
                    && self.load.cold(&key(b), now)
                {
                    changes.push(Reshard::Merge { shard: a.index, adjacent: b.index });
                }
            }
        }
        changes
    }

    async fn apply_capacity_changes(
        &self,
        stream_id: u64,
        changes: &[Reshard],
    ) -> Result<(), kinesin_wire::ApiError> {
        let _guard = self.control_lock().await;
        let _gate = self.write_gate.write().await;
        let Some(stream) = self.registry().by_id(stream_id).cloned() else { return Ok(()) };
        self.seal_closing_shards(&stream, changes).await?;
        let tips = self.open_tips(&stream).await?;
        self.update_stream(&stream, |meta| {
            // Decided on this version: one changed meanwhile is looked at again next time.
            if meta.version != stream.version {
                return Ok(());
            }
            for change in changes {
                tracing::info!(stream = %meta.name, ?change, "on-demand scaling");
                self.apply_reshard(meta, change, &tips)?;
            }
            Ok(())
        })
        .await?;
        Ok(())
    }
}
