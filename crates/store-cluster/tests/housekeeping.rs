//! Housekeeping (docs/cluster.md, "Housekeeping"): objects no index row references and
//! orphaned uploads are deleted, never an object a frame still needs; nodes running it at once
//! do each deletion once. Each test with the records in a local directory and in an S3 bucket
//! on SeaweedFS.

mod common;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kinesin_engine::conformance::TestClock;
use kinesin_engine::storage::{Clock, Position, ShardKey, ShardLog, StoreError};
use kinesin_store_cluster::{ClusterLog, HousekeepingReport};

use common::{read_all, records, Cluster, Storage};

const SHARD: ShardKey = ShardKey { stream_id: 3, shard_index: 0 };
const OTHER: ShardKey = ShardKey { stream_id: 3, shard_index: 1 };
const OTHER_STREAM: ShardKey = ShardKey { stream_id: 4, shard_index: 0 };
/// The default grace period for orphans, which these nodes use.
const GRACE_MS: i64 = 600_000;

/// The partition keys of every record the shard holds.
async fn keys(log: &ClusterLog, shard: ShardKey) -> Vec<String> {
    read_all(log, shard).await.into_iter().map(|r| r.partition_key).collect()
}

/// A test's cluster, a clock at the real time (the bucket dates uploads by it), and a node.
struct Setup {
    cluster: Cluster,
    clock: Arc<TestClock>,
    node: ClusterLog,
}

impl Setup {
    async fn start(storage: Storage) -> Option<Setup> {
        let cluster = Cluster::start(storage).await?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
        let clock = TestClock::new(now);
        let node = cluster.log(clock.clone()).await;
        node.create_shards(&[SHARD, OTHER, OTHER_STREAM]).unwrap();
        Some(Setup { cluster, clock, node })
    }

    /// Another node, without this one's cache: its reads go to the bucket.
    async fn fresh_node(&self) -> ClusterLog {
        self.cluster.log(self.clock.clone()).await
    }

    async fn objects_in_bucket(&self) -> usize {
        self.cluster.bucket().await.list_data().await.unwrap().len()
    }

    async fn sql(&self) -> tokio_postgres::Client {
        let (client, connection) =
            tokio_postgres::connect(self.cluster.postgres.url(), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }
}

fn deleted(objects: usize, orphans: usize) -> HousekeepingReport {
    HousekeepingReport { skipped: false, objects_deleted: objects, orphans_deleted: orphans }
}

/// An object whose frames were all trimmed goes; the records in other objects still read.
async fn a_trimmed_object_goes_and_its_neighbours_still_read(storage: Storage) {
    let Some(s) = Setup::start(storage).await else { return };
    s.node.append(SHARD, records("old", 2)).await.unwrap();
    s.clock.advance(1000);
    s.node.append(SHARD, records("new", 2)).await.unwrap();
    assert_eq!(s.objects_in_bucket().await, 2);
    assert_eq!(s.node.housekeep().await.unwrap(), deleted(0, 0), "both are referenced");

    s.node.trim(SHARD, s.clock.now_ms()).await.unwrap();
    assert_eq!(s.node.housekeep().await.unwrap(), deleted(1, 0));
    assert_eq!(s.objects_in_bucket().await, 1);
    assert_eq!(keys(&s.fresh_node().await, SHARD).await, ["new-0", "new-1"]);
    assert_eq!(s.node.housekeep().await.unwrap(), deleted(0, 0), "nothing left to do");
}

/// An object holding frames of two shards stays while one frame is indexed.
async fn an_object_referenced_by_one_frame_stays(storage: Storage) {
    let Some(s) = Setup::start(storage).await else { return };
    // Submitted together, so one batch: one object with a frame per shard.
    let (a, b) = tokio::join!(s.node.append(SHARD, records("a", 1)), s.node.append(OTHER, records("b", 1)));
    a.unwrap();
    b.unwrap();
    assert_eq!(s.objects_in_bucket().await, 1);
    s.clock.advance(1000);

    s.node.trim(SHARD, s.clock.now_ms()).await.unwrap();
    assert_eq!(s.node.housekeep().await.unwrap(), deleted(0, 0));
    assert_eq!(keys(&s.fresh_node().await, OTHER).await, ["b-0"]);

    s.node.trim(OTHER, s.clock.now_ms()).await.unwrap();
    assert_eq!(s.node.housekeep().await.unwrap(), deleted(1, 0));
    assert_eq!(s.objects_in_bucket().await, 0);
}

/// An upload without a commit stays through the grace period, then goes; its commit, if it
/// came after all, would fail rather than index a deleted object.
async fn an_orphan_goes_after_the_grace_period(storage: Storage) {
    let Some(s) = Setup::start(storage).await else { return };
    s.node.append(SHARD, records("kept", 1)).await.unwrap();
    let bucket = s.cluster.bucket().await;
    let orphan = bucket.new_key();
    bucket.put(&orphan, Bytes::from_static(b"an upload whose node died")).await.unwrap();

    s.clock.advance(GRACE_MS - 60_000);
    assert_eq!(s.node.housekeep().await.unwrap(), deleted(0, 0), "younger than the grace period");
    assert_eq!(s.objects_in_bucket().await, 2);

    s.clock.advance(120_000);
    assert_eq!(s.node.housekeep().await.unwrap(), deleted(0, 1));
    let left: Vec<String> =
        bucket.list_data().await.unwrap().into_iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0], orphan.to_string(), "the committed object stays");
    assert_eq!(keys(&s.fresh_node().await, SHARD).await, ["kept-0"]);

    // The commit's own insert of the object's row, arriving late, is refused.
    let late =
        s.sql().await.execute("INSERT INTO kinesin_objects (key) VALUES ($1)", &[&orphan.as_ref()]).await;
    assert!(late.is_err(), "a late commit of a collected upload must fail");
    assert_eq!(s.node.housekeep().await.unwrap(), deleted(0, 0));
}

