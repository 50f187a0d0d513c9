//! Concurrent appends share syncs, and still get gapless, contiguous sequence ranges.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use kinesin_engine::storage::{ShardKey, ShardLog};
use kinesin_store_local::SimFs;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_are_grouped() {
    const TASKS: usize = 40;
    const APPENDS: usize = 15;
    let fs = SimFs::new();
    fs.set_sync_delay(Duration::from_millis(2)); // a disk's fdatasync takes time
    let (log, _catalog) = open(Arc::new(fs.clone()), options(4_000), TestClock::new(1_000));
    let log = Arc::new(log);
    let shards = [SHARD, ShardKey { stream_id: 7, shard_index: 1 }];
    for key in shards {
        log.create_shard(key).unwrap();
    }
    let syncs_before = fs.sync_count();

    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for i in 0..APPENDS {
                let key = shards[(task + i) % 2];
                let records: Vec<_> = (0..1 + (task + i) % 3)
                    .map(|k| record(&format!("t{task}"), format!("{task}/{i}/{k}")))
                    .collect();
                let appended = log.append(key, records.clone()).await.unwrap();
                mine.push((key, appended, records));
            }
            mine
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    let syncs = fs.sync_count() - syncs_before;
    let appends = (TASKS * APPENDS) as u64;
    assert!(syncs < appends / 2, "{syncs} syncs for {appends} appends");
    println!("{appends} appends, {syncs} syncs");

    for key in shards {
        let stored = read_all(&log, key, 1000).await;
        let mut mine: Vec<_> = acked.iter().filter(|(k, _, _)| *k == key).collect();
        mine.sort_by_key(|(_, a, _)| a.first_seq_ix);
        // The appends tile the log from 0 with no gap and no overlap, each one contiguous.
        let mut next = 0;
        for (_, appended, records) in mine {
            assert_eq!(appended.first_seq_ix, next);
            for (k, r) in records.iter().enumerate() {
                let s = &stored[next as usize + k];
                assert_eq!(
                    (&s.partition_key, &s.data, s.arrival_ms),
                    (&r.partition_key, &r.data, appended.arrival_ms)
                );
            }
            next += records.len() as u64;
        }
        assert_eq!(next, stored.len() as u64);
        assert!(stored.windows(2).all(|w| w[0].arrival_ms <= w[1].arrival_ms));
    }
}

/// One writer per shard, each waiting for its own append before the next: only a group commit
/// shared across shards (the journal) lets them share syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_to_different_shards_share_one_sync() {
    const SHARDS: u32 = 4;
    const APPENDS: usize = 30;
    let fs = SimFs::new();
    fs.set_sync_delay(Duration::from_millis(2));
    let (log, _catalog) = open(Arc::new(fs.clone()), options(1 << 20), TestClock::new(1_000));
    let log = Arc::new(log);
    let shards: Vec<_> = (0..SHARDS).map(|shard_index| ShardKey { stream_id: 7, shard_index }).collect();
    for key in &shards {
        log.create_shard(*key).unwrap();
    }
    let syncs_before = fs.sync_count();

    let writers: Vec<_> = shards
        .iter()
        .map(|&key| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..APPENDS {
                    log.append(key, vec![record("k", format!("{i}"))]).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }

    let syncs = fs.sync_count() - syncs_before;
    let appends = SHARDS as u64 * APPENDS as u64;
    println!("{appends} appends to {SHARDS} shards, {syncs} syncs");
    assert!(syncs <= appends / 2, "{syncs} syncs for {appends} appends: shards do not share syncs");
    for key in shards {
        let stored = read_all(&log, key, 100).await;
        let data: Vec<_> = stored.iter().map(|r| String::from_utf8_lossy(&r.data).into_owned()).collect();
        assert_eq!(data, (0..APPENDS).map(|i| i.to_string()).collect::<Vec<_>>());
    }
}
