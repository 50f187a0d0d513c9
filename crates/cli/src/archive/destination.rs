//! `--to`: a local directory or an S3 bucket, as an `object_store` and a key prefix, and a
//! durable put (docs/cli.md, "kinesin archive").

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_kinesis::config::{ProvideCredentials, SharedCredentialsProvider};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsCredential};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{CredentialProvider, ObjectStore, PutOptions, PutPayload};

/// Where the objects go.
pub(crate) struct Destination {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// `s3://bucket/prefix`, or the directory's absolute path.
    identity: String,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.identity)
    }
}

impl Destination {
    /// Opens `to` and checks that it can be reached, or says why not and what to do.
    /// A bucket takes its region and credentials from `sdk`, as the stream's clients do.
    pub async fn open(
        to: &str,
        s3_endpoint: Option<&str>,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Destination, String> {
        match to.strip_prefix("s3://") {
            Some(bucket_and_prefix) => open_bucket(to, bucket_and_prefix, s3_endpoint, sdk).await,
            None => open_directory(to),
        }
    }

    /// The destination as one string: the same for the same place however it was written.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// Writes an object whole, replacing one of the same key. When this returns, the object is
    /// durable: S3 answers a PUT once it has stored the object; on a local disk the file is
    /// written under a temporary name, fsynced, renamed into place and its directory fsynced
    /// (`LocalFileSystem::with_fsync`), so a crash leaves the old object or the new one, never
    /// a part.
    pub async fn put(&self, key: &Path, body: Vec<u8>) -> Result<(), String> {
        self.store
            .put_opts(key, PutPayload::from(body), PutOptions::default())
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot write {key} to {self}: {e}"))
    }
}

fn open_directory(to: &str) -> Result<Destination, String> {
    let directory = std::path::Path::new(to);
    std::fs::create_dir_all(directory)
        .and_then(|()| directory.canonicalize())
        .map_err(|e| {
            format!("cannot create the directory {to}: {e}\nName a directory you may write with --to.")
        })
        .and_then(|absolute| {
            let store = LocalFileSystem::new_with_prefix(&absolute)
                .map_err(|e| format!("cannot archive into {to}: {e}"))?
                .with_fsync(true);
            Ok(Destination {
                store: Arc::new(store),
                prefix: Path::default(),
                identity: absolute.display().to_string(),
            })
        })
}

async fn open_bucket(
    to: &str,
    bucket_and_prefix: &str,
    s3_endpoint: Option<&str>,
    sdk: &aws_config::SdkConfig,
) -> Result<Destination, String> {
    let (bucket, prefix) = bucket_and_prefix.split_once('/').unwrap_or((bucket_and_prefix, ""));
    if bucket.is_empty() {
        return Err(format!("{to} names no bucket: write s3://BUCKET or s3://BUCKET/PREFIX"));
    }
    // object_store's S3 client sends HTTPS through reqwest on rustls, whose crypto is ring here
    // (a provider installed once per process; a second install is refused, harmlessly).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The endpoint from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; region and credentials as the
    // AWS CLI resolves them (object_store alone reads only environment variables).
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = s3_endpoint {
        builder = builder.with_config(AmazonS3ConfigKey::S3Endpoint, endpoint);
    }
    if let Some(region) = sdk.region() {
        builder = builder.with_region(region.as_ref());
    }
    if let Some(credentials) = sdk.credentials_provider() {
        builder = builder.with_credentials(Arc::new(SdkCredentials::new(credentials)));
    }
    let endpoint = [AmazonS3ConfigKey::S3Endpoint, AmazonS3ConfigKey::Endpoint]
        .iter()
        .find_map(|key| builder.get_config_value(key));
    if endpoint.as_deref().is_some_and(|e| e.starts_with("http://")) {
        builder = builder.with_allow_http(true);
    }
    let advice = "Check that the bucket exists, the credentials (AWS_ACCESS_KEY_ID and \
                  AWS_SECRET_ACCESS_KEY, or --profile) may write it, and the endpoint (--s3-endpoint or \
                  AWS_ENDPOINT_URL_S3; AWS S3 itself without them).";
    let store = builder.build().map_err(|e| format!("cannot use {to}: {e}\n{advice}"))?;
    let prefix = Path::from(prefix);
    // Fails here, before any lease is taken, when the bucket cannot be reached or read.
    store.list_with_delimiter(Some(&prefix)).await.map_err(|e| {
        format!("cannot reach {to} (endpoint {}): {e}\n{advice}", endpoint.as_deref().unwrap_or("AWS S3"))
    })?;
    let identity = match prefix.as_ref() {
        "" => format!("s3://{bucket}"),
        prefix => format!("s3://{bucket}/{prefix}"),
    };
    Ok(Destination { store: Arc::new(store), prefix, identity })
}

/// The AWS SDK's credential chain (environment, profiles, SSO, instance roles) as object_store's
/// provider: the bucket is written with the credentials the stream is read with. Resolved
/// credentials are kept until five minutes before they expire, since object_store asks for them
/// on every request and the chain may call STS.
#[derive(Debug)]
struct SdkCredentials {
    chain: SharedCredentialsProvider,
    held: tokio::sync::Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl SdkCredentials {
    fn new(chain: SharedCredentialsProvider) -> Self {
        SdkCredentials { chain, held: tokio::sync::Mutex::new(None) }
    }
}

#[async_trait::async_trait]
impl CredentialProvider for SdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        const MARGIN: Duration = Duration::from_secs(300);
        let mut held = self.held.lock().await;
        if let Some((credential, expiry)) = held.as_ref() {
            if expiry.is_none_or(|expiry| SystemTime::now() + MARGIN < expiry) {
                return Ok(credential.clone());
            }
        }
        let resolved = self
            .chain
            .provide_credentials()
            .await
            .map_err(|e| object_store::Error::Generic { store: "S3", source: Box::new(e) })?;
        let credential = Arc::new(AwsCredential {
            key_id: resolved.access_key_id().to_owned(),
            secret_key: resolved.secret_access_key().to_owned(),
            token: resolved.session_token().map(str::to_owned),
        });
        *held = Some((credential.clone(), resolved.expiry()));
        Ok(credential)
    }
}
