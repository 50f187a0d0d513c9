//! The backend conformance suite (`kinesin_engine::conformance`) on the cluster backend:
//! [`ClusterLog`] and [`PgCatalog`], each check on a private PostgreSQL, once with the record
//! data in a local directory (`file://`) and once in an S3 bucket (SeaweedFS). A crash drops
//! every handle without a clean stop and opens fresh ones on the same database and bucket.
//!
//! Without PostgreSQL (or, for the S3 half, SeaweedFS) the checks are skipped after a note
//! saying what to install, except under `CI=true`, where they fail.

mod common;

use std::sync::Arc;

use kinesin_engine::conformance::Backend;
use kinesin_engine::storage::Clock;
use kinesin_store_cluster::{ClusterLog, PgCatalog};

use common::{Cluster, Storage};

struct ClusterBackend {
    storage: Storage,
    cluster: Option<Cluster>,
}

impl ClusterBackend {
    fn new(storage: Storage) -> Self {
        ClusterBackend { storage, cluster: None }
    }

    fn cluster(&self) -> &Cluster {
        self.cluster.as_ref().expect("available() started it")
    }
}

impl Backend for ClusterBackend {
    type Log = ClusterLog;
    type Catalog = PgCatalog;

    async fn available(&mut self) -> bool {
        self.cluster = Cluster::start(self.storage).await;
        self.cluster.is_some()
    }

    async fn open(&mut self, clock: Arc<dyn Clock>) -> (ClusterLog, PgCatalog) {
        (self.cluster().log(clock).await, self.cluster().catalog().await)
    }

    async fn peer(&mut self, _: &PgCatalog) -> PgCatalog {
        self.cluster().catalog().await
    }

    async fn crash_and_reopen(
        &mut self,
        log: ClusterLog,
        catalog: PgCatalog,
        clock: Arc<dyn Clock>,
    ) -> Option<(ClusterLog, PgCatalog)> {
        drop((log, catalog));
        Some((self.cluster().log(clock).await, self.cluster().catalog().await))
    }
}

mod local_directory {
    use super::*;
    kinesin_engine::backend_conformance!(ClusterBackend::new(Storage::Directory));
}

mod s3_bucket {
    use super::*;
    kinesin_engine::backend_conformance!(ClusterBackend::new(Storage::S3));
}
