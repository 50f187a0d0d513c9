//! The consumer: what the Kinesis Client Library (KCL) does, for Rust (docs/client.md#the-consumer).
//! Workers of one application share a stream's shards through a DynamoDB lease table with the
//! KCL 2.x's schema and conditional writes; each shard's records, read by polling or through
//! enhanced fan-out ([`Retrieval`]), go in order to a [`RecordProcessor`], which checkpoints its progress in the lease. A worker that dies loses its
//! leases after the failover time and the others carry on from the checkpoints; a worker that
//! stops gracefully checkpoints and releases its leases, and the others carry on at once.
//!
//! ```no_run
//! use kinesin_client::consumer::{Checkpointer, Consumer, InitialPosition, ProcessRecordsInput, RecordProcessor};
//! use std::time::Duration;
//!
//! struct Printer;
//!
//! impl RecordProcessor for Printer {
//!     async fn process_records(&mut self, input: ProcessRecordsInput, checkpointer: &mut Checkpointer) {
//!         for record in &input.records {
//!             println!("{} {}: {:?}", input.shard_id, record.partition_key, record.data);
//!         }
//!         // Every record up to here is done: a fail-over delivers only what follows.
//!         let _ = checkpointer.checkpoint().await;
//!     }
//! }
//!
//! # async fn run(kinesis: aws_sdk_kinesis::Client, dynamodb: aws_sdk_dynamodb::Client) -> Result<(), kinesin_client::consumer::ConsumerError> {
//! let consumer = Consumer::builder(kinesis, dynamodb, "my-application", "my-stream")
//!     .initial_position(InitialPosition::TrimHorizon)
//!     .failover_time(Duration::from_secs(2))
//!     .start(|_shard_id: &str| Printer)
//!     .await?;
//! tokio::signal::ctrl_c().await.ok();
//! consumer.shutdown().await; // final checkpoints; the leases go to the other workers at once
//! # Ok(())
//! # }
//! ```

mod checkpointer;
mod coordinator;
mod dynamodb_table;
mod fan_out;
mod held_lease;
mod lease;
mod lease_table;
#[cfg(test)]
mod memory_table;
mod polling;
mod processor;
mod retrieval;
mod scheduler;
mod shard_consumer;
mod shard_sync;
mod taker;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use checkpointer::{CheckpointError, Checkpointer};
pub use lease::{Checkpoint, SequencePosition};
pub use lease_table::TableError;
pub use processor::{InitializationInput, ProcessRecordsInput, RecordProcessor};
pub use retrieval::Retrieval;

use coordinator::LeaseCoordinator;
use dynamodb_table::DynamoDbLeaseTable;
use lease_table::LeaseTable;
use retrieval::Source;

use crate::list_shards::list_shards;

/// Where an application starts reading a shard it has never checkpointed (the KCL's
/// `InitialPositionInStream`). Only the shards present when the application first runs use it;
/// shards created later by resharding are read from their start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialPosition {
    /// The oldest record still in the stream.
    TrimHorizon,
    /// Only records put after the worker starts (the KCL's default).
    Latest,
    /// Records that arrived at or after this time.
    AtTimestamp(SystemTime),
}

/// Why a consumer could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumerError {
    #[error("invalid consumer settings: {0}")]
    InvalidSettings(String),
    #[error("lease table: {0}")]
    LeaseTable(#[from] TableError),
    #[error("cannot list the shards of stream {stream}: {reason}")]
    ListShards { stream: String, reason: String },
    #[error("cannot register or find the stream consumer {consumer_name} of stream {stream}: {reason}")]
    StreamConsumer { stream: String, consumer_name: String, reason: String },
}

/// The consumer's settings (docs/client.md#consumer-settings).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub worker_id: String,
    pub table_name: String,
    pub failover_time: Duration,
    pub initial_position: InitialPosition,
    pub retrieval: Retrieval,
    pub max_records: i32,
    pub idle_time_between_reads: Duration,
    pub parent_poll_interval: Duration,
    pub shard_sync_interval: Duration,
    pub max_leases_to_steal: usize,
    pub call_process_records_even_for_empty_record_list: bool,
}

