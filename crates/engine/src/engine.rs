//! The engine: stream registry, status transitions, retention, and dispatch of every
//! operation to its handler in [`crate::operations`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use kinesin_wire::token::Signer;
use kinesin_wire::{ApiError, Input, Operation};
use rand::RngCore;

use crate::autoscale::LoadTracker;
use crate::errors;
use crate::model::{StreamMeta, StreamStatus};
use crate::registry::Registry;
use crate::storage::{Cas, Catalog, Clock, ShardKey, ShardLog, StoreError};
use crate::stream_metrics::StreamMetrics;
use crate::subscription::SUBSCRIPTION_MS;
use crate::throttle::Throttle;
use crate::view::StreamView;
use crate::{Api, BoxFuture, Reply, RequestContext};

/// Settings that shape the engine's behaviour (the server's command-line flags).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How long a new stream stays CREATING, in ms (AWS takes seconds; 0 is allowed).
    pub create_stream_ms: i64,
    /// How long a deleted stream stays DELETING before it is gone.
    pub delete_stream_ms: i64,
    /// How long an update keeps a stream UPDATING.
    pub update_stream_ms: i64,
    /// Open shards allowed per account and region.
    pub shard_limit: u32,
    /// On-demand streams allowed per account and region.
    pub on_demand_stream_limit: u32,
    /// How long a SubscribeToShard subscription lasts before the server ends it, in ms (AWS:
    /// 5 minutes; tests shorten it).
    pub subscription_ms: i64,
    /// Enforce AWS's per-shard throughput limits and control-plane call rates.
    pub enforce_limits: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            create_stream_ms: 500,
            delete_stream_ms: 500,
            update_stream_ms: 500,
            shard_limit: 500,
            on_demand_stream_limit: 50,
            subscription_ms: SUBSCRIPTION_MS,
            enforce_limits: false,
        }
    }
}

const ITERATOR_KEY_SETTING: &str = "token-signing-key";
/// How often `update_stream` tries again after losing a compare-and-set before giving up.
const MAX_UPDATE_ATTEMPTS: usize = 16;

/// One stream's figures, with who it belongs to ([`Engine::stream_figures`]).
#[derive(Debug, Clone)]
pub struct StreamFigures {
    /// The store's id of the stream (its directory in the data directory).
    pub stream_id: u64,
    pub account: String,
    pub region: String,
    pub stream: String,
    /// The shard-level metrics EnableEnhancedMonitoring asked for (CloudWatch names).
    pub shard_level_metrics: Vec<String>,
    pub metrics: Arc<StreamMetrics>,
    /// SubscribeToShard subscriptions running now.
    pub subscriptions: u64,
}

/// Kinesis semantics over a [`ShardLog`] and a [`Catalog`].
pub struct Engine<L, C> {
    pub(crate) log: Arc<L>,
    catalog: Arc<C>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: EngineConfig,
    /// Signs shard iterators and pagination tokens.
    pub(crate) signer: Signer,
    /// The streams as requests see them, kept current from the catalog's change feed;
    /// shared with running subscriptions, which outlive the request that started them.
    pub(crate) view: StreamView,
    /// Follows the catalog's change feed into `view`; aborted when the engine is dropped.
    feed: tokio::task::JoinHandle<()>,
    /// Serializes this engine's control-plane changes, so that its checks across streams
    /// (limits per account) see each other's results; `update_stream`'s compare-and-set is what
    /// keeps changes from other engines sharing the catalog from being lost. Data-plane calls
    /// never take it.
    control: tokio::sync::Mutex<()>,
    /// Appends hold it shared from routing until their records are durable; applying a
    /// reshard holds it exclusively, so a closed shard's end is final.
    pub(crate) write_gate: tokio::sync::RwLock<()>,
    /// Write load of on-demand shards, for capacity scaling.
    pub(crate) load: LoadTracker,
    /// AWS's rate limits (used only with `EngineConfig::enforce_limits`).
    pub(crate) throttle: Throttle,
}

