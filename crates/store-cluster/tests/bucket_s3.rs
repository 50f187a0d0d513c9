//! The bucket on a real S3 endpoint (SeaweedFS, started by the test): `--bucket
//! s3://BUCKET/PREFIX` with `--s3-endpoint`, credentials from the AWS environment variables.

use bytes::Bytes;
use kinesin_store_cluster::bucket::Bucket;
use kinesin_store_cluster::testing::seaweedfs::SeaweedFs;

#[tokio::test]
async fn objects_go_to_an_s3_bucket_under_its_prefix() {
    let Some(weed) = SeaweedFs::find() else { return };
    let seaweed = SeaweedFs::start(&weed);
    seaweed.create_bucket("logs").await;
    // SAFETY: set before any thread of this test reads the environment.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var("AWS_REGION", "us-east-1");
    }
    let bucket = Bucket::open("s3://logs/a/b", Some(&seaweed.endpoint())).await.expect("open the bucket");
    let key = bucket.new_key();
    assert!(key.as_ref().starts_with("a/b/data/"), "{key}");
    bucket.put(&key, Bytes::from_static(b"0123456789")).await.unwrap();
    assert_eq!(bucket.get_range(&key, 3..7).await.unwrap(), Bytes::from_static(b"3456"));

    let missing = Bucket::open("s3://no-such-bucket", Some(&seaweed.endpoint())).await.unwrap_err();
    assert!(missing.contains("cannot reach s3://no-such-bucket"), "{missing}");
}
