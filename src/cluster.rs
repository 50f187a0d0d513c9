//! Cluster mode of `kinesin serve` (docs/cluster.md): which storage the flags choose, and
//! opening the cluster backend (`kinesin-store-cluster`) on the shared PostgreSQL database and
//! bucket they name. The start-up errors are the backend's own, which say what to do.

use std::sync::{Arc, Weak};
use std::time::Duration;

use kinesin_engine::storage::Clock;
use kinesin_engine::Engine;
use kinesin_store_cluster::bucket::Bucket;
use kinesin_store_cluster::{ClusterLog, LogConfig, Metadata, PgCatalog};

/// `--flush-ms` when not given.
pub const DEFAULT_FLUSH_MS: u32 = 10;

/// How often a node tries a housekeeping pass of the bucket; one node at a time runs it.
const BUCKET_HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(30);

/// Where a node keeps its streams.
#[derive(Debug)]
pub enum Storage {
    /// The embedded store in `--data-dir`: the single-node server.
    Embedded,
    /// A node of the cluster that `--metadata` and `--bucket` name.
    Cluster(ClusterStorage),
}

/// The cluster's shared storage, as the flags name it.
#[derive(Debug)]
pub struct ClusterStorage {
    /// `postgres://…`; it may hold a password, so it is never logged.
    metadata: String,
    bucket: String,
    s3_endpoint: Option<String>,
    flush: Duration,
}

impl Storage {
    /// The storage the cluster flags choose: cluster mode with both `--metadata` and
    /// `--bucket`, the embedded store with neither; anything else is a mistake, said so.
    pub fn chosen_by(
        metadata: Option<&str>,
        bucket: Option<&str>,
        s3_endpoint: Option<&str>,
        flush_ms: Option<u32>,
    ) -> Result<Storage, String> {
        match (metadata, bucket) {
            (Some(metadata), Some(bucket)) => Ok(Storage::Cluster(ClusterStorage {
                metadata: metadata.to_owned(),
                bucket: bucket.to_owned(),
                s3_endpoint: s3_endpoint.map(str::to_owned),
                flush: Duration::from_millis(u64::from(flush_ms.unwrap_or(DEFAULT_FLUSH_MS))),
            })),
            (Some(_), None) => Err(pair_missing("--metadata", "--bucket")),
            (None, Some(_)) => Err(pair_missing("--bucket", "--metadata")),
            (None, None) => {
                let cluster_only =
                    [("--s3-endpoint", s3_endpoint.is_some()), ("--flush-ms", flush_ms.is_some())];
                match cluster_only.iter().find(|(_, given)| *given) {
                    Some((flag, _)) => Err(format!(
                        "{flag} applies to cluster mode only: give --metadata and --bucket too, or leave {flag} out for the embedded server"
                    )),
                    None => Ok(Storage::Embedded),
                }
            }
        }
    }
}

fn pair_missing(given: &str, missing: &str) -> String {
    format!(
        "{given} needs {missing}: cluster mode takes both (a PostgreSQL database and a bucket, see docs/cluster.md); without either, kinesin is the embedded single-node server"
    )
}

impl ClusterStorage {
    /// Opens the metadata database (migrating its schema), the bucket, the catalog (its change
    /// feed listening) and the log: ready to load the streams.
    pub async fn open(&self, clock: Arc<dyn Clock>) -> Result<(ClusterLog, PgCatalog), String> {
        let metadata = Metadata::open(&self.metadata).await.map_err(|e| e.to_string())?;
        let bucket = Bucket::open(&self.bucket, self.s3_endpoint.as_deref()).await?;
        let catalog = PgCatalog::open(metadata.clone()).await.map_err(|e| e.to_string())?;
        let config = LogConfig { flush: self.flush, ..LogConfig::default() };
        let log = ClusterLog::open(metadata, bucket, clock, config).await.map_err(|e| e.to_string())?;
        Ok((log, catalog))
    }

    /// The bucket's URL, for the start-up log (the database's URL may hold a password).
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn flush(&self) -> Duration {
        self.flush
    }
}

/// Deletes the bucket's objects no index row references any more and orphaned uploads
/// (docs/cluster.md, "Housekeeping"), a pass every [`BUCKET_HOUSEKEEPING_INTERVAL`], until the
/// engine is gone. A pass another node is running makes this node's skip.
pub async fn housekeep_bucket(engine: Weak<Engine<ClusterLog, PgCatalog>>) {
    let mut ticks = tokio::time::interval(BUCKET_HOUSEKEEPING_INTERVAL);
    loop {
        ticks.tick().await;
        let Some(engine) = engine.upgrade() else { return };
        if let Err(e) = engine.log().housekeep().await {
            tracing::warn!(error = %e, "bucket housekeeping failed; the next pass tries again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_bucket_go_together() {
        let url = Some("postgres://kinesin@db/kinesin");
        let bucket = Some("s3://records/prod");
        assert!(matches!(Storage::chosen_by(None, None, None, None), Ok(Storage::Embedded)));
        let Ok(Storage::Cluster(cluster)) = Storage::chosen_by(url, bucket, None, None) else { panic!() };
        assert_eq!((cluster.bucket(), cluster.flush()), ("s3://records/prod", Duration::from_millis(10)));
        let Ok(Storage::Cluster(cluster)) =
            Storage::chosen_by(url, bucket, Some("http://minio:9000"), Some(25))
        else {
            panic!()
        };
        assert_eq!(cluster.flush(), Duration::from_millis(25));

        let alone = Storage::chosen_by(url, None, None, None).unwrap_err();
        assert!(alone.starts_with("--metadata needs --bucket: cluster mode takes both"), "{alone}");
        let alone = Storage::chosen_by(None, bucket, None, None).unwrap_err();
        assert!(alone.starts_with("--bucket needs --metadata"), "{alone}");
        let stray = Storage::chosen_by(None, None, Some("http://minio:9000"), None).unwrap_err();
        assert!(stray.starts_with("--s3-endpoint applies to cluster mode only"), "{stray}");
        let stray = Storage::chosen_by(None, None, None, Some(5)).unwrap_err();
        assert!(stray.starts_with("--flush-ms applies to cluster mode only"), "{stray}");
    }
}
