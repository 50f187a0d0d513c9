//! The bucket that holds the cluster's record data: `--bucket s3://BUCKET/PREFIX` (with
//! `--s3-endpoint URL` for S3-compatible stores) or `file:///DIR` (a local directory, for
//! tests and single-machine trials), as an `object_store` (docs/cluster.md, "The bucket").
//!
//! Objects are written once under keys no other node and no other flush uses
//! (`PREFIX/data/NODE-COUNTER.kfo`), so an upload never replaces anything, and are read by
//! byte ranges.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use kinesin_engine::storage::StoreError;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// The extension of the objects holding frames (`crate::frame`).
const EXTENSION: &str = "kfo";

/// A bucket and the prefix under which this service keeps its objects.
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// What the user named, for messages.
    identity: String,
    /// Random per opened bucket (per node process), so that two nodes' keys never meet.
    node: u64,
    uploads: AtomicU64,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket").field("identity", &self.identity).finish_non_exhaustive()
    }
}

impl std::fmt::Display for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.identity)
    }
}

impl Bucket {
    /// Opens `url` (`s3://BUCKET[/PREFIX]` or `file:///DIR`) and checks that it can be listed,
    /// or says why not and what to do. An S3 bucket takes its credentials and region from the
    /// AWS environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`, `AWS_REGION`) and its endpoint from `s3_endpoint`, else
    /// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, else AWS S3 itself.
    pub async fn open(url: &str, s3_endpoint: Option<&str>) -> Result<Bucket, String> {
        let (store, prefix): (Arc<dyn ObjectStore>, Path) = if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("{url} names no bucket: write s3://BUCKET or s3://BUCKET/PREFIX"));
            }
            (Arc::new(s3(url, bucket, s3_endpoint)?), Path::from(prefix))
        } else if let Some(dir) = url.strip_prefix("file://") {
            // Written under a temporary name, fsynced and renamed: a crash leaves no part.
            let store = LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| format!("cannot use {url}: {e}\nName an existing directory."))?
                .with_fsync(true);
            (Arc::new(store), Path::default())
        } else {
            return Err(format!("{url} is not a bucket: write s3://BUCKET/PREFIX (or file:///DIR)"));
        };
        // Fails here, at start-up, when the bucket cannot be reached or read.
        store.list_with_delimiter(Some(&prefix)).await.map_err(|e| {
            format!(
                "cannot reach {url}: {e}\nCheck that the bucket exists, that AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY may read and write it, and the endpoint (--s3-endpoint)."
            )
        })?;
        let node = rand::random();
        Ok(Bucket { store, prefix, identity: url.to_owned(), node, uploads: AtomicU64::new(0) })
    }

    /// A key no object has had, nor will have from any node.
    pub fn new_key(&self) -> Path {
        let upload = self.uploads.fetch_add(1, Ordering::Relaxed);
        let name = format!("{:016x}-{upload:016x}.{EXTENSION}", self.node);
        self.prefix.clone().join("data").join(name)
    }

    /// Writes an object whole; when this returns it is durable (S3 answers a PUT once it has
    /// stored the object).
    pub async fn put(&self, key: &Path, body: Bytes) -> Result<(), StoreError> {
        self.store.put(key, PutPayload::from(body)).await.map_err(|e| self.failure("write", key, e))?;
        Ok(())
    }

    /// Reads `range` of an object. A missing object is an error of kind
    /// [`std::io::ErrorKind::NotFound`] (housekeeping may have collected it).
    pub async fn get_range(&self, key: &Path, range: Range<u64>) -> Result<Bytes, StoreError> {
        self.store.get_range(key, range).await.map_err(|e| self.failure("read", key, e))
    }

    /// Every object of ours under the data prefix (named as [`Bucket::new_key`] names them),
    /// with the bucket's time of its upload in milliseconds since the epoch. Anything else
    /// there (a store's directory marker, a file someone put) is not ours to delete.
    pub async fn list_data(&self) -> Result<Vec<(Path, i64)>, StoreError> {
        let data = self.prefix.clone().join("data");
        let listed =
            self.store.list_with_delimiter(Some(&data)).await.map_err(|e| self.failure("list", &data, e))?;
        Ok(listed
            .objects
            .into_iter()
            .filter(|o| o.location.extension() == Some(EXTENSION))
            .map(|o| (o.location, o.last_modified.timestamp_millis()))
            .collect())
    }

    /// Deletes an object; one already gone (deleted by an earlier, interrupted pass) is fine.
    pub async fn delete(&self, key: &Path) -> Result<(), StoreError> {
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.failure("delete", key, e)),
        }
    }

    fn failure(&self, what: &str, key: &Path, e: object_store::Error) -> StoreError {
        let kind = match e {
            object_store::Error::NotFound { .. } => std::io::ErrorKind::NotFound,
            _ => std::io::ErrorKind::Other,
        };
        StoreError::Io(std::io::Error::new(kind, format!("cannot {what} {key} in {self}: {e}")))
    }
}

/// object_store's S3 client sends HTTPS through reqwest on rustls, whose crypto is ring here:
/// a provider installed once per process (a second install is refused, harmlessly).
pub(crate) fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An S3 client for `bucket`, on rustls with ring.
fn s3(url: &str, bucket: &str, s3_endpoint: Option<&str>) -> Result<impl ObjectStore, String> {
    install_tls_provider();
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = s3_endpoint {
        builder = builder.with_config(AmazonS3ConfigKey::S3Endpoint, endpoint);
    }
    let endpoint = [AmazonS3ConfigKey::S3Endpoint, AmazonS3ConfigKey::Endpoint]
        .iter()
        .find_map(|key| builder.get_config_value(key));
    if endpoint.as_deref().is_some_and(|e| e.starts_with("http://")) {
        builder = builder.with_allow_http(true);
    }
    builder.build().map_err(|e| format!("cannot use {url}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn objects_are_written_once_and_read_by_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = Bucket::open(&format!("file://{}", dir.path().display()), None).await.unwrap();
        let (first, second) = (bucket.new_key(), bucket.new_key());
        assert_ne!(first, second);
        assert!(first.as_ref().starts_with("data/") && first.as_ref().ends_with(".kfo"), "{first}");
        bucket.put(&first, Bytes::from_static(b"0123456789")).await.unwrap();
        assert_eq!(bucket.get_range(&first, 2..5).await.unwrap(), Bytes::from_static(b"234"));
        assert!(matches!(bucket.get_range(&second, 0..1).await,
            Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound));
        bucket.put(&Path::from("data/notes.txt"), Bytes::from_static(b"not ours")).await.unwrap();
        let listed: Vec<Path> = bucket.list_data().await.unwrap().into_iter().map(|(key, _)| key).collect();
        assert_eq!(listed, std::slice::from_ref(&first));
        bucket.delete(&first).await.unwrap();
        bucket.delete(&first).await.unwrap();
        assert!(bucket.list_data().await.unwrap().is_empty());
        let other_node = Bucket::open(&format!("file://{}", dir.path().display()), None).await.unwrap();
        assert_ne!(other_node.new_key(), first, "another node's keys differ");
    }

    #[tokio::test]
    async fn bad_urls_say_what_to_write() {
        let err = Bucket::open("s3://", None).await.unwrap_err();
        assert!(err.contains("names no bucket"), "{err}");
        let err = Bucket::open("bucket/prefix", None).await.unwrap_err();
        assert!(err.contains("s3://BUCKET/PREFIX"), "{err}");
        let err = Bucket::open("file:///no/such/directory/here", None).await.unwrap_err();
        assert!(err.contains("/no/such/directory/here"), "{err}");
    }
}
