//! Stream and shard metadata as the catalog stores it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::stream_metrics::StreamMetrics;

/// A stream's status, as reported by DescribeStream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamStatus {
    Creating,
    Active,
    Updating,
    Deleting,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
            StreamStatus::Deleting => "DELETING",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamMode {
    Provisioned,
    OnDemand,
}

impl StreamMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamMode::Provisioned => "PROVISIONED",
            StreamMode::OnDemand => "ON_DEMAND",
        }
    }
}

/// One shard. Hash keys are kept as numbers (every put routes by them) and stored as decimal
/// strings, so the catalog format does not depend on a serializer's u128 support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub index: u32,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    #[serde(with = "decimal")]
    pub starting_hash_key: u128,
    #[serde(with = "decimal")]
    pub ending_hash_key: u128,
    /// Creation time in epoch milliseconds; its seconds go into every sequence number.
    pub created_ms: i64,
    /// Set when the shard is closed by a split or merge: the `seq_ix` one past its last record.
    pub closed_at_seq_ix: Option<u64>,
    /// When the shard was closed, epoch ms (ListShards' time filters need it).
    #[serde(default)]
    pub closed_ms: Option<i64>,
}

impl ShardMeta {
    /// The inclusive range of hash keys the shard owns.
    pub fn hash_range(&self) -> (u128, u128) {
        (self.starting_hash_key, self.ending_hash_key)
    }

    /// The `n` shards of a new stream, over AWS's even hash ranges.
    pub fn initial(n: u32, created_ms: i64) -> Vec<ShardMeta> {
        crate::hashing::even_ranges(n)
            .into_iter()
            .zip(0..)
            .map(|((start, end), index)| ShardMeta {
                index,
                parent: None,
                adjacent_parent: None,
                starting_hash_key: start,
                ending_hash_key: end,
                created_ms,
                closed_at_seq_ix: None,
                closed_ms: None,
            })
            .collect()
    }
}

/// A hash key as the catalog stores it: a decimal string.
mod decimal {
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(key: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(key)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        let text = String::deserialize(deserializer)?;
        crate::hashing::parse_hash_key(&text)
            .ok_or_else(|| de::Error::custom(format!("hash key {text:?} is not a decimal in [0, 2^128)")))
    }
}

/// Everything the catalog knows about one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamMeta {
    /// Unique for the life of the data directory; never reused, so a re-created stream with
    /// the same name gets fresh logs and old iterators cannot reach it.
    pub id: u64,
    /// Bumped by every change; the catalog's compare-and-set is on it (`storage::Catalog`).
    /// Catalogs written before it existed load as version 0.
    #[serde(default)]
    pub version: u64,
    pub account: String,
    pub region: String,
    pub name: String,
    pub status: StreamStatus,
    pub mode: StreamMode,
    pub created_ms: i64,
    pub retention_hours: u32,
    pub max_record_size_kib: u32,
    pub shards: Vec<ShardMeta>,
    /// Tags in the order they were first added.
    pub tags: Vec<(String, String)>,
    pub shard_level_metrics: Vec<String>,
    pub encryption_key_id: Option<String>,
    /// Epoch ms at which a pending status transition (CREATING/UPDATING/DELETING) completes.
    pub transition_due_ms: Option<i64>,
    /// Enhanced fan-out consumers registered on the stream.
    #[serde(default)]
    pub consumers: Vec<ConsumerMeta>,
    /// A shard-layout change accepted while the stream went UPDATING; it takes effect when the
    /// stream becomes ACTIVE again, as on AWS.
    #[serde(default)]
    pub pending_reshard: Option<Reshard>,
    /// The IAM policy document attached with PutResourcePolicy (stored, not enforced).
    #[serde(default)]
    pub resource_policy: Option<String>,
    /// Warm throughput target of an on-demand stream, MiB/s.
    #[serde(default)]
    pub warm_throughput_mibps: Option<u32>,
    /// What it took in and gave out since start-up, for metrics. Not stored; every version of
    /// the metadata (they are clones) shares it, so it lasts through status changes.
    #[serde(skip)]
    pub metrics: Arc<StreamMetrics>,
}

impl StreamMeta {
    /// Whether EnableEnhancedMonitoring asked for any shard-level metric.
    pub fn shard_level(&self) -> bool {
        !self.shard_level_metrics.is_empty()
    }
}

/// A requested change of a stream's shards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reshard {
    /// SplitShard: the shard's range splits at `new_starting_hash_key` (decimal).
    Split { shard: u32, new_starting_hash_key: String },
    /// MergeShards: two adjacent shards become one.
    Merge { shard: u32, adjacent: u32 },
    /// UpdateShardCount (UNIFORM_SCALING): the open shards become `target` even ranges.
    Scale { target: u32 },
}

