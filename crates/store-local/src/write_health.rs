//! Whether the store takes writes, for a readiness check: cheap to ask at any time, and cheap
//! to keep up to date (one relaxed load per append while all is well).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kinesin_engine::storage::StoreError;

use crate::segment_sync::SegmentSyncs;

/// Why the store does not take writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteProblem {
    /// The last append failed for want of space, and none has succeeded since.
    DiskFull,
    /// A shard's segment failed to sync: that shard refuses appends until a restart recovers
    /// it from the journal (`docs/storage.md`).
    SyncFailed,
}

/// A handle on the store's write health, shared with the log ([`crate::LocalSegmentLog::write_health`]).
#[derive(Clone)]
pub struct WriteHealth {
    disk_full: Arc<AtomicBool>,
    segment_syncs: Arc<SegmentSyncs>,
}

impl WriteHealth {
    pub(crate) fn new(segment_syncs: Arc<SegmentSyncs>) -> WriteHealth {
        WriteHealth { disk_full: Arc::default(), segment_syncs }
    }

    /// What keeps writes from succeeding now, if anything.
    pub fn problem(&self) -> Option<WriteProblem> {
        if self.segment_syncs.any_failed() {
            Some(WriteProblem::SyncFailed)
        } else if self.disk_full.load(Ordering::Relaxed) {
            Some(WriteProblem::DiskFull)
        } else {
            None
        }
    }

    /// Takes note of how an append went.
    pub(crate) fn note<T>(&self, appended: &Result<T, StoreError>) {
        match appended {
            Ok(_) => {
                // A load first: the flag's cache line stays shared while the disk is fine.
                if self.disk_full.load(Ordering::Relaxed) {
                    self.disk_full.store(false, Ordering::Relaxed);
                }
            }
            Err(StoreError::Io(e)) if e.kind() == io::ErrorKind::StorageFull => {
                self.disk_full.store(true, Ordering::Relaxed);
            }
            Err(_) => {}
        }
    }
}
