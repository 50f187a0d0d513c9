//! kinesin-client: a Kinesis Data Streams producer for Rust — what the KPL does — and the KPL
//! de-aggregator a consumer needs. It works against AWS itself and against kinesin, through the
//! official `aws-sdk-kinesis`.
//!
//! - [`Producer`]: batches records per shard into PutRecords, aggregates them in the KPL format
//!   if asked, retries failures with backoff and jitter while keeping each partition key's order,
//!   holds memory to a bound (put waits), and follows resharding (docs/client.md).
//! - [`aggregation`] and [`deaggregation`]: the KPL's aggregated-record format, written and read
//!   by the KCL's rules (docs/protocol/kpl-aggregation.md).

pub mod aggregation;
pub mod deaggregation;
mod error;
mod hash_key;
pub mod producer;
mod protobuf;

pub use error::Error;
pub use producer::{Acked, Delivery, IntoClient, Producer, ProducerBuilder};
