//! Two consumer applications chained into a pipeline (docs/client.md#a-pipeline-example):
//!
//! - **A, `click-counter`**, reads the stream `clicks` — JSON clicks such as
//!   `{"page":"home","time":1765100000.25}`, partition key the page — counts the clicks of each
//!   page in each second of their `time`, and puts each count into the stream
//!   `clicks-per-second` with the producer: `{"page":"home","second":1765100000,"clicks":3}`.
//!   A second's count is put once a click of a later second arrives in its shard.
//! - **B, `clicks-per-second-printer`**, reads `clicks-per-second` and prints each count, a
//!   line on stdout.
//!
//! Both streams are created (one shard each) if missing. The endpoint is `--endpoint-url URL`,
//! else `AWS_ENDPOINT_URL`, else a local kinesin at http://127.0.0.1:4567; the lease tables
//! live in the same endpoint's DynamoDB. Ctrl-C stops both applications gracefully.
//!
//! ```sh
//! cargo run --example pipeline -- --endpoint-url http://127.0.0.1:4567
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use kinesin_client::consumer::{
    Checkpointer, Consumer, InitialPosition, ProcessRecordsInput, RecordProcessor, SequencePosition,
};
use kinesin_client::Producer;

const CLICKS: &str = "clicks";
const PER_SECOND: &str = "clicks-per-second";

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let endpoint = endpoint();
    let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "pipeline");
    let kinesis = aws_sdk_kinesis::Client::from_conf(
        aws_sdk_kinesis::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(credentials.clone())
            .build(),
    );
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(credentials)
            .build(),
    );
    for stream in [CLICKS, PER_SECOND] {
        create_if_missing(&kinesis, stream).await?;
    }

    let producer =
        Producer::builder(kinesis.clone(), PER_SECOND).linger(Duration::from_millis(50)).build().await?;
    let counting_producer = producer.clone();
    let counter = Consumer::builder(kinesis.clone(), dynamodb.clone(), "click-counter", CLICKS)
        .initial_position(InitialPosition::TrimHorizon)
        .idle_time_between_reads(Duration::from_millis(200))
        .start(move |_shard: &str| ClickCounter::new(counting_producer.clone()))
        .await?;
    let printer = Consumer::builder(kinesis, dynamodb, "clicks-per-second-printer", PER_SECOND)
        .initial_position(InitialPosition::TrimHorizon)
        .idle_time_between_reads(Duration::from_millis(200))
        .start(|_shard: &str| Printer)
        .await?;
    eprintln!("pipeline running against {endpoint}: {CLICKS} -> click-counter -> {PER_SECOND} -> printer");

    tokio::signal::ctrl_c().await?;
    counter.shutdown().await;
    producer.close().await?;
    printer.shutdown().await;
    Ok(())
}

fn endpoint() -> String {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--endpoint-url" {
            if let Some(url) = args.next() {
                return url;
            }
        }
    }
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:4567".to_owned())
}

/// Creates `stream` with one shard unless it exists, and waits until it is ACTIVE.
async fn create_if_missing(kinesis: &aws_sdk_kinesis::Client, stream: &str) -> Result<(), Error> {
    match kinesis.create_stream().stream_name(stream).shard_count(1).send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(e) => return Err(e.into()),
    }
    loop {
        let summary = kinesis.describe_stream_summary().stream_name(stream).send().await?;
        let status = summary.stream_description_summary().map(|s| s.stream_status().clone());
        if status == Some(aws_sdk_kinesis::types::StreamStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[derive(serde::Deserialize)]
struct Click {
    page: String,
    /// Seconds since the epoch.
    time: f64,
}

/// Application A's processor for one shard of `clicks`.
struct ClickCounter {
    producer: Producer,
    /// Open counts, by (second, page).
    counts: BTreeMap<(u64, String), u64>,
    /// The clicks counted but not yet put, oldest first, by second: a checkpoint may cover a
    /// click only once its second's count is put.
    not_put: VecDeque<(u64, SequencePosition)>,
}

impl ClickCounter {
    fn new(producer: Producer) -> ClickCounter {
        ClickCounter { producer, counts: BTreeMap::new(), not_put: VecDeque::new() }
    }

    /// Puts the counts of every second before `watermark` and waits until they are
    /// acknowledged; `false` if one was not.
    async fn put_counts_before(&mut self, watermark: u64) -> bool {
        let later = self.counts.split_off(&(watermark, String::new()));
        let done = std::mem::replace(&mut self.counts, later);
        let mut deliveries = Vec::new();
        for ((second, page), clicks) in done {
            let line = serde_json::json!({"page": page, "second": second, "clicks": clicks}).to_string();
            match self.producer.put(page, line).await {
                Ok(delivery) => deliveries.push(delivery),
                Err(_) => return false,
            }
        }
        for delivery in deliveries {
            if delivery.await.is_err() {
                return false;
            }
        }
        true
    }
}

impl RecordProcessor for ClickCounter {
    async fn process_records(&mut self, input: ProcessRecordsInput, checkpointer: &mut Checkpointer) {
        for record in &input.records {
            // Not a click: skipped (and covered by the next checkpoint).
            let Ok(click) = serde_json::from_slice::<Click>(&record.data) else { continue };
            let second = click.time.floor() as u64;
            *self.counts.entry((second, click.page)).or_default() += 1;
            let position = SequencePosition::new(
                record.sequence_number.clone(),
                record.sub_sequence_number.unwrap_or(0),
            );
            self.not_put.push_back((second, position));
        }
        // Clicks arrive about in time order: a later second closes the earlier ones.
        let Some(watermark) = self.counts.keys().map(|(second, _)| *second).max() else { return };
        if !self.put_counts_before(watermark).await {
            return;
        }
        let mut covered = None;
        while self.not_put.front().is_some_and(|(second, _)| *second < watermark) {
            covered = self.not_put.pop_front().map(|(_, position)| position);
        }
        if let Some(position) = covered {
            let _ = checkpointer.checkpoint_at(position.sequence_number, position.sub_sequence_number).await;
        }
    }

    /// The shard is closed: every count is complete.
    async fn shard_ended(&mut self, checkpointer: &mut Checkpointer) {
        if self.put_counts_before(u64::MAX).await {
            let _ = checkpointer.checkpoint().await;
        }
    }

    /// The open counts are not put: the next owner counts their clicks again from the
    /// checkpoint.
    async fn shutdown_requested(&mut self, _checkpointer: &mut Checkpointer) {}
}

/// Application B's processor: prints each count.
struct Printer;

impl RecordProcessor for Printer {
    async fn process_records(&mut self, input: ProcessRecordsInput, checkpointer: &mut Checkpointer) {
        for record in &input.records {
            println!("{}", String::from_utf8_lossy(&record.data));
        }
        let _ = checkpointer.checkpoint().await;
    }
}
