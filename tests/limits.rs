//! `--enforce-limits`: AWS's per-shard throughput limits and control-plane call rates, with
//! AWS's errors. (Without the flag nothing is throttled; every other test runs that way.)

mod common;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use common::*;

fn limited_server() -> TestServer {
    TestServer::start_with(ServerOptions::default().transition_ms(0, 0, 0).arg("--enforce-limits"))
}

#[tokio::test]
async fn writes_over_a_shards_capacity_are_refused_per_record() {
    let server = limited_server();
    let client = server.client_no_retry();
    create_stream_and_wait(&client, "w", 1).await;
    // 400 records of 25 KiB: 10,000 KiB per request, about the whole 10 MiB burst of a
    // 1 MiB/s shard.
    let entries: Vec<_> = (0..400)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("k{i}"))
                .data(Blob::new(vec![b'x'; 25 * 1024]))
                .build()
                .unwrap()
        })
        .collect();
    // Three such requests at once: about 29 MiB against 10 MiB of burst plus 1 MiB/s.
    let put = || client.put_records().stream_name("w").set_records(Some(entries.clone())).send();
    let (a, b, c) = tokio::join!(put(), put(), put());
    let mut failed = 0;
    for out in [a, b, c] {
        let out = out.unwrap();
        failed += out.failed_record_count().unwrap_or(0);
        for record in out.records().iter().filter(|r| r.error_code().is_some()) {
            assert_eq!(record.error_code(), Some("ProvisionedThroughputExceededException"));
            assert_eq!(
                record.error_message(),
                Some("Rate exceeded for shard shardId-000000000000 in stream w under account 000000000000.")
            );
            assert!(record.sequence_number().is_none());
        }
    }
    assert!(failed > 0, "{failed} records refused");

    // Bytes: 1 MiB/s with a 10 MiB burst, so thirty 900 KiB records in a row are too many.
    let big = Blob::new(vec![b'x'; 900 * 1024]);
    let mut refused = None;
    for _ in 0..30 {
        if let Err(e) = client.put_record().stream_name("w").partition_key("k").data(big.clone()).send().await
        {
            refused = Some(e);
            break;
        }
    }
    let err = refused.expect("a shard refuses writes past its byte rate");
    assert_eq!(err.code(), Some("ProvisionedThroughputExceededException"), "{}", show(&err));
}

#[tokio::test]
async fn reads_are_limited_to_five_calls_per_second_per_shard() {
    let server = limited_server();
    let client = server.client_no_retry();
    create_stream_and_wait(&client, "r", 1).await;
    let iterator = get_iterator(&client, "r", &shard_id(0), ShardIteratorType::TrimHorizon).await;
    // Five calls per second: back-to-back calls run into the limit (each takes far less than
    // the 200 ms a token needs to refill), and the first one is always allowed.
    let first = client.get_records().shard_iterator(&iterator).send().await;
    assert!(first.is_ok(), "{first:?}");
    let mut throttled = None;
    for _ in 0..50 {
        if let Err(e) = client.get_records().shard_iterator(&iterator).send().await {
            throttled = Some(e);
            break;
        }
    }
    let err = throttled.expect("back-to-back GetRecords calls are throttled");
    assert_eq!(err.code(), Some("ProvisionedThroughputExceededException"), "{}", show(&err));
}

#[tokio::test]
async fn control_plane_calls_past_their_rate_get_limit_exceeded() {
    let server = limited_server();
    let client = server.client_no_retry();
    // DescribeLimits: 1 call per second per account.
    client.describe_limits().send().await.unwrap();
    let err = client.describe_limits().send().await.unwrap_err();
    assert_eq!(err.code(), Some("LimitExceededException"));
    assert!(err.message().unwrap().starts_with("Rate exceeded"), "{}", show(&err));
}

#[tokio::test]
async fn enhanced_fan_out_reads_each_shard_at_two_mib_per_second() {
    use aws_sdk_kinesis::types::{ConsumerStatus, StartingPosition};
    use std::time::{Duration, Instant};

    let server = limited_server();
    let client = server.client_no_retry();
    create_stream_and_wait(&client, "efo", 1).await;
    // 5 records of 1,000 KiB: about 4.9 MiB, within the shard's 10 MiB write burst.
    for i in 0..5 {
        let data = Blob::new(vec![b'a' + i as u8; 1000 * 1024]);
        client.put_record().stream_name("efo").partition_key("k").data(data).send().await.unwrap();
    }
    let consumer =
        client.register_stream_consumer().stream_arn(stream_arn("efo")).consumer_name("c").send().await;
    let consumer_arn = consumer.unwrap().consumer().unwrap().consumer_arn().to_owned();
    while *client
        .describe_stream_consumer()
        .consumer_arn(&consumer_arn)
        .send()
        .await
        .unwrap()
        .consumer_description()
        .unwrap()
        .consumer_status()
        != ConsumerStatus::Active
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let started = Instant::now();
    let start = StartingPosition::builder().r#type(ShardIteratorType::TrimHorizon).build().unwrap();
    let mut events = client
        .subscribe_to_shard()
        .consumer_arn(&consumer_arn)
        .shard_id(shard_id(0))
        .starting_position(start)
        .send()
        .await
        .unwrap_or_else(|e| panic!("SubscribeToShard: {}", show(&e)));
    let mut received = 0;
    while received < 5 {
        let event = tokio::time::timeout(Duration::from_secs(20), events.event_stream.recv()).await;
        let event = event.expect("an event in time").expect("the stream works").expect("the stream goes on");
        received += event.as_subscribe_to_shard_event().map_or(0, |e| e.records().len());
    }
    // 4.9 MiB at 2 MiB/s: the first 2 MiB come at once, the rest take about 1.5 s more.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1400), "4.9 MiB delivered in {elapsed:?}");
}
