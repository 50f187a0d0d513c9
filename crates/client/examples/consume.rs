//! The smallest consumer: a worker of the application `click-counter` reading the stream
//! `clicks` of a kinesin at 127.0.0.1:4567, its leases in the lease table `click-counter` on the
//! same endpoint. Start several (in several terminals): they share the shards, and when one is
//! stopped (Ctrl-C) or killed the others take its shards over.
//!
//! cargo run -p kinesin-client --example consume

use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use kinesin_client::consumer::{
    Checkpointer, Consumer, InitialPosition, ProcessRecordsInput, RecordProcessor,
};

struct Printer;

impl RecordProcessor for Printer {
    async fn process_records(&mut self, input: ProcessRecordsInput, checkpointer: &mut Checkpointer) {
        for record in &input.records {
            println!(
                "{} {}: {}",
                input.shard_id,
                record.partition_key,
                String::from_utf8_lossy(&record.data)
            );
        }
        // Done up to here: after a fail-over, only later records are delivered again.
        let _ = checkpointer.checkpoint().await;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = "http://127.0.0.1:4567";
    let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
    let http: SharedHttpClient = aws_smithy_http_client::Builder::new().build_http();
    let kinesis = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials.clone())
        .http_client(http.clone())
        .build();
    let dynamodb = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .http_client(http)
        .build();

    let consumer = Consumer::builder(
        aws_sdk_kinesis::Client::from_conf(kinesis),
        aws_sdk_dynamodb::Client::from_conf(dynamodb),
        "click-counter",
        "clicks",
    )
    .initial_position(InitialPosition::TrimHorizon)
    .start(|_shard_id: &str| Printer)
    .await?;
    tokio::signal::ctrl_c().await?;
    consumer.shutdown().await; // checkpoints, then hands the shards to the other workers at once
    Ok(())
}
