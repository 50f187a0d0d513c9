//! kinesin-client: a Kinesis Data Streams producer and consumer for Rust — what the KPL and the
//! KCL do. It works against AWS itself and against kinesin, through the official
//! `aws-sdk-kinesis` and `aws-sdk-dynamodb`.
//!
//! - [`Producer`]: batches records per shard into PutRecords, aggregates them in the KPL format
//!   if asked, retries failures with backoff and jitter while keeping each partition key's order,
//!   holds memory to a bound (put waits), and follows resharding (docs/client.md).
//! - [`consumer::Consumer`]: one worker of a consumer application (polling or enhanced fan-out); the workers share the
//!   stream's shards through leases in a DynamoDB table with the KCL's schema, checkpoint, take
//!   over from each other, and process parents before children (docs/client.md#the-consumer).
//! - [`aggregation`] and [`deaggregation`]: the KPL's aggregated-record format, written and read
//!   by the KCL's rules (docs/protocol/kpl-aggregation.md).

pub mod aggregation;
pub mod consumer;
pub mod deaggregation;
mod error;
mod hash_key;
mod list_shards;
pub mod producer;
mod protobuf;

pub use error::Error;
pub use producer::{Acked, Delivery, IntoClient, Producer, ProducerBuilder};
