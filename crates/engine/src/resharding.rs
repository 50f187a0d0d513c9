//! Changing a stream's shards: splits, merges and uniform rescaling, with lineage as AWS
//! reports it.
//!
//! A change is validated when requested, recorded as [`Reshard`] while the stream is
//! UPDATING, and applied when the transition completes. Applying closes parents at their
//! current tip and opens children under the engine's write gate, so no append can land in a
//! parent after its end was fixed.

use std::collections::HashMap;

use kinesin_wire::ApiError;

use crate::hashing::{even_ranges, parse_hash_key};
use crate::lookup::shard_id;
use crate::model::{Reshard, ShardMeta, StreamMeta, StreamMode, StreamStatus};
use crate::storage::{Catalog, ShardKey, ShardLog};
use crate::{errors, Engine, RequestContext};

/// Where each shard's log ends when it is closed; shards created and closed within one change
/// never held records.
struct Layout<'a> {
    meta: &'a mut StreamMeta,
    tips: HashMap<u32, u64>,
    now_ms: i64,
}

impl Layout<'_> {
    fn shard(&self, index: u32) -> &ShardMeta {
        self.meta.shard(index).expect("shard indices come from the layout")
    }

    fn close(&mut self, index: u32) {
        let end = self.tips.get(&index).copied().unwrap_or(0);
        let now = self.now_ms;
        let at = self.meta.shards.binary_search_by_key(&index, |s| s.index).expect("shard in layout");
        let shard = &mut self.meta.shards[at];
        shard.closed_at_seq_ix = Some(end);
        shard.closed_ms = Some(now);
    }

    /// Opens a child with the next unused index. Its creation second is later than every
    /// parent's, so its sequence numbers sort after theirs.
    fn open_child(&mut self, range: (u128, u128), parent: u32, adjacent: Option<u32>) -> u32 {
        let parents_created = [Some(parent), adjacent]
            .into_iter()
            .flatten()
            .map(|p| self.shard(p).created_ms)
            .max()
            .unwrap_or(0);
        let index = self.meta.shards.len() as u32;
        self.meta.shards.push(ShardMeta {
            index,
            parent: Some(parent),
            adjacent_parent: adjacent,
            starting_hash_key: range.0,
            ending_hash_key: range.1,
            created_ms: self.now_ms.max(parents_created + 1000),
            closed_at_seq_ix: None,
            closed_ms: None,
        });
        index
    }

    fn range(&self, index: u32) -> (u128, u128) {
        self.shard(index).hash_range()
    }

    /// Splits `index` so the upper child starts at `at` (`start < at <= end`).
    fn split(&mut self, index: u32, at: u128) -> (u32, u32) {
        let (start, end) = self.range(index);
        self.close(index);
        let lower = self.open_child((start, at - 1), index, None);
        let upper = self.open_child((at, end), index, None);
        (lower, upper)
    }

    /// Merges two adjacent shards; `index` becomes the child's ParentShardId.
    fn merge(&mut self, index: u32, adjacent: u32) -> u32 {
        let (a, b) = (self.range(index), self.range(adjacent));
        self.close(index);
        self.close(adjacent);
        self.open_child((a.0.min(b.0), a.1.max(b.1)), index, Some(adjacent))
    }

    /// Open shards in hash-key order.
    fn open_by_range(&self) -> Vec<(u128, u128, u32)> {
        let mut open: Vec<_> =
            self.meta.open_shards().map(|s| s.index).map(|i| (self.range(i).0, self.range(i).1, i)).collect();
        open.sort();
        open
    }

    /// UNIFORM_SCALING to `target` shards by splits and merges only, as AWS does (which is
    /// why short-lived intermediate shards appear): first split every open shard at each
    /// target boundary inside it, then merge the pieces of each target range left to right.
    fn scale(&mut self, target: u32) {
        let ranges = even_ranges(target);
        for &(boundary, _) in &ranges[1..] {
            if let Some(&(_, _, index)) =
                self.open_by_range().iter().find(|(start, end, _)| *start < boundary && boundary <= *end)
            {
                self.split(index, boundary);
            }
        }
        for (start, end) in ranges {
            loop {
                let pieces: Vec<u32> = self
                    .open_by_range()
                    .into_iter()
                    .filter(|(s, e, _)| *s >= start && *e <= end)
                    .map(|(_, _, i)| i)
                    .collect();
                match pieces[..] {
                    [first, second, ..] => {
                        self.merge(first, second);
                    }
                    _ => break,
                }
            }
        }
    }
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// Accepts a change requested by SplitShard, MergeShards or UpdateShardCount: checks what
    /// all three share, then puts the stream in UPDATING with the change pending. `involved`
    /// shards must be open; `added` is how many more open shards the change leaves.
    pub(crate) async fn request_reshard(
        &self,
        ctx: &RequestContext,
        stream: &StreamMeta,
        involved: &[u32],
        added: u32,
        change: Reshard,
    ) -> Result<(), ApiError> {
        self.update_stream(stream, |meta| {
            self.check_reshard(ctx, meta, involved, added)?;
            meta.status = StreamStatus::Updating;
            meta.pending_reshard = Some(change.clone());
            meta.transition_due_ms = self.due_after(self.config.update_stream_ms);
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Whether `stream` may take a change of its shards now.
    fn check_reshard(
        &self,
        ctx: &RequestContext,
        stream: &StreamMeta,
        involved: &[u32],
        added: u32,
    ) -> Result<(), ApiError> {
        if stream.mode == StreamMode::OnDemand {
            return Err(ApiError::invalid_argument(format!(
                "Stream {} under account {} is in ON_DEMAND mode, where Kinesis manages the shards. Switch it to \
                 PROVISIONED with UpdateStreamMode to reshard it yourself.",
                stream.name, stream.account
            )));
        }
        if stream.status != StreamStatus::Active {
            return Err(errors::stream_not_active(stream));
        }
        for index in involved {
            if stream.shard(*index).is_some_and(|s| s.closed_at_seq_ix.is_some()) {
                return Err(ApiError::invalid_argument(format!(
                    "Shard {} in stream {} under account {} has already been merged or split, and thus is not \
                     eligible for merging or splitting.",
                    shard_id(*index),
                    stream.name,
                    stream.account
                )));
            }
        }
        let open: u32 = self
            .registry()
            .in_account(&ctx.account, &ctx.region)
            .map(|s| s.open_shards().count() as u32)
            .sum();
        if open + added > self.config.shard_limit {
            return Err(errors::shard_limit_exceeded(ctx, open, self.config.shard_limit, added));
        }
        Ok(())
    }

    /// The tips of `meta`'s open shards, by shard index: where a reshard closes them. The
    /// caller holds the write gate, so they are final on this node (another node's append past
    /// one makes its seal fail: `seal_closing_shards`).
    pub(crate) async fn open_tips(&self, meta: &StreamMeta) -> Result<HashMap<u32, u64>, ApiError> {
        let mut tips = HashMap::new();
        for shard in meta.open_shards() {
            let key = ShardKey { stream_id: meta.id, shard_index: shard.index };
            tips.insert(shard.index, self.log.tip(key).await.map_err(Self::store_failure)?.next_seq_ix);
        }
        Ok(tips)
    }

    /// Applies a pending change to `meta`: closes parents at their `tips` ([`open_tips`]; a
    /// shard missing there is empty), opens children (and creates their logs).
    /// Returns the shards it closed, with their ends.
    ///
    /// [`open_tips`]: Engine::open_tips
    pub(crate) fn apply_reshard(
        &self,
        meta: &mut StreamMeta,
        reshard: &Reshard,
        tips: &HashMap<u32, u64>,
    ) -> Result<Vec<(ShardKey, u64)>, ApiError> {
        let was_open: Vec<u32> = meta.open_shards().map(|s| s.index).collect();
        let first_new = meta.shards.len();
        let mut layout = Layout { meta, tips: tips.clone(), now_ms: self.now_ms() };
        match reshard {
            Reshard::Split { shard, new_starting_hash_key } => {
                let at = parse_hash_key(new_starting_hash_key).unwrap_or(0);
                layout.split(*shard, at);
            }
            Reshard::Merge { shard, adjacent } => {
                layout.merge(*shard, *adjacent);
            }
            Reshard::Scale { target } => layout.scale(*target),
        }
        for shard in &meta.shards[first_new..] {
            self.log
                .create_shard(ShardKey { stream_id: meta.id, shard_index: shard.index })
                .map_err(Self::store_failure)?;
        }
        let closed = meta
            .shards
            .iter()
            .filter(|s| was_open.contains(&s.index) || s.index as usize >= first_new)
            .filter_map(|s| {
                Some((ShardKey { stream_id: meta.id, shard_index: s.index }, s.closed_at_seq_ix?))
            })
            .collect();
        Ok(closed)
    }

    /// Seals, in the log, the shards that `changes` will close, at their ends, before the
    /// change is committed: from then on no append, from this node or another, can land past
    /// a closed shard's end. The caller holds the write gate, so the ends are final; the
    /// committed change computes the same ones.
    pub(crate) async fn seal_closing_shards(
        &self,
        stream: &StreamMeta,
        changes: &[Reshard],
    ) -> Result<(), ApiError> {
        let mut plan = stream.clone();
        let mut closing = Vec::new();
        let tips = self.open_tips(stream).await?;
        for change in changes {
            closing.extend(self.apply_reshard(&mut plan, change, &tips)?);
        }
        for (shard, end) in closing {
            self.log.seal(shard, end).await.map_err(Self::store_failure)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::MAX_HASH_KEY;

    use crate::model::test_stream as stream;

    fn open_ranges(meta: &StreamMeta) -> Vec<(u128, u128)> {
        let mut r: Vec<_> = meta.open_shards().map(ShardMeta::hash_range).collect();
        r.sort();
        r
    }

    #[test]
    fn uniform_scaling_ends_with_even_ranges_and_consistent_lineage() {
        for (from, to) in [(1, 2), (2, 1), (3, 5), (4, 3), (5, 10), (10, 5), (7, 7), (6, 4)] {
            let mut meta = stream(from);
            let mut layout = Layout { meta: &mut meta, tips: HashMap::new(), now_ms: 5_000 };
            layout.scale(to);
            assert_eq!(open_ranges(&meta), even_ranges(to), "{from} -> {to}");
            for shard in &meta.shards {
                for parent in shard.parent.iter().chain(shard.adjacent_parent.iter()) {
                    let p = &meta.shards[*parent as usize];
                    assert!(p.closed_at_seq_ix.is_some(), "parents are closed");
                    assert!(p.index < shard.index, "children get later indices");
                    assert!(
                        shard.created_ms / 1000 > p.created_ms / 1000,
                        "child sequence numbers sort after"
                    );
                }
            }
            // Every closed shard has children, so readers always find where to go next.
            for closed in meta.shards.iter().filter(|s| s.closed_at_seq_ix.is_some()) {
                assert!(meta
                    .shards
                    .iter()
                    .any(|c| c.parent == Some(closed.index) || c.adjacent_parent == Some(closed.index)));
            }
        }
    }

    #[test]
    fn split_and_merge_keep_the_space_tiled() {
        let mut meta = stream(2);
        let mut layout = Layout { meta: &mut meta, tips: HashMap::from([(0, 7)]), now_ms: 9_000 };
        let (lower, upper) = layout.split(0, 1000);
        assert_eq!(layout.range(lower), (0, 999));
        let merged = layout.merge(upper, 1);
        assert_eq!(layout.shard(merged).parent, Some(upper));
        assert_eq!(layout.shard(merged).adjacent_parent, Some(1));
        assert_eq!(layout.shard(0).closed_at_seq_ix, Some(7));
        assert_eq!(open_ranges(&meta), vec![(0, 999), (1000, MAX_HASH_KEY)]);
    }
}
