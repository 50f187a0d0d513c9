//! [`ClusterLog`]: the cluster's [`ShardLog`], record data in the bucket and order in
//! PostgreSQL (docs/cluster.md, "The log"). Any number of nodes open it on the same database
//! and bucket; PostgreSQL's row lock on a shard is the only place where its order is decided.
//!
//! - Writes: `batch.rs` collects this node's appends, uploads one object per flush and commits
//!   it in one transaction.
//! - Reads: the frame index in PostgreSQL says which byte ranges hold the records; frames come
//!   from `cache.rs` or ranged reads of the bucket.
//! - Waiting: `wakeups.rs`, on PostgreSQL's `LISTEN/NOTIFY`.
//! - Collecting objects nothing references and orphaned uploads: `housekeeping.rs`.
//!
//! Creating a shard is synchronous in the seam and must stay cheap: the node notes the shard
//! as pending and inserts its row with its next commit (any commit, and every seal, inserts all
//! pending rows first). Until then (a flush interval) this node treats the shard as existing
//! and empty, and other nodes do not know it yet: a new stream is CREATING meanwhile, and a
//! reshard's children are in before the seal of their parents commits.

mod batch;
mod cache;
mod housekeeping;
mod wakeups;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use kinesin_engine::storage::{
    Appended, Clock, NewRecord, Position, ReadBatch, ShardKey, ShardLog, StoreError, StoredRecord, Tip,
};
use object_store::path::Path;
use tokio::sync::{mpsc, oneshot};

use self::batch::{columns, Job};
use self::cache::FrameCache;
pub use self::housekeeping::HousekeepingReport;
use self::wakeups::Wakeups;
use crate::bucket::Bucket;
use crate::frame::{decode_frame, Frame};
use crate::pg::Metadata;

/// How a node batches and caches.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// How long a batch collects appends before it is uploaded (`--flush-ms`).
    pub flush: Duration,
    /// A batch is closed early once its records reach this many bytes.
    pub max_batch_bytes: usize,
    /// The frame cache's budget in bytes.
    pub cache_bytes: usize,
    /// How old an upload without a committed row must be before housekeeping deletes it
    /// (docs/cluster.md, "Housekeeping"). Shorter only fails slow commits, never loses data.
    pub orphan_grace: Duration,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            flush: Duration::from_millis(10),
            max_batch_bytes: 4 << 20,
            cache_bytes: 256 << 20,
            orphan_grace: Duration::from_secs(600),
        }
    }
}

/// Index rows one read looks at, at most.
const FRAMES_PER_READ: i64 = 32;

/// The cluster's shard logs, as one node sees them.
pub struct ClusterLog {
    shared: Arc<Shared>,
    jobs: mpsc::UnboundedSender<Job>,
    /// The notification listener, stopped with the log.
    listener: tokio::task::JoinHandle<()>,
    orphan_grace: Duration,
}

/// What the log's handles, its batcher and its listener share.
pub(crate) struct Shared {
    metadata: Metadata,
    bucket: Bucket,
    clock: Arc<dyn Clock>,
    /// Shards created on this node whose rows may not be in yet (see the module's note).
    pending: Mutex<HashSet<ShardKey>>,
    cache: FrameCache,
    wakeups: Arc<Wakeups>,
}

impl Shared {
    /// A failed query, naming the database.
    fn failed(&self, e: tokio_postgres::Error) -> StoreError {
        self.metadata.failed(e)
    }

    fn is_pending(&self, shard: ShardKey) -> bool {
        self.pending().contains(&shard)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashSet<ShardKey>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Inserts the rows of the shards pending now, unless their stream was deleted; returns
    /// them, to be forgotten once `tx` commits ([`Shared::inserted`]).
    async fn insert_pending(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
    ) -> Result<Vec<ShardKey>, StoreError> {
        let pending: Vec<ShardKey> = self.pending().iter().copied().collect();
        if !pending.is_empty() {
            let (streams, shards) = columns(&pending);
            tx.execute(
                "INSERT INTO kinesin_shards (stream_id, shard_index)
                 SELECT s, i FROM unnest($1::bigint[], $2::bigint[]) AS t(s, i)
                 WHERE NOT EXISTS (SELECT 1 FROM kinesin_deleted_streams d WHERE d.stream_id = t.s)
                 ON CONFLICT DO NOTHING",
                &[&streams, &shards],
            )
            .await
            .map_err(|e| self.failed(e))?;
        }
        Ok(pending)
    }

    /// The rows of `shards` are committed.
    fn inserted(&self, shards: &[ShardKey]) {
        let mut pending = self.pending();
        for shard in shards {
            pending.remove(shard);
        }
    }
}

impl std::fmt::Debug for ClusterLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterLog").field("bucket", &self.shared.bucket).finish_non_exhaustive()
    }
}

