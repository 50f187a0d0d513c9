//! A cluster's storage for a test: a private PostgreSQL and a bucket (a local directory or an
//! S3 bucket on SeaweedFS), and nodes' logs and catalogs on them.

#![allow(dead_code)] // each test binary uses its part

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kinesin_engine::storage::{Clock, NewRecord, Position, ShardKey, ShardLog, StoredRecord};
use kinesin_store_cluster::bucket::Bucket;
use kinesin_store_cluster::testing::seaweedfs::SeaweedFs;
use kinesin_store_cluster::testing::TestPostgres;
use kinesin_store_cluster::{ClusterLog, LogConfig, Metadata, PgCatalog};

/// Where the record data goes.
#[derive(Debug, Clone, Copy)]
pub enum Storage {
    Directory,
    S3,
}

/// The shared storage of a test's nodes.
pub struct Cluster {
    pub postgres: TestPostgres,
    bucket_url: String,
    endpoint: Option<String>,
    _bucket: BucketBacking,
}

enum BucketBacking {
    Directory(tempfile::TempDir),
    S3(SeaweedFs),
}

impl Cluster {
    /// `None` (after a note) when PostgreSQL or SeaweedFS is missing, outside CI.
    pub async fn start(storage: Storage) -> Option<Cluster> {
        let postgres = TestPostgres::start().await?;
        let (bucket_url, endpoint, backing) = match storage {
            Storage::Directory => {
                let dir = tempfile::tempdir().expect("a bucket directory");
                (format!("file://{}", dir.path().display()), None, BucketBacking::Directory(dir))
            }
            Storage::S3 => {
                let seaweed = SeaweedFs::start(&SeaweedFs::find()?);
                seaweed.create_bucket("kinesin").await;
                // SAFETY: every test of a binary sets the same values, before its S3 client
                // reads them.
                unsafe {
                    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
                    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
                    std::env::set_var("AWS_REGION", "us-east-1");
                }
                ("s3://kinesin/cluster".to_owned(), Some(seaweed.endpoint()), BucketBacking::S3(seaweed))
            }
        };
        Some(Cluster { postgres, bucket_url, endpoint, _bucket: backing })
    }

    /// The directory holding the objects, for a [`Storage::Directory`] bucket.
    pub fn directory(&self) -> Option<&std::path::Path> {
        match &self._bucket {
            BucketBacking::Directory(dir) => Some(dir.path()),
            BucketBacking::S3(_) => None,
        }
    }

    pub async fn metadata(&self) -> Metadata {
        Metadata::open(self.postgres.url()).await.expect("open the metadata database")
    }

    pub async fn bucket(&self) -> Bucket {
        Bucket::open(&self.bucket_url, self.endpoint.as_deref()).await.expect("open the bucket")
    }

    /// A node's log, flushing every 5 ms.
    pub async fn log(&self, clock: Arc<dyn Clock>) -> ClusterLog {
        let config = LogConfig { flush: Duration::from_millis(5), ..LogConfig::default() };
        ClusterLog::open(self.metadata().await, self.bucket().await, clock, config)
            .await
            .expect("open the log")
    }

    /// A node's catalog.
    pub async fn catalog(&self) -> PgCatalog {
        PgCatalog::open(self.metadata().await).await.expect("open the catalog")
    }
}

/// `n` records keyed `{prefix}-0`, `{prefix}-1`, ...
pub fn records(prefix: &str, n: usize) -> Vec<NewRecord> {
    (0..n)
        .map(|i| NewRecord {
            partition_key: format!("{prefix}-{i}"),
            data: Bytes::from(format!("data {prefix}-{i}")),
            encrypted: false,
        })
        .collect()
}

/// Every record the shard holds, read from its start.
pub async fn read_all(log: &ClusterLog, shard: ShardKey) -> Vec<StoredRecord> {
    let mut all = Vec::new();
    let mut from = Position::default();
    loop {
        let batch = log.read(shard, from, 1000, usize::MAX).await.expect("read");
        if batch.records.is_empty() {
            return all;
        }
        from = batch.next;
        all.extend(batch.records);
    }
}

/// One `#[tokio::test]` per check (an `async fn(Storage)` of the calling file), on a local
/// directory and on an S3 bucket.
#[allow(unused_macros)] // each test binary uses its part
macro_rules! on_both_buckets {
    ($($check:ident),*) => {
        mod local_directory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() { super::$check(super::Storage::Directory).await })*
        }
        mod s3_bucket {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() { super::$check(super::Storage::S3).await })*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_buckets;
