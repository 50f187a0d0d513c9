//! The segment log on its own: round trips across segment rolls, positions and hints, read
//! limits, time seeks, retention, a torn tail, and a full disk.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use common::*;
use kinesin_engine::storage::{Clock, Position, ShardKey, ShardLog, StoreError};
use kinesin_store_local::{open_store, SimFs, Vfs, WriteProblem};

/// Appends `n` records in requests of 1–4, the clock moving 10 ms per request; returns them
/// as (seq_ix, arrival, key, data).
async fn fill(
    log: &impl ShardLog,
    clock: &TestClock,
    key: ShardKey,
    n: usize,
) -> Vec<(u64, i64, String, Vec<u8>)> {
    let mut out = Vec::new();
    while out.len() < n {
        let count = (out.len() % 4 + 1).min(n - out.len());
        let records: Vec<_> = (0..count)
            .map(|k| {
                let i = out.len() + k;
                record(&format!("pk-{i}"), format!("record {i} {}", "x".repeat(i % 97)))
            })
            .collect();
        let appended = log.append(key, records.clone()).await.unwrap();
        assert_eq!(appended.first_seq_ix, out.len() as u64);
        for (k, r) in records.into_iter().enumerate() {
            out.push((
                appended.first_seq_ix + k as u64,
                appended.arrival_ms,
                r.partition_key,
                r.data.to_vec(),
            ));
        }
        clock.advance(10);
    }
    out
}

fn check(records: &[kinesin_engine::storage::StoredRecord], expected: &[(u64, i64, String, Vec<u8>)]) {
    assert_eq!(records.len(), expected.len());
    for (r, (seq, arrival, key, data)) in records.iter().zip(expected) {
        assert_eq!((r.seq_ix, r.arrival_ms, &r.partition_key, &r.data[..]), (*seq, *arrival, key, &data[..]));
    }
}

#[tokio::test]
async fn round_trip_across_segment_rolls() {
    let fs = SimFs::new();
    let clock = TestClock::new(1_000_000);
    let (log, _catalog) = open(Arc::new(fs.clone()), options(2_000), clock.clone());
    log.create_shard(SHARD).unwrap();
    log.create_shard(SHARD).unwrap(); // a no-op
    assert_eq!(log.tip(SHARD).await.unwrap().next_seq_ix, 0);
    assert_eq!(log.tip(SHARD).await.unwrap().last_arrival_ms, None);

    let expected = fill(&log, &clock, SHARD, 500).await;
    let tip = log.tip(SHARD).await.unwrap();
    assert_eq!((tip.next_seq_ix, tip.last_arrival_ms), (500, Some(expected[499].1)));
    let files = segment_files(&fs, SHARD);
    let logs = files.iter().filter(|f| f.ends_with(".log")).count();
    let idxs = files.iter().filter(|f| f.ends_with(".idx")).count();
    assert!(logs > 10, "{files:?}");
    assert_eq!(idxs, logs - 1, "every sealed segment has its index: {files:?}");

    for batch in [1, 7, 100, 1000] {
        check(&read_all(&log, SHARD, batch).await, &expected);
    }
    // Every record on its own, without a hint (index lookups), and with wrong hints.
    for (i, want) in expected.iter().enumerate() {
        for hint in [0, 1, 12345, u64::MAX] {
            let read = log.read(SHARD, Position { seq_ix: i as u64, hint }, 1, usize::MAX).await.unwrap();
            check(&read.records, std::slice::from_ref(want));
            assert_eq!(read.next.seq_ix, i as u64 + 1);
        }
    }
    // Past the tip: nothing, and the position stays.
    let read = log.read(SHARD, Position { seq_ix: 500, hint: 0 }, 10, usize::MAX).await.unwrap();
    assert!(read.records.is_empty());
    assert_eq!(read.next.seq_ix, 500);

    // Sequential reads follow hints, not the index: with every index file gone, reading from
    // the start rebuilds only the first segment's (the one read without a hint).
    let dir = Path::new(ROOT).join("streams/7/0");
    let idx_files =
        || -> Vec<String> { segment_files(&fs, SHARD).into_iter().filter(|f| f.ends_with(".idx")).collect() };
    let all_idx = idx_files();
    for name in &all_idx {
        fs.remove_file(&dir.join(name)).unwrap();
    }
    check(&read_all(&log, SHARD, 3).await, &expected);
    assert_eq!(idx_files(), all_idx[..1]);
    // A lookup in the middle rebuilds that segment's index, which then serves again.
    let read = log.read(SHARD, Position { seq_ix: 250, hint: 0 }, 1, usize::MAX).await.unwrap();
    check(&read.records, &expected[250..251]);
    assert_eq!(idx_files().len(), 2);

    // Reopening finds the same log (sealed segments through their index files).
    drop(log);
    let (log, _catalog) = open(Arc::new(fs.clone()), options(2_000), clock.clone());
    check(&read_all(&log, SHARD, 13).await, &expected);
    let more = log.append(SHARD, vec![record("k", "after reopen")]).await.unwrap();
    assert_eq!(more.first_seq_ix, 500);
    assert!(more.arrival_ms >= expected[499].1);
}

