//! The engine on the real embedded store, running on a simulated disk with a controllable
//! clock: full-disk failures, retention, and power cuts, which a live server cannot be put
//! through deterministically.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use kinesin_engine::storage::Clock;
use kinesin_engine::{Api, Engine, EngineConfig, Reply, RequestContext};
use kinesin_store_local::{
    open_store_with_fs, Durability, LocalSegmentLog, RedbCatalog, SimFs, StoreOptions, Vfs,
};
use kinesin_wire::{ApiError, Input, Operation, Value};

const HOUR_MS: i64 = 3_600_000;

struct FakeClock(AtomicI64);

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl FakeClock {
    fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

struct Harness {
    fs: SimFs,
    clock: Arc<FakeClock>,
    engine: Engine<LocalSegmentLog, RedbCatalog>,
    ctx: RequestContext,
}

async fn open(fs: SimFs, clock: Arc<FakeClock>, segment_bytes: u64) -> Harness {
    let options = StoreOptions { durability: Durability::Fsync, segment_bytes, ..StoreOptions::default() };
    let (log, catalog) = open_store_with_fs(Arc::new(fs.clone()), Path::new("/data"), options, clock.clone())
        .expect("open store");
    let config =
        EngineConfig { create_stream_ms: 0, delete_stream_ms: 0, update_stream_ms: 0, ..Default::default() };
    let engine = Engine::open(log, catalog, clock.clone(), config).await.expect("open engine");
    let ctx = RequestContext { account: "000000000000".into(), region: "us-east-1".into() };
    Harness { fs, clock, engine, ctx }
}

impl Harness {
    async fn new(segment_bytes: u64) -> Harness {
        open(SimFs::new(), Arc::new(FakeClock(AtomicI64::new(1_790_000_000_000))), segment_bytes).await
    }

    /// Cuts the power and boots the engine again on what the disk kept.
    async fn power_cut_and_reopen(self, segment_bytes: u64) -> Harness {
        let fs = self.fs.power_cut();
        open(fs, self.clock.clone(), segment_bytes).await
    }

    async fn call(&self, op: Operation, input: Value) -> Result<Value, ApiError> {
        match self.engine.handle(&self.ctx, op, Input::Tree(input)).await? {
            Reply::Value(value) => Ok(value),
            Reply::PutRecords(answer) => Ok(answer.to_value()),
            Reply::Events(_) => panic!("{op:?} answered with an event stream"),
        }
    }

    async fn create_stream(&self, name: &str, shards: i64) {
        let input = Value::object().with("StreamName", name).with("ShardCount", shards);
        self.call(Operation::CreateStream, input).await.expect("CreateStream");
        // The first call after the (zero) CREATING delay completes the transition.
        let summary =
            self.call(Operation::DescribeStreamSummary, Value::object().with("StreamName", name)).await;
        assert_eq!(
            summary.unwrap().get("StreamDescriptionSummary").unwrap().str("StreamStatus"),
            Some("ACTIVE")
        );
    }

    async fn put(&self, stream: &str, key: &str, data: &str) -> Result<String, ApiError> {
        let input = Value::object()
            .with("StreamName", stream)
            .with("PartitionKey", key)
            .with("Data", Bytes::from(data.to_owned()));
        let out = self.call(Operation::PutRecord, input).await?;
        Ok(out.str("SequenceNumber").unwrap().to_owned())
    }

    /// Every record of shard 0 from TRIM_HORIZON, as (sequence number, data).
    async fn read_all(&self, stream: &str) -> Vec<(String, String)> {
        let input = Value::object()
            .with("StreamName", stream)
            .with("ShardId", "shardId-000000000000")
            .with("ShardIteratorType", "TRIM_HORIZON");
        let out = self.call(Operation::GetShardIterator, input).await.expect("GetShardIterator");
        let mut iterator = out.str("ShardIterator").unwrap().to_owned();
        let mut records = Vec::new();
        loop {
            let out = self
                .call(Operation::GetRecords, Value::object().with("ShardIterator", iterator.as_str()))
                .await
                .expect("GetRecords");
            let page = out.list("Records").unwrap();
            if page.is_empty() {
                return records;
            }
            for r in page {
                let data = String::from_utf8(r.blob("Data").unwrap().to_vec()).unwrap();
                records.push((r.str("SequenceNumber").unwrap().to_owned(), data));
            }
            iterator = out.str("NextShardIterator").unwrap().to_owned();
        }
    }

    /// How many segment (`.log`) files the streams hold.
    fn segment_files(&self) -> usize {
        count_logs(&self.fs, Path::new("/data/streams"))
    }
}

fn count_logs(fs: &SimFs, dir: &Path) -> usize {
    fs.list_dir(dir)
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            if e.is_dir {
                count_logs(fs, &dir.join(&e.name))
            } else {
                usize::from(e.name.ends_with(".log"))
            }
        })
        .sum()
}

