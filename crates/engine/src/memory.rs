//! An in-memory backend: [`MemoryLog`] and [`MemoryCatalog`], the storage traits with nothing
//! behind them but maps. For tests (the engine's, and the conformance suite's own check:
//! `crate::conformance`), and for reading the traits' contracts in the plainest code that
//! keeps them. Nothing survives the process. Clones share their contents, as two nodes
//! share a cluster's storage.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

use crate::model::StreamMeta;
use crate::storage::{
    Appended, Cas, Catalog, ChangeFeed, Clock, NewRecord, Position, ReadBatch, ShardKey, ShardLog,
    StoreError, StoredRecord, StreamChange, Tails, Tip,
};

/// Per-shard logs in memory.
#[derive(Clone)]
pub struct MemoryLog {
    inner: Arc<LogInner>,
}

struct LogInner {
    clock: Arc<dyn Clock>,
    shards: Mutex<HashMap<ShardKey, Shard>>,
    tails: Tails,
}

#[derive(Default)]
struct Shard {
    /// Retained records, oldest first; `records[i]` has `seq_ix == first_seq_ix + i`.
    records: VecDeque<StoredRecord>,
    first_seq_ix: u64,
    tip: Tip,
    sealed_at: Option<u64>,
}

impl std::fmt::Debug for MemoryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLog").finish_non_exhaustive()
    }
}

impl MemoryLog {
    /// An empty log whose records arrive at `clock`'s time.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MemoryLog { inner: Arc::new(LogInner { clock, shards: Mutex::default(), tails: Tails::default() }) }
    }

    fn current_tip(&self, key: ShardKey) -> Result<Tip, StoreError> {
        self.with_shard(key, |shard| Ok(shard.tip))
    }

    fn with_shard<T>(
        &self,
        key: ShardKey,
        op: impl FnOnce(&mut Shard) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut shards = self.inner.shards.lock().unwrap_or_else(PoisonError::into_inner);
        op(shards.get_mut(&key).ok_or(StoreError::NoSuchShard(key))?)
    }
}

impl ShardLog for MemoryLog {
    fn create_shard(&self, shard: ShardKey) -> Result<(), StoreError> {
        self.inner.shards.lock().unwrap_or_else(PoisonError::into_inner).entry(shard).or_default();
        Ok(())
    }

    async fn append(&self, key: ShardKey, records: Vec<NewRecord>) -> Result<Appended, StoreError> {
        let now = self.inner.clock.now_ms();
        let appended = self.with_shard(key, |shard| {
            if shard.sealed_at.is_some() {
                return Err(StoreError::Sealed(key));
            }
            let arrival_ms = shard.tip.last_arrival_ms.map_or(now, |last| last.max(now));
            let first_seq_ix = shard.tip.next_seq_ix;
            for (seq_ix, record) in (first_seq_ix..).zip(records) {
                let NewRecord { partition_key, data, .. } = record;
                shard.records.push_back(StoredRecord { seq_ix, arrival_ms, partition_key, data });
                shard.tip = Tip { next_seq_ix: seq_ix + 1, last_arrival_ms: Some(arrival_ms) };
            }
            Ok(Appended { first_seq_ix, arrival_ms })
        })?;
        self.inner.tails.notify(key);
        Ok(appended)
    }

