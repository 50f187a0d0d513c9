//! [`ClusterLog`] as several nodes share it (docs/cluster.md, "The log"): two nodes' logs on
//! one database and bucket, each test with the records in a local directory and in an S3
//! bucket on SeaweedFS.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kinesin_engine::conformance::TestClock;
use kinesin_engine::storage::{Clock, Position, ShardKey, ShardLog, StoreError};
use kinesin_store_cluster::ClusterLog;

use common::{read_all, records, Cluster, Storage};

const SHARD: ShardKey = ShardKey { stream_id: 3, shard_index: 0 };

/// Two nodes with the shard created on the first (as the engine creating a stream does).
async fn two_nodes(storage: Storage) -> Option<(Cluster, Arc<ClusterLog>, Arc<ClusterLog>)> {
    let cluster = Cluster::start(storage).await?;
    let clock: Arc<dyn Clock> = TestClock::new(1_790_000_000_000);
    let a = cluster.log(clock.clone()).await;
    let b = cluster.log(clock).await;
    a.create_shard(SHARD).unwrap();
    // Once the creation is committed, the other node knows the shard.
    a.append(SHARD, records("first", 1)).await.unwrap();
    Some((cluster, Arc::new(a), Arc::new(b)))
}

/// Appends from two nodes to one shard at once get disjoint, gap-free positions, and each
/// node reads every record, the other's too, at the position it was given.
async fn concurrent_appends_from_two_nodes_interleave_without_gaps(storage: Storage) {
    let Some((_cluster, a, b)) = two_nodes(storage).await else { return };
    let writers: Vec<_> = (0..40)
        .map(|i| {
            let log = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let batch = records(&format!("w{i}"), 1 + i % 3);
                let appended = log.append(SHARD, batch.clone()).await.unwrap();
                (appended.first_seq_ix, batch)
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.push(writer.await.unwrap());
    }
    let mut positions = BTreeSet::from([0]);
    for (first, batch) in &acknowledged {
        for seq_ix in *first..*first + batch.len() as u64 {
            assert!(positions.insert(seq_ix), "seq_ix {seq_ix} given twice");
        }
    }
    let total = positions.len() as u64;
    assert_eq!(positions.into_iter().collect::<Vec<_>>(), (0..total).collect::<Vec<_>>(), "no gap");
    for node in [&a, &b] {
        let stored = read_all(node, SHARD).await;
        assert_eq!(stored.len() as u64, total);
        for (first, batch) in &acknowledged {
            for (record, seq_ix) in batch.iter().zip(*first..) {
                let read = &stored[seq_ix as usize];
                assert_eq!(
                    (read.seq_ix, &read.partition_key, &read.data),
                    (seq_ix, &record.partition_key, &record.data)
                );
            }
        }
        assert!(
            stored.windows(2).all(|w| w[0].arrival_ms <= w[1].arrival_ms),
            "arrival times never decrease"
        );
        assert_eq!(node.tip(SHARD).await.unwrap().next_seq_ix, total);
    }
}

/// A reader waiting on one node wakes when another node appends (LISTEN/NOTIFY, no polling).
async fn a_waiter_wakes_on_another_nodes_append(storage: Storage) {
    let Some((_cluster, a, b)) = two_nodes(storage).await else { return };
    let waiting = {
        let b = b.clone();
        tokio::spawn(async move { b.wait_for(SHARD, 1).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished(), "nothing at seq_ix 1 yet");
    a.append(SHARD, records("second", 1)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the other node's append wakes the waiter")
        .unwrap()
        .unwrap();
    let read = b.read(SHARD, Position { seq_ix: 1, hint: 0 }, 10, usize::MAX).await.unwrap();
    assert_eq!(read.records[0].partition_key, "second-0");
}

/// A shard sealed through one node refuses appends from every node.
async fn a_sealed_shard_refuses_both_nodes(storage: Storage) {
    let Some((_cluster, a, b)) = two_nodes(storage).await else { return };
    b.seal(SHARD, 1).await.unwrap();
    for node in [&a, &b] {
        assert!(
            matches!(node.append(SHARD, records("late", 1)).await, Err(StoreError::Sealed(key)) if key == SHARD)
        );
    }
    assert!(a.seal(SHARD, 2).await.is_err(), "sealed at another end");
    a.seal(SHARD, 1).await.unwrap();
    assert_eq!(read_all(&b, SHARD).await.len(), 1);
}

/// An upload whose commit fails acknowledges nothing and leaves the index as it was; the next
/// commit continues at the same position.
async fn a_failed_commit_acknowledges_nothing(storage: Storage) {
    let Some((cluster, a, b)) = two_nodes(storage).await else { return };
    let client = tokio_postgres::connect(cluster.postgres.url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(client.1);
    let admin = client.0;
    let frames = || async {
        admin.query_one("SELECT count(*) FROM kinesin_frames", &[]).await.unwrap().get::<_, i64>(0)
    };
    assert_eq!(frames().await, 1);
    // Every index insert fails from now on: the upload happens, its commit does not.
    admin
        .batch_execute("ALTER TABLE kinesin_frames ADD CONSTRAINT refuse_all CHECK (byte_len < 0) NOT VALID")
        .await
        .unwrap();
    assert!(a.append(SHARD, records("lost", 2)).await.is_err());
    assert_eq!(frames().await, 1, "the index is unchanged");
    assert_eq!(b.tip(SHARD).await.unwrap().next_seq_ix, 1);
    assert_eq!(read_all(&b, SHARD).await.len(), 1, "nothing of the failed batch is readable");
    admin.batch_execute("ALTER TABLE kinesin_frames DROP CONSTRAINT refuse_all").await.unwrap();
    assert_eq!(a.append(SHARD, records("kept", 1)).await.unwrap().first_seq_ix, 1);
    let keys: Vec<String> = read_all(&b, SHARD).await.into_iter().map(|r| r.partition_key).collect();
    assert_eq!(keys, ["first-0", "kept-0"]);
}

/// A damaged object in the bucket is refused on read as corrupt data, never returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_object_is_refused_on_read() {
    let Some((cluster, a, _b)) = two_nodes(Storage::Directory).await else { return };
    a.append(SHARD, records("second", 3)).await.unwrap();
    let data = cluster.directory().unwrap().join("data");
    for object in std::fs::read_dir(&data).unwrap() {
        let path = object.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 6; // inside the last record's data
        bytes[last] ^= 0x40;
        std::fs::write(&path, bytes).unwrap();
    }
    // A node that has not cached the frames reads them from the bucket.
    let fresh = cluster.log(TestClock::new(0)).await;
    let read = fresh.read(SHARD, Position { seq_ix: 1, hint: 0 }, 10, usize::MAX).await;
    assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
}

common::on_both_buckets!(
    concurrent_appends_from_two_nodes_interleave_without_gaps,
    a_waiter_wakes_on_another_nodes_append,
    a_sealed_shard_refuses_both_nodes,
    a_failed_commit_acknowledges_nothing
);
