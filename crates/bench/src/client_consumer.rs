//! Workload `consumer` (issue 16): records/s end to end through kinesin-client's consumer,
//! draining the stream the `get-records` workload drains with raw GetRecords, so that the two
//! read against each other in the same run.
//!
//! Each measurement is a new application (its own lease table) starting at TRIM_HORIZON; the
//! clock runs from `start` (lease table, shard sync, lease taking included) until every record
//! the fill put has been handed to a processor. Processors count and checkpoint each batch, as
//! an application does. Reads are paced by `--poll-ms` instead of the KCL's default second, as
//! the raw drain reads back to back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use kinesin_client::consumer::{
    Checkpointer, Consumer, InitialPosition, ProcessRecordsInput, RecordProcessor,
};
use tokio::sync::Notify;

use super::calls::{count_error, CallError};
use super::client::Client;
use super::get_records::ShardCounts;
use super::load::LoopResult;
use super::procfs;
use super::Settings;

/// Counts what it is given into a total shared by every shard's processor.
struct Counter {
    total: Arc<AtomicU64>,
    expected: u64,
    done: Arc<Notify>,
}

impl RecordProcessor for Counter {
    async fn process_records(&mut self, input: ProcessRecordsInput, checkpointer: &mut Checkpointer) {
        let n = input.records.len() as u64;
        if self.total.fetch_add(n, Ordering::Relaxed) + n >= self.expected {
            self.done.notify_one();
        }
        let _ = checkpointer.checkpoint().await;
    }
}

/// The DynamoDB client of the lease table, on the endpoint's own address (kinesin serves both).
fn dynamodb(endpoint: &str, region: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "kinesin-bench"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// Drains `stream` (holding `counts` records) through a new consumer application named
/// `application`, reads paced by `--poll-ms`; gives up after `limit`.
pub async fn drain(
    client: &Client,
    stream: &str,
    counts: &ShardCounts,
    application: &str,
    settings: &Settings,
    limit: Duration,
    pid: Option<u32>,
) -> LoopResult {
    let expected: u64 = counts.values().sum();
    let total = Arc::new(AtomicU64::new(0));
    let done = Arc::new(Notify::new());
    let cpu_before = pid.and_then(procfs::cpu_seconds);
    let started = Instant::now();
    let (counter_total, counter_done) = (total.clone(), done.clone());
    let consumer = Consumer::builder(
        client.sdk.clone(),
        dynamodb(client.endpoint(), client.region()),
        application,
        stream,
    )
    .initial_position(InitialPosition::TrimHorizon)
    .idle_time_between_reads(Duration::from_millis(settings.poll_ms))
    .start(move |_shard: &str| Counter { total: counter_total.clone(), expected, done: counter_done.clone() })
    .await;
    let mut result = LoopResult::default();
    let consumer = match consumer {
        Ok(consumer) => consumer,
        Err(err) => {
            count_error(&mut result.errors, &CallError::new("consumer", err.to_string()));
            return result;
        }
    };
    if tokio::time::timeout(limit, done.notified()).await.is_err() {
        count_error(&mut result.errors, &CallError::new("abandoned", "not every record within the limit"));
    }
    result.seconds = started.elapsed().as_secs_f64();
    result.records = total.load(Ordering::Relaxed).min(expected);
    result.bytes = result.records * settings.record_bytes as u64;
    result.server_cpu_s = match (cpu_before, pid.and_then(procfs::cpu_seconds)) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    consumer.shutdown().await;
    result
}
