//! Criterion benchmarks of the write path below the HTTP layer, on a real directory with
//! `Durability::Os` (so that they measure CPU work, not the disk's sync latency):
//!
//! * `segment_append`: one shard log appending 500 records of 100 B (framing, CRCs, the
//!   sparse index, the write, group-commit bookkeeping);
//! * `engine_put_records`: a decoded PutRecords of 500 × 100 B through the engine — stream
//!   lookup, partition-key hashing, routing to 4 shards, the appends, the answer; and the same
//!   to a stream of 5,000 shards, where the records spread over about 475 shards, which one
//!   multi-shard append (`ShardLog::append_to_shards`) writes.
//!
//! `cargo bench -p kinesin-store-local --bench put_path`

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kinesin_engine::storage::{NewRecord, ShardKey, ShardLog, SystemClock};
use kinesin_engine::{Api, Engine, EngineConfig, RequestContext};
use kinesin_store_local::{open_store, Durability, StoreOptions};
use kinesin_wire::{check_types, parse_body, Format, Input, Operation};

const RECORDS: usize = 500;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

fn options() -> StoreOptions {
    StoreOptions { durability: Durability::Os, ..StoreOptions::default() }
}

fn segment_append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (log, _catalog) = open_store(dir.path(), options(), Arc::new(SystemClock)).unwrap();
    let shard = ShardKey { stream_id: 1, shard_index: 0 };
    log.create_shard(shard).unwrap();
    let batch: Vec<NewRecord> = (0..RECORDS)
        .map(|i| NewRecord {
            partition_key: format!("key-{i}"),
            data: Bytes::from(vec![0x5a; 100]),
            encrypted: false,
        })
        .collect();
    let rt = runtime();
    let mut group = c.benchmark_group("segment_append_500x100B");
    group.throughput(Throughput::Elements(RECORDS as u64));
    // The batch is cloned outside the timed region: appending consumes it.
    group.bench_function("os", |b| {
        b.iter_batched(
            || batch.clone(),
            |batch| rt.block_on(log.append(shard, batch)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn input(op: Operation, json: &str) -> Input {
    Input::Tree(check_types(op, parse_body(Format::Json, json.as_bytes()).unwrap()).unwrap())
}

fn engine_put_records(c: &mut Criterion) {
    for shards in [4, 5000] {
        engine_put_records_to(c, shards);
    }
}

fn engine_put_records_to(c: &mut Criterion, shards: u32) {
    let dir = tempfile::tempdir().unwrap();
    let (log, catalog) = open_store(dir.path(), options(), Arc::new(SystemClock)).unwrap();
    let config = EngineConfig { create_stream_ms: 0, shard_limit: shards, ..EngineConfig::default() };
    let rt = runtime();
    let engine = rt.block_on(Engine::open(log, catalog, Arc::new(SystemClock), config)).unwrap();
    let ctx = RequestContext { account: "000000000000".into(), region: "us-east-1".into() };
    let create =
        input(Operation::CreateStream, &format!(r#"{{"StreamName":"bench","ShardCount":{shards}}}"#));
    rt.block_on(engine.handle(&ctx, Operation::CreateStream, create)).unwrap();

    // 100 zero bytes in base64.
    let data = format!("{}==", "A".repeat(134));
    let records: Vec<String> =
        (0..RECORDS).map(|i| format!(r#"{{"Data":"{data}","PartitionKey":"{:016x}"}}"#, i * 7919)).collect();
    let put = input(
        Operation::PutRecords,
        &format!(r#"{{"StreamName":"bench","Records":[{}]}}"#, records.join(",")),
    );
    let mut group = c.benchmark_group(format!("engine_put_records_500x100B_{shards}_shards"));
    group.throughput(Throughput::Elements(RECORDS as u64));
    // The input is cloned outside the timed region: the engine consumes it.
    group.bench_function("os", |b| {
        b.iter_batched(
            || put.clone(),
            |put| rt.block_on(engine.handle(&ctx, Operation::PutRecords, put)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, segment_append, engine_put_records);
criterion_main!(benches);
