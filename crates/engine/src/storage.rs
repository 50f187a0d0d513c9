//! The two storage interfaces the engine is written against. The engine never touches files
//! or SQL; a backend (the embedded `kinesin-store-local`, later a cluster backend) implements
//! these traits and is chosen at start-up.
//!
//! Invariants every [`ShardLog`] must keep:
//! * an `append` resolves only once its records are durable (per the backend's durability
//!   setting) and readable;
//! * within a shard, records get consecutive `seq_ix` values starting at 0, in the order they
//!   become readable, and arrival times never decrease;
//! * a record once acknowledged is returned by `read` until `trim` drops it, with the same
//!   `seq_ix`, arrival time, partition key and data;
//! * once `seal(shard, end)` has returned, no record at or past `end` is ever readable in the
//!   shard and every append to it fails with [`StoreError::Sealed`];
//! * `wait_for` wakes as soon as a record it waits for is readable, whoever appended it (in
//!   cluster mode, another node), without polling.
//!
//! The conformance suite in `kinesin_engine::conformance` checks these on any backend.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::model::StreamMeta;
pub use crate::tails::Tails;

/// Identifies one shard's log: the stream's unique id (never reused, unlike names) and the
/// shard's index within the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ShardKey {
    pub stream_id: u64,
    pub shard_index: u32,
}

/// A record to append.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub partition_key: String,
    pub data: Bytes,
    /// Store the record encrypted at rest (its stream has server-side encryption on). Reads
    /// return it in clear either way.
    pub encrypted: bool,
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// The per-shard sequence index (0, 1, 2, ...); the engine turns it into a sequence number.
    pub seq_ix: u64,
    pub arrival_ms: i64,
    pub partition_key: String,
    pub data: Bytes,
}

/// What an append assigned: records get `first_seq_ix`, `first_seq_ix + 1`, ... in request
/// order, all with the same arrival time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub first_seq_ix: u64,
    pub arrival_ms: i64,
}

/// A read position. `hint` is backend-specific (e.g. a file offset) and lets a follow-up read
/// skip an index lookup; 0 means "no hint". A backend must ignore a hint it cannot trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub seq_ix: u64,
    pub hint: u64,
}

/// The result of a read: records in order, and where the next read continues.
#[derive(Debug, Clone, Default)]
pub struct ReadBatch {
    pub records: Vec<StoredRecord>,
    pub next: Position,
}

/// The committed end of a shard's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tip {
    /// The `seq_ix` the next appended record will get (= number of records ever appended).
    pub next_seq_ix: u64,
    /// Arrival time of the newest record, if any was ever appended.
    pub last_arrival_ms: Option<i64>,
}

/// Storage failures. Every one of them is answered as InternalFailure; what was acknowledged
/// before stays acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("shard {0:?} does not exist in the log")]
    NoSuchShard(ShardKey),
    #[error("catalog error: {0}")]
    Catalog(String),
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// An append to a shard that was sealed (closed by a split or merge).
    #[error("shard {0:?} is sealed")]
    Sealed(ShardKey),
}

