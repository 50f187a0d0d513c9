//! PutRecord: one record, answered with its shard and sequence number once it is durable.

use std::time::Instant;

use kinesin_wire::input::RecordInput;
use kinesin_wire::seqnum::ClientSequenceNumber;
use kinesin_wire::{ApiError, Value};

use crate::lookup::shard_id;
use crate::model::StreamMeta;
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
        let started = Instant::now();
        let result = self.put_one(&stream, input).await;
        let outcome = result.as_ref().ok().map(|(_, bytes)| (1, *bytes));
        stream.metrics.put_record.record(outcome, started.elapsed());
        result.map(|(answer, _)| answer)
    }

    /// PutRecord once its stream is known: the answer, and the bytes written.
    async fn put_one(&self, stream: &StreamMeta, input: &mut Value) -> Result<(Value, u64), ApiError> {
        check_writable(stream)?;
        if let Some(seq) = input.str("SequenceNumberForOrdering") {
            check_ordering_number(stream, seq, self.now_ms())?;
        }
        let router = Router::new(stream);
        let routed = route_entry(stream, &router, RecordInput::take(input))?;
        check_dry_run(input)?;
        let bytes = routed.size() as u64;
        let outcome =
            self.append_routed(stream, &router, vec![routed]).await.pop().expect("one record, one outcome");
        let written = outcome?;
        let answer = Value::object()
            .with("ShardId", shard_id(written.shard_index))
            .with("SequenceNumber", written.sequence_number.as_str())
            .with_opt(
                "EncryptionType",
                stream.encryption_key_id.as_ref().map(|_| render::encryption_type(stream)),
            );
        Ok((answer, bytes))
    }
}

/// SequenceNumberForOrdering must be a sequence number in a layout AWS accepts, of a record that
/// has arrived (docs/protocol/corners.md, "Sequence numbers in every layout"). Nothing else is
/// asked of it: every number this server issues is already larger than all earlier ones of
/// its shard, so ordering holds.
fn check_ordering_number(stream: &StreamMeta, seq: &str, now_ms: i64) -> Result<(), ApiError> {
    let arrived =
        |n: ClientSequenceNumber| n.arrival_secs.is_none_or(|secs| secs as i64 <= now_ms.div_euclid(1000));
    match ClientSequenceNumber::parse(seq) {
        Ok(number) if arrived(number) => Ok(()),
        _ => Err(ApiError::invalid_argument(format!(
            "ExclusiveMinimumSequenceNumber {seq} used in PutRecord on stream {} under account {} is invalid.",
            stream.name, stream.account
        ))),
    }
}
