//! Thousands of shards under a low open-files limit (issue 20): the store keeps a bounded
//! number of segment files open, so a data directory with more shards than the process may
//! open files serves, restarts cleanly and after a kill -9, and loses no record.

mod common;

use std::collections::HashMap;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_kinesis::Client;
use common::*;

/// The child's RLIMIT_NOFILE, soft and hard: far fewer than the shards.
const OPEN_FILES_LIMIT: u64 = 256;
const STREAMS: usize = 2;
const SHARDS_PER_STREAM: u32 = 1_000;

fn stream_name(s: usize) -> String {
    format!("many-shards-{s}")
}

/// One record to every shard of every stream (by explicit hash key), `round` in its data.
/// Returns what each shard was sent, by (stream, shard id).
async fn put_to_every_shard(client: &Client, round: u32) -> HashMap<(String, String), Vec<Vec<u8>>> {
    let step = hash_step(u128::from(SHARDS_PER_STREAM));
    let mut sent: HashMap<(String, String), Vec<Vec<u8>>> = HashMap::new();
    let mut puts = Vec::new();
    for s in 0..STREAMS {
        let name = stream_name(s);
        let shards: Vec<u32> = (0..SHARDS_PER_STREAM).collect();
        for batch in shards.chunks(500) {
            let entries: Vec<PutRecordsRequestEntry> = batch
                .iter()
                .map(|&i| {
                    let data = format!("round {round} stream {s} shard {i}").into_bytes();
                    sent.entry((name.clone(), shard_id(i))).or_default().push(data.clone());
                    PutRecordsRequestEntry::builder()
                        .partition_key("pk")
                        .explicit_hash_key((u128::from(i) * step).to_string())
                        .data(Blob::new(data))
                        .build()
                        .unwrap()
                })
                .collect();
            let (client, name) = (client.clone(), name.clone());
            puts.push(tokio::spawn(async move {
                let out = client.put_records().stream_name(&name).set_records(Some(entries)).send().await;
                let out = out.unwrap_or_else(|e| panic!("PutRecords {name}: {}", show(&e)));
                assert_eq!(out.failed_record_count(), Some(0), "{out:?}");
            }));
        }
    }
    for put in puts {
        put.await.unwrap();
    }
    sent
}

/// Reads every shard of every stream, 32 at a time, and checks it holds what was sent to it.
async fn check_every_shard(client: &Client, expected: &HashMap<(String, String), Vec<Vec<u8>>>, when: &str) {
    let keys: Vec<(String, String)> = expected.keys().cloned().collect();
    assert_eq!(keys.len(), STREAMS * SHARDS_PER_STREAM as usize);
    for chunk in keys.chunks(32) {
        let reads: Vec<_> = chunk
            .iter()
            .cloned()
            .map(|(stream, shard)| {
                let client = client.clone();
                tokio::spawn(async move {
                    let records = read_shard(&client, &stream, &shard).await;
                    let data: Vec<Vec<u8>> = records.iter().map(|r| r.data().as_ref().to_vec()).collect();
                    ((stream, shard), data)
                })
            })
            .collect();
        for read in reads {
            let (key, data) = read.await.unwrap();
            assert_eq!(&data, &expected[&key], "{when}: {key:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_shards_serve_and_restart_under_a_low_open_files_limit() {
    let mut server = TestServer::start_with(
        ServerOptions::default().shard_limit(5_000).open_files_limit(OPEN_FILES_LIMIT),
    );
    let client = server.client_no_retry();
    for s in 0..STREAMS {
        create_stream_and_wait(&client, &stream_name(s), SHARDS_PER_STREAM as i32).await;
    }
    let mut expected = put_to_every_shard(&client, 1).await;

    server.restart();
    let client = server.client_no_retry();
    for (key, data) in put_to_every_shard(&client, 2).await {
        expected.get_mut(&key).unwrap().extend(data);
    }

    server.kill9();
    server.start_again();
    let client = server.client_no_retry();
    check_every_shard(&client, &expected, "after a clean stop, more puts and a kill -9").await;
    assert!(!server.stderr().contains("Too many open files"), "{}", server.stderr());
}
