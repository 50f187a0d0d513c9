//! The producer's errors. Every variant is cloneable data, because one failed request fails many
//! records, each of which gets its own copy.

/// Why a record was refused or not put.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Refused by `put` before it was accepted: the record can never be put as it is.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// The builder's settings are out of range.
    #[error("invalid producer settings: {0}")]
    InvalidSettings(String),
    /// The stream's shards could not be listed when the producer was built.
    #[error("cannot list the shards of stream {stream}: {reason}")]
    ShardMap { stream: String, reason: String },
    /// Still not put when its time to live ran out; `last_failure` says why the last attempt failed.
    #[error(
        "record not put within its time to live after {attempts} attempts (last failure: {last_failure})"
    )]
    Expired { attempts: u32, last_failure: String },
    /// Kinesis answered with an error that retrying cannot fix (a missing stream, access denied,
    /// a KMS key problem).
    #[error("record rejected: {code}: {message}")]
    Rejected { code: String, message: String },
    /// The producer's worker is gone (the runtime shut down), so the record's fate is unknown.
    #[error("the producer has stopped")]
    Stopped,
}