/// A commit held up between its upload and its transaction (here by a row lock) past the
/// grace period loses its object to housekeeping, and then fails: nothing is acknowledged or
/// indexed, and the shard goes on at the same position.
async fn a_commit_whose_upload_was_collected_fails(storage: Storage) {
    let Some(s) = Setup::start(storage).await else { return };
    s.node.append(SHARD, records("first", 1)).await.unwrap();
    let mut admin = s.sql().await;
    let hold = admin.transaction().await.unwrap();
    hold.execute("SELECT 1 FROM kinesin_shards WHERE stream_id = 3 AND shard_index = 0 FOR UPDATE", &[])
        .await
        .unwrap();
    let node = Arc::new(s.fresh_node().await);
    let writer = tokio::spawn({
        let node = node.clone();
        async move { node.append(SHARD, records("late", 2)).await }
    });
    // Uploaded; its commit waits for the row.
    for attempt in 0.. {
        if s.objects_in_bucket().await == 2 {
            break;
        }
        assert!(attempt < 3000, "the held-up batch never uploaded");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    s.clock.advance(GRACE_MS + 60_000);
    assert_eq!(s.node.housekeep().await.unwrap(), deleted(0, 1));
    hold.commit().await.unwrap();
    assert!(writer.await.unwrap().is_err(), "the commit of a collected upload must fail");
    let reader = s.fresh_node().await;
    assert_eq!(keys(&reader, SHARD).await, ["first-0"]);
    assert_eq!(reader.tip(SHARD).await.unwrap().next_seq_ix, 1);
    assert_eq!(node.append(SHARD, records("next", 1)).await.unwrap().first_seq_ix, 1);
}

/// Two nodes running housekeeping at once delete each object once and never a referenced one;
/// a node finding the lock taken skips its pass.
async fn two_nodes_at_once_delete_each_object_once(storage: Storage) {
    let Some(s) = Setup::start(storage).await else { return };
    for i in 0..6 {
        s.node.append(SHARD, records(&format!("old{i}"), 1)).await.unwrap();
    }
    s.clock.advance(1000);
    s.node.append(SHARD, records("new", 1)).await.unwrap();
    s.node.append(OTHER, records("other", 1)).await.unwrap();
    let bucket = s.cluster.bucket().await;
    for _ in 0..3 {
        bucket.put(&bucket.new_key(), Bytes::from_static(b"orphan")).await.unwrap();
    }
    s.node.trim(SHARD, s.clock.now_ms()).await.unwrap();
    s.clock.advance(GRACE_MS + 60_000);
    assert_eq!(s.objects_in_bucket().await, 11);

    // The lock held elsewhere: this node skips.
    let admin = s.sql().await;
    admin.execute("SELECT pg_advisory_lock(x'00006b696e2d6763'::bigint)", &[]).await.unwrap();
    let skipped = s.node.housekeep().await.unwrap();
    assert_eq!(skipped, HousekeepingReport { skipped: true, ..HousekeepingReport::default() });
    admin.execute("SELECT pg_advisory_unlock(x'00006b696e2d6763'::bigint)", &[]).await.unwrap();

    let other = s.fresh_node().await;
    let (mut objects, mut orphans) = (0, 0);
    for _ in 0..3 {
        let (a, b) = tokio::join!(s.node.housekeep(), other.housekeep());
        for report in [a.unwrap(), b.unwrap()] {
            objects += report.objects_deleted;
            orphans += report.orphans_deleted;
        }
    }
    assert_eq!((objects, orphans), (6, 3), "each deleted once");
    assert_eq!(s.objects_in_bucket().await, 2);
    let reader = s.fresh_node().await;
    assert_eq!(keys(&reader, SHARD).await, ["new-0"]);
    assert_eq!(keys(&reader, OTHER).await, ["other-0"]);
}

/// A deleted stream's objects go; another stream's stay.
async fn a_deleted_streams_objects_go(storage: Storage) {
    let Some(s) = Setup::start(storage).await else { return };
    s.node.append(SHARD, records("gone", 2)).await.unwrap();
    s.node.append(OTHER, records("gone too", 1)).await.unwrap();
    s.node.append(OTHER_STREAM, records("kept", 1)).await.unwrap();
    s.node.delete_stream(SHARD.stream_id).await.unwrap();
    assert_eq!(s.node.housekeep().await.unwrap(), deleted(2, 0));
    assert_eq!(s.objects_in_bucket().await, 1);
    assert_eq!(keys(&s.fresh_node().await, OTHER_STREAM).await, ["kept-0"]);
}

/// An object missing while its frame is still indexed is an error, never records skipped in
/// silence (only a frame whose row is gone too, trimmed meanwhile, is skipped).
async fn a_missing_object_still_indexed_is_an_error(storage: Storage) {
    let Some(s) = Setup::start(storage).await else { return };
    s.node.append(SHARD, records("lost", 1)).await.unwrap();
    let bucket = s.cluster.bucket().await;
    for (key, _) in bucket.list_data().await.unwrap() {
        bucket.delete(&key).await.unwrap();
    }
    let read = s.fresh_node().await.read(SHARD, Position::default(), 10, usize::MAX).await;
    assert!(matches!(&read, Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound), "{read:?}");
}

common::on_both_buckets!(
    a_trimmed_object_goes_and_its_neighbours_still_read,
    an_object_referenced_by_one_frame_stays,
    an_orphan_goes_after_the_grace_period,
    a_commit_whose_upload_was_collected_fails,
    two_nodes_at_once_delete_each_object_once,
    a_deleted_streams_objects_go,
    a_missing_object_still_indexed_is_an_error
);
