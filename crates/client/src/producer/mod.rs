//! The producer: what the KPL does, for Rust (docs/client.md).
//!
//! `put` hands a record to a worker task that batches records per predicted shard into
//! PutRecords requests, optionally aggregating them in the KPL format, retries what fails with
//! backoff while keeping each partition key's order, follows resharding, and answers each record
//! with where it landed. A bounded buffer makes `put` wait when the stream cannot keep up.
//!
//! ```no_run
//! use kinesin_client::Producer;
//!
//! # async fn example(client: aws_sdk_kinesis::Client) -> Result<(), kinesin_client::Error> {
//! let producer = Producer::builder(client, "clicks").aggregation(true).build().await?;
//! let delivery = producer.put("user-42", "clicked /home").await?; // waits only if the buffer is full
//! let acked = delivery.await?; // once the record is in the stream
//! println!("{} {} {:?}", acked.shard_id, acked.sequence_number, acked.sub_sequence_number);
//! producer.close().await?; // everything accepted is settled
//! # Ok(())
//! # }
//! ```

mod packing;
mod record;
mod settings;
mod shard_map;
mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, Semaphore};

pub use record::{Acked, Delivery};
pub use settings::{
    DEFAULT_MAX_AGGREGATE_BYTES, MAX_BYTES_PER_REQUEST, MAX_RECORDS_PER_REQUEST, MAX_RECORD_BYTES,
};

use crate::error::Error;
use crate::hash_key;
use record::Pending;
use settings::Settings;
use shard_map::ShardMap;
use worker::{Command, Worker};

/// What a producer talks to Kinesis with: an SDK client, or the configuration to build one.
pub trait IntoClient {
    /// The client the producer will use.
    fn into_client(self) -> Client;
}

impl IntoClient for Client {
    fn into_client(self) -> Client {
        self
    }
}

impl IntoClient for aws_sdk_kinesis::Config {
    fn into_client(self) -> Client {
        Client::from_conf(self)
    }
}

/// A handle to a producer. Clones share the producer; it stops once every handle is dropped and
/// every accepted record is settled.
#[derive(Debug, Clone)]
pub struct Producer {
    commands: mpsc::UnboundedSender<Command>,
    buffer: Arc<Semaphore>,
    settings: Arc<Settings>,
}

impl Producer {
    /// A producer for `stream` (a stream name), with the defaults of docs/client.md, "Settings".
    pub fn builder(client: impl IntoClient, stream: impl Into<String>) -> ProducerBuilder {
        ProducerBuilder { client: client.into_client(), stream: stream.into(), settings: Settings::default() }
    }

    /// Accepts a record for the shard its partition key hashes to. Waits while the buffer is full;
    /// the returned [`Delivery`] resolves once the record is put or has failed.
    pub async fn put(
        &self,
        partition_key: impl Into<String>,
        data: impl Into<Bytes>,
    ) -> Result<Delivery, Error> {
        self.accept(partition_key.into(), None, data.into()).await
    }

    /// [`put`](Self::put) with an explicit hash key (a decimal `u128`) instead of the partition
    /// key's MD5; the partition key is still stored with the record.
    pub async fn put_with_hash_key(
        &self,
        partition_key: impl Into<String>,
        explicit_hash_key: impl Into<String>,
        data: impl Into<Bytes>,
    ) -> Result<Delivery, Error> {
        self.accept(partition_key.into(), Some(explicit_hash_key.into()), data.into()).await
    }

