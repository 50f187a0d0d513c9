//! Encryption at rest: encrypted records round-trip and mix with clear ones, their plaintext
//! never reaches the disk, tampering is detected, a missing key is reported, and a sequence
//! index written again after a failure gets a fresh nonce.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use kinesin_engine::storage::{NewRecord, Position, ShardLog, StoreError, StoredRecord};
use kinesin_store_local::{open_store, OpenMode, SimFs, Vfs};

/// Record `i`: encrypted when `i % 3 != 0`, with a marker that must not appear on disk if so.
fn nth(i: usize) -> NewRecord {
    let data = format!("payload-{i:04}-{}", "z".repeat(i % 200));
    if i.is_multiple_of(3) {
        record(&format!("clear-key-{i}"), data)
    } else {
        encrypted(&format!("secret-key-{i}"), data)
    }
}

fn check_all(stored: &[StoredRecord], n: usize) {
    assert_eq!(stored.len(), n);
    for (i, r) in stored.iter().enumerate() {
        let want = nth(i);
        assert_eq!((r.seq_ix, &r.partition_key, &r.data), (i as u64, &want.partition_key, &want.data));
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn on_disk(dir: &Path, needle: &[u8]) -> bool {
    files_under(dir).iter().any(|f| std::fs::read(f).unwrap().windows(needle.len()).any(|w| w == needle))
}

fn segment(dir: &Path) -> PathBuf {
    dir.join("streams/7/0/00000000000000000000.log")
}

#[tokio::test]
async fn encrypted_and_clear_records_round_trip_across_rolls_and_reopens() {
    let fs = SimFs::new();
    let clock = TestClock::new(1_000_000);
    let (log, _catalog) = open(Arc::new(fs.clone()), options(3_000), clock.clone());
    log.create_shard(SHARD).unwrap();
    let mut i = 0;
    while i < 300 {
        let batch: Vec<_> = (i..(i + 1 + i % 5).min(300)).map(nth).collect();
        i += batch.len();
        log.append(SHARD, batch).await.unwrap();
        clock.advance(7);
    }
    assert!(segment_files(&fs, SHARD).len() > 4, "several segments: {:?}", segment_files(&fs, SHARD));
    check_all(&read_all(&log, SHARD, 1).await, 300);
    check_all(&read_all(&log, SHARD, 17).await, 300);
    // Byte limits count the plaintext: 24 + 26 bytes of key and data for records 0 and 1.
    let read = log.read(SHARD, Position::default(), 100, 50).await.unwrap();
    assert_eq!(read.records.len(), 2, "{:?}", read.records);
    let read = log.read(SHARD, Position::default(), 100, 49).await.unwrap();
    assert_eq!(read.records.len(), 1, "{:?}", read.records);
    let at = log.seek_time(SHARD, 1_000_000 + 7 * 50).await.unwrap();
    let read = log.read(SHARD, at, 1, usize::MAX).await.unwrap();
    assert_eq!(read.records[0].arrival_ms, 1_000_000 + 7 * 50);

    // Recovery scans encrypted frames like clear ones; the key comes back from the disk.
    drop(log);
    let (log, _catalog) = open(Arc::new(fs.power_cut()), options(3_000), clock.clone());
    check_all(&read_all(&log, SHARD, 29).await, 300);
    log.append(SHARD, vec![nth(300), nth(301)]).await.unwrap();
    check_all(&read_all(&log, SHARD, 1000).await, 302);
}

#[tokio::test]
async fn the_disk_holds_no_plaintext_of_encrypted_records() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(1_000_000);
    let (log, _catalog) = open_store(dir.path(), options(1 << 20), clock.clone()).unwrap();
    log.create_shard(SHARD).unwrap();
    log.append(SHARD, vec![encrypted("secret-key", "MARKER-ENCRYPTED-0123456789")]).await.unwrap();
    log.append(SHARD, vec![record("clear-key", "MARKER-CLEAR-0123456789")]).await.unwrap();
    log.append(SHARD, vec![encrypted("secret-key", "MARKER-ENCRYPTED-0123456789")]).await.unwrap();
    let stored = read_all(&log, SHARD, 10).await;
    assert_eq!(&stored[0].data[..], b"MARKER-ENCRYPTED-0123456789");
    assert_eq!(&stored[2].data[..], b"MARKER-ENCRYPTED-0123456789");
    drop(log);

    assert!(on_disk(dir.path(), b"MARKER-CLEAR-0123456789"), "a clear record is stored as is");
    assert!(on_disk(dir.path(), b"clear-key"));
    assert!(!on_disk(dir.path(), b"MARKER-ENCRYPTED"), "an encrypted record's data is not on disk");
    assert!(!on_disk(dir.path(), b"secret-key"), "nor its partition key");
    // The same record twice encrypts differently (another nonce).
    let log_bytes = std::fs::read(segment(dir.path())).unwrap();
    let first_ciphertext = &log_bytes[34..34 + 37];
    assert!(!log_bytes[34 + 37..].windows(37).any(|w| w == first_ciphertext));

    // The key file is the owner's only.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("keys/data.key")), 0o600);
    assert_eq!(mode(&dir.path().join("keys")), 0o700);
}

#[tokio::test]
async fn an_altered_encrypted_frame_is_corruption_not_data() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(1_000_000);
    let (log, _catalog) = open_store(dir.path(), options(1 << 20), clock.clone()).unwrap();
    log.create_shard(SHARD).unwrap();
    log.append(SHARD, vec![record("k", "clear before")]).await.unwrap();
    log.append(SHARD, vec![encrypted("k", "the encrypted one")]).await.unwrap();
    drop(log);

    // Flip one ciphertext byte of the second frame and fix its crc up, as an attacker (or a
    // very unlucky disk) would: the frame stays in the log, and reading it fails.
    let path = segment(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let second = 8 + u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let len = u32::from_le_bytes(bytes[second..second + 4].try_into().unwrap()) as usize;
    assert_eq!(bytes[second + 8 + 17] & 0x80, 0x80, "the encrypted flag (bit 15 of key_info)");
    bytes[second + 8 + 26 + 3] ^= 0x01;
    let crc = crc32c::crc32c(&bytes[second + 8..second + 8 + len]);
    bytes[second + 4..second + 8].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();

    let (log, _catalog) = open_store(dir.path(), options(1 << 20), clock.clone()).unwrap();
    assert_eq!(log.tip(SHARD).await.unwrap().next_seq_ix, 2, "recovery keeps the frame: its crc is good");
    let first = log.read(SHARD, Position::default(), 1, usize::MAX).await.unwrap();
    assert_eq!(&first.records[0].data[..], b"clear before");
    let err = log.read(SHARD, first.next, 10, usize::MAX).await.unwrap_err();
    assert!(matches!(&err, StoreError::Corrupt(why) if why.contains("altered")), "{err:?}");
    let err = log.read(SHARD, Position::default(), 10, usize::MAX).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

#[tokio::test]
async fn a_missing_key_is_an_error_for_encrypted_records_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(1_000_000);
    let (log, _catalog) = open_store(dir.path(), options(1 << 20), clock.clone()).unwrap();
    log.create_shard(SHARD).unwrap();
    log.append(SHARD, vec![record("k", "clear"), encrypted("k", "encrypted")]).await.unwrap();
    drop(log);

    std::fs::remove_file(dir.path().join("keys/data.key")).unwrap();
    let (log, _catalog) = open_store(dir.path(), options(1 << 20), clock.clone()).unwrap();
    let first = log.read(SHARD, Position::default(), 1, usize::MAX).await.unwrap();
    assert_eq!(&first.records[0].data[..], b"clear");
    let err = log.read(SHARD, first.next, 1, usize::MAX).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(why) if why.contains("data key") && why.contains("missing")),
        "{err:?}"
    );
    // A new key was made: new encrypted records work, the old one stays unreadable.
    log.append(SHARD, vec![encrypted("k", "under the new key")]).await.unwrap();
    let read = log.read(SHARD, Position { seq_ix: 2, hint: 0 }, 1, usize::MAX).await.unwrap();
    assert_eq!(&read.records[0].data[..], b"under the new key");

    // A damaged key file stops the store from opening rather than being replaced.
    drop(log);
    std::fs::write(dir.path().join("keys/data.key"), b"not a key").unwrap();
    let err = open_store(dir.path(), options(1 << 20), clock.clone()).unwrap_err();
    assert!(matches!(&err, StoreError::Corrupt(why) if why.contains("data.key")), "{err:?}");
}