#[tokio::test]
async fn a_full_disk_fails_writes_with_internal_failure_and_keeps_reads() {
    let h = Harness::new(64 << 20).await;
    h.create_stream("s", 1).await;
    let before = h.put("s", "k", "kept").await.unwrap();

    h.fs.fail_writes(true);
    let err = h.put("s", "k", "lost").await.unwrap_err();
    assert_eq!((err.code, err.status()), ("InternalFailure", 500));

    let batch = Value::object().with("StreamName", "s").with(
        "Records",
        vec![Value::object().with("PartitionKey", "k").with("Data", Bytes::from_static(b"x"))],
    );
    let out = h.call(Operation::PutRecords, batch).await.unwrap();
    assert_eq!(out.int("FailedRecordCount"), Some(1));
    assert_eq!(out.list("Records").unwrap()[0].str("ErrorCode"), Some("InternalFailure"));

    // A control-plane change fails whole and leaves nothing behind.
    let err = h
        .call(Operation::CreateStream, Value::object().with("StreamName", "t").with("ShardCount", 1i64))
        .await
        .unwrap_err();
    assert_eq!(err.code, "InternalFailure");
    let listed = h.call(Operation::ListStreams, Value::object()).await.unwrap();
    assert_eq!(listed.list("StreamNames").unwrap(), &[Value::from("s")]);

    // Reads keep working throughout and see only the acknowledged record.
    assert_eq!(h.read_all("s").await, vec![(before.clone(), "kept".to_owned())]);

    h.fs.fail_writes(false);
    let after = h.put("s", "k", "again").await.unwrap();
    let records = h.read_all("s").await;
    assert_eq!(records, vec![(before, "kept".to_owned()), (after, "again".to_owned())]);
}

/// A failed segment sync may have dropped what the segment held unsynced: its shard answers
/// `InternalFailure` until a restart, other shards and every read go on, and a power cut loses
/// nothing acknowledged.
#[tokio::test]
async fn a_failed_segment_sync_stops_only_its_shard_until_a_restart() {
    let h = Harness::new(64 << 20).await;
    h.create_stream("s", 1).await;
    h.create_stream("t", 1).await;
    let kept = h.put("s", "k", "kept").await.unwrap();
    h.fs.fail_syncs(true);
    // Big enough to be synced in its segment rather than through the journal.
    let err = h.put("s", "k", &"x".repeat(200 << 10)).await.unwrap_err();
    assert_eq!((err.code, err.status()), ("InternalFailure", 500));
    h.fs.fail_syncs(false);

    let err = h.put("s", "k", "refused").await.unwrap_err();
    assert_eq!((err.code, err.status()), ("InternalFailure", 500));
    h.put("t", "k", "another shard").await.unwrap();
    assert_eq!(h.read_all("s").await, vec![(kept.clone(), "kept".to_owned())]);

    let h = h.power_cut_and_reopen(64 << 20).await;
    assert_eq!(h.read_all("s").await, vec![(kept, "kept".to_owned())]);
    h.put("s", "k", "after the restart").await.unwrap();
}