/// What the scheduler and the shard consumers share.
pub(crate) struct Context<P> {
    pub kinesis: aws_sdk_kinesis::Client,
    pub table: Arc<dyn LeaseTable>,
    pub stream: String,
    pub settings: Settings,
    /// How shards are read (the stream consumer's ARN, with fan-out).
    pub source: Source,
    pub new_processor: Box<dyn Fn(&str) -> P + Send + Sync>,
}

/// Settings for a [`Consumer`]; [`start`](ConsumerBuilder::start) runs it.
#[derive(Debug)]
pub struct ConsumerBuilder {
    kinesis: aws_sdk_kinesis::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    stream: String,
    settings: Settings,
}

impl ConsumerBuilder {
    /// This worker's name in the lease table (`leaseOwner`); unique per worker. Default: random.
    pub fn worker_id(mut self, worker_id: impl Into<String>) -> Self {
        self.settings.worker_id = worker_id.into();
        self
    }

    /// The lease table's name. Default: the application name, as for the KCL.
    pub fn lease_table_name(mut self, table_name: impl Into<String>) -> Self {
        self.settings.table_name = table_name.into();
        self
    }

    /// How long a lease lives without renewal before other workers take it: how long a dead
    /// worker's shards wait. Leases are renewed every third of it. Default 10 s (the KCL's).
    pub fn failover_time(mut self, failover_time: Duration) -> Self {
        self.settings.failover_time = failover_time;
        self
    }

    /// Where shards never checkpointed start. Default: [`InitialPosition::Latest`].
    pub fn initial_position(mut self, initial_position: InitialPosition) -> Self {
        self.settings.initial_position = initial_position;
        self
    }

    /// Polling (the default) or enhanced fan-out with a named stream consumer
    /// (docs/client.md#retrieval).
    pub fn retrieval(mut self, retrieval: Retrieval) -> Self {
        self.settings.retrieval = retrieval;
        self
    }

    /// The most records one GetRecords returns, 1–10,000. Default 10,000. (Polling only.)
    pub fn max_records(mut self, max_records: i32) -> Self {
        self.settings.max_records = max_records;
        self
    }

    /// The pause between two GetRecords of a shard (polling only). Default 1 s (Kinesis allows five reads
    /// per shard per second, for all applications together).
    pub fn idle_time_between_reads(mut self, idle_time: Duration) -> Self {
        self.settings.idle_time_between_reads = idle_time;
        self
    }

    /// How often a child shard's lease looks whether its parents are done. Default 1 s.
    pub fn parent_poll_interval(mut self, interval: Duration) -> Self {
        self.settings.parent_poll_interval = interval;
        self
    }

    /// How often the worker lists the shards to create leases for new ones (children are also
    /// created as soon as their parent ends). Default 60 s.
    pub fn shard_sync_interval(mut self, interval: Duration) -> Self {
        self.settings.shard_sync_interval = interval;
        self
    }

    /// The most leases stolen from another worker at a time when balancing. Default 1.
    pub fn max_leases_to_steal(mut self, count: usize) -> Self {
        self.settings.max_leases_to_steal = count;
        self
    }

    /// Whether [`RecordProcessor::process_records`] is also called after a read that returned no
    /// records (the KCL's `callProcessRecordsEvenForEmptyRecordList`), so that a processor
    /// holding records can act on time alone — flush them after a while, say. Default false.
    pub fn call_process_records_even_for_empty_record_list(mut self, call: bool) -> Self {
        self.settings.call_process_records_even_for_empty_record_list = call;
        self
    }

