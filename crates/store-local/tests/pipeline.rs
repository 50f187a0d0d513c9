//! The committer writes a group while the previous one syncs, and a failed sync takes down
//! everything written after it — nothing of either ever becomes visible.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use kinesin_engine::storage::{Appended, NewRecord, ShardKey, ShardLog, StoreError};
use kinesin_store_local::{LocalSegmentLog, OpenMode, SimFs, Vfs};
use tokio::task::JoinHandle;

const OTHER: ShardKey = ShardKey { stream_id: 7, shard_index: 1 };

/// Whether one of `names` in `dir` holds `needle`: written, synced or not.
fn holds(fs: &SimFs, dir: &Path, names: &[String], needle: &[u8]) -> bool {
    names.iter().any(|name| {
        let file = fs.open(&dir.join(name), OpenMode::Existing).unwrap();
        let mut bytes = vec![0; file.len().unwrap() as usize];
        file.read_exact_at(&mut bytes, 0).unwrap();
        bytes.windows(needle.len()).any(|w| w == needle)
    })
}

/// Whether the shard's segments hold `needle`.
fn segment_holds(fs: &SimFs, key: ShardKey, needle: &[u8]) -> bool {
    let dir =
        Path::new(ROOT).join("streams").join(key.stream_id.to_string()).join(key.shard_index.to_string());
    let logs: Vec<String> =
        segment_files(fs, key).into_iter().filter(|name| name.ends_with(".log")).collect();
    holds(fs, &dir, &logs, needle)
}

/// Whether a journal file holds `needle`.
fn journal_holds(fs: &SimFs, needle: &[u8]) -> bool {
    let dir = Path::new(ROOT).join("journal");
    let names: Vec<String> = fs.list_dir(&dir).unwrap().into_iter().map(|e| e.name).collect();
    holds(fs, &dir, &names, needle)
}

