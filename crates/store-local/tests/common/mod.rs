//! Helpers shared by the store's integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use kinesin_engine::model::{ShardMeta, StreamMeta};
use kinesin_engine::storage::{Clock, NewRecord, Position, ShardKey, ShardLog, StoredRecord};
use kinesin_store_local::{open_store_with_fs, LocalSegmentLog, RedbCatalog, StoreOptions, Vfs};

/// A clock the test moves by hand: the conformance suite's.
#[allow(unused_imports)] // as the dead code above: not every test binary moves a clock
pub use kinesin_engine::conformance::TestClock;

pub const ROOT: &str = "/data";

pub fn open(
    fs: Arc<dyn Vfs>,
    options: StoreOptions,
    clock: Arc<dyn Clock>,
) -> (LocalSegmentLog, RedbCatalog) {
    open_store_with_fs(fs, Path::new(ROOT), options, clock).expect("open store")
}

pub fn options(segment_bytes: u64) -> StoreOptions {
    StoreOptions { segment_bytes, ..StoreOptions::default() }
}

pub fn record(key: &str, data: impl Into<Vec<u8>>) -> NewRecord {
    NewRecord { partition_key: key.to_owned(), data: Bytes::from(data.into()), encrypted: false }
}

/// A record to store encrypted.
pub fn encrypted(key: &str, data: impl Into<Vec<u8>>) -> NewRecord {
    NewRecord { encrypted: true, ..record(key, data) }
}

pub const SHARD: ShardKey = ShardKey { stream_id: 7, shard_index: 0 };

/// Every record of a shard, read in batches of `batch` following the returned positions.
pub async fn read_all(log: &LocalSegmentLog, key: ShardKey, batch: usize) -> Vec<StoredRecord> {
    let mut out = Vec::new();
    let mut pos = Position::default();
    loop {
        let read = log.read(key, pos, batch, usize::MAX).await.expect("read");
        if read.records.is_empty() {
            assert_eq!(
                read.next.seq_ix,
                log.tip(key).await.unwrap().next_seq_ix,
                "an empty read ends at the tip"
            );
            return out;
        }
        assert_eq!(read.next.seq_ix, read.records.last().unwrap().seq_ix + 1);
        out.extend(read.records);
        pos = read.next;
    }
}

/// The `.log` and `.idx` files of a shard on `fs` (none before its first append).
pub fn segment_files(fs: &dyn Vfs, key: ShardKey) -> Vec<String> {
    let dir =
        Path::new(ROOT).join("streams").join(key.stream_id.to_string()).join(key.shard_index.to_string());
    if !fs.is_dir(&dir).unwrap() {
        return Vec::new();
    }
    let mut names: Vec<String> = fs.list_dir(&dir).unwrap().into_iter().map(|e| e.name).collect();
    names.sort();
    names
}

pub fn stream_meta(id: u64, name: &str, shards: u32) -> StreamMeta {
    StreamMeta {
        created_ms: 1_700_000_000_000,
        shards: (0..shards)
            .map(|index| ShardMeta {
                index,
                parent: None,
                adjacent_parent: None,
                starting_hash_key: 0,
                ending_hash_key: u128::MAX,
                created_ms: 1_700_000_000_000,
                closed_at_seq_ix: None,
                closed_ms: None,
            })
            .collect(),
        tags: vec![("team".into(), "data".into())],
        ..kinesin_engine::conformance::stream(id, name, 1)
    }
}