/// The nonce epoch of each frame of a segment on `fs` (`None` for a clear frame).
fn epochs(fs: &SimFs) -> Vec<Option<u32>> {
    let path = Path::new(ROOT).join("streams/7/0/00000000000000000000.log");
    let file = fs.open(&path, OpenMode::Existing).unwrap();
    let mut bytes = vec![0; file.len().unwrap() as usize];
    file.read_exact_at(&mut bytes, 0).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let encrypted = bytes[at + 8 + 17] & 0x80 != 0;
        out.push(encrypted.then(|| u32::from_le_bytes(bytes[at + 8 + 22..at + 8 + 26].try_into().unwrap())));
        at += 8 + len;
    }
    out
}

#[tokio::test]
async fn a_sequence_index_written_again_gets_a_new_nonce_epoch() {
    let fs = SimFs::new();
    let clock = TestClock::new(1_000_000);
    let (log, _catalog) = open(Arc::new(fs.clone()), options(1 << 20), clock.clone());
    log.create_shard(SHARD).unwrap();
    log.append(SHARD, vec![encrypted("k", "a"), record("k", "b")]).await.unwrap();
    log.append(SHARD, vec![encrypted("k", "c")]).await.unwrap();
    assert_eq!(epochs(&fs), [Some(1), None, Some(1)]);

    // A failed batch: its indices (3, 4) are used again by the next one, under epoch 2.
    fs.fail_writes(true);
    log.append(SHARD, vec![encrypted("k", "lost"); 2]).await.unwrap_err();
    fs.fail_writes(false);
    log.append(SHARD, vec![encrypted("k", "d"), encrypted("k", "e")]).await.unwrap();
    assert_eq!(epochs(&fs), [Some(1), None, Some(1), Some(2), Some(2)]);

    // A failed clear batch needs no new epoch.
    fs.fail_writes(true);
    log.append(SHARD, vec![record("k", "lost")]).await.unwrap_err();
    fs.fail_writes(false);
    log.append(SHARD, vec![encrypted("k", "f")]).await.unwrap();
    assert_eq!(epochs(&fs).last(), Some(&Some(2)));

    // After a crash, unacknowledged frames may have reached the disk: a new run, a new epoch.
    let after = fs.power_cut();
    drop(log);
    let (log, _catalog) = open(Arc::new(after.clone()), options(1 << 20), clock.clone());
    log.append(SHARD, vec![record("k", "g"), encrypted("k", "h")]).await.unwrap();
    assert_eq!(epochs(&after)[5..], [Some(2), None, Some(3)]);
    let data: Vec<_> = read_all(&log, SHARD, 3).await.into_iter().map(|r| r.data).collect();
    assert_eq!(data, ["a", "b", "c", "d", "e", "f", "g", "h"]);
}
