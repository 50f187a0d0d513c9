//! One file per API operation; each adds its handler to [`crate::Engine`].

mod create_stream;
mod delete_stream;
mod describe_stream;
mod enhanced_monitoring;
mod get_records;
mod get_shard_iterator;
mod limits;
mod list_shards;
mod list_streams;
mod put_record;
mod put_records;
mod retention;
pub(crate) mod tags;
mod update_max_record_size;

use kinesin_wire::{ApiError, Value};

/// `DryRun: true` stops a data-plane call after every check, before it acts.
pub(crate) fn check_dry_run(input: &Value) -> Result<(), ApiError> {
    if input.bool("DryRun") == Some(true) {
        return Err(ApiError::new(
            "DryRunOperationException",
            "Request would have succeeded, but DryRun flag is set.",
        ));
    }
    Ok(())
}