#[tokio::test]
async fn a_read_position_continues_at_the_tip() {
    let fs = SimFs::new();
    let clock = TestClock::new(0);
    let (log, _catalog) = open(Arc::new(fs), options(300), clock.clone());
    log.create_shard(SHARD).unwrap();
    let mut pos = Position::default();
    for i in 0..50u64 {
        let read = log.read(SHARD, pos, 10, usize::MAX).await.unwrap();
        assert!(read.records.is_empty());
        pos = read.next;
        assert_eq!(pos.seq_ix, i);
        log.append(SHARD, vec![record("k", vec![i as u8; 60])]).await.unwrap();
        let read = log.read(SHARD, pos, 10, usize::MAX).await.unwrap();
        assert_eq!(read.records.len(), 1);
        assert_eq!(read.records[0].seq_ix, i);
        pos = read.next;
    }
}

#[tokio::test]
async fn read_limits() {
    let fs = SimFs::new();
    let (log, _catalog) = open(Arc::new(fs), options(64 << 20), TestClock::new(0));
    log.create_shard(SHARD).unwrap();
    // 20 records of 100 data bytes + a 2-byte key = 102 bytes each.
    log.append(SHARD, (0..20).map(|_| record("pk", vec![1; 100])).collect()).await.unwrap();
    let from = Position::default();
    let count = |max_records, max_bytes| {
        let log = &log;
        async move { log.read(SHARD, from, max_records, max_bytes).await.unwrap().records.len() }
    };
    assert_eq!(count(5, usize::MAX).await, 5);
    assert_eq!(count(100, 204).await, 2);
    assert_eq!(count(100, 305).await, 2);
    assert_eq!(count(100, 306).await, 3);
    assert_eq!(count(100, 0).await, 1, "at least one record, whatever its size");
    assert_eq!(count(0, usize::MAX).await, 0);
    let read = log.read(SHARD, from, 100, 306).await.unwrap();
    assert_eq!(read.next.seq_ix, 3);
    let read = log.read(SHARD, read.next, 100, usize::MAX).await.unwrap();
    assert_eq!(read.records.first().map(|r| r.seq_ix), Some(3));
    assert_eq!(read.records.len(), 17);
}

#[tokio::test]
async fn seek_time_finds_the_first_record_at_or_after() {
    let fs = SimFs::new();
    let clock = TestClock::new(1_000);
    let (log, _catalog) = open(Arc::new(fs), options(1_500), clock.clone());
    log.create_shard(SHARD).unwrap();
    assert_eq!(log.seek_time(SHARD, 0).await.unwrap().seq_ix, 0);
    let expected = fill(&log, &clock, SHARD, 300).await;
    let last = expected.last().unwrap().1;
    for t in (900..last + 30).step_by(3) {
        let want = expected.iter().find(|r| r.1 >= t).map_or(300, |r| r.0);
        let pos = log.seek_time(SHARD, t).await.unwrap();
        assert_eq!(pos.seq_ix, want, "t = {t}");
        // The position's hint leads straight to that record.
        let read = log.read(SHARD, pos, 1, usize::MAX).await.unwrap();
        assert_eq!(read.records.first().map(|r| r.seq_ix), (want < 300).then_some(want));
    }
}

