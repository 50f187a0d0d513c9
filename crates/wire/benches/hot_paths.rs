//! Criterion benchmarks of the wire crate's other hot paths: shard-iterator tokens (every
//! GetRecords verifies one and signs the next), sequence-number rendering (every record put or
//! read), and encoding a full GetRecords answer (10,000 records of 100 B) in JSON and CBOR.
//!
//! `cargo bench -p kinesin-wire --bench hot_paths`

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kinesin_wire::iterator::ShardIterator;
use kinesin_wire::seqnum::SequenceNumber;
use kinesin_wire::token::Signer;
use kinesin_wire::{encode, Format, Value};

fn iterators(c: &mut Criterion) {
    let signer = Signer::new([7; 32]);
    let iterator = ShardIterator {
        stream_id: 42,
        stream_name: Some("benchmark-stream".into()),
        shard_index: 3,
        seq_ix: 123_456_789,
        hint: 987_654,
        issued_ms: 1_700_000_000_123,
    };
    let token = iterator.encode(&signer);
    let mut group = c.benchmark_group("shard_iterator");
    group.bench_function("encode", |b| b.iter(|| iterator.encode(&signer)));
    group.bench_function("decode", |b| b.iter(|| ShardIterator::decode(&signer, &token).unwrap()));
    group.finish();
}

fn sequence(i: u64) -> SequenceNumber {
    SequenceNumber {
        shard_index: 3,
        arrival_secs: 1_700_000_000,
        seq_ix: i,
        shard_created_secs: 1_699_000_000,
    }
}

fn sequence_numbers(c: &mut Criterion) {
    let seq = sequence(123_456_789);
    let text = seq.encode();
    let mut group = c.benchmark_group("sequence_number");
    group.bench_function("encode", |b| b.iter(|| seq.encode()));
    group.bench_function("parse", |b| b.iter(|| SequenceNumber::parse(&text).unwrap()));
    group.finish();
}

fn get_records_answer() -> Value {
    let data = Bytes::from(vec![0x5a; 100]);
    let records = (0..10_000u64)
        .map(|i| {
            Value::object()
                .with("SequenceNumber", sequence(i).encode())
                .with("ApproximateArrivalTimestamp", Value::Timestamp(1_700_000_000_123))
                .with("Data", Value::Blob(data.clone()))
                .with("PartitionKey", format!("partition-key-{i}"))
        })
        .collect();
    Value::object()
        .with("Records", Value::List(records))
        .with(
            "NextShardIterator",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .with("MillisBehindLatest", Value::Int(0))
}

fn encode_get_records(c: &mut Criterion) {
    let answer = get_records_answer();
    let mut group = c.benchmark_group("get_records_answer_10000x100B");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("json", |b| b.iter(|| encode(Format::Json, &answer)));
    group.bench_function("cbor", |b| b.iter(|| encode(Format::Cbor, &answer)));
    group.finish();
}

criterion_group!(benches, iterators, sequence_numbers, encode_get_records);
criterion_main!(benches);
