//! Where a reader starts in a shard: the five starting-position types that GetShardIterator and
//! SubscribeToShard share (`docs/protocol/sequence-numbers.md`, "Shard iterators"), resolved to a
//! log position the same way for both. Position markers are described there too.
//!
//! Besides records' own sequence numbers, a reader may start from a *position marker*: the
//! sequence number of record `seq_ix` with arrival second 0. No record has it (records arrive
//! after 1970), and as a number it sorts after record `seq_ix - 1` and before record `seq_ix`,
//! so both AT and AFTER it mean "from record `seq_ix`". SubscribeToShard sends one as the
//! ContinuationSequenceNumber of an event without records, which lets a consumer resume with
//! AFTER_SEQUENCE_NUMBER without losing a record, even on a shard that has none yet.

use kinesin_wire::seqnum::{ClientSequenceNumber, SequenceNumber};
use kinesin_wire::ApiError;

use crate::lookup::shard_id;
use crate::model::{ShardMeta, StreamMeta};
use crate::render::sequence_number;
use crate::storage::{Catalog, Position, ShardKey, ShardLog};
use crate::Engine;

/// A starting position as a request gives it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StartingPosition<'a> {
    /// TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER or AT_TIMESTAMP.
    pub kind: &'a str,
    pub sequence_number: Option<&'a str>,
    /// Epoch ms.
    pub timestamp: Option<i64>,
    /// The requesting operation, named in error messages.
    pub operation: &'static str,
}

/// The marker that sorts just before record `seq_ix` of `shard` (see the module docs).
pub fn position_marker(shard: &ShardMeta, seq_ix: u64) -> String {
    sequence_number(shard, seq_ix, 0)
}

impl<L: ShardLog, C: Catalog> Engine<L, C> {
    /// The log position `start` names in `shard`, with AWS's messages for inconsistent or
    /// foreign input.
    pub(crate) async fn resolve_start(
        &self,
        stream: &StreamMeta,
        shard: &ShardMeta,
        start: StartingPosition<'_>,
    ) -> Result<Position, ApiError> {
        let StartingPosition { kind, sequence_number, timestamp, operation } = start;
        let key = ShardKey { stream_id: stream.id, shard_index: shard.index };
        let now = self.now_ms();
        let trim_horizon = now - i64::from(stream.retention_hours) * 3_600_000;
        match (kind, sequence_number) {
            ("TRIM_HORIZON" | "LATEST", Some(_)) => Err(ApiError::invalid_argument(format!(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or \
                 (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {kind} and also a \
                 StartingSequenceNumber."
            ))),
            ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", None) => Err(ApiError::invalid_argument(format!(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or \
                 (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {kind} and no \
                 StartingSequenceNumber."
            ))),
            ("TRIM_HORIZON", None) => self.log.seek_time(key, trim_horizon).await.map_err(Self::store_failure),
            ("LATEST", None) => {
                let tip = self.log.tip(key).await.map_err(Self::store_failure)?;
                Ok(Position { seq_ix: tip.next_seq_ix, hint: 0 })
            }
            (_, Some(text)) => {
                let parsed = parse_for_shard(stream, shard, text, operation)?;
                let names_a_record = parsed.arrival_secs != 0;
                let seq_ix = if kind == "AFTER_SEQUENCE_NUMBER" && names_a_record {
                    parsed.seq_ix.saturating_add(1)
                } else {
                    parsed.seq_ix
                };
                Ok(Position { seq_ix, hint: 0 })
            }
            (_, None) => {
                // AT_TIMESTAMP
                let at = timestamp.ok_or_else(|| {
                    ApiError::invalid_argument(
                        "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request \
                         has no timestamp parameter.",
                    )
                })?;
                if at > now {
                    return Err(ApiError::invalid_argument(format!(
                        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. \
                         timestampInMillis: {at}, currentTimestampInMillis: {now}"
                    )));
                }
                self.log.seek_time(key, at.max(trim_horizon)).await.map_err(Self::store_failure)
            }
        }
    }
}

/// A client-supplied sequence number, if it belongs to this shard of this stream. Numbers in
/// AWS's older layouts are read too, to be refused with AWS's messages: none came from a stream
/// of this server (docs/protocol/corners.md, "Sequence numbers in every layout").
fn parse_for_shard(
    stream: &StreamMeta,
    shard: &ShardMeta,
    text: &str,
    operation: &str,
) -> Result<SequenceNumber, ApiError> {
    let id = shard_id(shard.index);
    let parsed = ClientSequenceNumber::parse(text).map_err(|_| {
        ApiError::invalid_argument(format!(
            "StartingSequenceNumber {text} used in {operation} on shard {id} in stream {} under account {} is \
             invalid.",
            stream.name, stream.account
        ))
    })?;
    if parsed.shard_index != shard.index {
        return Err(ApiError::invalid_argument(format!(
            "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {id}",
            shard_id(parsed.shard_index)
        )));
    }
    match parsed.version_2() {
        Some(ours) if ours.shard_created_secs == (shard.created_ms / 1000) as u64 => Ok(ours),
        _ => Err(ApiError::invalid_argument(format!(
            "StartingSequenceNumber {} used in {operation} on shard {id} in stream {} under account {} is \
             invalid because it did not come from this stream.",
            parsed.canonical_text(),
            stream.name,
            stream.account
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_marker_sorts_between_neighbouring_records() {
        let shard = ShardMeta {
            index: 3,
            parent: None,
            adjacent_parent: None,
            starting_hash_key: 0,
            ending_hash_key: 1,
            created_ms: 1_700_000_000_000,
            closed_at_seq_ix: None,
            closed_ms: None,
        };
        // Decimal strings compare as numbers by (length, text).
        let number = |text: String| (text.len(), text);
        let marker = number(position_marker(&shard, 5));
        assert!(number(sequence_number(&shard, 4, 1_800_000_000_000)) < marker);
        assert!(marker < number(sequence_number(&shard, 5, 1_700_000_000_000)));
        let parsed = SequenceNumber::parse(&position_marker(&shard, 5)).unwrap();
        assert_eq!((parsed.seq_ix, parsed.arrival_secs), (5, 0));
    }
}
