//! More shards than open files (`StoreOptions::max_open_files`): segment files are closed and
//! opened again under the appends, and nothing acknowledged is lost — not even when the
//! closing of a file races a group that then fails (docs/storage.md, *Open files*).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use kinesin_engine::storage::{Position, ShardKey, ShardLog};
use kinesin_store_local::{LocalSegmentLog, SimFs, StoreOptions};

const OTHER: ShardKey = ShardKey { stream_id: 7, shard_index: 1 };

fn open_with(fs: &SimFs, max_open_files: usize, keys: &[ShardKey]) -> LocalSegmentLog {
    let options = StoreOptions { max_open_files, ..options(1 << 20) };
    let (log, _catalog) = open(Arc::new(fs.clone()), options, TestClock::new(1_000));
    log.create_shards(keys).unwrap();
    log
}

async fn data(log: &LocalSegmentLog, key: ShardKey) -> Vec<String> {
    read_all(log, key, 10).await.iter().map(|r| String::from_utf8_lossy(&r.data).into_owned()).collect()
}

/// The interleaving the power-loss soak found (1 run in about 150) when closing a file synced
/// it whatever it held: a group is in flight on shard A; opening shard B's file closes A's,
/// and the closing sync makes the group's frames durable; the group's journal sync fails, so
/// its frames are cut off — in the page cache only, since the sync of that cut fails too
/// (which stops A until a restart). After a kill -9 the restart saw A without them, an append was
/// acknowledged at their place, and after a power cut the disk had the failed frames there:
/// the store refused to open ("the journal's record 1 differs from the segment's").
///
/// Now a group in flight pins its file (the cache closes only files holding committed
/// frames), and a start after a crash makes the length it recovered durable too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_that_fails_while_its_file_is_closed_never_comes_back() {
    let fs = SimFs::new();
    let log = open_with(&fs, 1, &[SHARD, OTHER]);
    log.append(OTHER, vec![record("k", "other")]).await.unwrap();
    log.append(SHARD, vec![record("k", "acked")]).await.unwrap();

    // The journal sync of the next group takes 300 ms; meanwhile B's file is opened (closing
    // A's, unless A's is pinned), then syncs start failing, the journal's among them.
    fs.set_sync_delay(Duration::from_millis(300));
    let (failed, ()) = tokio::join!(log.append(SHARD, vec![record("k", "failed")]), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        fs.set_sync_delay(Duration::ZERO);
        let read = log.read(OTHER, Position { seq_ix: 0, hint: 0 }, 10, 1 << 20).await.unwrap();
        assert_eq!(read.records.len(), 1);
        tokio::time::sleep(Duration::from_millis(50)).await;
        fs.fail_syncs(true);
    });
    assert!(failed.is_err(), "its journal sync failed");
    // The disk works again for a moment: the journal's failed entry is cut off (before the
    // other shard's append), not yet the segment's frames, which A's next append cuts off
    // durably first — and that sync fails.
    fs.fail_syncs(false);
    log.append(OTHER, vec![record("k", "other 2")]).await.unwrap();
    fs.fail_syncs(true);
    log.append(SHARD, vec![record("k", "refused")]).await.unwrap_err();
    fs.fail_syncs(false);

    let restarted = fs.kill_process();
    drop(log);
    let log = open_with(&restarted, 1, &[SHARD, OTHER]);
    assert_eq!(data(&log, SHARD).await, ["acked"]);
    log.append(SHARD, vec![record("k", "after")]).await.unwrap();

    let after = restarted.power_cut();
    drop(log);
    let log = open_with(&after, 1, &[SHARD, OTHER]);
    assert_eq!(data(&log, SHARD).await, ["acked", "after"]);
}

/// One record to every shard at once, `round` in its data; notes what each shard holds.
async fn append_round(
    log: &Arc<LocalSegmentLog>,
    keys: &[ShardKey],
    round: usize,
    expected: &mut [Vec<String>],
) {
    let mut appends = tokio::task::JoinSet::new();
    for (i, &key) in keys.iter().enumerate() {
        let value = format!("{round}/{i}");
        expected[i].push(value.clone());
        let log = log.clone();
        appends.spawn(async move { log.append(key, vec![record("k", value)]).await.unwrap() });
    }
    appends.join_all().await;
}

async fn check(log: &LocalSegmentLog, keys: &[ShardKey], expected: &[Vec<String>], when: &str) {
    for (key, expected) in keys.iter().zip(expected) {
        assert_eq!(&data(log, *key).await, expected, "{when}: {key:?}");
    }
}

/// Appends and reads over 200 shards through 8 open files, with a clean stop, a kill -9 and
/// a power cut in between: every record is where it was acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_shards_through_few_open_files_keep_every_record() {
    let keys: Vec<ShardKey> = (0..200).map(|shard_index| ShardKey { stream_id: 7, shard_index }).collect();
    let mut expected = vec![Vec::new(); keys.len()];
    let fs = SimFs::new();
    let log = Arc::new(open_with(&fs, 8, &keys));
    append_round(&log, &keys, 0, &mut expected).await;
    drop(log); // a clean stop

    let log = Arc::new(open_with(&fs, 8, &keys));
    check(&log, &keys, &expected, "after a clean stop").await;
    append_round(&log, &keys, 1, &mut expected).await;

    let restarted = fs.kill_process();
    drop(log);
    let log = Arc::new(open_with(&restarted, 8, &keys));
    check(&log, &keys, &expected, "after a kill -9").await;
    append_round(&log, &keys, 2, &mut expected).await;

    let after = restarted.power_cut();
    drop(log);
    let log = open_with(&after, 8, &keys);
    check(&log, &keys, &expected, "after a power cut").await;
}