    async fn accept(
        &self,
        partition_key: String,
        explicit_hash_key: Option<String>,
        data: Bytes,
    ) -> Result<Delivery, Error> {
        let hash_key =
            check_record(&partition_key, explicit_hash_key.as_deref(), data.len(), &self.settings)?;
        // A record costs its size in the buffer (at least 1, so empty records are bounded too).
        let cost = (partition_key.len() + data.len()).max(1);
        let permits = u32::try_from(cost).expect("a record is at most 10 MiB");
        let buffer_space =
            Arc::clone(&self.buffer).acquire_many_owned(permits).await.map_err(|_| Error::Stopped)?;
        let (reply, delivery) = oneshot::channel();
        let record = Pending {
            id: 0,
            partition_key,
            explicit_hash_key,
            hash_key,
            data,
            accepted: Instant::now(),
            attempts: 0,
            last_failure: None,
            reply,
            _buffer_space: buffer_space,
        };
        self.commands.send(Command::Put(record)).map_err(|_| Error::Stopped)?;
        Ok(Delivery(delivery))
    }

    /// Sends what is buffered without waiting out the linger, and returns once every record
    /// accepted before the call is settled (put, or failed: see each [`Delivery`]).
    pub async fn flush(&self) -> Result<(), Error> {
        let (done, flushed) = oneshot::channel();
        self.commands.send(Command::Flush(done)).map_err(|_| Error::Stopped)?;
        flushed.await.map_err(|_| Error::Stopped)
    }

    /// Flushes and drops this handle. Nothing accepted is lost: every record is settled when it
    /// returns.
    pub async fn close(self) -> Result<(), Error> {
        self.flush().await
    }
}

/// Checks what Kinesis would refuse, so that one bad record never fails a whole request. Returns
/// the record's hash key.
fn check_record(
    partition_key: &str,
    explicit_hash_key: Option<&str>,
    data_len: usize,
    settings: &Settings,
) -> Result<u128, Error> {
    let invalid = |why: String| Err(Error::InvalidRecord(why));
    let key_chars = partition_key.chars().count();
    if !(1..=256).contains(&key_chars) {
        return invalid(format!("a partition key has 1 to 256 characters, not {key_chars}"));
    }
    if partition_key.len() + data_len > settings.max_record_bytes {
        return invalid(format!("partition key and data exceed {} bytes", settings.max_record_bytes));
    }
    match explicit_hash_key {
        Some(key) => hash_key::parse(key).map_or_else(
            || invalid(format!("explicit hash key {key:?} is not a decimal in [0, 2^128 - 1]")),
            Ok,
        ),
        None => Ok(hash_key::of_partition_key(partition_key)),
    }
}

/// Settings for a [`Producer`]; [`build`](Self::build) starts it.
#[derive(Debug)]
#[must_use]
pub struct ProducerBuilder {
    client: Client,
    stream: String,
    settings: Settings,
}