impl Drop for ClusterLog {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl ClusterLog {
    /// Opens the log on a migrated database ([`Metadata::open`]) and a bucket; records arrive
    /// at `clock`'s time. Listens for other nodes' commits before it returns.
    pub async fn open(
        metadata: Metadata,
        bucket: Bucket,
        clock: Arc<dyn Clock>,
        config: LogConfig,
    ) -> Result<ClusterLog, StoreError> {
        let listening = wakeups::listen(&metadata).await.map_err(|e| metadata.failed(e))?;
        let wakeups = Arc::new(Wakeups::default());
        let listener = tokio::spawn(wakeups::follow(metadata.clone(), wakeups.clone(), listening));
        let shared = Arc::new(Shared {
            metadata,
            bucket,
            clock,
            pending: Mutex::default(),
            cache: FrameCache::new(config.cache_bytes),
            wakeups,
        });
        let (jobs, receiver) = mpsc::unbounded_channel();
        tokio::spawn(batch::run(shared.clone(), receiver, config.flush, config.max_batch_bytes));
        Ok(ClusterLog { shared, jobs, listener, orphan_grace: config.orphan_grace })
    }

    /// One housekeeping pass (docs/cluster.md, "Housekeeping"): deletes the objects no index
    /// row references any more and the orphaned uploads older than the grace period. Safe on
    /// every node at once: a pass another node is running makes this one skip.
    pub async fn housekeep(&self) -> Result<HousekeepingReport, StoreError> {
        housekeeping::run(&self.shared, self.orphan_grace).await
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.jobs.send(job).map_err(|_| StoreError::Io(std::io::Error::other("the log's batcher stopped")))
    }

    /// The shard's row: `(next_seq_ix, last_arrival_ms)`, or the empty tip of a shard this node
    /// created whose row is not in yet.
    async fn shard_row(&self, client: &tokio_postgres::Client, shard: ShardKey) -> Result<Tip, StoreError> {
        let row = client
            .query_opt(
                "SELECT next_seq_ix, last_arrival_ms FROM kinesin_shards WHERE stream_id = $1 AND shard_index = $2",
                &[&(shard.stream_id as i64), &i64::from(shard.shard_index)],
            )
            .await
            .map_err(|e| self.shared.failed(e))?;
        match row {
            Some(row) => Ok(Tip { next_seq_ix: row.get::<_, i64>(0) as u64, last_arrival_ms: row.get(1) }),
            None if self.shared.is_pending(shard) => Ok(Tip::default()),
            None => Err(StoreError::NoSuchShard(shard)),
        }
    }

    /// A frame, from the cache or the bucket, checked to be the one the index names.
    async fn frame(&self, shard: ShardKey, entry: &IndexEntry) -> Result<Arc<Frame>, StoreError> {
        if let Some(frame) = self.shared.cache.get(&entry.object, entry.offset) {
            return Ok(frame);
        }
        let range = entry.offset..entry.offset + entry.len;
        let bytes: Bytes = self.shared.bucket.get_range(&Path::from(entry.object.as_ref()), range).await?;
        let frame = decode_frame(bytes)?;
        if frame.shard != shard || frame.records.len() as u64 != entry.last_seq_ix - entry.first_seq_ix + 1 {
            return Err(StoreError::Corrupt(format!(
                "the frame at {}:{} is not the one the index names for {shard:?}",
                entry.object, entry.offset
            )));
        }
        let frame = Arc::new(frame);
        self.shared.cache.insert(entry.object.clone(), entry.offset, entry.len as usize, frame.clone());
        Ok(frame)
    }
}

impl ClusterLog {
    /// Whether the index still holds `entry`'s row.
    async fn indexed(&self, shard: ShardKey, entry: &IndexEntry) -> Result<bool, StoreError> {
        let client = self.shared.metadata.client().await?;
        let (stream_id, shard_index) = key_params(shard);
        let row = client
            .query_opt(
                "SELECT 1 FROM kinesin_frames WHERE stream_id = $1 AND shard_index = $2 AND last_seq_ix = $3",
                &[&stream_id, &shard_index, &(entry.last_seq_ix as i64)],
            )
            .await
            .map_err(|e| self.shared.failed(e))?;
        Ok(row.is_some())
    }
}

/// One row of the frame index.
struct IndexEntry {
    first_seq_ix: u64,
    last_seq_ix: u64,
    arrival_ms: i64,
    object: Arc<str>,
    offset: u64,
    len: u64,
}

fn key_params(shard: ShardKey) -> (i64, i64) {
    (shard.stream_id as i64, i64::from(shard.shard_index))
}

impl ShardLog for ClusterLog {
    fn create_shard(&self, shard: ShardKey) -> Result<(), StoreError> {
        self.create_shards(&[shard])
    }

