//! Rough numbers for the embedded store on this machine's disk:
//!
//! ```text
//! cargo run --release -p kinesin-store-local --example store_bench [DATA_DIR]
//! ```
//!
//! start-up time (empty, and with 1,000 streams × 4 shards), append throughput with concurrent
//! writers (durability fsync and os), and the process's resident memory before and after
//! writing a few hundred MiB. `DATA_DIR` defaults to a temporary directory.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kinesin_engine::storage::{NewRecord, ShardKey, ShardLog, SystemClock};
use kinesin_store_local::{open_store, Durability, LocalSegmentLog, StoreOptions};

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// `writers` tasks append `records`-record requests of `size`-byte records round-robin over
/// `shards` for `secs`; returns appends/s and records/s.
async fn throughput(
    log: &Arc<LocalSegmentLog>,
    shards: &[ShardKey],
    writers: usize,
    records: usize,
    size: usize,
    secs: f64,
) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let appends = Arc::new(AtomicU64::new(0));
    let data = Bytes::from(vec![b'x'; size]);
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (log, stop, appends, data) = (log.clone(), stop.clone(), appends.clone(), data.clone());
            let shard = shards[w % shards.len()];
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let batch = (0..records)
                        .map(|i| NewRecord {
                            partition_key: format!("key-{i}"),
                            data: data.clone(),
                            encrypted: false,
                        })
                        .collect();
                    log.append(shard, batch).await.expect("append");
                    appends.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let n = appends.load(Ordering::Relaxed) as f64;
    let elapsed = start.elapsed().as_secs_f64();
    (n / elapsed, n * records as f64 / elapsed)
}

#[tokio::main]
async fn main() {
    let temp = tempfile::tempdir().unwrap();
    let root =
        std::env::args().nth(1).map(std::path::PathBuf::from).unwrap_or_else(|| temp.path().to_owned());
    let clock = Arc::new(SystemClock);
    let fsync = StoreOptions::default();
    let os = StoreOptions { durability: Durability::Os, ..fsync };

    let open = |dir: &Path, options| {
        let start = Instant::now();
        let (log, _catalog) = open_store(dir, options, clock.clone()).unwrap();
        (Arc::new(log), start.elapsed())
    };

    let (_, t) = open(&root.join("empty"), fsync);
    println!("open an empty store (creates it): {t:?}");
    let (_, t) = open(&root.join("empty"), fsync);
    println!("reopen the empty store: {t:?}");

    let many = root.join("many");
    let (log, _) = open(&many, fsync);
    let start = Instant::now();
    for stream_id in 0..1000 {
        for shard_index in 0..4 {
            log.create_shard(ShardKey { stream_id, shard_index }).unwrap();
        }
    }
    println!("create 1,000 streams x 4 shards (fsync): {:?}", start.elapsed());
    drop(log);
    let (_, t) = open(&many, fsync);
    println!("reopen with 4,000 shards: {t:?}");

    let rss_before = rss_mib();
    for (name, options) in [("fsync", fsync), ("os", os)] {
        let (log, _) = open(&root.join(name), options);
        let shards: Vec<_> = (0..4).map(|i| ShardKey { stream_id: 1, shard_index: i }).collect();
        for &key in &shards {
            log.create_shard(key).unwrap();
        }
        // 32 writers of 125 records over 4 shards: the appends of 8 PutRecords of 500 in flight,
        // the server's PutRecords workload without HTTP and decoding.
        for (writers, records, size, nshards) in
            [(1, 1, 100, 1), (64, 1, 100, 1), (256, 1, 100, 4), (64, 100, 1000, 4), (32, 125, 100, 4)]
        {
            let (aps, rps) = throughput(&log, &shards[..nshards], writers, records, size, 2.0).await;
            println!(
                "durability {name}: {writers} writers, {records} x {size} B per append, {nshards} shard(s): {aps:.0} appends/s, {rps:.0} records/s (RSS {:.1} MiB)",
                rss_mib()
            );
        }
    }
    println!("resident memory: {rss_before:.1} MiB before the throughput runs, {:.1} MiB after", rss_mib());
    let usage: u64 = walk(&root);
    println!("data written: {:.0} MiB", usage as f64 / (1 << 20) as f64);
}

fn walk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| {
                    let e = e.unwrap();
                    let meta = e.metadata().unwrap();
                    if meta.is_dir() {
                        walk(&e.path())
                    } else {
                        meta.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
