//! Criterion benchmark of the request front half: parse + type check + validate of a full
//! PutRecords (500 records of 1 KiB), in JSON (the direct path, one pass) and in CBOR (parse,
//! then type check), each as the server does it.
//!
//! `cargo bench -p kinesin-wire --bench decode`

use base64::Engine;
use ciborium::Value as Cbor;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kinesin_wire::{decode, Format, Operation};

fn json_body() -> Vec<u8> {
    let data = base64::engine::general_purpose::STANDARD.encode([0x5au8; 1024]);
    let records: Vec<String> =
        (0..500).map(|i| format!(r#"{{"Data":"{data}","PartitionKey":"partition-key-{i}"}}"#)).collect();
    format!(r#"{{"StreamName":"my-stream","Records":[{}]}}"#, records.join(",")).into_bytes()
}

fn cbor_body() -> Vec<u8> {
    let records = (0..500)
        .map(|i| {
            Cbor::Map(vec![
                (Cbor::Text("Data".into()), Cbor::Bytes(vec![0x5a; 1024])),
                (Cbor::Text("PartitionKey".into()), Cbor::Text(format!("partition-key-{i}"))),
            ])
        })
        .collect();
    let body = Cbor::Map(vec![
        (Cbor::Text("StreamName".into()), Cbor::Text("my-stream".into())),
        (Cbor::Text("Records".into()), Cbor::Array(records)),
    ]);
    let mut out = Vec::new();
    ciborium::ser::into_writer(&body, &mut out).unwrap();
    out
}

fn decode_put_records(c: &mut Criterion) {
    let mut group = c.benchmark_group("put_records_500x1KiB");
    group.throughput(Throughput::Elements(500));
    for (name, format, body) in [("json", Format::Json, json_body()), ("cbor", Format::Cbor, cbor_body())] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let op = Operation::PutRecords;
                let typed = decode::parse(Some(op), format, &body).unwrap().check_types(op).unwrap();
                typed.validate(Operation::PutRecords).unwrap();
                typed
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode_put_records);
criterion_main!(benches);