impl ProducerBuilder {
    /// How long a record may wait for others to share its request (default 100 ms, the KPL's
    /// `RecordMaxBufferedTime`).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.settings.linger = linger;
        self
    }

    /// Records per PutRecords request: 1 to 500 (default 500).
    pub fn max_records_per_request(mut self, records: usize) -> Self {
        self.settings.max_records_per_request = records;
        self
    }

    /// Partition keys and data per PutRecords request: up to 5 MiB (the default).
    pub fn max_bytes_per_request(mut self, bytes: usize) -> Self {
        self.settings.max_bytes_per_request = bytes;
        self
    }

    /// Aggregates records in the KPL format, into Kinesis records of at most
    /// [`DEFAULT_MAX_AGGREGATE_BYTES`] of data unless [`max_aggregate_bytes`](Self::max_aggregate_bytes)
    /// says otherwise (default off).
    pub fn aggregation(mut self, on: bool) -> Self {
        self.settings.aggregation =
            on.then(|| self.settings.aggregation.unwrap_or(DEFAULT_MAX_AGGREGATE_BYTES));
        self
    }

    /// Turns aggregation on, with aggregated records of at most `bytes` of data.
    pub fn max_aggregate_bytes(mut self, bytes: usize) -> Self {
        self.settings.aggregation = Some(bytes);
        self
    }

    /// The largest record (partition key and data) the stream takes: its `MaxRecordSizeInKiB`
    /// (default 1 MiB).
    pub fn max_record_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_record_bytes = bytes;
        self
    }

    /// Partition keys and data of accepted records not yet settled; beyond it `put` waits
    /// (default 64 MiB).
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_buffered_bytes = bytes;
        self
    }

    /// How long a record is retried before it fails with [`Error::Expired`] (default 30 s, the
    /// KPL's `RecordTtl`).
    pub fn record_ttl(mut self, ttl: Duration) -> Self {
        self.settings.record_ttl = ttl;
        self
    }

    /// The backoff after a shard's first failure, and its ceiling: it doubles with each failure
    /// in a row, and the wait is drawn uniformly below it (defaults 100 ms and 2 s).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.settings.initial_backoff = initial;
        self.settings.max_backoff = max;
        self
    }

    /// PutRecords requests in flight at once (default 24, the KPL's `MaxConnections`).
    pub fn max_requests_in_flight(mut self, requests: usize) -> Self {
        self.settings.max_requests_in_flight = requests;
        self
    }

    /// Lists the stream's shards and starts the producer's worker on the current tokio runtime.
    pub async fn build(self) -> Result<Producer, Error> {
        self.settings.check()?;
        let map = ShardMap::load(&self.client, &self.stream)
            .await
            .map_err(|reason| Error::ShardMap { stream: self.stream.clone(), reason })?;
        let buffer = Arc::new(Semaphore::new(self.settings.max_buffered_bytes));
        let settings = Arc::new(self.settings.clone());
        let (commands, receiver) = mpsc::unbounded_channel();
        tokio::spawn(Worker::new(self.client, self.stream, self.settings, map).run(receiver));
        Ok(Producer { commands, buffer, settings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_refuses_what_kinesis_would_refuse() {
        let settings = Settings::default();
        let refused = |key: &str, hash_key: Option<&str>, data_len| {
            matches!(check_record(key, hash_key, data_len, &settings), Err(Error::InvalidRecord(_)))
        };
        assert!(refused("", None, 1));
        assert!(refused(&"é".repeat(257), None, 1));
        assert!(!refused(&"é".repeat(256), None, 1), "256 characters, 512 bytes");
        assert!(refused("k", None, MAX_RECORD_BYTES));
        assert!(!refused("k", None, MAX_RECORD_BYTES - 1));
        assert!(refused("k", Some("-1"), 1));
        assert_eq!(check_record("k", Some("7"), 0, &settings), Ok(7));
    }

    #[test]
    fn settings_out_of_range_are_refused() {
        let bad = [
            Settings { max_records_per_request: 501, ..Settings::default() },
            Settings { max_bytes_per_request: MAX_BYTES_PER_REQUEST + 1, ..Settings::default() },
            Settings { aggregation: Some(MAX_RECORD_BYTES), ..Settings::default() },
            Settings { max_buffered_bytes: 1024, ..Settings::default() },
            Settings { max_backoff: Duration::ZERO, ..Settings::default() },
        ];
        for settings in bad {
            assert!(settings.check().is_err(), "{settings:?}");
        }
        assert_eq!(
            Settings { aggregation: Some(DEFAULT_MAX_AGGREGATE_BYTES), ..Settings::default() }.check(),
            Ok(())
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_ceiling_with_jitter_below() {
        let settings = Settings::default(); // 100 ms doubling up to 2 s
        let samples = |failures| (0..200).map(|_| settings.backoff(failures)).collect::<Vec<_>>();
        let ms = Duration::from_millis;
        assert!(samples(0).iter().all(|d| *d <= ms(100)));
        let third = samples(3);
        assert!(
            third.iter().all(|d| *d <= ms(800)) && third.iter().any(|d| *d > ms(400)),
            "doubles each time"
        );
        assert!(third.iter().any(|d| *d < ms(400)), "drawn below the ceiling");
        assert!(samples(40).iter().all(|d| *d <= ms(2000)));
    }
}
