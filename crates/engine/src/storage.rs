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
//!   `seq_ix`, arrival time, partition key and data.

use std::future::Future;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::model::StreamMeta;

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

    /// The committed end of the shard.
    fn tip(&self, shard: ShardKey) -> Result<Tip, StoreError>;

    /// Drops whole stretches of records that all arrived before `arrival_ms` (the retention
    /// cut-off), to free space. Records after the cut-off are never dropped; records before it
    /// may survive (the engine filters them on read).
    fn trim(&self, shard: ShardKey, arrival_ms: i64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes every shard log of a deleted stream.
    fn delete_stream(&self, stream_id: u64) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Durable metadata. Each call is one transaction: after it returns, the change survives a
/// crash (per the backend's durability setting).
pub trait Catalog: Send + Sync + 'static {
    /// Every stream, at start-up.
    fn load_streams(&self) -> Result<Vec<StreamMeta>, StoreError>;
    /// Inserts or replaces a stream's metadata.
    fn put_stream(&self, stream: &StreamMeta) -> Result<(), StoreError>;
    fn delete_stream(&self, stream_id: u64) -> Result<(), StoreError>;
    /// Small named settings (e.g. the iterator signing key).
    fn get_setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn put_setting(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
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