    fn create_shards(&self, shards: &[ShardKey]) -> Result<(), StoreError> {
        self.shared.pending().extend(shards);
        self.submit(Job::Create)
    }

    async fn append(&self, shard: ShardKey, records: Vec<NewRecord>) -> Result<Appended, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Append { shard, records, reply })?;
        answer.await.map_err(|_| StoreError::Io(std::io::Error::other("the log's batcher stopped")))?
    }

    async fn read(
        &self,
        shard: ShardKey,
        from: Position,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<ReadBatch, StoreError> {
        let client = self.shared.metadata.client().await?;
        let (stream_id, shard_index) = key_params(shard);
        let rows = client
            .query(
                "SELECT first_seq_ix, last_seq_ix, max_arrival_ms, object_key, byte_offset, byte_len
                 FROM kinesin_frames WHERE stream_id = $1 AND shard_index = $2 AND last_seq_ix >= $3
                 ORDER BY last_seq_ix LIMIT $4",
                &[&stream_id, &shard_index, &(from.seq_ix.min(i64::MAX as u64) as i64), &FRAMES_PER_READ],
            )
            .await
            .map_err(|e| self.shared.failed(e))?;
        if rows.is_empty() {
            // Nothing at or past `from`: a shard that exists ends here.
            self.shard_row(&client, shard).await?;
            return Ok(ReadBatch { records: Vec::new(), next: Position { seq_ix: from.seq_ix, hint: 0 } });
        }
        drop(client);
        let mut records = Vec::new();
        let mut bytes = 0;
        'frames: for row in rows {
            let entry = IndexEntry {
                first_seq_ix: row.get::<_, i64>(0) as u64,
                last_seq_ix: row.get::<_, i64>(1) as u64,
                arrival_ms: row.get(2),
                object: Arc::from(row.get::<_, &str>(3)),
                offset: row.get::<_, i64>(4) as u64,
                len: row.get::<_, i64>(5) as u64,
            };
            let frame = match self.frame(shard, &entry).await {
                Ok(frame) => frame,
                // Housekeeping deleted the object after this read found its index row, so the
                // row is gone too: its records passed retention meanwhile, skipped as trimmed.
                Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    if self.indexed(shard, &entry).await? {
                        return Err(StoreError::Io(e));
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            for (seq_ix, record) in (entry.first_seq_ix..).zip(&frame.records) {
                if seq_ix < from.seq_ix {
                    continue;
                }
                bytes += record.partition_key.len() + record.data.len();
                if records.len() == max_records || (bytes > max_bytes && !records.is_empty()) {
                    break 'frames;
                }
                records.push(StoredRecord {
                    seq_ix,
                    arrival_ms: entry.arrival_ms,
                    partition_key: record.partition_key.clone(),
                    data: record.data.clone(),
                });
            }
        }
        let next = records.last().map_or(from.seq_ix, |r: &StoredRecord| r.seq_ix + 1);
        Ok(ReadBatch { records, next: Position { seq_ix: next, hint: 0 } })
    }

    async fn seek_time(&self, shard: ShardKey, arrival_ms: i64) -> Result<Position, StoreError> {
        let client = self.shared.metadata.client().await?;
        let (stream_id, shard_index) = key_params(shard);
        // Arrival times grow with sequence numbers, so the first frame by time is the first by
        // position; all of its records arrived at its time.
        let row = client
            .query_opt(
                "SELECT first_seq_ix FROM kinesin_frames
                 WHERE stream_id = $1 AND shard_index = $2 AND max_arrival_ms >= $3
                 ORDER BY max_arrival_ms, last_seq_ix LIMIT 1",
                &[&stream_id, &shard_index, &arrival_ms],
            )
            .await
            .map_err(|e| self.shared.failed(e))?;
        let seq_ix = match row {
            Some(row) => row.get::<_, i64>(0) as u64,
            None => self.shard_row(&client, shard).await?.next_seq_ix,
        };
        Ok(Position { seq_ix, hint: 0 })
    }

    async fn tip(&self, shard: ShardKey) -> Result<Tip, StoreError> {
        let client = self.shared.metadata.client().await?;
        self.shard_row(&client, shard).await
    }

    async fn trim(&self, shard: ShardKey, arrival_ms: i64) -> Result<(), StoreError> {
        let client = self.shared.metadata.client().await?;
        let (stream_id, shard_index) = key_params(shard);
        client
            .execute(
                "DELETE FROM kinesin_frames WHERE stream_id = $1 AND shard_index = $2 AND max_arrival_ms < $3",
                &[&stream_id, &shard_index, &arrival_ms],
            )
            .await
            .map_err(|e| self.shared.failed(e))?;
        Ok(())
    }

    async fn delete_stream(&self, stream_id: u64) -> Result<(), StoreError> {
        let mut client = self.shared.metadata.client().await?;
        let tx = client.transaction().await.map_err(|e| self.shared.failed(e))?;
        let id = stream_id as i64;
        tx.execute(
            "INSERT INTO kinesin_deleted_streams (stream_id) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&id],
        )
        .await
        .map_err(|e| self.shared.failed(e))?;
        tx.execute("DELETE FROM kinesin_frames WHERE stream_id = $1", &[&id])
            .await
            .map_err(|e| self.shared.failed(e))?;
        tx.execute("DELETE FROM kinesin_shards WHERE stream_id = $1", &[&id])
            .await
            .map_err(|e| self.shared.failed(e))?;
        tx.commit().await.map_err(|e| self.shared.failed(e))?;
        self.shared.pending().retain(|k| k.stream_id != stream_id);
        self.shared.wakeups.forget_stream(stream_id);
        Ok(())
    }

    async fn seal(&self, shard: ShardKey, end_seq_ix: u64) -> Result<(), StoreError> {
        let mut client = self.shared.metadata.client().await?;
        let tx = client.transaction().await.map_err(|e| self.shared.failed(e))?;
        // The rows of every shard created here first: a reshard's children exist for every
        // node before the change that opens them commits.
        let inserted = self.shared.insert_pending(&tx).await?;
        let (stream_id, shard_index) = key_params(shard);
        let row = tx
            .query_opt(
                "SELECT next_seq_ix, sealed_at FROM kinesin_shards
                 WHERE stream_id = $1 AND shard_index = $2 FOR UPDATE",
                &[&stream_id, &shard_index],
            )
            .await
            .map_err(|e| self.shared.failed(e))?
            .ok_or(StoreError::NoSuchShard(shard))?;
        let (next_seq_ix, sealed_at): (i64, Option<i64>) = (row.get(0), row.get(1));
        match sealed_at {
            Some(end) if end as u64 == end_seq_ix => {
                tx.commit().await.map_err(|e| self.shared.failed(e))?;
                self.shared.inserted(&inserted);
                return Ok(());
            }
            Some(end) => {
                return Err(StoreError::Corrupt(format!("{shard:?} is sealed at {end}, not {end_seq_ix}")))
            }
            None if next_seq_ix as u64 > end_seq_ix => {
                return Err(StoreError::Corrupt(format!(
                    "{shard:?} holds records up to {next_seq_ix}, past its end {end_seq_ix}"
                )))
            }
            None => {}
        }
        tx.execute(
            "UPDATE kinesin_shards SET sealed_at = $3 WHERE stream_id = $1 AND shard_index = $2",
            &[&stream_id, &shard_index, &(end_seq_ix as i64)],
        )
        .await
        .map_err(|e| self.shared.failed(e))?;
        tx.commit().await.map_err(|e| self.shared.failed(e))?;
        self.shared.inserted(&inserted);
        Ok(())
    }

    async fn wait_for(&self, shard: ShardKey, from_seq_ix: u64) -> Result<(), StoreError> {
        let wakeups = &self.shared.wakeups;
        // Watched before the tip is read: a commit notified after the read still counts.
        wakeups.watch(shard, 0);
        let tip = self.tip(shard).await?;
        wakeups.watch(shard, tip.next_seq_ix);
        wakeups.tails.wait_until(shard, || Ok(wakeups.known(shard) > from_seq_ix)).await
    }
}
