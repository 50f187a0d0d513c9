//! What an application implements: a `RecordProcessor` per shard, called as the KCL calls its
//! `ShardRecordProcessor` (docs/client.md#the-record-processor).

use std::future::Future;

use super::checkpointer::Checkpointer;
use super::lease::Checkpoint;
use crate::deaggregation::UserRecord;

/// Where a processor starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitializationInput {
    pub shard_id: String,
    /// The lease's checkpoint: records after it are delivered.
    pub checkpoint: Checkpoint,
}

/// A batch of records of one shard, in order, de-aggregated, each after the last checkpoint.
#[derive(Debug, Clone)]
pub struct ProcessRecordsInput {
    pub shard_id: String,
    pub records: Vec<UserRecord>,
    /// How far the batch is behind the tip of the shard, as GetRecords or the subscription said.
    pub millis_behind_latest: Option<i64>,
}

/// The application's code for one shard. A processor is made for each lease a worker takes
/// and is called by one task at a time, in this order: `initialize`, `process_records` any
/// number of times, then exactly one of `lease_lost`, `shard_ended` or `shutdown_requested`.
///
/// Delivery is at least once: after a fail-over the records after the last checkpoint are
/// delivered again, to the next processor of the shard.
pub trait RecordProcessor: Send + 'static {
    /// Called once before any records.
    fn initialize(&mut self, input: InitializationInput) -> impl Future<Output = ()> + Send {
        let _ = input;
        async {}
    }

    /// Handles a batch. Checkpoint (every batch or less often) to bound what is delivered again
    /// after a fail-over.
    fn process_records(
        &mut self,
        input: ProcessRecordsInput,
        checkpointer: &mut Checkpointer,
    ) -> impl Future<Output = ()> + Send;

    /// Another worker has the lease now (it expired or was stolen): checkpointing is no longer
    /// possible, and the new owner continues from the last checkpoint.
    fn lease_lost(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// The shard is closed and every record of it was delivered. The processor must call
    /// [`Checkpointer::checkpoint`], which records `SHARD_END` so that the shard's children can
    /// start; without it they wait, and the shard is delivered again from the last checkpoint.
    fn shard_ended(&mut self, checkpointer: &mut Checkpointer) -> impl Future<Output = ()> + Send {
        async move {
            let _ = checkpointer.checkpoint().await;
        }
    }

    /// The worker is stopping gracefully: checkpoint what was processed, and the next worker
    /// continues from there at once.
    fn shutdown_requested(&mut self, checkpointer: &mut Checkpointer) -> impl Future<Output = ()> + Send {
        async move {
            let _ = checkpointer.checkpoint().await;
        }
    }
}