    /// Creates the lease table if it is missing, creates leases for the stream's shards, and
    /// starts the worker: `new_processor` makes a processor for each shard the worker takes.
    pub async fn start<P, F>(self, new_processor: F) -> Result<Consumer, ConsumerError>
    where
        P: RecordProcessor,
        F: Fn(&str) -> P + Send + Sync + 'static,
    {
        self.settings.validate()?;
        let table: Arc<dyn LeaseTable> =
            Arc::new(DynamoDbLeaseTable::new(self.dynamodb, self.settings.table_name.clone()));
        table.ensure_exists().await?;
        let shards = list_shards(&self.kinesis, &self.stream)
            .await
            .map_err(|reason| ConsumerError::ListShards { stream: self.stream.clone(), reason })?;
        shard_sync::sync_shards(table.as_ref(), &shards, &self.settings.initial_position).await?;
        let source = match &self.settings.retrieval {
            Retrieval::Polling => Source::Polling {
                max_records: self.settings.max_records,
                idle_time_between_reads: self.settings.idle_time_between_reads,
            },
            Retrieval::FanOut { consumer_name } => {
                let consumer_arn = fan_out::active_consumer(&self.kinesis, &self.stream, consumer_name)
                    .await
                    .map_err(|reason| ConsumerError::StreamConsumer {
                        stream: self.stream.clone(),
                        consumer_name: consumer_name.clone(),
                        reason,
                    })?;
                Source::FanOut { consumer_arn }
            }
        };
        let coordinator = LeaseCoordinator::new(
            Arc::clone(&table),
            self.settings.worker_id.clone(),
            self.settings.failover_time,
            self.settings.max_leases_to_steal,
        );
        let worker_id = self.settings.worker_id.clone();
        let ctx = Arc::new(Context {
            kinesis: self.kinesis,
            table,
            stream: self.stream,
            settings: self.settings,
            source,
            new_processor: Box::new(new_processor),
        });
        let (shutdown, shutdown_requested) = watch::channel(false);
        let task = tokio::spawn(scheduler::run(ctx, coordinator, shutdown_requested));
        Ok(Consumer { worker_id, shutdown, task: Some(task) })
    }
}

impl Settings {
    fn validate(&self) -> Result<(), ConsumerError> {
        let invalid = |what: &str| Err(ConsumerError::InvalidSettings(what.to_owned()));
        if self.worker_id.is_empty() {
            return invalid("the worker id is empty");
        }
        if self.table_name.len() < 3 || self.table_name.len() > 255 {
            return invalid("the lease table name must be 3 to 255 characters");
        }
        if self.failover_time < Duration::from_millis(100) {
            return invalid("the failover time must be at least 100 ms");
        }
        if !(1..=10_000).contains(&self.max_records) {
            return invalid("max_records must be 1 to 10,000");
        }
        if self.max_leases_to_steal == 0 {
            return invalid("max_leases_to_steal must be at least 1");
        }
        Ok(())
    }
}

/// A running worker of a consumer application. Dropping it stops the worker at once, without
/// a goodbye (its leases expire after the failover time); [`shutdown`](Consumer::shutdown)
/// hands its shards over gracefully.
#[derive(Debug)]
pub struct Consumer {
    worker_id: String,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Consumer {
    /// A builder for a worker of `application_name` reading `stream`.
    pub fn builder(
        kinesis: aws_sdk_kinesis::Client,
        dynamodb: aws_sdk_dynamodb::Client,
        application_name: impl Into<String>,
        stream: impl Into<String>,
    ) -> ConsumerBuilder {
        let application_name = application_name.into();
        ConsumerBuilder {
            kinesis,
            dynamodb,
            stream: stream.into(),
            settings: Settings {
                worker_id: format!("{:032x}", rand::random::<u128>()),
                table_name: application_name,
                failover_time: Duration::from_secs(10),
                initial_position: InitialPosition::Latest,
                retrieval: Retrieval::Polling,
                max_records: 10_000,
                idle_time_between_reads: Duration::from_secs(1),
                parent_poll_interval: Duration::from_secs(1),
                shard_sync_interval: Duration::from_secs(60),
                max_leases_to_steal: 1,
                call_process_records_even_for_empty_record_list: false,
            },
        }
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Stops gracefully: each processor gets `shutdown_requested` (to checkpoint), then every
    /// lease is released, so other workers take the shards at their next scan.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Stops at once, as if the process died: no checkpoint, no release.
    pub fn abort(self) {
        drop(self);
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
