//! The backend conformance suite (`kinesin_engine::conformance`) on the cluster catalog,
//! [`PgCatalog`], each check on a private PostgreSQL. The cluster's log is not written yet, so
//! the catalog is paired with the memory log for now: the log checks exercise that one, and
//! the crash check is skipped (`None`), since nothing of the memory log outlives a process —
//! tests/catalog.rs checks the catalog's half of it, a node's restart.
//!
//! PostgreSQL must be installed here: the suite cannot skip a check (the note printed says what
//! to install).

use std::sync::Arc;

use kinesin_engine::conformance::Backend;
use kinesin_engine::memory::MemoryLog;
use kinesin_engine::storage::Clock;
use kinesin_store_cluster::testing::TestPostgres;
use kinesin_store_cluster::{Metadata, PgCatalog};

#[derive(Default)]
struct ClusterBackend {
    postgres: Option<TestPostgres>,
}

impl ClusterBackend {
    /// A node's catalog: its own pool and feed on the shared database.
    async fn node(&self) -> PgCatalog {
        let url = self.postgres.as_ref().expect("opened").url();
        let metadata = Metadata::open(url).await.expect("open the metadata database");
        PgCatalog::open(metadata).await.expect("open the catalog")
    }
}

impl Backend for ClusterBackend {
    type Log = MemoryLog;
    type Catalog = PgCatalog;

    async fn open(&mut self, clock: Arc<dyn Clock>) -> (MemoryLog, PgCatalog) {
        self.postgres = Some(TestPostgres::start().await.expect("PostgreSQL for the conformance suite"));
        (MemoryLog::new(clock), self.node().await)
    }

    async fn peer(&mut self, _: &PgCatalog) -> PgCatalog {
        self.node().await
    }

    async fn crash_and_reopen(
        &mut self,
        _: MemoryLog,
        _: PgCatalog,
        _: Arc<dyn Clock>,
    ) -> Option<(MemoryLog, PgCatalog)> {
        None
    }
}

kinesin_engine::backend_conformance!(ClusterBackend::default());