#[tokio::test]
async fn records_past_retention_disappear_and_their_segments_are_deleted() {
    // One-byte segments: every record seals its own, so retention can delete whole files.
    let h = Harness::new(1).await;
    h.create_stream("s", 1).await;
    for i in 0..5 {
        h.put("s", "k", &format!("old-{i}")).await.unwrap();
    }
    h.clock.advance(23 * HOUR_MS);
    let young = h.put("s", "k", "young").await.unwrap();
    let files_before = h.segment_files();
    assert!(files_before >= 6, "{files_before} segment files");

    // 25 hours after the first records: they are past the 24-hour retention.
    h.clock.advance(2 * HOUR_MS);
    let records = h.read_all("s").await;
    assert_eq!(records, vec![(young.clone(), "young".to_owned())], "expired records are never returned");

    h.engine.maintain().await;
    let files_after = h.segment_files();
    assert!(files_after < files_before, "segments deleted: {files_before} -> {files_after}");
    assert_eq!(h.read_all("s").await, vec![(young, "young".to_owned())]);
}

#[tokio::test]
async fn decreasing_retention_hides_older_records_at_once() {
    let h = Harness::new(64 << 20).await;
    h.create_stream("s", 1).await;
    h.call(
        Operation::IncreaseStreamRetentionPeriod,
        Value::object().with("StreamName", "s").with("RetentionPeriodHours", 48i64),
    )
    .await
    .unwrap();
    h.put("s", "k", "old").await.unwrap();
    h.clock.advance(30 * HOUR_MS);
    let young = h.put("s", "k", "young").await.unwrap();
    assert_eq!(h.read_all("s").await.len(), 2, "48 h retention keeps both");
    h.call(
        Operation::DecreaseStreamRetentionPeriod,
        Value::object().with("StreamName", "s").with("RetentionPeriodHours", 24i64),
    )
    .await
    .unwrap();
    assert_eq!(h.read_all("s").await, vec![(young, "young".to_owned())]);
}

#[tokio::test]
async fn acknowledged_streams_and_records_survive_a_power_cut() {
    let h = Harness::new(256).await;
    h.create_stream("s", 1).await;
    let mut acked = Vec::new();
    for i in 0..20 {
        let data = format!("record-{i}");
        acked.push((h.put("s", "k", &data).await.unwrap(), data));
    }
    let h = h.power_cut_and_reopen(256).await;
    assert_eq!(h.read_all("s").await, acked);
    // Writing continues after the last acknowledged sequence number.
    let next = h.put("s", "k", "after").await.unwrap();
    assert!(next.len() >= acked.last().unwrap().0.len() && next > acked.last().unwrap().0);
}

#[tokio::test]
async fn on_demand_streams_split_hot_shards_and_merge_cold_siblings_back() {
    let h = Harness::new(64 << 20).await;
    let create = Value::object()
        .with("StreamName", "od")
        .with("StreamModeDetails", Value::object().with("StreamMode", "ON_DEMAND"));
    h.call(Operation::CreateStream, create).await.unwrap();
    let open_shards = || async {
        let filter = Value::object().with("Type", "AT_LATEST");
        let out = h
            .call(Operation::ListShards, Value::object().with("StreamName", "od").with("ShardFilter", filter))
            .await
            .unwrap();
        out.list("Shards").unwrap().iter().map(|s| s.str("ShardId").unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(open_shards().await.len(), 4, "on-demand streams start with 4 shards");

    // Shard 0 takes 1,500 records/s for 12 s: over the 1,000 records/s of one shard.
    h.engine.maintain().await;
    for _second in 0..12 {
        let records: Vec<Value> = (0..500)
            .map(|_| {
                Value::object()
                    .with("PartitionKey", "k")
                    .with("ExplicitHashKey", "1")
                    .with("Data", Bytes::from_static(b"x"))
            })
            .collect();
        for _ in 0..3 {
            let batch = Value::object().with("StreamName", "od").with("Records", records.clone());
            assert_eq!(h.call(Operation::PutRecords, batch).await.unwrap().int("FailedRecordCount"), Some(0));
        }
        h.clock.advance(1_000);
        h.engine.maintain().await;
    }
    let open = open_shards().await;
    assert_eq!(open.len(), 5, "the hot shard was split: {open:?}");
    assert!(!open.contains(&"shardId-000000000000".to_owned()));

    // Quiet for 11 minutes: the two children of that split are merged back.
    for _minute in 0..11 {
        h.clock.advance(60_000);
        h.engine.maintain().await;
    }
    let open = open_shards().await;
    assert_eq!(open.len(), 4, "cold siblings merged: {open:?}");
    assert!(open.contains(&"shardId-000000000006".to_owned()), "{open:?}");
}
