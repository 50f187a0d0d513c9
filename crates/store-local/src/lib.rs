//! The embedded store: per-shard segment logs made durable by group commits through one
//! write-ahead journal ([`LocalSegmentLog`]), and a redb catalog ([`RedbCatalog`]), in one data
//! directory, all file I/O going through the narrow [`Vfs`] interface so tests can cut the
//! power on a simulated disk ([`SimFs`]).
//!
//! ```text
//! DATA/catalog.redb
//! DATA/dynamodb.redb                                                    DynamoDB tables
//! DATA/keys/data.key                                                     the data key (0600)
//! DATA/journal/<generation, 20 digits>.jnl                               write-ahead journal
//! DATA/streams/<stream-id>/<shard-index>/<first-seq-ix, 20 digits>.log   (+ .idx when sealed)
//! ```
//!
//! Records appended with `NewRecord::encrypted` set are stored encrypted under a per-shard key
//! derived from the data key; reads return them in clear.
//!
//! The on-disk format, group commit, recovery and the power-loss model are described in
//! `docs/storage.md` at the repository root.

mod catalog;
mod commit;
mod commit_metrics;
mod commit_reply;
mod disk_usage;
mod frame;
mod index;
mod journal;
mod keys;
mod log;
mod parallel;
mod redb_backend;
mod segment;
mod segment_files;
mod segment_sync;
mod shard;
mod simfs;
mod tables;
mod vfs;
mod write_health;

use std::path::Path;
use std::sync::Arc;

use kinesin_engine::storage::{Clock, StoreError};

pub use catalog::RedbCatalog;
pub use commit_metrics::CommitMetrics;
pub use disk_usage::stream_disk_bytes;
pub use log::LocalSegmentLog;
pub use simfs::SimFs;
pub use tables::RedbTableStore;
pub use vfs::{DirEntry, OpenMode, RealFs, Vfs, VfsFile};
pub use write_health::{WriteHealth, WriteProblem};

/// When an append is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// After fdatasync: acknowledged records survive a power loss.
    #[default]
    Fsync,
    /// After the write reaches the OS: acknowledged records survive a crash of the process
    /// but not of the machine. For benchmarks and tests.
    Os,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    pub durability: Durability,
    /// A segment is sealed and a new one started once it holds this many bytes (clamped to
    /// 1 byte ..= 512 GiB).
    pub segment_bytes: u64,
    /// The journal is rotated — the segments it covers synced, then it is deleted — once it
    /// holds this many bytes (at least 1). Bounds what a restart replays.
    pub journal_bytes: u64,
    /// The most segment files kept open (at least 1); others are opened when needed. Reads and
    /// syncs in progress may hold a few more for their duration.
    pub max_open_files: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::Fsync,
            segment_bytes: 64 << 20,
            journal_bytes: 32 << 20,
            max_open_files: DEFAULT_MAX_OPEN_FILES,
        }
    }
}

/// [`StoreOptions::max_open_files`] unless set: fits under the common soft limit of 1,024
/// descriptors with room for sockets, the catalog and the journal.
pub const DEFAULT_MAX_OPEN_FILES: usize = 512;

/// Opens (creating it if missing) the store in `data_dir` on the real file system.
pub fn open_store(
    data_dir: &Path,
    options: StoreOptions,
    clock: Arc<dyn Clock>,
) -> Result<(LocalSegmentLog, RedbCatalog), StoreError> {
    open_store_with_fs(Arc::new(RealFs), data_dir, options, clock)
}

/// Opens (creating it if missing) the store in `root` on the given file system. Recovery
/// reads only the last segment of each shard.
pub fn open_store_with_fs(
    fs: Arc<dyn Vfs>,
    root: &Path,
    mut options: StoreOptions,
    clock: Arc<dyn Clock>,
) -> Result<(LocalSegmentLog, RedbCatalog), StoreError> {
    options.segment_bytes = options.segment_bytes.clamp(1, shard::MAX_SEGMENT_BYTES);
    options.journal_bytes = options.journal_bytes.max(1);
    let sync = options.durability == Durability::Fsync;
    if !sync {
        tracing::warn!(
            data_dir = %root.display(),
            "durability = os: appends are acknowledged before they are synced to disk; a power loss can lose acknowledged records"
        );
    }
    vfs::ensure_dir(&*fs, root, sync)?;
    let catalog = RedbCatalog::open(fs.clone(), &root.join("catalog.redb"), options.durability)?;
    let keys = keys::Keys::open(fs.clone(), root)?;
    let segment_syncs: Arc<segment_sync::SegmentSyncs> = Arc::default();
    let files =
        segment_files::SegmentFiles::new(fs.clone(), segment_syncs.clone(), sync, options.max_open_files);
    let log = LocalSegmentLog::open(
        Arc::new(shard::Env {
            fs,
            clock,
            options,
            keys,
            segment_syncs,
            files: Arc::new(files),
            append_failed: Default::default(),
        }),
        root,
    )?;
    Ok((log, catalog))
}
