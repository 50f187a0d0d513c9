//! Checkpoints: writing to the lease how far a shard is processed, by the KCL's rules
//! (docs/client.md#checkpoints): a checkpoint lies between the last one and the last record
//! delivered, and at shard end it is `SHARD_END`.

use std::sync::Arc;

use super::held_lease::HeldLease;
use super::lease::{Checkpoint, SequencePosition};
use super::lease_table::LeaseTable;
use crate::deaggregation::UserRecord;

/// Why a checkpoint was not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Another worker holds the lease now; its processor continues from the last checkpoint.
    #[error("the lease of shard {0} was lost")]
    LeaseLost(String),
    /// Before the last checkpoint or after the last record delivered.
    #[error("cannot checkpoint shard {shard_id} at {position:?}: {reason}")]
    OutOfRange { shard_id: String, position: SequencePosition, reason: &'static str },
    /// The lease table could not be written; trying again may work.
    #[error("cannot write the checkpoint of shard {shard_id}: {reason}")]
    LeaseTable { shard_id: String, reason: String },
}

/// Records progress in one shard's lease; handed to the processor with each batch.
pub struct Checkpointer {
    shard_id: String,
    held: Arc<HeldLease>,
    table: Arc<dyn LeaseTable>,
    /// The checkpoint as written.
    last: Checkpoint,
    /// The last record handed to the processor.
    delivered: Option<SequencePosition>,
    /// The children of the shard, once its end was reached.
    at_shard_end: Option<Vec<String>>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("shard_id", &self.shard_id)
            .field("last", &self.last)
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

impl Checkpointer {
    pub(crate) fn new(
        shard_id: String,
        held: Arc<HeldLease>,
        table: Arc<dyn LeaseTable>,
        last: Checkpoint,
    ) -> Checkpointer {
        Checkpointer { shard_id, held, table, last, delivered: None, at_shard_end: None }
    }

    /// The checkpoint as last written.
    pub fn last_checkpoint(&self) -> &Checkpoint {
        &self.last
    }

    pub(crate) fn delivered(&mut self, position: SequencePosition) {
        self.delivered = Some(position);
    }

    pub(crate) fn reached_shard_end(&mut self, child_shard_ids: Vec<String>) {
        self.at_shard_end = Some(child_shard_ids);
    }

    /// Checkpoints everything delivered so far; at shard end, records `SHARD_END`. Nothing
    /// delivered since the last checkpoint: nothing to write.
    pub async fn checkpoint(&mut self) -> Result<(), CheckpointError> {
        if let Some(children) = self.at_shard_end.clone() {
            return self.write(Checkpoint::ShardEnd, children).await;
        }
        match self.delivered.clone() {
            Some(position) if self.last.position() != Some(&position) => {
                self.write(Checkpoint::At(position), Vec::new()).await
            }
            _ => Ok(()),
        }
    }

    /// Checkpoints up to and including `record` (one delivered already).
    pub async fn checkpoint_record(&mut self, record: &UserRecord) -> Result<(), CheckpointError> {
        self.checkpoint_at(record.sequence_number.clone(), record.sub_sequence_number.unwrap_or(0)).await
    }

    /// Checkpoints up to and including this position, which must be at or after the last
    /// checkpoint and at or before the last record delivered.
    pub async fn checkpoint_at(
        &mut self,
        sequence_number: impl Into<String>,
        sub_sequence_number: u64,
    ) -> Result<(), CheckpointError> {
        let position = SequencePosition::new(sequence_number, sub_sequence_number);
        let out_of_range = |reason| CheckpointError::OutOfRange {
            shard_id: self.shard_id.clone(),
            position: position.clone(),
            reason,
        };
        if self.last == Checkpoint::ShardEnd {
            return Err(out_of_range("the shard is checkpointed at SHARD_END"));
        }
        if self.last.position().is_some_and(|last| &position < last) {
            return Err(out_of_range("before the last checkpoint"));
        }
        if self.delivered.as_ref().is_none_or(|delivered| &position > delivered) {
            return Err(out_of_range("after the last record delivered"));
        }
        self.write(Checkpoint::At(position), Vec::new()).await
    }