/// A registered enhanced fan-out consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMeta {
    pub name: String,
    /// Registration time, epoch ms; its seconds end the consumer's ARN, so a re-registered
    /// consumer of the same name gets a new ARN.
    pub created_ms: i64,
    pub status: ConsumerStatus,
    /// Epoch ms at which a pending CREATING/DELETING transition completes.
    pub transition_due_ms: Option<i64>,
    pub tags: Vec<(String, String)>,
    /// The IAM policy document attached with PutResourcePolicy (stored, not enforced).
    #[serde(default)]
    pub resource_policy: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsumerStatus {
    Creating,
    Active,
    Deleting,
}

impl ConsumerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerStatus::Creating => "CREATING",
            ConsumerStatus::Active => "ACTIVE",
            ConsumerStatus::Deleting => "DELETING",
        }
    }
}

impl StreamMeta {
    pub fn arn(&self) -> String {
        format!("arn:aws:kinesis:{}:{}:stream/{}", self.region, self.account, self.name)
    }

    /// When the earliest pending transition of the stream or of one of its consumers is due.
    pub fn next_transition_ms(&self) -> Option<i64> {
        self.consumers.iter().filter_map(|c| c.transition_due_ms).chain(self.transition_due_ms).min()
    }

    pub fn open_shards(&self) -> impl Iterator<Item = &ShardMeta> {
        self.shards.iter().filter(|s| s.closed_at_seq_ix.is_none())
    }

    /// The shards requests can see and name: none while the stream is CREATING, as on AWS,
    /// where they appear when it becomes ACTIVE (docs/protocol/corners.md, "A stream in
    /// CREATING has no shards"). A stream deleted while CREATING has none either: DeleteStream
    /// drops them.
    pub fn visible_shards(&self) -> &[ShardMeta] {
        match self.status {
            StreamStatus::Creating => &[],
            _ => &self.shards,
        }
    }

    /// The shard with `index`. Shards are kept in index order (a new one gets the next index
    /// and goes last), so it is a binary search, not a scan of thousands of shards.
    pub fn shard(&self, index: u32) -> Option<&ShardMeta> {
        find_shard(&self.shards, index)
    }

    /// The shard with `index` among [`Self::visible_shards`].
    pub fn visible_shard(&self, index: u32) -> Option<&ShardMeta> {
        find_shard(self.visible_shards(), index)
    }

    /// Shards that still hold readable data at `now_ms`: every open shard, and closed ones
    /// whose records have not all passed the retention period (AWS stops listing those).
    pub fn live_shards(&self, now_ms: i64) -> impl Iterator<Item = &ShardMeta> {
        self.live_shards_after(now_ms, None)
    }

    /// [`Self::live_shards`] with an index above `after` (all of them for `None`). The first
    /// is found by binary search, so a page of a listing costs the page, not the shards before.
    pub fn live_shards_after(&self, now_ms: i64, after: Option<u32>) -> impl Iterator<Item = &ShardMeta> {
        let visible = self.visible_shards();
        let start = after.map_or(0, |after| visible.partition_point(|s| s.index <= after));
        visible[start..].iter().filter(move |s| self.holds_data(s, now_ms))
    }

    /// Whether `shard` (one of this stream's) still holds readable data at `now_ms`: see
    /// [`Self::live_shards`].
    pub fn holds_data(&self, shard: &ShardMeta, now_ms: i64) -> bool {
        let horizon = now_ms - i64::from(self.retention_hours) * 3_600_000;
        shard.closed_ms.is_none_or(|closed| closed >= horizon)
    }
}

/// The shard with `index` in `shards`, which are in index order.
fn find_shard(shards: &[ShardMeta], index: u32) -> Option<&ShardMeta> {
    shards.binary_search_by_key(&index, |s| s.index).ok().map(|at| &shards[at])
}

/// An ACTIVE provisioned stream with `n` shards, for unit tests.
#[cfg(test)]
pub(crate) fn test_stream(n: u32) -> StreamMeta {
    StreamMeta { created_ms: 0, shards: ShardMeta::initial(n, 0), ..crate::conformance::stream(1, "s", 1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalog keeps hash keys as decimal strings, as it did when they were `String`s:
    /// catalogs written before still load.
    #[test]
    fn hash_keys_are_stored_as_decimal_strings() {
        let shard = &ShardMeta::initial(2, 0)[1];
        let json = serde_json::to_value(shard).unwrap();
        assert_eq!(json["starting_hash_key"], "170141183460469231731687303715884105728");
        assert_eq!(json["ending_hash_key"], "340282366920938463463374607431768211455");
        assert_eq!(&serde_json::from_value::<ShardMeta>(json.clone()).unwrap(), shard);

        for bad in ["", "-1", "340282366920938463463374607431768211456", "1e3"] {
            let mut damaged = json.clone();
            damaged["ending_hash_key"] = bad.into();
            assert!(serde_json::from_value::<ShardMeta>(damaged).is_err(), "{bad:?} loaded");
        }
    }
}
