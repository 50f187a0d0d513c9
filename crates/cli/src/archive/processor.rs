//! The record processor of one shard: holds records in a batch, writes the batch as an object,
//! and checkpoints the object's last record only once the object is durable — so at most one
//! object of a shard is ever written and not yet checkpointed (docs/cli.md, "No loss, no
//! duplicates").

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use kinesin_client::consumer::{CheckpointError, Checkpointer, ProcessRecordsInput, RecordProcessor};

use super::batch::{Batch, Object, Position};
use super::Archive;

/// How often a checkpoint that the lease table refused for a passing reason is tried.
const CHECKPOINT_TRIES: u32 = 3;

pub(crate) struct ArchiveProcessor {
    archive: Arc<Archive>,
    shard_id: String,
    batch: Option<Batch>,
    /// Set once this processor must write no more: its lease is lost, or a write failed (then
    /// the worker stops). What it held is read again by the shard's next processor.
    stopped: bool,
}

impl ArchiveProcessor {
    pub fn new(archive: Arc<Archive>, shard_id: &str) -> ArchiveProcessor {
        ArchiveProcessor { archive, shard_id: shard_id.to_owned(), batch: None, stopped: false }
    }

    /// Writes the held batch, if any, and checkpoints its last record. `false`: nothing more
    /// may be written by this processor.
    async fn flush(&mut self, checkpointer: &mut Checkpointer) -> bool {
        let Some(batch) = self.batch.take() else {
            return !self.stopped;
        };
        if self.stopped {
            return false;
        }
        let archive = &self.archive;
        let object = match batch.into_object(
            archive.destination.prefix(),
            &archive.stream,
            &self.shard_id,
            archive.compression,
        ) {
            Ok(object) => object,
            Err(e) => return self.stop(Some(format!("cannot compress an object of {}: {e}", self.shard_id))),
        };
        let Object { key, body, records, last } = object;
        if let Err(message) = archive.destination.put(&key, body).await {
            return self.stop(Some(message));
        }
        match checkpoint(&last, checkpointer).await {
            Ok(()) => {
                archive.objects.fetch_add(1, Ordering::Relaxed);
                archive.records.fetch_add(records, Ordering::Relaxed);
                true
            }
            // Another worker has the shard and continues from the last checkpoint, rewriting
            // this object under the same key.
            Err(CheckpointError::LeaseLost(_)) => self.stop(None),
            Err(e) => self.stop(Some(format!(
                "{e}\nThe object {} is written; the next run writes it again under the same name. \
                 Check that the lease table's endpoint (DynamoDB) is reachable, then run again.",
                key
            ))),
        }
    }

    /// Writes nothing more; with a reason, the worker stops and says it.
    fn stop(&mut self, failure: Option<String>) -> bool {
        self.stopped = true;
        self.batch = None;
        if let Some(message) = failure {
            self.archive.fail(message);
        }
        false
    }
}

/// Checkpoints up to `last`, trying again when the lease table refuses for a passing reason.
async fn checkpoint(last: &Position, checkpointer: &mut Checkpointer) -> Result<(), CheckpointError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match checkpointer.checkpoint_at(last.sequence_number.clone(), last.sub_sequence_number).await {
            Err(CheckpointError::LeaseTable { .. }) if tries < CHECKPOINT_TRIES => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            outcome => return outcome,
        }
    }
}

impl RecordProcessor for ArchiveProcessor {
    async fn process_records(&mut self, input: ProcessRecordsInput, checkpointer: &mut Checkpointer) {
        let limits = self.archive.limits;
        let format = self.archive.format;
        for record in &input.records {
            if self.stopped {
                return;
            }
            match &mut self.batch {
                Some(batch) if batch.takes(record) => batch.push(&self.shard_id, record, format),
                Some(_) => {
                    // The arrival hour changed: the held records are an object of their own.
                    if !self.flush(checkpointer).await {
                        return;
                    }
                    self.batch = Some(Batch::new(&self.shard_id, record, format));
                }
                None => self.batch = Some(Batch::new(&self.shard_id, record, format)),
            }
            if self.batch.as_ref().is_some_and(|batch| batch.is_full(&limits))
                && !self.flush(checkpointer).await
            {
                return;
            }
        }
        if self.batch.as_ref().is_some_and(|batch| batch.is_due(&limits)) {
            self.flush(checkpointer).await;
        }
    }

    async fn lease_lost(&mut self) {
        self.stop(None);
    }

    async fn shard_ended(&mut self, checkpointer: &mut Checkpointer) {
        // SHARD_END only once every record of the shard is in an object.
        if self.flush(checkpointer).await {
            if let Err(e) = checkpointer.checkpoint().await {
                if !matches!(e, CheckpointError::LeaseLost(_)) {
                    self.stop(Some(format!("cannot checkpoint the end of {}: {e}", self.shard_id)));
                }
            }
        }
    }

    async fn shutdown_requested(&mut self, checkpointer: &mut Checkpointer) {
        self.flush(checkpointer).await;
    }
}
