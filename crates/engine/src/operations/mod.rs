//! One file per API operation; each adds its handler to [`crate::Engine`].

mod account_settings;
mod create_stream;
mod delete_stream;
mod deregister_stream_consumer;
mod describe_stream;
mod describe_stream_consumer;
mod encryption;
mod enhanced_monitoring;
mod get_records;
mod get_shard_iterator;
mod limits;
mod list_shards;
mod list_stream_consumers;
mod list_streams;
mod merge_shards;
mod put_record;
mod put_records;
mod register_stream_consumer;
mod resource_policy;
mod retention;
mod split_shard;
mod subscribe_to_shard;
pub(crate) mod tags;
mod update_max_record_size;
mod update_shard_count;
mod update_stream_mode;
pub(crate) mod warm_throughput;

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
