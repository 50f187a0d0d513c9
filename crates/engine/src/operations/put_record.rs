//! PutRecord: one record, answered with its shard and sequence number once it is durable.

use kinesin_wire::input::RecordInput;
use kinesin_wire::seqnum::SequenceNumber;
use kinesin_wire::{ApiError, Value};

use crate::lookup::shard_id;
use crate::operations::check_dry_run;
use crate::render;
use crate::routing::{check_writable, route_entry, Router};
use crate::storage::{Catalog, ShardLog};
use crate::{Engine, RequestContext};

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    pub(crate) async fn put_record(
        &self,
        ctx: &RequestContext,
        input: &mut Value,
    ) -> Result<Value, ApiError> {
        // Held from routing until the records are durable (see `Engine::write_gate`).
        let _gate = self.write_gate.read().await;
        let stream = self.resolve_stream(ctx, input)?;
        check_writable(&stream)?;
        if let Some(seq) = input.str("SequenceNumberForOrdering") {
            // Every sequence number this server issues is already larger than all earlier ones
            // of its shard, so ordering holds; only the value's form is checked.
            if SequenceNumber::parse(seq).is_err() {
                return Err(ApiError::invalid_argument(format!(
                    "ExclusiveMinimumSequenceNumber {seq} used in PutRecord on stream {} under account {} is invalid.",
                    stream.name, stream.account
                )));
            }
        }
        let router = Router::new(&stream);
        let routed = route_entry(&stream, &router, RecordInput::take(input))?;
        check_dry_run(input)?;
        let outcome =
            self.append_routed(&stream, &router, vec![routed]).await.pop().expect("one record, one outcome");
        let written = outcome?;
        Ok(Value::object()
            .with("ShardId", shard_id(written.shard_index))
            .with("SequenceNumber", written.sequence_number.as_str())
            .with_opt(
                "EncryptionType",
                stream.encryption_key_id.as_ref().map(|_| render::encryption_type(&stream)),
            ))
    }
}
