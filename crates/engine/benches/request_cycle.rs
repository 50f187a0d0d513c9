//! Criterion benchmark of a PutRecords request's CPU outside storage: parse and type check the
//! JSON body (as the server does, in one pass), validate, run the engine (stream lookup,
//! partition-key hashing, routing to 4 shards, the answer) and encode the answer. The shard log
//! only counts records, so the figure is the server's per-request work without the commit path
//! (the store's `put_path` benchmark measures that).
//!
//! `cargo bench -p kinesin-engine --bench request_cycle`
//!
//! Each request runs in [`put_records_request`], which is never inlined, so that callgrind can
//! count its instructions alone: `valgrind --tool=callgrind --toggle-collect='*put_records_request*'
//! <bench binary> --bench --profile-time 1`, then divide by its call count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kinesin_engine::model::StreamMeta;
use kinesin_engine::storage::{
    Appended, Cas, Catalog, ChangeFeed, NewRecord, Position, ReadBatch, ShardKey, ShardLog, StoreError,
    SystemClock, Tip,
};
use kinesin_engine::{Api, Engine, EngineConfig, Reply, RequestContext};
use kinesin_wire::{check_types, decode, parse_body, Format, Input, Operation};

const RECORDS: usize = 500;

/// A log that keeps only each shard's record count: appends cost the engine nothing else.
#[derive(Default)]
struct CountingLog {
    next_seq_ix: Mutex<HashMap<ShardKey, u64>>,
}

impl ShardLog for CountingLog {
    fn create_shard(&self, shard: ShardKey) -> Result<(), StoreError> {
        self.next_seq_ix.lock().unwrap().entry(shard).or_default();
        Ok(())
    }

    async fn append(&self, shard: ShardKey, records: Vec<NewRecord>) -> Result<Appended, StoreError> {
        let mut counts = self.next_seq_ix.lock().unwrap();
        let next = counts.get_mut(&shard).ok_or(StoreError::NoSuchShard(shard))?;
        let first_seq_ix = *next;
        *next += records.len() as u64;
        Ok(Appended { first_seq_ix, arrival_ms: 1_700_000_000_000 })
    }

    async fn read(&self, _: ShardKey, from: Position, _: usize, _: usize) -> Result<ReadBatch, StoreError> {
        Ok(ReadBatch { records: Vec::new(), next: from })
    }

    async fn seek_time(&self, shard: ShardKey, _: i64) -> Result<Position, StoreError> {
        Ok(Position { seq_ix: self.tip(shard).await?.next_seq_ix, hint: 0 })
    }

    async fn tip(&self, shard: ShardKey) -> Result<Tip, StoreError> {
        let counts = self.next_seq_ix.lock().unwrap();
        let next_seq_ix = *counts.get(&shard).ok_or(StoreError::NoSuchShard(shard))?;
        Ok(Tip { next_seq_ix, last_arrival_ms: None })
    }

    async fn trim(&self, _: ShardKey, _: i64) -> Result<(), StoreError> {
        Ok(())
    }

    async fn delete_stream(&self, _: u64) -> Result<(), StoreError> {
        Ok(())
    }

    async fn seal(&self, _: ShardKey, _: u64) -> Result<(), StoreError> {
        Ok(())
    }

    /// Its records are never readable.
    async fn wait_for(&self, _: ShardKey, _: u64) -> Result<(), StoreError> {
        std::future::pending().await
    }
}

/// A catalog that remembers nothing: the benchmark never restarts the engine.
struct NoCatalog;

impl Catalog for NoCatalog {
    async fn load_streams(&self) -> Result<Vec<StreamMeta>, StoreError> {
        Ok(Vec::new())
    }
    async fn get_stream(&self, _: u64) -> Result<Option<StreamMeta>, StoreError> {
        Ok(None)
    }
    async fn put_stream(&self, _: &StreamMeta, _: Option<u64>) -> Result<Cas, StoreError> {
        Ok(Cas::Committed)
    }
    async fn delete_stream(&self, _: u64, _: u64) -> Result<Cas, StoreError> {
        Ok(Cas::Committed)
    }
    async fn get_setting(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
    async fn put_setting(&self, _: &str, _: &[u8]) -> Result<(), StoreError> {
        Ok(())
    }
    fn changes(&self) -> ChangeFeed {
        tokio::sync::broadcast::channel(1).1
    }
}

type BenchEngine = Engine<CountingLog, NoCatalog>;

/// What the server does with one request body, up to the bytes of its answer.
#[inline(never)]
fn put_records_request(
    rt: &tokio::runtime::Runtime,
    engine: &BenchEngine,
    ctx: &RequestContext,
    body: &[u8],
) -> Vec<u8> {
    let op = Operation::PutRecords;
    let input = decode::parse(Some(op), Format::Json, body).unwrap().check_types(op).unwrap();
    input.validate(op).unwrap();
    match rt.block_on(engine.handle(ctx, op, input)).unwrap() {
        Reply::PutRecords(answer) => answer.encode(Format::Json),
        Reply::Value(_) | Reply::Events(_) => unreachable!("PutRecords answers with its own type"),
    }
}

fn put_records_body() -> Vec<u8> {
    // 100 zero bytes in base64.
    let data = format!("{}==", "A".repeat(134));
    let records: Vec<String> =
        (0..RECORDS).map(|i| format!(r#"{{"Data":"{data}","PartitionKey":"{:016x}"}}"#, i * 7919)).collect();
    format!(r#"{{"StreamName":"bench","Records":[{}]}}"#, records.join(",")).into_bytes()
}

fn request_cycle(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = EngineConfig { create_stream_ms: 0, ..EngineConfig::default() };
    let engine =
        rt.block_on(Engine::open(CountingLog::default(), NoCatalog, Arc::new(SystemClock), config)).unwrap();
    let ctx = RequestContext { account: "000000000000".into(), region: "us-east-1".into() };
    let create = br#"{"StreamName":"bench","ShardCount":4}"#;
    let create = check_types(Operation::CreateStream, parse_body(Format::Json, create).unwrap()).unwrap();
    rt.block_on(engine.handle(&ctx, Operation::CreateStream, Input::Tree(create))).unwrap();

    let body = put_records_body();
    let mut group = c.benchmark_group("put_records_request_500x100B_4_shards");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("json", |b| b.iter(|| put_records_request(&rt, &engine, &ctx, &body)));
    group.finish();
}

criterion_group!(benches, request_cycle);
criterion_main!(benches);