    async fn read(
        &self,
        key: ShardKey,
        from: Position,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<ReadBatch, StoreError> {
        self.with_shard(key, |shard| {
            let start = from.seq_ix.max(shard.first_seq_ix);
            let skip = usize::try_from(start - shard.first_seq_ix).unwrap_or(usize::MAX);
            let mut records = Vec::new();
            let mut bytes = 0;
            for record in shard.records.range(skip.min(shard.records.len())..).take(max_records) {
                bytes += record.partition_key.len() + record.data.len();
                if bytes > max_bytes && !records.is_empty() {
                    break;
                }
                records.push(record.clone());
            }
            let next = records.last().map_or(start, |r| r.seq_ix + 1);
            Ok(ReadBatch { records, next: Position { seq_ix: next, hint: 0 } })
        })
    }

    async fn seek_time(&self, key: ShardKey, arrival_ms: i64) -> Result<Position, StoreError> {
        self.with_shard(key, |shard| {
            let seq_ix = match shard.records.iter().find(|r| r.arrival_ms >= arrival_ms) {
                Some(record) => record.seq_ix,
                None => shard.tip.next_seq_ix,
            };
            Ok(Position { seq_ix, hint: 0 })
        })
    }

    async fn tip(&self, key: ShardKey) -> Result<Tip, StoreError> {
        self.current_tip(key)
    }

    async fn trim(&self, key: ShardKey, arrival_ms: i64) -> Result<(), StoreError> {
        self.with_shard(key, |shard| {
            while shard.records.front().is_some_and(|r| r.arrival_ms < arrival_ms) {
                shard.records.pop_front();
                shard.first_seq_ix += 1;
            }
            Ok(())
        })
    }

    async fn delete_stream(&self, stream_id: u64) -> Result<(), StoreError> {
        let mut shards = self.inner.shards.lock().unwrap_or_else(PoisonError::into_inner);
        shards.retain(|key, _| key.stream_id != stream_id);
        Ok(())
    }

    async fn seal(&self, key: ShardKey, end_seq_ix: u64) -> Result<(), StoreError> {
        self.with_shard(key, |shard| match shard.sealed_at {
            Some(end) if end == end_seq_ix => Ok(()),
            Some(end) => Err(StoreError::Corrupt(format!("{key:?} is sealed at {end}, not {end_seq_ix}"))),
            None if shard.tip.next_seq_ix > end_seq_ix => Err(StoreError::Corrupt(format!(
                "{key:?} holds records up to {}, past its end {end_seq_ix}",
                shard.tip.next_seq_ix
            ))),
            None => {
                shard.sealed_at = Some(end_seq_ix);
                Ok(())
            }
        })
    }

    async fn wait_for(&self, key: ShardKey, from_seq_ix: u64) -> Result<(), StoreError> {
        self.inner.tails.wait_until(key, || Ok(self.current_tip(key)?.next_seq_ix > from_seq_ix)).await
    }
}

/// Stream metadata and settings in memory, with compare-and-set and an in-process change feed.
#[derive(Clone)]
pub struct MemoryCatalog {
    inner: Arc<CatalogInner>,
}

struct CatalogInner {
    /// Held while a change is made and announced, so the feed reports changes in commit order.
    streams: Mutex<BTreeMap<u64, StreamMeta>>,
    settings: Mutex<HashMap<String, Vec<u8>>>,
    changes: broadcast::Sender<StreamChange>,
}

impl std::fmt::Debug for MemoryCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCatalog").finish_non_exhaustive()
    }
}

/// Changes the feed holds for a subscriber that has not taken them yet.
const FEED_CAPACITY: usize = 1024;

impl Default for MemoryCatalog {
    fn default() -> Self {
        MemoryCatalog {
            inner: Arc::new(CatalogInner {
                streams: Mutex::default(),
                settings: Mutex::default(),
                changes: broadcast::channel(FEED_CAPACITY).0,
            }),
        }
    }
}

impl MemoryCatalog {
    fn compare_and_set(
        &self,
        stream_id: u64,
        expected: Option<u64>,
        change: StreamChange,
    ) -> Result<Cas, StoreError> {
        let mut streams = self.inner.streams.lock().unwrap_or_else(PoisonError::into_inner);
        if streams.get(&stream_id).map(|s| s.version) != expected {
            return Ok(Cas::Conflict);
        }
        match &change {
            StreamChange::Put(meta) => streams.insert(stream_id, (**meta).clone()),
            StreamChange::Deleted { .. } => streams.remove(&stream_id),
        };
        // Nobody listening is fine.
        let _ = self.inner.changes.send(change);
        Ok(Cas::Committed)
    }
}

impl Catalog for MemoryCatalog {
    async fn load_streams(&self) -> Result<Vec<StreamMeta>, StoreError> {
        Ok(self.inner.streams.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect())
    }

    async fn get_stream(&self, stream_id: u64) -> Result<Option<StreamMeta>, StoreError> {
        Ok(self.inner.streams.lock().unwrap_or_else(PoisonError::into_inner).get(&stream_id).cloned())
    }

