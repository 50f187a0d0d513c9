//! A lease as the KCL 2.x keeps it: one per shard, with its owner, its counter (the token of
//! every conditional write), its checkpoint and its place in the shard lineage
//! (docs/client.md#the-lease-table).

use std::cmp::Ordering;
use std::ops::RangeInclusive;

use crate::hash_key;

/// A position in a shard: a Kinesis sequence number and, for a sub-record of a KPL aggregate,
/// its index in the aggregate (0 for a record that was not aggregated).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequencePosition {
    pub sequence_number: String,
    pub sub_sequence_number: u64,
}

impl SequencePosition {
    pub fn new(sequence_number: impl Into<String>, sub_sequence_number: u64) -> SequencePosition {
        SequencePosition { sequence_number: sequence_number.into(), sub_sequence_number }
    }
}

impl Ord for SequencePosition {
    /// By sequence number, then sub-sequence number. Sequence numbers are decimals without
    /// leading zeros, longer than a `u128` holds: the longer one is the greater.
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.sequence_number, &other.sequence_number);
        a.len()
            .cmp(&b.len())
            .then_with(|| a.cmp(b))
            .then_with(|| self.sub_sequence_number.cmp(&other.sub_sequence_number))
    }
}

impl PartialOrd for SequencePosition {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A lease's `checkpoint`: where processing of its shard resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkpoint {
    /// Nothing processed yet; start at the oldest record.
    TrimHorizon,
    /// Nothing processed yet; start after the newest record.
    Latest,
    /// Nothing processed yet; start at the consumer's initial timestamp.
    AtTimestamp,
    /// Processed up to and including this position.
    At(SequencePosition),
    /// The shard is closed and processed to its end; its children may start.
    ShardEnd,
}

const TRIM_HORIZON: &str = "TRIM_HORIZON";
const LATEST: &str = "LATEST";
const AT_TIMESTAMP: &str = "AT_TIMESTAMP";
const SHARD_END: &str = "SHARD_END";

impl Checkpoint {
    /// The `checkpoint` and `checkpointSubSequenceNumber` attributes' values.
    pub(crate) fn to_attributes(&self) -> (&str, u64) {
        match self {
            Checkpoint::TrimHorizon => (TRIM_HORIZON, 0),
            Checkpoint::Latest => (LATEST, 0),
            Checkpoint::AtTimestamp => (AT_TIMESTAMP, 0),
            Checkpoint::ShardEnd => (SHARD_END, 0),
            Checkpoint::At(position) => (&position.sequence_number, position.sub_sequence_number),
        }
    }

    /// Reads the two attributes back; `None` for a checkpoint that is neither a sentinel nor a
    /// decimal sequence number.
    pub(crate) fn from_attributes(checkpoint: &str, sub_sequence_number: u64) -> Option<Checkpoint> {
        Some(match checkpoint {
            TRIM_HORIZON => Checkpoint::TrimHorizon,
            LATEST => Checkpoint::Latest,
            AT_TIMESTAMP => Checkpoint::AtTimestamp,
            SHARD_END => Checkpoint::ShardEnd,
            digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Checkpoint::At(SequencePosition::new(digits, sub_sequence_number))
            }
            _ => return None,
        })
    }

    /// The position processed so far, if any record was.
    pub fn position(&self) -> Option<&SequencePosition> {
        match self {
            Checkpoint::At(position) => Some(position),
            _ => None,
        }
    }
}

/// One row of the lease table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lease {
    /// The shard id (`leaseKey`).
    pub key: String,
    /// The worker holding it (`leaseOwner`); `None` when nobody does.
    pub owner: Option<String>,
    /// `leaseCounter`: moves with every write, so others can tell the lease is alive.
    pub counter: u64,
    pub checkpoint: Checkpoint,
    pub owner_switches_since_checkpoint: u64,
    /// `parentShardId`: the shards this one was split or merged from.
    pub parent_shard_ids: Vec<String>,
    /// `childShardIds`: set once the shard has ended.
    pub child_shard_ids: Vec<String>,
    /// `startingHashKey` and `endingHashKey`, decimal.
    pub hash_range: Option<(String, String)>,
}

impl Lease {
    /// A new, unowned lease for a shard.
    pub fn new(key: impl Into<String>, checkpoint: Checkpoint) -> Lease {
        Lease {
            key: key.into(),
            owner: None,
            counter: 0,
            checkpoint,
            owner_switches_since_checkpoint: 0,
            parent_shard_ids: Vec::new(),
            child_shard_ids: Vec::new(),
            hash_range: None,
        }
    }

    /// The shard's hash range as numbers, if the lease records a readable one.
    pub fn hash_keys(&self) -> Option<RangeInclusive<u128>> {
        let (start, end) = self.hash_range.as_ref()?;
        Some(hash_key::parse(start)?..=hash_key::parse(end)?)
    }

    pub fn is_finished(&self) -> bool {
        self.checkpoint == Checkpoint::ShardEnd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_by_number_then_sub_sequence() {
        let p = SequencePosition::new;
        assert!(p("9", 5) < p("10", 0));
        assert!(
            p("49590338271490256608559692538361571095921575989136588898", 0)
                > p("4959033827149025660855969253836157109592157598913658889", 7)
        );
        assert!(p("12", 1) < p("12", 2));
        assert_eq!(p("12", 1).cmp(&p("12", 1)), Ordering::Equal);
    }

    #[test]
    fn checkpoints_round_trip_through_their_attributes() {
        for checkpoint in [
            Checkpoint::TrimHorizon,
            Checkpoint::Latest,
            Checkpoint::AtTimestamp,
            Checkpoint::ShardEnd,
            Checkpoint::At(SequencePosition::new("4959", 3)),
        ] {
            let (text, sub) = checkpoint.to_attributes();
            assert_eq!(Checkpoint::from_attributes(text, sub), Some(checkpoint.clone()));
        }
        assert_eq!(Checkpoint::from_attributes("AT_SEQUENCE_NUMBER", 0), None);
        assert_eq!(Checkpoint::from_attributes("", 0), None);
    }
}