#[tokio::test]
async fn trim_deletes_old_segments() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(1_000_000);
    let (log, _catalog) = open_store(dir.path(), options(2_000), clock.clone()).unwrap();
    log.create_shard(SHARD).unwrap();
    let expected = fill(&log, &clock, SHARD, 400).await;
    let shard_dir = dir.path().join("streams/7/0");
    let disk_usage = || -> u64 {
        std::fs::read_dir(&shard_dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
    };
    let files_before = std::fs::read_dir(&shard_dir).unwrap().count();
    let bytes_before = disk_usage();

    // Nothing is older than the first record.
    log.trim(SHARD, expected[0].1).await.unwrap();
    assert_eq!(std::fs::read_dir(&shard_dir).unwrap().count(), files_before);

    let cutoff = expected[250].1;
    log.trim(SHARD, cutoff).await.unwrap();
    let files_after = std::fs::read_dir(&shard_dir).unwrap().count();
    assert!(files_after < files_before / 2, "{files_before} -> {files_after}");
    assert!(disk_usage() < bytes_before / 2);
    let left = read_all(&log, SHARD, 50).await;
    let first = left[0].seq_ix;
    assert!(first > 0 && first <= 250, "records from the cut-off on are kept: first is {first}");
    assert!(expected[first as usize - 1].1 < cutoff);
    check(&left, &expected[first as usize..]);
    // Reading from a trimmed position starts at the first retained record.
    let read = log.read(SHARD, Position::default(), 1, usize::MAX).await.unwrap();
    assert_eq!(read.records[0].seq_ix, first);
    assert_eq!(log.seek_time(SHARD, 0).await.unwrap().seq_ix, first);

    // Trimming everything keeps the newest segment, and the store reopens with its tip.
    clock.advance(1_000_000);
    log.trim(SHARD, clock.now_ms()).await.unwrap();
    assert_eq!(
        std::fs::read_dir(&shard_dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "log")
            .count(),
        1
    );
    drop(log);
    let (log, _catalog) = open_store(dir.path(), options(2_000), clock.clone()).unwrap();
    let tip = log.tip(SHARD).await.unwrap();
    assert_eq!((tip.next_seq_ix, tip.last_arrival_ms), (400, Some(expected[399].1)));
}

#[tokio::test]
async fn a_torn_tail_is_cut_off_at_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(5_000);
    let (log, _catalog) = open_store(dir.path(), options(1 << 20), clock.clone()).unwrap();
    log.create_shard(SHARD).unwrap();
    let expected = fill(&log, &clock, SHARD, 100).await;
    drop(log);
    let segment = dir.path().join("streams/7/0/00000000000000000000.log");
    let good_len = std::fs::metadata(&segment).unwrap().len();

    let tails: [Vec<u8>; 3] = [
        b"\x00\x00 some garbage that is no frame".to_vec(),
        // A frame header announcing 200 bytes, of which only 20 made it.
        [&200u32.to_le_bytes()[..], &[0xab; 24]].concat(),
        // A whole-length frame with a wrong crc.
        [&30u32.to_le_bytes()[..], &[0u8; 34]].concat(),
    ];
    for tail in tails {
        std::fs::OpenOptions::new().append(true).open(&segment).unwrap().write_all(&tail).unwrap();
        let (log, _catalog) = open_store(dir.path(), options(1 << 20), clock.clone()).unwrap();
        assert_eq!(std::fs::metadata(&segment).unwrap().len(), good_len, "the tail is cut off");
        check(&read_all(&log, SHARD, 30).await, &expected);
        assert_eq!(log.tip(SHARD).await.unwrap().next_seq_ix, 100);
    }

    // New appends continue right after the last whole record.
    let (log, _catalog) = open_store(dir.path(), options(1 << 20), clock.clone()).unwrap();
    std::fs::OpenOptions::new().append(true).open(&segment).unwrap().write_all(b"junk").unwrap();
    drop(log);
    let (log, _catalog) = open_store(dir.path(), options(1 << 20), clock.clone()).unwrap();
    assert_eq!(log.append(SHARD, vec![record("k", "next")]).await.unwrap().first_seq_ix, 100);
    let all = read_all(&log, SHARD, 1000).await;
    assert_eq!(all.len(), 101);
    assert_eq!(&all[100].data[..], b"next");
}