    async fn put_stream(&self, stream: &StreamMeta, expected: Option<u64>) -> Result<Cas, StoreError> {
        self.compare_and_set(stream.id, expected, StreamChange::Put(Arc::new(stream.clone())))
    }

    async fn delete_stream(&self, stream_id: u64, expected: u64) -> Result<Cas, StoreError> {
        self.compare_and_set(stream_id, Some(expected), StreamChange::Deleted { stream_id })
    }

    async fn get_setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.inner.settings.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned())
    }

    async fn put_setting(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.inner
            .settings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    async fn put_setting_if_absent(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut settings = self.inner.settings.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(settings.entry(key.to_owned()).or_insert_with(|| value.to_vec()).clone())
    }

    fn changes(&self) -> ChangeFeed {
        self.inner.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use kinesin_wire::{Input, Operation, Value};

    use super::*;
    use crate::conformance::{Backend, TestClock};
    use crate::{Api, Engine, EngineConfig, Reply, RequestContext};

    /// The memory backend for the conformance suite: a clone is a second node's handle, and
    /// nothing outlives a crash.
    #[derive(Default)]
    struct MemoryBackend;

    impl Backend for MemoryBackend {
        type Log = MemoryLog;
        type Catalog = MemoryCatalog;

        async fn open(&mut self, clock: Arc<dyn Clock>) -> (MemoryLog, MemoryCatalog) {
            (MemoryLog::new(clock), MemoryCatalog::default())
        }

        async fn peer(&mut self, catalog: &MemoryCatalog) -> MemoryCatalog {
            catalog.clone()
        }

        async fn crash_and_reopen(
            &mut self,
            _: MemoryLog,
            _: MemoryCatalog,
            _: Arc<dyn Clock>,
        ) -> Option<(MemoryLog, MemoryCatalog)> {
            None
        }
    }

    crate::backend_conformance!(MemoryBackend);

    async fn call(engine: &impl Api, op: Operation, input: Value) -> Result<Value, kinesin_wire::ApiError> {
        let ctx = RequestContext { account: "000000000000".into(), region: "us-east-1".into() };
        match engine.handle(&ctx, op, Input::Tree(input)).await? {
            Reply::Value(value) => Ok(value),
            other => panic!("{op:?}: {other:?}"),
        }
    }

    /// Two engines on one catalog, as two nodes of a cluster: each learns of the other's
    /// changes through the change feed, and concurrent changes of one stream are both kept
    /// (the compare-and-set makes the loser read the stream again and apply its change to it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_engines_on_one_catalog_never_lose_an_update() {
        let clock = TestClock::new(1_790_000_000_000);
        let (log, catalog) = (MemoryLog::new(clock.clone()), MemoryCatalog::default());
        let config = EngineConfig { create_stream_ms: 0, ..EngineConfig::default() };
        let a = Arc::new(
            Engine::open(log.clone(), catalog.clone(), clock.clone(), config.clone()).await.unwrap(),
        );
        let b = Arc::new(Engine::open(log, catalog.clone(), clock.clone(), config).await.unwrap());
        let name = || Value::object().with("StreamName", "s");
        call(&*a, Operation::CreateStream, name().with("ShardCount", 1i64)).await.unwrap();
        // Node b sees the stream without being told.
        tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while call(&*b, Operation::DescribeStreamSummary, name()).await.is_err() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the change feed brings the new stream to the other engine");

        let tag = |engine: Arc<Engine<MemoryLog, MemoryCatalog>>, key: String| async move {
            let tags = Value::Map(vec![(key.into(), "v".into())]);
            call(&*engine, Operation::AddTagsToStream, name().with("Tags", tags)).await.unwrap();
        };
        let writers: Vec<_> = (0..20)
            .map(|i| {
                let engine = if i % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(tag(engine, format!("k{i:02}")))
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let stored = catalog.load_streams().await.unwrap();
        let mut keys: Vec<&str> = stored[0].tags.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        let expected: Vec<String> = (0..20).map(|i| format!("k{i:02}")).collect();
        assert_eq!(keys, expected.iter().map(String::as_str).collect::<Vec<_>>(), "no tag lost");
        assert_eq!(stored[0].version, 22, "one version per change: created, ACTIVE, 20 tags");
    }
}
