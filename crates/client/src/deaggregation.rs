//! Reading KPL-aggregated records back, by the KCL's rules (docs/protocol/kpl-aggregation.md,
//! "De-aggregation"): a record is aggregated only if it starts with the magic, ends with the MD5
//! of what lies between, and that parses as an `AggregatedRecord` whose key indices are in range.
//! Anything else is an ordinary record and is returned unchanged: a failed check is never an
//! error, because a producer may send any bytes at all.
//!
//! ```
//! use aws_sdk_kinesis::primitives::Blob;
//! use aws_sdk_kinesis::types::Record;
//! use kinesin_client::aggregation::Aggregate;
//! use kinesin_client::deaggregation::deaggregate;
//!
//! let mut aggregate = Aggregate::new();
//! aggregate.push("pk-1", None, b"hello");
//! aggregate.push("pk-2", None, b"world");
//! let record = Record::builder()
//!     .partition_key("a")
//!     .sequence_number("49590338271490256608559692538361571095921575989136588898")
//!     .data(Blob::new(aggregate.encode()))
//!     .build()?;
//!
//! let users = deaggregate(&record);
//! assert_eq!(users.len(), 2);
//! assert_eq!((users[1].partition_key.as_str(), &users[1].data[..]), ("pk-2", &b"world"[..]));
//! assert_eq!(users[1].sub_sequence_number, Some(1));
//! assert_eq!(users[1].sequence_number, record.sequence_number);
//!
//! // Not aggregated: the record itself, without a sub-sequence number.
//! let plain = Record::builder().partition_key("k").sequence_number("1").data(Blob::new("hi")).build()?;
//! assert_eq!(deaggregate(&plain)[0].sub_sequence_number, None);
//! # Ok::<(), aws_sdk_kinesis::error::BuildError>(())
//! ```

use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::{EncryptionType, Record};
use md5::{Digest, Md5};

use crate::aggregation::{
    DATA, DIGEST_LEN, EXPLICIT_HASH_KEY_INDEX, EXPLICIT_HASH_KEY_TABLE, MAGIC, PARTITION_KEY_INDEX,
    PARTITION_KEY_TABLE, RECORDS,
};
use crate::hash_key;
use crate::protobuf::{Reader, Value};

/// A user record: one sub-record of an aggregated record, or a whole record that was not
/// aggregated.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    /// Empty if the record has none (streams that distribute records themselves).
    pub partition_key: String,
    /// From the aggregated record's explicit-hash-key table; never set on a record that was not
    /// aggregated (GetRecords does not return explicit hash keys).
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
    /// The Kinesis record's sequence number, shared by all its sub-records.
    pub sequence_number: String,
    /// The position within the aggregated record, from 0; `None` if the record was not aggregated.
    /// A consumer's position is (sequence number, sub-sequence number).
    pub sub_sequence_number: Option<u64>,
    pub approximate_arrival_timestamp: Option<DateTime>,
    pub encryption_type: Option<EncryptionType>,
}

impl UserRecord {
    /// The hash key the record belongs to: its explicit hash key, else the MD5 of its partition
    /// key. The KCL drops the sub-records of an aggregated record whose hash key is outside the
    /// shard it was read from (the shard-range filter in docs/protocol/kpl-aggregation.md).
    pub fn hash_key(&self) -> u128 {
        self.explicit_hash_key
            .as_deref()
            .and_then(hash_key::parse)
            .unwrap_or_else(|| hash_key::of_partition_key(&self.partition_key))
    }
}

/// One sub-record of an aggregated record, as [`decode`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubRecord {
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
}

/// The user records in a Kinesis record: its sub-records if it is a valid aggregated record,
/// otherwise the record itself.
pub fn deaggregate(record: &Record) -> Vec<UserRecord> {
    let user_record = |partition_key: String, explicit_hash_key, data, sub_sequence_number| UserRecord {
        partition_key,
        explicit_hash_key,
        data,
        sequence_number: record.sequence_number.clone(),
        sub_sequence_number,
        approximate_arrival_timestamp: record.approximate_arrival_timestamp,
        encryption_type: record.encryption_type.clone(),
    };
    match decode(record.data.as_ref()) {
        Some(subs) => subs
            .into_iter()
            .zip(0..)
            .map(|(sub, i)| user_record(sub.partition_key, sub.explicit_hash_key, sub.data, Some(i)))
            .collect(),
        None => vec![user_record(
            record.partition_key.clone().unwrap_or_default(),
            None,
            record.data.as_ref().to_vec(),
            None,
        )],
    }
}

/// The sub-records of an aggregated record's `Data`, or `None` if it is not one (a check failed).
pub fn decode(data: &[u8]) -> Option<Vec<SubRecord>> {
    let body = data.strip_prefix(&MAGIC)?;
    if body.len() <= DIGEST_LEN {
        return None;
    }
    let (message, digest) = body.split_at(body.len() - DIGEST_LEN);
    if Md5::digest(message)[..] != *digest {
        return None;
    }
    decode_message(message)
}

/// Parses `AggregatedRecord`, then resolves each record's key indices.
fn decode_message(message: &[u8]) -> Option<Vec<SubRecord>> {
    let mut partition_keys = Vec::new();
    let mut explicit_hash_keys = Vec::new();
    let mut records = Vec::new();
    for field in Reader::new(message) {
        match field.ok()? {
            (PARTITION_KEY_TABLE, Value::Bytes(key)) => partition_keys.push(std::str::from_utf8(key).ok()?),
            (EXPLICIT_HASH_KEY_TABLE, Value::Bytes(key)) => {
                explicit_hash_keys.push(std::str::from_utf8(key).ok()?)
            }
            (RECORDS, Value::Bytes(record)) => records.push(decode_record(record)?),
            (PARTITION_KEY_TABLE | EXPLICIT_HASH_KEY_TABLE | RECORDS, _) => return None,
            _ => {} // unknown fields are skipped, as protobuf parsers do
        }
    }
    records
        .into_iter()
        .map(|record| {
            Some(SubRecord {
                partition_key: (*partition_keys.get(usize::try_from(record.partition_key_index).ok()?)?)
                    .to_owned(),
                explicit_hash_key: match record.explicit_hash_key_index {
                    Some(i) => Some((*explicit_hash_keys.get(usize::try_from(i).ok()?)?).to_owned()),
                    None => None,
                },
                data: record.data.to_vec(),
            })
        })
        .collect()
}

struct RawRecord<'a> {
    partition_key_index: u64,
    explicit_hash_key_index: Option<u64>,
    data: &'a [u8],
}

/// Parses one `Record`; its two required fields must be present (proto2). Tags are skipped.
fn decode_record(message: &[u8]) -> Option<RawRecord<'_>> {
    let (mut partition_key_index, mut explicit_hash_key_index, mut data) = (None, None, None);
    for field in Reader::new(message) {
        match field.ok()? {
            (PARTITION_KEY_INDEX, Value::Varint(i)) => partition_key_index = Some(i),
            (EXPLICIT_HASH_KEY_INDEX, Value::Varint(i)) => explicit_hash_key_index = Some(i),
            (DATA, Value::Bytes(bytes)) => data = Some(bytes),
            (PARTITION_KEY_INDEX | EXPLICIT_HASH_KEY_INDEX | DATA, _) => return None,
            _ => {}
        }
    }
    Some(RawRecord { partition_key_index: partition_key_index?, explicit_hash_key_index, data: data? })
}
