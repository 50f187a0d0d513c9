//! The backend conformance suite (`kinesin_engine::conformance`) on the embedded store, on a
//! simulated disk: a crash is a kill -9 of the process (what was written stays, the old
//! handles fail), and small segments make reads, seeks and trims cross segment files.

mod common;

use std::sync::Arc;

use common::{open, options};
use kinesin_engine::conformance::Backend;
use kinesin_engine::storage::Clock;
use kinesin_store_local::{LocalSegmentLog, RedbCatalog, SimFs};

/// Segments of a few records each.
const SEGMENT_BYTES: u64 = 64;

#[derive(Default)]
struct LocalBackend {
    fs: SimFs,
}

impl Backend for LocalBackend {
    type Log = LocalSegmentLog;
    type Catalog = RedbCatalog;

    async fn open(&mut self, clock: Arc<dyn Clock>) -> (LocalSegmentLog, RedbCatalog) {
        open(Arc::new(self.fs.clone()), options(SEGMENT_BYTES), clock)
    }

    /// One process owns a data directory: a second node's handle is a clone.
    async fn peer(&mut self, catalog: &RedbCatalog) -> RedbCatalog {
        catalog.clone()
    }

    async fn crash_and_reopen(
        &mut self,
        log: LocalSegmentLog,
        catalog: RedbCatalog,
        clock: Arc<dyn Clock>,
    ) -> Option<(LocalSegmentLog, RedbCatalog)> {
        self.fs = self.fs.kill_process();
        drop((log, catalog));
        Some(open(Arc::new(self.fs.clone()), options(SEGMENT_BYTES), clock))
    }
}

kinesin_engine::backend_conformance!(LocalBackend::default());
