//! The producer's settings, their defaults and their limits (docs/client.md, "Settings").

use std::time::Duration;

use crate::aggregation::OVERHEAD;
use crate::error::Error;

/// The most records one PutRecords request takes.
pub const MAX_RECORDS_PER_REQUEST: usize = 500;
/// The most partition-key and data bytes the producer puts in one PutRecords request: 5 MiB,
/// as the KPL, though AWS now accepts 10 MiB (docs/client.md, "Settings").
pub const MAX_BYTES_PER_REQUEST: usize = 5 * 1024 * 1024;
/// A stream's default record size limit (partition key and data): 1 MiB.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a record may wait for others to share its request.
    pub linger: Duration,
    pub max_records_per_request: usize,
    /// Partition keys and data, summed over a request's records.
    pub max_bytes_per_request: usize,
    /// `Some(max size of an aggregated record's data)` to aggregate, `None` not to.
    pub aggregation: Option<usize>,
    /// The most a record's partition key and data may take together (the stream's
    /// `MaxRecordSizeInKiB`).
    pub max_record_bytes: usize,
    /// Partition keys and data of accepted records not yet put; `put` waits beyond it.
    pub max_buffered_bytes: usize,
    /// How long an accepted record is retried before it fails.
    pub record_ttl: Duration,
    /// The first retry's delay; each further failure doubles it, up to `max_backoff`. The delay
    /// actually waited is drawn uniformly below it (full jitter).
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// PutRecords requests in flight at once (each shard has at most one).
    pub max_requests_in_flight: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            linger: Duration::from_millis(100),
            max_records_per_request: MAX_RECORDS_PER_REQUEST,
            max_bytes_per_request: MAX_BYTES_PER_REQUEST,
            aggregation: None,
            max_record_bytes: MAX_RECORD_BYTES,
            max_buffered_bytes: 64 * 1024 * 1024,
            record_ttl: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_requests_in_flight: 24,
        }
    }
}

/// The KPL's default `AggregationMaxSize`.
pub const DEFAULT_MAX_AGGREGATE_BYTES: usize = 51_200;

impl Settings {
    pub fn check(&self) -> Result<(), Error> {
        let invalid = |why: String| Err(Error::InvalidSettings(why));
        if !(1..=MAX_RECORDS_PER_REQUEST).contains(&self.max_records_per_request) {
            return invalid(format!("max records per request must be 1..={MAX_RECORDS_PER_REQUEST}"));
        }
        if self.max_bytes_per_request > MAX_BYTES_PER_REQUEST
            || self.max_bytes_per_request < self.max_record_bytes
        {
            return invalid(format!(
                "max bytes per request must be at least the max record size and at most {MAX_BYTES_PER_REQUEST}"
            ));
        }
        if let Some(max) = self.aggregation {
            // The outer partition key "a" counts towards the record size.
            if !(OVERHEAD + 16..self.max_record_bytes).contains(&max) {
                return invalid(format!("max aggregate size must be 36..{}", self.max_record_bytes));
            }
        }
        if self.max_buffered_bytes < self.max_record_bytes
            || self.max_buffered_bytes > tokio::sync::Semaphore::MAX_PERMITS
        {
            return invalid("the buffer must hold at least one record of the max record size".to_owned());
        }
        if self.max_requests_in_flight == 0
            || self.initial_backoff.is_zero()
            || self.max_backoff < self.initial_backoff
        {
            return invalid(
                "requests in flight and backoffs must be positive, max backoff >= initial".to_owned(),
            );
        }
        Ok(())
    }

    /// The delay before attempt `failures + 1` of a shard that failed `failures` times in a row.
    pub fn backoff(&self, failures: u32) -> Duration {
        let ceiling = self.initial_backoff.saturating_mul(1 << failures.min(16)).min(self.max_backoff);
        ceiling.mul_f64(rand::random::<f64>())
    }
}
