//! The smallest producer: 1,000 records into the stream `clicks` of a kinesin at
//! 127.0.0.1:4567 (`kinesin serve`, then create the stream), aggregated in the KPL format.
//!
//! cargo run -p kinesin-client --example produce

use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use kinesin_client::Producer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:4567")
        .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "example"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let producer = Producer::builder(config, "clicks").aggregation(true).build().await?;

    let mut deliveries = Vec::new();
    for i in 0..1000 {
        // Waits only when the producer's buffer is full.
        deliveries.push(producer.put(format!("user-{}", i % 10), format!("click {i}")).await?);
    }
    producer.close().await?; // sends what is left; every record is settled
    for delivery in deliveries {
        let acked = delivery.await?;
        println!("{} {} {:?}", acked.shard_id, acked.sequence_number, acked.sub_sequence_number);
    }
    Ok(())
}