/// The shard's records as (seq, arrival, first bytes of the data).
async fn summary(log: &LocalSegmentLog, key: ShardKey) -> Vec<(u64, i64, String)> {
    let stored = read_all(log, key, 10).await;
    stored
        .iter()
        .map(|r| {
            (r.seq_ix, r.arrival_ms, String::from_utf8_lossy(&r.data[..r.data.len().min(6)]).into_owned())
        })
        .collect()
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

fn open_two_shards(fs: &SimFs) -> Arc<LocalSegmentLog> {
    open_two_shards_at(fs, TestClock::new(1_000))
}

fn open_two_shards_at(fs: &SimFs, clock: Arc<TestClock>) -> Arc<LocalSegmentLog> {
    let (log, _catalog) = open(Arc::new(fs.clone()), options(1 << 20), clock);
    for key in [SHARD, OTHER] {
        log.create_shard(key).unwrap();
    }
    Arc::new(log)
}

/// Starts an append on its own task, to watch what happens while it is in flight.
fn spawn_append(
    log: &Arc<LocalSegmentLog>,
    key: ShardKey,
    records: Vec<NewRecord>,
) -> JoinHandle<Result<Appended, StoreError>> {
    let log = log.clone();
    tokio::spawn(async move { log.append(key, records).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_written_while_the_previous_one_syncs() {
    let fs = SimFs::new();
    let log = open_two_shards(&fs);
    fs.set_sync_delay(Duration::from_secs(2));

    let first = spawn_append(&log, SHARD, vec![record("k", "first")]);
    assert!(written(&fs, SHARD, b"first", Duration::from_secs(5)).await);
    let second = spawn_append(&log, OTHER, vec![record("k", "second")]);
    // The second group is written during the first one's sync of two seconds, not after it.
    assert!(written(&fs, OTHER, b"second", Duration::from_millis(1500)).await);
    assert!(!first.is_finished(), "the second group was written only after the first was synced");
    assert!(log.tip(OTHER).await.unwrap().next_seq_ix == 0, "visible before its own sync");

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
    fs.set_sync_delay(Duration::from_secs(1));

    let first = spawn_append(&log, SHARD, vec![record("k", "lost-1")]);
    assert!(written(&fs, SHARD, b"lost-1", Duration::from_secs(5)).await);
    // Written during the first one's sync: one to the same shard, one to another.
    let same = spawn_append(&log, SHARD, vec![record("k", "lost-2")]);
    let other = spawn_append(&log, OTHER, vec![record("k", "lost-3")]);
    assert!(written(&fs, SHARD, b"lost-2", Duration::from_secs(5)).await);
    assert!(written(&fs, OTHER, b"lost-3", Duration::from_secs(5)).await);
    // The sync fails.
    fs.fail_syncs(true);
    assert!(first.await.unwrap().is_err());
    assert!(same.await.unwrap().is_err());
    assert!(other.await.unwrap().is_err());
    fs.fail_syncs(false);
    fs.set_sync_delay(Duration::ZERO);

    // The log goes on right after the last acknowledged record, now and after a power cut.
    assert_eq!(log.append(SHARD, vec![record("k", "next")]).await.unwrap().first_seq_ix, 1);
    assert_eq!(log.append(OTHER, vec![record("k", "next")]).await.unwrap().first_seq_ix, 0);
    let after = fs.power_cut();
    drop(log);
    let (log, _catalog) = open(Arc::new(after), options(1 << 20), TestClock::new(2_000));
    for (key, data) in [(SHARD, vec!["kept", "next"]), (OTHER, vec!["next"])] {
        let stored: Vec<_> = read_all(&log, key, 10).await.into_iter().map(|r| r.data).collect();
        assert_eq!(stored, data, "{key:?}");
    }
}

/// A record big enough that its share is synced in its segment, not through the journal.
fn big(fill: u8) -> NewRecord {
    record("k", vec![fill; 200 << 10])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_after_one_syncing_in_its_segment_stays_out_of_the_journal() {
    let fs = SimFs::new();
    let log = open_two_shards(&fs);
    fs.set_sync_delay(Duration::from_secs(1));
    let first = spawn_append(&log, SHARD, vec![big(b'A')]);
    assert!(written(&fs, SHARD, &[b'A'; 64], Duration::from_secs(5)).await);
    let second = spawn_append(&log, SHARD, vec![record("k", "small-after-big")]);
    assert!(written(&fs, SHARD, b"small-after-big", Duration::from_secs(5)).await);
    // Journaled, it could become durable while the big frames before it are lost.
    assert!(!journal_holds(&fs, b"small-after-big"), "journaled behind a share syncing in its segment");
    assert_eq!(first.await.unwrap().unwrap().first_seq_ix, 0);
    assert_eq!(second.await.unwrap().unwrap().first_seq_ix, 1);
}

/// A failed group's journal entries are gone before the next group is acknowledged, even one
/// that writes no journal entry: a restart (here after kill -9, the page cache kept) must not
/// replay them behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_group_never_comes_back_behind_an_acknowledged_one() {
    let fs = SimFs::new();
    let clock = TestClock::new(1_000);
    let log = open_two_shards_at(&fs, clock.clone());
    log.append(SHARD, vec![record("k", "kept")]).await.unwrap();
    fs.set_sync_delay(Duration::from_secs(1));
    // A big append to the other shard syncs in its segment; small ones to this shard are
    // written, journal and segment, during that sync, and fail with it.
    let other = spawn_append(&log, OTHER, vec![big(b'A')]);
    assert!(written(&fs, OTHER, &[b'A'; 64], Duration::from_secs(5)).await);
    let failed = spawn_append(&log, SHARD, vec![record("k", "fail-1"), record("k", "fail-2")]);
    assert!(written(&fs, SHARD, b"fail-2", Duration::from_secs(5)).await);
    fs.fail_syncs(true);
    assert!(other.await.unwrap().is_err());
    assert!(failed.await.unwrap().is_err());
    fs.fail_syncs(false);
    fs.set_sync_delay(Duration::ZERO);
    clock.advance(10);
    // Synced in its segment: no journal write of its own.
    assert_eq!(log.append(SHARD, vec![big(b'B')]).await.unwrap().first_seq_ix, 1);
    let restarted = fs.kill_process();
    drop(log);

    let log = open_two_shards_at(&restarted, clock);
    assert_eq!(summary(&log, SHARD).await, [(0, 1_000, "kept".into()), (1, 1_010, "BBBBBB".into())]);
}

/// The same with power cuts that keep a random part of what was never synced. (The kill -9
/// case above is the deterministic check; this one samples torn cuts.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_journal_sync_never_comes_back_after_a_power_cut() {
    for seed in 0..50 {
        let fs = SimFs::new();
        let clock = TestClock::new(1_000);
        let log = open_two_shards_at(&fs, clock.clone());
        log.append(SHARD, vec![record("k", "kept")]).await.unwrap();
        // Long enough to fail the sync after seeing the write, on a busy machine too.
        fs.set_sync_delay(Duration::from_millis(100));
        let failed = spawn_append(&log, SHARD, vec![record("k", "fail-1"), record("k", "fail-2")]);
        assert!(written(&fs, SHARD, b"fail-2", Duration::from_secs(5)).await);
        fs.fail_syncs(true);
        assert!(failed.await.unwrap().is_err());
        fs.fail_syncs(false);
        fs.set_sync_delay(Duration::ZERO);
        clock.advance(10);
        assert_eq!(log.append(SHARD, vec![big(b'B')]).await.unwrap().first_seq_ix, 1);
        let after = fs.power_cut_torn(seed);
        drop(log);

        let log = open_two_shards_at(&after, clock);
        let records = summary(&log, SHARD).await;
        assert_eq!(records, [(0, 1_000, "kept".into()), (1, 1_010, "BBBBBB".into())], "seed {seed}");
    }
}