/// Per-shard append-only logs.
pub trait ShardLog: Send + Sync + 'static {
    /// Creates an empty log for a new shard. Creating one that exists is a no-op. A backend
    /// may leave creating its files to the shard's first append and forget a shard never
    /// written when it stops: the engine creates every shard of its catalog again at open.
    fn create_shard(&self, shard: ShardKey) -> Result<(), StoreError>;

    /// Creates the logs of many new shards (a new stream's), as [`create_shard`] each; a
    /// backend may do them together.
    ///
    /// [`create_shard`]: ShardLog::create_shard
    fn create_shards(&self, shards: &[ShardKey]) -> Result<(), StoreError> {
        shards.iter().try_for_each(|&shard| self.create_shard(shard))
    }

    /// Appends records to one shard; resolves once they are durable and readable.
    fn append(
        &self,
        shard: ShardKey,
        records: Vec<NewRecord>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;

    /// Appends to many shards at once (one PutRecords' records, grouped by shard): as
    /// [`append`] for each, the outcomes in the order of `batches`. A backend whose appends
    /// have a cost per call (a message, a wake-up, a lock) does them together here, so that a
    /// request's cost grows with its records and not with the shards they spread over.
    ///
    /// [`append`]: ShardLog::append
    fn append_to_shards(
        &self,
        batches: Vec<(ShardKey, Vec<NewRecord>)>,
    ) -> impl Future<Output = Vec<Result<Appended, StoreError>>> + Send {
        futures_util::future::join_all(
            batches.into_iter().map(|(shard, records)| self.append(shard, records)),
        )
    }

    /// Reads committed records with `seq_ix >= from.seq_ix`, at most `max_records` of them and
    /// stopping before the total data + key size would pass `max_bytes` (at least one record is
    /// returned when there is one, whatever its size).
    fn read(
        &self,
        shard: ShardKey,
        from: Position,
        max_records: usize,
        max_bytes: usize,
    ) -> impl Future<Output = Result<ReadBatch, StoreError>> + Send;

    /// The position of the first retained record with arrival time `>= arrival_ms`, or the
    /// tip when there is none.
    fn seek_time(
        &self,
        shard: ShardKey,
        arrival_ms: i64,
    ) -> impl Future<Output = Result<Position, StoreError>> + Send;

    /// The committed end of the shard, exact: every append acknowledged before the call
    /// (by any node) is below it. Async, since a cluster backend asks its database.
    fn tip(&self, shard: ShardKey) -> impl Future<Output = Result<Tip, StoreError>> + Send;

    /// Drops whole stretches of records that all arrived before `arrival_ms` (the retention
    /// cut-off), to free space. Records after the cut-off are never dropped; records before it
    /// may survive (the engine filters them on read).
    fn trim(&self, shard: ShardKey, arrival_ms: i64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes every shard log of a deleted stream.
    fn delete_stream(&self, stream_id: u64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Closes the shard's log at `end_seq_ix` (a split or merge closed the shard there): from
    /// then on appends fail with [`StoreError::Sealed`]. Sealing again at the same end is a
    /// no-op; it fails if the log holds records at or past `end_seq_ix`, or was sealed at
    /// another end. The engine seals before it commits the metadata that closes the shard,
    /// and again at start-up for every closed shard (a backend may forget seals in a crash:
    /// the catalog is what records them durably).
    fn seal(&self, shard: ShardKey, end_seq_ix: u64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Resolves once the shard holds a readable record with `seq_ix >= from_seq_ix` (at once if
    /// it does already). A wake-up, not polling: readers tailing a shard (SubscribeToShard)
    /// sleep here. At a sealed shard's end it never resolves: readers learn that the shard
    /// closed from its metadata. Cancel-safe.
    fn wait_for(
        &self,
        shard: ShardKey,
        from_seq_ix: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What a compare-and-set change of the catalog did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Cas {
    /// The change is durable.
    Committed,
    /// The stream's stored version was not the expected one (someone changed, created or
    /// deleted it meanwhile): nothing was written.
    Conflict,
}

/// A change to the catalog's streams, as its change feed reports it: made by this process or
/// by any other sharing the catalog.
#[derive(Debug, Clone)]
pub enum StreamChange {
    /// A stream was created or changed; this is its new version.
    Put(Arc<StreamMeta>),
    /// A stream was removed.
    Deleted { stream_id: u64 },
}

/// A subscription to the catalog's change feed. A receiver that falls behind gets
/// `RecvError::Lagged` and must read every stream again ([`Catalog::load_streams`]).
pub type ChangeFeed = tokio::sync::broadcast::Receiver<StreamChange>;

/// Durable metadata. Each call is one transaction: after it resolves, the change survives a
/// crash (per the backend's durability setting).
///
/// Every stream carries a version ([`StreamMeta::version`]). Changes are compare-and-set on
/// it, so that two writers (two requests, or two nodes sharing the catalog) changing the same
/// stream can never lose an update: the loser gets [`Cas::Conflict`], reads the stream again
/// and decides anew (the engine's `update_stream`).
///
/// Invariants every catalog must keep:
/// * a committed change is reported on the change feed to every subscriber that subscribed
///   before it committed, in commit order per stream, whoever made it;
/// * a version only grows: a stream's stored version is the one of its last committed change,
///   and a feed never reports an older version of a stream after a newer one;
/// * a conflict writes nothing.
pub trait Catalog: Send + Sync + 'static {
    /// Every stream as stored now (at start-up, and after a lagging change feed).
    fn load_streams(&self) -> impl Future<Output = Result<Vec<StreamMeta>, StoreError>> + Send;

    /// One stream as stored now, `None` if there is none with that id.
    fn get_stream(
        &self,
        stream_id: u64,
    ) -> impl Future<Output = Result<Option<StreamMeta>, StoreError>> + Send;

    /// Stores `stream` if the stored version of the stream with its id is `expected` (`None`:
    /// no such stream is stored yet); `stream.version` is the new version, greater than
    /// `expected`.
    fn put_stream(
        &self,
        stream: &StreamMeta,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<Cas, StoreError>> + Send;

    /// Removes a stream if its stored version is `expected`.
    fn delete_stream(
        &self,
        stream_id: u64,
        expected: u64,
    ) -> impl Future<Output = Result<Cas, StoreError>> + Send;

    /// Small named settings (e.g. the iterator signing key).
    fn get_setting(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    fn put_setting(&self, key: &str, value: &[u8]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores `value` under `key` unless the key holds a value already, and returns the value
    /// the key then holds: of two nodes racing to set it first, both get the winner's. (This
    /// default reads, then writes: enough for a catalog that only one process uses.)
    fn put_setting_if_absent(
        &self,
        key: &str,
        value: &[u8],
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send {
        async move {
            if let Some(stored) = self.get_setting(key).await? {
                return Ok(stored);
            }
            self.put_setting(key, value).await?;
            Ok(value.to_vec())
        }
    }

    /// Subscribes to the change feed: every change committed from now on, by anyone.
    fn changes(&self) -> ChangeFeed;
}

/// Wall-clock time in epoch milliseconds, injectable so tests can move time forward.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}
