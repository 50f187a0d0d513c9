//! The life of one held lease (docs/client.md#a-shards-life): wait until the shard's parents are
//! processed to their end, then read the shard and hand its records to a new processor until the
//! lease is lost, the shard ends or the worker stops.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::checkpointer::Checkpointer;
use super::held_lease::HeldLease;
use super::lease::{Checkpoint, Lease, SequencePosition};
use super::lease_table::LeaseTable;
use super::processor::{InitializationInput, ProcessRecordsInput, RecordProcessor};
use super::retrieval::{ShardReader, ShardToRead, StartingPoint};
use super::shard_sync::{child_leases, create_all, sync_shards};
use super::{Context, InitialPosition};
use crate::deaggregation::UserRecord;
use crate::list_shards::list_shards;

/// The pause after a failed read (GetRecords, SubscribeToShard) before the next try.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

pub(crate) async fn consume_shard<P: RecordProcessor>(
    ctx: Arc<Context<P>>,
    held: Arc<HeldLease>,
    mut stop: watch::Receiver<bool>,
) {
    let lease = held.snapshot().await;
    let table = ctx.table.as_ref();
    let failover = ctx.settings.failover_time;
    loop {
        if held.is_lost(failover) {
            return;
        }
        if *stop.borrow() {
            let _ = held.release(table).await;
            return;
        }
        if parents_done(table, &lease).await {
            break;
        }
        pause(&mut stop, ctx.settings.parent_poll_interval).await;
    }
    let Some(start) = starting_point(&lease.checkpoint, &ctx.settings.initial_position) else {
        // Finished already (another worker ended it just before we took it).
        let _ = held.release(table).await;
        return;
    };
    let mut processor = (ctx.new_processor)(&lease.key);
    processor
        .initialize(InitializationInput { shard_id: lease.key.clone(), checkpoint: lease.checkpoint.clone() })
        .await;
    let mut checkpointer = Checkpointer::new(
        lease.key.clone(),
        Arc::clone(&held),
        Arc::clone(&ctx.table),
        lease.checkpoint.clone(),
    );
    let mut reader = ShardReader::new(
        &ctx.source,
        ShardToRead {
            kinesis: ctx.kinesis.clone(),
            stream: ctx.stream.clone(),
            shard_id: lease.key.clone(),
            start,
            hash_range: lease.hash_keys(),
        },
    );
    loop {
        if held.is_lost(failover) {
            processor.lease_lost().await;
            return;
        }
        if *stop.borrow() {
            processor.shutdown_requested(&mut checkpointer).await;
            let _ = held.release(table).await;
            return;
        }
        // A subscription may wait seconds for its next event: a stop request does not.
        let fetched = tokio::select! {
            fetched = reader.fetch() => fetched,
            _ = stop.wait_for(|stop| *stop) => continue,
        };
        let fetched = match fetched {
            Ok(fetched) => fetched,
            Err(_) => {
                pause(&mut stop, RETRY_PAUSE).await;
                continue;
            }
        };
        // After a restart at a checkpoint inside an aggregate, its sub-records up to the
        // checkpoint are read again: skip them.
        let after = checkpointer.last_checkpoint().position().cloned();
        let records: Vec<UserRecord> = fetched
            .records
            .into_iter()
            .filter(|r| after.as_ref().is_none_or(|after| position_of(r) > *after))
            .collect();
        if let Some(last) = records.last() {
            // A lease stolen since the last renewal is noticed only at the next one: renew now,
            // so that a processor never handles records its lease's new owner may already have
            // processed and checkpointed.
            let _ = held.renew(table).await;
            if held.is_lost(failover) {
                processor.lease_lost().await;
                return;
            }
            checkpointer.delivered(position_of(last));
            let input = ProcessRecordsInput {
                shard_id: lease.key.clone(),
                records,
                millis_behind_latest: fetched.millis_behind_latest,
            };
            processor.process_records(input, &mut checkpointer).await;
        } else if ctx.settings.call_process_records_even_for_empty_record_list {
            let input = ProcessRecordsInput {
                shard_id: lease.key.clone(),
                records,
                millis_behind_latest: fetched.millis_behind_latest,
            };
            processor.process_records(input, &mut checkpointer).await;
        }
        if let Some(children) = fetched.shard_end {
            // The children may start once this lease says SHARD_END: their leases must exist by
            // then (a failure here is repaired by the next shard sync).
            let child_ids = if children.is_empty() {
                children_from_listing(&ctx, &lease.key).await
            } else {
                let leases = child_leases(&children);
                let _ = create_all(table, &leases).await;
                leases.into_iter().map(|child| child.key).collect()
            };
            checkpointer.reached_shard_end(child_ids);
            if held.is_lost(failover) {
                processor.lease_lost().await;
                return;
            }
            processor.shard_ended(&mut checkpointer).await;
            // Checkpointed at SHARD_END: nobody takes the lease again. Not checkpointed: the
            // next owner reads the shard again from the last checkpoint.
            let _ = held.release(table).await;
            return;
        }
        let idle_time = ctx.source.idle_time();
        if !idle_time.is_zero() {
            pause(&mut stop, idle_time).await;
        }
    }
}

/// A record's position, sub-sequence number 0 for a record that was not aggregated.
fn position_of(record: &UserRecord) -> SequencePosition {
    SequencePosition::new(record.sequence_number.clone(), record.sub_sequence_number.unwrap_or(0))
}

/// Whether every parent lease is at SHARD_END or gone (cleaned up, or never created because it
/// was older than the application).
async fn parents_done(table: &dyn LeaseTable, lease: &Lease) -> bool {
    for parent in &lease.parent_shard_ids {
        match table.get(parent).await {
            Ok(Some(parent)) if !parent.is_finished() => return false,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Where to read from for a lease's checkpoint; `None` at SHARD_END.
fn starting_point(checkpoint: &Checkpoint, initial: &InitialPosition) -> Option<StartingPoint> {
    Some(match checkpoint {
        Checkpoint::TrimHorizon => StartingPoint::TrimHorizon,
        Checkpoint::Latest => StartingPoint::Latest,
        Checkpoint::AtTimestamp => match initial {
            InitialPosition::AtTimestamp(at) => StartingPoint::AtTimestamp((*at).into()),
            // The application no longer names a timestamp: nothing is skipped.
            _ => StartingPoint::TrimHorizon,
        },
        Checkpoint::At(position) => StartingPoint::AtSequenceNumber(position.sequence_number.clone()),
        Checkpoint::ShardEnd => return None,
    })
}

/// A closed shard's children when the last read did not name them: a shard sync creates their
/// leases, and the listing names them.
async fn children_from_listing<P>(ctx: &Context<P>, shard_id: &str) -> Vec<String> {
    let Ok(shards) = list_shards(&ctx.kinesis, &ctx.stream).await else {
        return Vec::new();
    };
    let _ = sync_shards(ctx.table.as_ref(), &shards, &ctx.settings.initial_position).await;
    shards
        .into_iter()
        .filter(|s| {
            [&s.parent_shard_id, &s.adjacent_parent_shard_id].into_iter().flatten().any(|p| p == shard_id)
        })
        .map(|s| s.shard_id)
        .collect()
}

/// Sleeps, or returns early when the worker is told to stop.
async fn pause(stop: &mut watch::Receiver<bool>, duration: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = stop.changed() => {}
    }
}
