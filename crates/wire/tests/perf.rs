//! Decode + type check + validate time for a full PutRecords (500 records of 1 KiB).
//!
//! Timing only means something optimised: `cargo test -p kinesin-wire --release --test perf
//! -- --ignored --nocapture`. The budget is 1 ms per request.

use std::time::{Duration, Instant};

use base64::Engine;
use ciborium::Value as Cbor;
use kinesin_wire::{check_types, parse_body, validate, Format, Operation};

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

/// The median of 200 runs of the whole front-door pipeline on `body`.
fn median(format: Format, body: &[u8]) -> Duration {
    let mut times: Vec<Duration> = (0..200)
        .map(|_| {
            let start = Instant::now();
            let typed = check_types(Operation::PutRecords, parse_body(format, body).unwrap()).unwrap();
            validate(Operation::PutRecords, &typed).unwrap();
            assert_eq!(typed.list("Records").unwrap().len(), 500);
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

#[test]
#[ignore = "timing; run optimised with --ignored"]
fn put_records_500_by_1_kib() {
    for (format, body) in [(Format::Json, json_body()), (Format::Cbor, cbor_body())] {
        let time = median(format, &body);
        println!("{format:?}: {} bytes in {time:?}", body.len());
        if !cfg!(debug_assertions) {
            assert!(time < Duration::from_millis(1), "{format:?} took {time:?}");
        }
    }
}
