//! What a restart makes of the journal, and what a failed segment sync costs: on Linux the
//! frames written since a segment's last good sync may never reach the disk once a sync of it
//! failed, while reads still see them. Acknowledged records must survive both.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use kinesin_engine::storage::{NewRecord, ShardKey, ShardLog, StoreError};
use kinesin_store_local::{LocalSegmentLog, SimFs, StoreOptions, Vfs};

const OTHER: ShardKey = ShardKey { stream_id: 7, shard_index: 1 };

/// A store on `fs` with two shards; its journal rotates every `journal_bytes`.
fn open_two_shards(fs: &SimFs, journal_bytes: u64) -> LocalSegmentLog {
    let options = StoreOptions { journal_bytes, ..options(1 << 20) };
    let (log, _catalog) = open(Arc::new(fs.clone()), options, FakeClock::new(1_000));
    for key in [SHARD, OTHER] {
        log.create_shard(key).unwrap();
    }
    log
}

/// A record big enough that its share is synced in its segment, not through the journal.
fn big(fill: u8) -> NewRecord {
    record("k", vec![fill; 200 << 10])
}

async fn data(log: &LocalSegmentLog, key: ShardKey) -> Vec<String> {
    let stored = read_all(log, key, 10).await;
    stored.iter().map(|r| String::from_utf8_lossy(&r.data[..r.data.len().min(8)]).into_owned()).collect()
}

fn journal_files(fs: &SimFs) -> usize {
    fs.list_dir(&Path::new(ROOT).join("journal")).unwrap().len()
}

/// After kill -9 the records the journal made durable may be in the page cache only: the
/// restart must sync them before it deletes the journal.
#[tokio::test]
async fn a_restart_after_kill_makes_the_journaled_records_durable() {
    let fs = SimFs::new();
    let log = open_two_shards(&fs, 1 << 20);
    log.append(SHARD, vec![record("k", "logged")]).await.unwrap();
    let restarted = fs.kill_process();
    drop(log);

    let log = open_two_shards(&restarted, 1 << 20);
    assert_eq!(data(&log, SHARD).await, ["logged"]);
    let after = restarted.power_cut();
    drop(log);
    let log = open_two_shards(&after, 1 << 20);
    assert_eq!(data(&log, SHARD).await, ["logged"]);
}

/// A clean stop checkpoints the journal: the next start has nothing to replay.
#[tokio::test]
async fn a_clean_stop_leaves_an_empty_journal() {
    let fs = SimFs::new();
    let log = open_two_shards(&fs, 1 << 20);
    log.append(SHARD, vec![record("k", "logged")]).await.unwrap();
    drop(log);
    let after = fs.kill_process();
    let journal = Path::new(ROOT).join("journal");
    let names = after.list_dir(&journal).unwrap();
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(
        after
            .open(&journal.join(&names[0].name), kinesin_store_local::OpenMode::Existing)
            .unwrap()
            .len()
            .unwrap(),
        0
    );
    let log = open_two_shards(&after, 1 << 20);
    assert_eq!(data(&log, SHARD).await, ["logged"]);
}

/// Once a segment sync of a shard fails, the shard takes no appends and the journal holding
/// its entries is kept, while the other shards go on; after a power cut the restart brings
/// back everything acknowledged.
#[tokio::test]
async fn a_failed_segment_sync_stops_its_shard_and_keeps_its_journal() {
    let fs = SimFs::new();
    // Small journals, so that the other shard's appends rotate it.
    let log = open_two_shards(&fs, 4 << 10);
    log.append(SHARD, vec![record("k", "acked")]).await.unwrap();
    fs.fail_syncs(true);
    // Synced in its segment: the failed sync drops the acknowledged record's pages too.
    log.append(SHARD, vec![big(b'B')]).await.unwrap_err();
    fs.fail_syncs(false);

    let refused = log.append(SHARD, vec![record("k", "refused")]).await.unwrap_err();
    assert!(matches!(&refused, StoreError::Io(e) if e.to_string().contains("restarts")), "{refused}");
    for i in 0..8 {
        log.append(OTHER, vec![record("k", vec![b'0' + i; 1000])]).await.unwrap();
    }
    assert_eq!(data(&log, SHARD).await, ["acked"], "reads go on");
    drop(log);
    assert!(journal_files(&fs) > 1, "the journals holding the stopped shard's entries stay");

    let after = fs.power_cut();
    let log = open_two_shards(&after, 4 << 10);
    assert_eq!(data(&log, SHARD).await, ["acked"]);
    assert_eq!(data(&log, OTHER).await.len(), 8);
    assert_eq!(log.append(SHARD, vec![record("k", "restarted")]).await.unwrap().first_seq_ix, 1);
}

/// The same failure followed by kill -9: the page cache still shows the record the failed
/// sync dropped, so the restart must write it again from the journal, not trust the segment.
#[tokio::test]
async fn a_restart_rewrites_what_a_failed_segment_sync_dropped() {
    let fs = SimFs::new();
    let log = open_two_shards(&fs, 1 << 20);
    log.append(SHARD, vec![record("k", "acked")]).await.unwrap();
    fs.fail_syncs(true);
    log.append(SHARD, vec![big(b'B')]).await.unwrap_err();
    fs.fail_syncs(false);
    let restarted = fs.kill_process();
    drop(log);

    // Unacknowledged, the big record may come back; the acknowledged one must.
    let log = open_two_shards(&restarted, 1 << 20);
    assert_eq!(data(&log, SHARD).await[0], "acked");
    let after = restarted.power_cut();
    drop(log);
    let log = open_two_shards(&after, 1 << 20);
    assert_eq!(data(&log, SHARD).await[0], "acked");
}
