//! Syncing segments while appends run, and what a failed segment sync costs.
//!
//! On Linux a failed fsync may leave the file's dirty pages marked clean, their data never
//! written: reads still see it, and the next fsync succeeds without writing it. The frames
//! written to a segment since its last good sync may then be gone from the disk, and some of
//! them are durable only in the journal. So once a sync of a shard's segment fails, until the
//! process restarts:
//! * the shard takes no appends: a frame written behind the hole and acknowledged by a sync of
//!   its segment would be cut off with the hole at the next start (see [`SegmentSyncs::check`]);
//! * no journal holding entries of the shard is deleted: the checkpointer's sync of the
//!   segment fails too;
//! * the next start rewrites every journal entry into its segment, whether or not the segment
//!   seems to hold it, and syncs it (`Shard::replay`).
//!
//! Linux reports a writeback error once per open file: of two syncs of the same file running
//! at once, one may see the other's error. So a sync that succeeds is trusted only after the
//! syncs of the same shard's segments running beside it have finished, and only if none of
//! them failed.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use kinesin_engine::storage::ShardKey;

use crate::vfs::VfsFile;

/// Every segment sync of the store goes through here (the committer's, the syncer's and the
/// checkpointer's; a start syncs alone, before any of them runs).
#[derive(Default)]
pub(crate) struct SegmentSyncs {
    /// Per shard: held shared by each sync of its segments until its outcome is recorded;
    /// taken exclusively to wait for the syncs running beside one that succeeded. A shard has
    /// an entry only while a sync of it runs, so deleted shards leave none behind.
    running: Mutex<HashMap<ShardKey, Arc<RwLock<()>>>>,
    /// Shards with a failed segment sync in this run.
    failed: Mutex<HashSet<ShardKey>>,
    /// Whether `failed` is not empty: spares appends the lock.
    any_failed: AtomicBool,
}

impl SegmentSyncs {
    /// Syncs `file`, a segment of shard `key`. Fails if the sync fails, or if a segment sync
    /// of the shard failed before or beside it in this run.
    pub fn sync(&self, key: ShardKey, file: &dyn VfsFile) -> io::Result<()> {
        let running = self.running_of(key);
        let synced = {
            let _running = running.read().unwrap_or_else(PoisonError::into_inner);
            file.sync_data().inspect_err(|e| self.record_failure(key, e))
        };
        if synced.is_ok() {
            drop(running.write().unwrap_or_else(PoisonError::into_inner));
        }
        self.release(key, running);
        synced.and_then(|()| self.check(key))
    }

    fn running_of(&self, key: ShardKey) -> Arc<RwLock<()>> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.entry(key).or_default().clone()
    }

    /// Drops the shard's entry once no other sync of it holds the lock.
    fn release(&self, key: ShardKey, lock: Arc<RwLock<()>>) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        // Under the map's lock, where clones are made: with this reference gone, the map's
        // alone means no other sync of the shard runs or waits. (Counting it before dropping
        // this one could let two syncs finishing together each see the other's.)
        drop(lock);
        if running.get(&key).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            running.remove(&key);
        }
    }

    /// Whether a segment sync has failed during this run.
    pub fn any_failed(&self) -> bool {
        self.any_failed.load(Ordering::Acquire)
    }

    /// Fails if a segment sync of shard `key` failed in this run: it takes no appends.
    pub fn check(&self, key: ShardKey) -> io::Result<()> {
        if !self.any_failed() {
            return Ok(());
        }
        if !self.failed.lock().unwrap_or_else(PoisonError::into_inner).contains(&key) {
            return Ok(());
        }
        Err(io::Error::other(
            "a sync of this shard's segment failed earlier, so the disk may have lost records it \
             had accepted; the shard takes no appends until kinesin restarts and recovers them \
             from its journal",
        ))
    }

    fn record_failure(&self, key: ShardKey, e: &io::Error) {
        let first = self.failed.lock().unwrap_or_else(PoisonError::into_inner).insert(key);
        self.any_failed.store(true, Ordering::Release);
        if first {
            tracing::error!(
                shard = ?key,
                error = %e,
                "a segment sync failed: the disk may have dropped records that only the journal \
                 still holds; the shard takes no appends until kinesin is restarted, which \
                 recovers them from the journal"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simfs::SimFs;
    use crate::vfs::{OpenMode, Vfs};
    use std::path::Path;

    const A: ShardKey = ShardKey { stream_id: 1, shard_index: 0 };
    const B: ShardKey = ShardKey { stream_id: 1, shard_index: 1 };

    #[test]
    fn a_failed_sync_stops_its_shard_only_and_for_good() {
        let fs = SimFs::new();
        let file = fs.open(Path::new("/a.log"), OpenMode::Create).unwrap();
        let syncs = SegmentSyncs::default();
        assert!(syncs.sync(A, &*file).is_ok());
        fs.fail_syncs(true);
        assert!(syncs.sync(A, &*file).is_err());
        fs.fail_syncs(false);
        // The disk works again, but what the failed sync dropped is not back.
        assert!(syncs.sync(A, &*file).is_err());
        assert!(syncs.check(A).is_err());
        assert!(syncs.check(B).is_ok());
        assert!(syncs.sync(B, &*file).is_ok());
        assert!(syncs.running.lock().unwrap().is_empty(), "no entry outlives its syncs");
    }

    /// Syncs of one shard finishing together leave no entry behind either.
    #[test]
    fn concurrent_syncs_leave_no_entry() {
        let fs = SimFs::new();
        let file = fs.open(Path::new("/a.log"), OpenMode::Create).unwrap();
        let syncs = SegmentSyncs::default();
        for _ in 0..2000 {
            std::thread::scope(|scope| {
                for _ in 0..4 {
                    scope.spawn(|| syncs.sync(A, &*file).unwrap());
                }
            });
            assert!(syncs.running.lock().unwrap().is_empty());
        }
    }
}