fn internal(err: StoreError) -> ApiError {
    // Running out of descriptors, memory or disk fails every request: said once a minute.
    if !crate::exhaustion::report_store(&err) {
        tracing::error!(error = %err, "storage failure");
    }
    ApiError::internal_failure()
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// Loads every stream from the catalog and starts following its change feed.
    /// Transitions that were pending at shutdown complete on the first request.
    pub async fn open(
        log: L,
        catalog: C,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Result<Self, StoreError> {
        let mut fresh = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut fresh);
        // Every engine sharing the catalog must sign with the same key: of two nodes starting
        // at once on a new catalog, the first to store its key wins. A damaged key is replaced.
        let mut key = catalog.put_setting_if_absent(ITERATOR_KEY_SETTING, &fresh).await?;
        if key.len() != 32 {
            catalog.put_setting(ITERATOR_KEY_SETTING, &fresh).await?;
            key = fresh;
        }
        // Subscribed before loading, so that no change committed meanwhile is missed.
        let feed = catalog.changes();
        let mut registry = Registry::default();
        let mut next_transition = i64::MAX;
        for stream in catalog.load_streams().await? {
            if let Some(due) = stream.next_transition_ms() {
                next_transition = next_transition.min(due);
            }
            // A crash between creating a stream's logs and recording it in the catalog is
            // harmless; the reverse order cannot happen, but re-creating (a no-op for logs
            // that exist) keeps the two in step whatever a backend did. A backend may also
            // keep no trace of shards never written (`ShardLog::create_shard`).
            for shard in &stream.shards {
                let key = ShardKey { stream_id: stream.id, shard_index: shard.index };
                log.create_shard(key)?;
                // A backend may have forgotten a seal in a crash; the catalog remembers.
                if let Some(end) = shard.closed_at_seq_ix {
                    if let Err(e) = log.seal(key, end).await {
                        tracing::warn!(error = %e, ?key, "could not seal a closed shard again");
                    }
                }
            }
            registry.insert(Arc::new(stream));
        }
        let view = StreamView::new(registry, next_transition);
        let catalog = Arc::new(catalog);
        let feed = tokio::spawn(view.clone().follow(catalog.clone(), feed));
        Ok(Engine {
            log: Arc::new(log),
            catalog,
            clock,
            config,
            signer: Signer::new(key.try_into().expect("checked length")),
            view,
            feed,
            control: tokio::sync::Mutex::new(()),
            write_gate: tokio::sync::RwLock::new(()),
            load: LoadTracker::default(),
            throttle: Throttle::default(),
        })
    }

    /// The log the engine writes to (for tests and tools that look at it directly).
    pub fn log(&self) -> &L {
        &self.log
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(crate) fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.view.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) async fn control_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.control.lock().await
    }

    /// The one way to change an existing stream's metadata: applies `change` to the current
    /// version and commits the result with compare-and-set on the version. If the stream was
    /// changed meanwhile (by another node sharing the catalog), it is read again and `change`
    /// runs again on the fresh version, so every check a change makes belongs in `change`: the
    /// right AWS error then comes from the stream as it is. A change that leaves the metadata
    /// as it was writes nothing. Callers hold the control lock (which serializes this node's
    /// changes; the compare-and-set protects against other nodes').
    pub(crate) async fn update_stream<T>(
        &self,
        stream: &StreamMeta,
        mut change: impl FnMut(&mut StreamMeta) -> Result<T, ApiError>,
    ) -> Result<(Arc<StreamMeta>, T), ApiError> {
        let gone = |s: &StreamMeta| errors::stream_not_found(&s.name, &s.account);
        let mut current = self.registry().by_id(stream.id).cloned().ok_or_else(|| gone(stream))?;
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let mut meta = (*current).clone();
            let out = change(&mut meta)?;
            if meta == *current {
                return Ok((current, out));
            }
            meta.version = current.version + 1;
            if let Some(committed) = self.commit_stream(meta, Some(current.version)).await? {
                return Ok((committed, out));
            }
            current = match self.reload_stream(stream.id).await? {
                Some(fresh) => fresh,
                None => return Err(gone(&current)),
            };
        }
        Err(ApiError::resource_in_use(format!(
            "Stream {} under account {} is being changed by other requests; try again.",
            current.name, current.account
        )))
    }

    /// Records a new stream (version 1) in the catalog, then makes it visible. Its shard logs
    /// exist already; they are removed again if the catalog refuses it.
    pub(crate) async fn insert_stream(&self, mut meta: StreamMeta) -> Result<Arc<StreamMeta>, ApiError> {
        meta.version = 1;
        let (stream_id, name, account) = (meta.id, meta.name.clone(), meta.account.clone());
        if let Some(committed) = self.commit_stream(meta, None).await? {
            return Ok(committed);
        }
        // Ids are random u64s: a stream stored under the new one (the logs are its) is a
        // broken catalog.
        if self.catalog.get_stream(stream_id).await.map_err(internal)?.is_some() {
            return Err(ApiError::internal_failure());
        }
        // The name: taken by another node sharing the catalog, whose stream this node's view
        // does not hold yet (a cluster catalog refuses a taken name; docs/architecture.md, "The
        // storage seam").
        if let Err(e) = self.log.delete_stream(stream_id).await {
            tracing::warn!(error = %e, stream_id, "could not remove the logs of a stream not created");
        }
        Err(errors::stream_exists(&name, &account))
    }

    /// Writes `meta` if the stored version is `expected`, then makes it visible; `None` on a
    /// conflict.
    async fn commit_stream(
        &self,
        meta: StreamMeta,
        expected: Option<u64>,
    ) -> Result<Option<Arc<StreamMeta>>, ApiError> {
        Ok(match self.catalog.put_stream(&meta, expected).await.map_err(internal)? {
            Cas::Committed => Some(self.view.install(Arc::new(meta))),
            Cas::Conflict => None,
        })
    }

    /// Reads a stream again from the catalog (after a conflict) and makes what it holds
    /// visible.
    async fn reload_stream(&self, stream_id: u64) -> Result<Option<Arc<StreamMeta>>, ApiError> {
        Ok(match self.catalog.get_stream(stream_id).await.map_err(internal)? {
            Some(meta) => Some(self.view.install(Arc::new(meta))),
            None => {
                self.view.forget(stream_id);
                None
            }
        })
    }

    /// A named setting from the catalog.
    pub(crate) async fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, ApiError> {
        self.catalog.get_setting(key).await.map_err(internal)
    }

    pub(crate) async fn put_setting(&self, key: &str, value: Vec<u8>) -> Result<(), ApiError> {
        self.catalog.put_setting(key, &value).await.map_err(internal)
    }

    /// Creates the logs of new shards.
    pub(crate) fn create_shard_logs(&self, meta: &StreamMeta) -> Result<(), ApiError> {
        let keys: Vec<ShardKey> = meta
            .shards
            .iter()
            .map(|shard| ShardKey { stream_id: meta.id, shard_index: shard.index })
            .collect();
        self.log.create_shards(&keys).map_err(internal)
    }

    /// The delay a status change waits before completing.
    pub(crate) fn due_after(&self, delay_ms: i64) -> Option<i64> {
        Some(self.now_ms() + delay_ms.max(0))
    }

    /// Completes status transitions whose time has come: CREATING and UPDATING become
    /// ACTIVE (applying a pending reshard first), DELETING streams disappear with their logs;
    /// so do consumers' (CREATING becomes ACTIVE, DELETING consumers disappear).
    async fn settle_transitions(&self) -> Result<(), ApiError> {
        let now = self.now_ms();
        if self.view.next_transition_ms.load(Ordering::SeqCst) > now {
            return Ok(());
        }
        let _guard = self.control_lock().await;
        self.view.next_transition_ms.store(i64::MAX, Ordering::SeqCst);
        let (due, pending): (Vec<_>, Vec<_>) = self
            .registry()
            .all()
            .filter_map(|s| s.next_transition_ms().map(|d| (d, s.clone())))
            .partition(|(d, _)| *d <= now);
        for (d, _) in &pending {
            self.view.next_transition_ms.fetch_min(*d, Ordering::SeqCst);
        }
        for (_, stream) in due {
            if let Err(e) = self.complete_transition(&stream, now).await {
                // Try again on a later request.
                self.view.next_transition_ms.fetch_min(now, Ordering::SeqCst);
                return Err(e);
            }
        }
        Ok(())
    }

    async fn complete_transition(&self, stream: &StreamMeta, now: i64) -> Result<(), ApiError> {
        if stream.transition_due_ms.is_none_or(|due| due > now) {
            // Only consumers are due. (When the stream is due too, its consumers are settled
            // on the next pass: they are still due after it.)
            return self.settle_consumers(stream, now).await;
        }
        if stream.status == StreamStatus::Deleting {
            return self.remove_stream(stream).await;
        }
        let reshard = stream.pending_reshard.clone();
        // No append may be in flight while parents get their final tips, and none may route
        // by the old layout until the new one is visible.
        let (_gate, tips) = match &reshard {
            Some(change) => {
                let gate = self.write_gate.write().await;
                self.seal_closing_shards(stream, std::slice::from_ref(change)).await?;
                (Some(gate), self.open_tips(stream).await?)
            }
            None => (None, Default::default()),
        };
        self.update_stream(stream, |meta| {
            // Completed elsewhere meanwhile, or now another change (with a reshard this pass
            // did not take the gate for): the next pass looks again.
            if meta.status == StreamStatus::Deleting
                || meta.transition_due_ms.is_none_or(|due| due > now)
                || meta.pending_reshard != reshard
            {
                return Ok(());
            }
            meta.status = StreamStatus::Active;
            meta.transition_due_ms = None;
            if let Some(reshard) = meta.pending_reshard.take() {
                self.apply_reshard(meta, &reshard, &tips)?;
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Removes a stream whose DELETING time is up, with its logs. If it changed meanwhile,
    /// the next pass looks at it as it is now.
    async fn remove_stream(&self, stream: &StreamMeta) -> Result<(), ApiError> {
        let stream_id = stream.id;
        if self.catalog.delete_stream(stream_id, stream.version).await.map_err(internal)? == Cas::Conflict {
            self.reload_stream(stream_id).await?;
            return Ok(());
        }
        self.view.forget(stream_id);
        self.log.delete_stream(stream_id).await.map_err(internal)
    }

    /// Periodic housekeeping, called by the server every few seconds: completes due
    /// transitions, scales on-demand streams, and drops log segments past every stream's
    /// retention period.
    pub async fn maintain(&self) {
        if let Err(e) = self.settle_transitions().await {
            tracing::warn!(error = %e, "could not complete stream status transitions");
        }
        self.scale_on_demand_streams().await;
        let now = self.now_ms();
        let shards: Vec<(ShardKey, i64)> = self
            .registry()
            .all()
            .flat_map(|s| {
                let cutoff = now - i64::from(s.retention_hours) * 3_600_000;
                s.shards.iter().map(move |sh| (ShardKey { stream_id: s.id, shard_index: sh.index }, cutoff))
            })
            .collect();
        for (shard, cutoff) in shards {
            if let Err(e) = self.log.trim(shard, cutoff).await {
                tracing::warn!(error = %e, ?shard, "retention trim failed");
            }
        }
    }

    /// Every stream's figures since start-up, for metrics.
    pub fn stream_figures(&self) -> Vec<StreamFigures> {
        let subscriptions = self.view.fanout.live_subscriptions();
        self.registry()
            .all()
            .map(|s| StreamFigures {
                stream_id: s.id,
                account: s.account.clone(),
                region: s.region.clone(),
                stream: s.name.clone(),
                shard_level_metrics: s.shard_level_metrics.clone(),
                metrics: Arc::clone(&s.metrics),
                subscriptions: subscriptions.get(&s.id).copied().unwrap_or(0),
            })
            .collect()
    }

    /// Internal failures of the log, as the client sees them.
    pub(crate) fn store_failure(err: StoreError) -> ApiError {
        internal(err)
    }

    /// The input is taken by value so that the record writers can move the records' keys and
    /// data out of it rather than copy them.
    async fn dispatch(&self, ctx: &RequestContext, op: Operation, input: Input) -> Result<Reply, ApiError> {
        self.settle_transitions().await?;
        if self.config.enforce_limits {
            let members = input.members();
            let stream = members.str("StreamName").or_else(|| members.str("StreamARN"));
            self.throttle.admit_control(ctx, op, stream, self.now_ms())?;
        }
        use Operation as Op;
        if op == Op::PutRecords {
            return self.put_records(ctx, input.into_put_records()).await.map(Reply::PutRecords);
        }
        let input = &mut input.into_tree();
        let value = match op {
            Op::CreateStream => self.create_stream(ctx, input).await,
            Op::DeleteStream => self.delete_stream(ctx, input).await,
            Op::DescribeStream => self.describe_stream(ctx, input),
            Op::DescribeStreamSummary => self.describe_stream_summary(ctx, input),
            Op::ListStreams => self.list_streams(ctx, input),
            Op::ListShards => self.list_shards(ctx, input),
            Op::PutRecord => self.put_record(ctx, input).await,
            Op::GetShardIterator => self.get_shard_iterator(ctx, input).await,
            Op::GetRecords => self.get_records(ctx, input).await,
            Op::IncreaseStreamRetentionPeriod => self.change_retention(ctx, input, true).await,
            Op::DecreaseStreamRetentionPeriod => self.change_retention(ctx, input, false).await,
            Op::AddTagsToStream => self.add_tags_to_stream(ctx, input).await,
            Op::RemoveTagsFromStream => self.remove_tags_from_stream(ctx, input).await,
            Op::ListTagsForStream => self.list_tags_for_stream(ctx, input),
            Op::TagResource => self.tag_resource(ctx, input).await,
            Op::UntagResource => self.untag_resource(ctx, input).await,
            Op::ListTagsForResource => self.list_tags_for_resource(ctx, input),
            Op::DescribeLimits => Ok(self.describe_limits(ctx)),
            Op::DescribeAccountSettings => self.describe_account_settings(ctx).await,
            Op::UpdateAccountSettings => self.update_account_settings(ctx, input).await,
            Op::StartStreamEncryption => self.set_encryption(ctx, input, true).await,
            Op::StopStreamEncryption => self.set_encryption(ctx, input, false).await,
            Op::PutResourcePolicy => self.put_resource_policy(ctx, input).await,
            Op::GetResourcePolicy => self.get_resource_policy(ctx, input),
            Op::DeleteResourcePolicy => self.delete_resource_policy(ctx, input).await,
            Op::UpdateStreamWarmThroughput => self.update_stream_warm_throughput(ctx, input).await,
            Op::EnableEnhancedMonitoring => self.set_enhanced_monitoring(ctx, input, true).await,
            Op::DisableEnhancedMonitoring => self.set_enhanced_monitoring(ctx, input, false).await,
            Op::SplitShard => self.split_shard(ctx, input).await,
            Op::MergeShards => self.merge_shards(ctx, input).await,
            Op::UpdateShardCount => self.update_shard_count(ctx, input).await,
            Op::UpdateStreamMode => self.update_stream_mode(ctx, input).await,
            Op::UpdateMaxRecordSize => self.update_max_record_size(ctx, input).await,
            Op::RegisterStreamConsumer => self.register_stream_consumer(ctx, input).await,
            Op::DeregisterStreamConsumer => self.deregister_stream_consumer(ctx, input).await,
            Op::DescribeStreamConsumer => self.describe_stream_consumer(ctx, input),
            Op::ListStreamConsumers => self.list_stream_consumers(ctx, input),
            // The one operation that answers with an event stream.
            Op::SubscribeToShard => return self.subscribe_to_shard(ctx, input).await.map(Reply::Events),
            _ => Err(errors::not_implemented(op)),
        };
        value.map(Reply::Value)
    }
}

impl<L, C> Drop for Engine<L, C> {
    fn drop(&mut self) {
        self.feed.abort();
    }
}

impl<L: ShardLog, C: Catalog> Api for Engine<L, C> {
    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        op: Operation,
        input: Input,
    ) -> BoxFuture<'a, Result<Reply, ApiError>> {
        Box::pin(self.dispatch(ctx, op, input))
    }
}