#[tokio::test]
async fn a_full_disk_fails_appends_and_loses_nothing() {
    let fs = SimFs::new();
    let clock = TestClock::new(0);
    let (log, _catalog) = open(Arc::new(fs.clone()), options(600), clock.clone());
    log.create_shard(SHARD).unwrap();
    let mut expected = fill(&log, &clock, SHARD, 40).await;
    let health = log.write_health();
    assert_eq!(health.problem(), None);

    fs.fail_writes(true);
    for _ in 0..10 {
        // Some of these need a segment roll, which fails too.
        let err = log.append(SHARD, vec![record("k", vec![9; 100]); 3]).await.unwrap_err();
        assert!(matches!(&err, StoreError::Io(e) if e.kind() == std::io::ErrorKind::StorageFull), "{err:?}");
        clock.advance(10);
    }
    assert_eq!(log.tip(SHARD).await.unwrap().next_seq_ix, 40);
    check(&read_all(&log, SHARD, 7).await, &expected);
    assert_eq!(health.problem(), Some(WriteProblem::DiskFull), "the readiness check's signal");

    fs.fail_writes(false);
    assert_eq!(health.problem(), Some(WriteProblem::DiskFull), "until an append succeeds");
    expected.extend(fill_from(&log, &clock, 40, 30).await);
    assert_eq!(health.problem(), None);
    check(&read_all(&log, SHARD, 7).await, &expected);

    // Everything acknowledged survives a power cut.
    let after = fs.power_cut();
    drop(log);
    let (log, _catalog) = open(Arc::new(after), options(600), clock.clone());
    check(&read_all(&log, SHARD, 7).await, &expected);
}

/// Like [`fill`], continuing at `start`.
async fn fill_from(
    log: &impl ShardLog,
    clock: &TestClock,
    start: u64,
    n: usize,
) -> Vec<(u64, i64, String, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..n {
        let r = record(&format!("later-{i}"), format!("later record {i}"));
        let appended = log.append(SHARD, vec![r.clone()]).await.unwrap();
        assert_eq!(appended.first_seq_ix, start + i as u64, "no gap after the failures");
        out.push((appended.first_seq_ix, appended.arrival_ms, r.partition_key, r.data.to_vec()));
        clock.advance(10);
    }
    out
}

#[tokio::test]
async fn delete_stream_removes_its_directory() {
    let fs = SimFs::new();
    let (log, _catalog) = open(Arc::new(fs.clone()), options(1 << 20), TestClock::new(0));
    let other = ShardKey { stream_id: 8, shard_index: 0 };
    for key in [SHARD, ShardKey { stream_id: 7, shard_index: 1 }, other] {
        log.create_shard(key).unwrap();
        log.append(key, vec![record("k", "v")]).await.unwrap();
    }
    log.delete_stream(7).await.unwrap();
    assert!(matches!(log.tip(SHARD).await, Err(StoreError::NoSuchShard(_))));
    assert!(matches!(log.append(SHARD, vec![record("k", "v")]).await, Err(StoreError::NoSuchShard(_))));
    let streams: Vec<_> =
        fs.list_dir(Path::new("/data/streams")).unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(streams, ["8"]);
    assert_eq!(log.tip(other).await.unwrap().next_seq_ix, 1);
    drop(log);
    let (log, _catalog) = open(Arc::new(fs.power_cut()), options(1 << 20), TestClock::new(0));
    assert!(log.tip(SHARD).await.is_err());
    assert_eq!(log.tip(other).await.unwrap().next_seq_ix, 1);
}

/// Every directory the store creates is 0700 and every file 0600: records of unencrypted
/// streams, stream names and tags are the owner's only.
#[tokio::test]
async fn the_data_directory_is_the_owner_s_only() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("data");
    let clock = TestClock::new(1_000_000);
    let (log, catalog) = open_store(&root, options(2_000), clock.clone()).unwrap();
    log.create_shard(SHARD).unwrap();
    fill(&log, &clock, SHARD, 100).await; // sealed segments, with their .idx
    drop((log, catalog)); // the clean-stop mark

    let mut seen = std::collections::HashSet::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700, "{}", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let metadata = std::fs::metadata(&path).unwrap();
            if metadata.is_dir() {
                dirs.push(path);
                continue;
            }
            assert_eq!(metadata.permissions().mode() & 0o777, 0o600, "{}", path.display());
            seen.insert(path.extension().map_or_else(
                || path.file_name().unwrap().to_string_lossy().into_owned(),
                |e| e.to_string_lossy().into_owned(),
            ));
        }
    }
    for kind in ["redb", "key", "jnl", "clean-stop", "log", "idx"] {
        assert!(seen.contains(kind), "no {kind} file checked: {seen:?}");
    }
}