    async fn write(
        &mut self,
        checkpoint: Checkpoint,
        child_shard_ids: Vec<String>,
    ) -> Result<(), CheckpointError> {
        let written = self
            .held
            .update(self.table.as_ref(), |lease| {
                lease.checkpoint = checkpoint.clone();
                lease.owner_switches_since_checkpoint = 0;
                if !child_shard_ids.is_empty() {
                    lease.child_shard_ids = child_shard_ids;
                }
            })
            .await
            .map_err(|e| CheckpointError::LeaseTable { shard_id: self.shard_id.clone(), reason: e.0 })?;
        if !written {
            return Err(CheckpointError::LeaseLost(self.shard_id.clone()));
        }
        self.last = checkpoint;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::lease::Lease;
    use crate::consumer::memory_table::MemoryLeaseTable;

    const SHARD: &str = "shardId-000000000000";

    async fn checkpointer() -> (Arc<MemoryLeaseTable>, Checkpointer) {
        let table = Arc::new(MemoryLeaseTable::default());
        let lease = Lease { owner: Some("me".into()), ..Lease::new(SHARD, Checkpoint::TrimHorizon) };
        table.create(&lease).await.unwrap();
        let held = Arc::new(HeldLease::new(lease));
        let checkpointer = Checkpointer::new(
            SHARD.into(),
            held,
            Arc::clone(&table) as Arc<dyn LeaseTable>,
            Checkpoint::TrimHorizon,
        );
        (table, checkpointer)
    }

    fn stored(table: &MemoryLeaseTable) -> Checkpoint {
        table.snapshot(SHARD).unwrap().checkpoint
    }

    #[tokio::test]
    async fn checkpoints_lie_between_the_last_one_and_the_last_record_delivered() {
        let (table, mut checkpointer) = checkpointer().await;
        checkpointer.checkpoint().await.unwrap();
        assert_eq!(stored(&table), Checkpoint::TrimHorizon, "nothing delivered: nothing written");
        checkpointer.delivered(SequencePosition::new("200", 3));
        assert!(matches!(
            checkpointer.checkpoint_at("200", 4).await,
            Err(CheckpointError::OutOfRange { .. })
        ));
        checkpointer.checkpoint_at("150", 0).await.unwrap();
        assert_eq!(stored(&table), Checkpoint::At(SequencePosition::new("150", 0)));
        assert!(matches!(
            checkpointer.checkpoint_at("149", 9).await,
            Err(CheckpointError::OutOfRange { .. })
        ));
        checkpointer.checkpoint().await.unwrap();
        assert_eq!(stored(&table), Checkpoint::At(SequencePosition::new("200", 3)));
        checkpointer.reached_shard_end(vec!["shardId-000000000001".into()]);
        checkpointer.checkpoint().await.unwrap();
        let lease = table.snapshot(SHARD).unwrap();
        assert_eq!(
            (lease.checkpoint, lease.child_shard_ids),
            (Checkpoint::ShardEnd, vec!["shardId-000000000001".to_owned()])
        );
    }

    #[tokio::test]
    async fn a_checkpoint_after_the_lease_was_taken_fails_and_writes_nothing() {
        let (table, mut checkpointer) = checkpointer().await;
        let lease = table.snapshot(SHARD).unwrap();
        assert!(table.take(&lease, "other").await.unwrap());
        checkpointer.delivered(SequencePosition::new("5", 0));
        assert_eq!(checkpointer.checkpoint().await, Err(CheckpointError::LeaseLost(SHARD.into())));
        assert_eq!(stored(&table), Checkpoint::TrimHorizon);
        assert_eq!(table.snapshot(SHARD).unwrap().owner.as_deref(), Some("other"));
    }
}
