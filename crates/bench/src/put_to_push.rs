//! Workload 5: put-to-push latency through enhanced fan-out. A consumer is registered once per
//! target; each measurement subscribes to every shard from LATEST (SubscribeToShard through the
//! SDK — its event-stream decoding is what users run) while the producer puts at a fixed rate in
//! the selected client mode. An endpoint without fan-out answers UnknownOperationException, which
//! is reported as "not supported by the endpoint".

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::types::{
    ConsumerStatus, ShardIteratorType, StartingPosition, SubscribeToShardEventStream,
};

use super::calls::{count_error, CallError, Errors};
use super::client::Client;
use super::latency::{settle, Collector, LatencyResult};
use super::producer::produce;
use super::Settings;

pub const UNSUPPORTED: &str = "not supported by the endpoint";

/// Registers (or finds) the bench consumer on `stream` and waits until it is ACTIVE; answers its
/// ARN, or `UNSUPPORTED`-style reasons.
pub async fn register(client: &Client, stream: &str) -> Result<String, String> {
    let sdk = &client.sdk;
    let summary = sdk
        .describe_stream_summary()
        .stream_name(stream)
        .send()
        .await
        .map_err(|e| format!("DescribeStreamSummary: {}", CallError::from_sdk(&e)))?;
    let arn = summary.stream_description_summary().map(|s| s.stream_arn().to_owned()).unwrap_or_default();
    let consumer_arn =
        match sdk.register_stream_consumer().stream_arn(&arn).consumer_name("kinesin-bench").send().await {
            Ok(out) => out.consumer().map(|c| c.consumer_arn().to_owned()).unwrap_or_default(),
            Err(err) => {
                let err = CallError::from_sdk(&err);
                match err.code.as_str() {
                    "UnknownOperationException" => return Err(UNSUPPORTED.into()),
                    "ResourceInUseException" => sdk
                        .describe_stream_consumer()
                        .stream_arn(&arn)
                        .consumer_name("kinesin-bench")
                        .send()
                        .await
                        .map_err(|e| format!("DescribeStreamConsumer: {}", CallError::from_sdk(&e)))?
                        .consumer_description()
                        .map(|c| c.consumer_arn().to_owned())
                        .unwrap_or_default(),
                    _ => return Err(format!("RegisterStreamConsumer: {err}")),
                }
            }
        };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described = sdk
            .describe_stream_consumer()
            .consumer_arn(&consumer_arn)
            .send()
            .await
            .map_err(|e| format!("DescribeStreamConsumer: {}", CallError::from_sdk(&e)))?;
        if described.consumer_description().map(|c| c.consumer_status()) == Some(&ConsumerStatus::Active) {
            return Ok(consumer_arn);
        }
        if Instant::now() > deadline {
            return Err("the consumer did not become ACTIVE within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn run(
    client: &Client,
    settings: &Settings,
    stream: &str,
    consumer_arn: &str,
    shards: &[String],
    rate: u64,
    epoch: Instant,
) -> Result<LatencyResult, String> {
    let collector = Collector::new(epoch);
    let stop = Arc::new(AtomicBool::new(false));
    let mut errors = Errors::new();
    let mut readers = Vec::new();
    for shard in shards {
        let position =
            StartingPosition::builder().r#type(ShardIteratorType::Latest).build().expect("type is set");
        let subscribed = client
            .sdk
            .subscribe_to_shard()
            .consumer_arn(consumer_arn)
            .shard_id(shard)
            .starting_position(position)
            .send()
            .await;
        let mut output = match subscribed {
            Ok(output) => output,
            Err(err) => {
                let err = CallError::from_sdk(&err);
                if err.code == "UnknownOperationException" {
                    return Err(UNSUPPORTED.into());
                }
                count_error(&mut errors, &err);
                continue;
            }
        };
        let (collector, stop) = (collector.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut errors = Errors::new();
            while !stop.load(Ordering::Relaxed) {
                let event =
                    tokio::time::timeout(Duration::from_millis(200), output.event_stream.recv()).await;
                match event {
                    Err(_) => continue,
                    Ok(Ok(Some(SubscribeToShardEventStream::SubscribeToShardEvent(event)))) => {
                        let stamps: Vec<u64> = event
                            .records()
                            .iter()
                            .map(|r| super::calls::stamp_of(r.data().as_ref()))
                            .collect();
                        collector.arrived(&stamps);
                    }
                    Ok(Ok(Some(_))) => {}
                    Ok(Ok(None)) => break,
                    Ok(Err(err)) => {
                        count_error(&mut errors, &CallError::new("event-stream", format!("{err:?}")));
                        break;
                    }
                }
            }
            errors
        }));
    }
    if readers.is_empty() {
        return Err(format!("no subscription succeeded: {errors:?}"));
    }
    let (sent, put_errors) =
        produce(client, stream, rate, settings.latency_seconds, settings.record_bytes, epoch).await;
    settle(&collector, sent, Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        if let Ok(e) = reader.await {
            for (code, n) in e {
                *errors.entry(code).or_default() += n;
            }
        }
    }
    for (code, n) in put_errors {
        *errors.entry(code).or_default() += n;
    }
    let latencies_us = collector.take();
    Ok(LatencyResult { sent, received: latencies_us.len() as u64, errors, latencies_us })
}
