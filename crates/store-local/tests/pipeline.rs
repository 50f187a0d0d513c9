//! The committer writes a group while the previous one syncs, and a failed sync takes down
//! everything written after it — nothing of either ever becomes visible.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use kinesin_engine::storage::{ShardKey, ShardLog};
use kinesin_store_local::{OpenMode, SimFs, Vfs};

const OTHER: ShardKey = ShardKey { stream_id: 7, shard_index: 1 };

/// Whether the shard's segment holds `needle`: written, synced or not.
fn segment_holds(fs: &SimFs, key: ShardKey, needle: &[u8]) -> bool {
    let dir =
        Path::new(ROOT).join("streams").join(key.stream_id.to_string()).join(key.shard_index.to_string());
    segment_files(fs, key).iter().filter(|name| name.ends_with(".log")).any(|name| {
        let file = fs.open(&dir.join(name), OpenMode::Existing).unwrap();
        let mut bytes = vec![0; file.len().unwrap() as usize];
        file.read_exact_at(&mut bytes, 0).unwrap();
        bytes.windows(needle.len()).any(|w| w == needle)
    })
}

/// Waits until the shard's segment holds `needle`; false after `timeout`.
async fn written(fs: &SimFs, key: ShardKey, needle: &[u8], timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if segment_holds(fs, key, needle) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    false
}

fn open_two_shards(fs: &SimFs) -> Arc<kinesin_store_local::LocalSegmentLog> {
    let (log, _catalog) = open(Arc::new(fs.clone()), options(1 << 20), FakeClock::new(1_000));
    for key in [SHARD, OTHER] {
        log.create_shard(key).unwrap();
    }
    Arc::new(log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_written_while_the_previous_one_syncs() {
    let fs = SimFs::new();
    let log = open_two_shards(&fs);
    fs.set_sync_delay(Duration::from_secs(1));

    let first = tokio::spawn({
        let log = log.clone();
        async move { log.append(SHARD, vec![record("k", "first")]).await }
    });
    assert!(written(&fs, SHARD, b"first", Duration::from_secs(5)).await);
    let second = tokio::spawn({
        let log = log.clone();
        async move { log.append(OTHER, vec![record("k", "second")]).await }
    });
    // The second group is written during the first one's sync of a second, not after it.
    assert!(written(&fs, OTHER, b"second", Duration::from_millis(800)).await);
    assert!(!first.is_finished(), "the second group was written only after the first was synced");
    assert!(log.tip(OTHER).unwrap().next_seq_ix == 0, "visible before its own sync");

    assert_eq!(first.await.unwrap().unwrap().first_seq_ix, 0);
    assert_eq!(second.await.unwrap().unwrap().first_seq_ix, 0);
    fs.set_sync_delay(Duration::ZERO);
    for (key, data) in [(SHARD, "first"), (OTHER, "second")] {
        let stored: Vec<_> = read_all(&log, key, 10).await.into_iter().map(|r| r.data).collect();
        assert_eq!(stored, [data]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_fails_the_groups_written_during_it() {
    let fs = SimFs::new();
    let log = open_two_shards(&fs);
    log.append(SHARD, vec![record("k", "kept")]).await.unwrap();
    fs.set_sync_delay(Duration::from_millis(500));

    let first = tokio::spawn({
        let log = log.clone();
        async move { log.append(SHARD, vec![record("k", "lost-1")]).await }
    });
    assert!(written(&fs, SHARD, b"lost-1", Duration::from_secs(5)).await);
    // Written during the first one's sync: one to the same shard, one to another.
    let same = tokio::spawn({
        let log = log.clone();
        async move { log.append(SHARD, vec![record("k", "lost-2")]).await }
    });
    let other = tokio::spawn({
        let log = log.clone();
        async move { log.append(OTHER, vec![record("k", "lost-3")]).await }
    });
    assert!(written(&fs, SHARD, b"lost-2", Duration::from_secs(5)).await);
    assert!(written(&fs, OTHER, b"lost-3", Duration::from_secs(5)).await);
    // The disk fills up before the first sync ends.
    fs.fail_writes(true);
    assert!(first.await.unwrap().is_err());
    assert!(same.await.unwrap().is_err());
    assert!(other.await.unwrap().is_err());
    fs.fail_writes(false);
    fs.set_sync_delay(Duration::ZERO);

    // The log goes on right after the last acknowledged record, now and after a power cut.
    assert_eq!(log.append(SHARD, vec![record("k", "next")]).await.unwrap().first_seq_ix, 1);
    assert_eq!(log.append(OTHER, vec![record("k", "next")]).await.unwrap().first_seq_ix, 0);
    let after = fs.power_cut();
    drop(log);
    let (log, _catalog) = open(Arc::new(after), options(1 << 20), FakeClock::new(2_000));
    for (key, data) in [(SHARD, vec!["kept", "next"]), (OTHER, vec!["next"])] {
        let stored: Vec<_> = read_all(&log, key, 10).await.into_iter().map(|r| r.data).collect();
        assert_eq!(stored, data, "{key:?}");
    }
}
