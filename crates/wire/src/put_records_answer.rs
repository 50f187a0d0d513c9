//! PutRecords' answer, written straight into the response body. Built as a [`Value`] tree, a
//! 500-record answer would cost three allocations per record and a walk to encode it;
//! [`PutRecordsAnswer::to_value`] still gives that tree, which is the shape the direct
//! encoding matches byte for byte.

use std::io::Write as _;

use crate::encode::{cbor_head, cbor_int, cbor_text, json_string};
use crate::seqnum::SequenceText;
use crate::shard_id::{shard_id, shard_id_bytes};
use crate::{ApiError, Format, Value};

/// The `ErrorMessage` of a failed record whose error has no message.
const DEFAULT_ERROR_MESSAGE: &str = "Internal service failure.";

/// One record's outcome, in request order.
pub type PutRecordsEntry = Result<WrittenRecord, ApiError>;

/// Where a record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenRecord {
    pub shard_index: u32,
    pub sequence_number: SequenceText,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PutRecordsAnswer {
    pub records: Vec<PutRecordsEntry>,
    /// `EncryptionType`, answered only for a stream with encryption on.
    pub encryption_type: Option<&'static str>,
}

impl PutRecordsAnswer {
    pub fn failed_record_count(&self) -> usize {
        self.records.iter().filter(|r| r.is_err()).count()
    }

    /// The answer as a tree, with its members in the order the body has them.
    pub fn to_value(&self) -> Value {
        let records = self
            .records
            .iter()
            .map(|record| match record {
                Ok(written) => Value::object()
                    .with("SequenceNumber", written.sequence_number.as_str())
                    .with("ShardId", shard_id(written.shard_index)),
                Err(e) => Value::object()
                    .with("ErrorCode", e.code)
                    .with("ErrorMessage", e.message.as_deref().unwrap_or(DEFAULT_ERROR_MESSAGE)),
            })
            .collect::<Vec<_>>();
        Value::object()
            .with("FailedRecordCount", self.failed_record_count())
            .with("Records", records)
            .with_opt("EncryptionType", self.encryption_type)
    }

    /// The body, exactly as [`crate::encode()`] writes [`Self::to_value`].
    pub fn encode(&self, format: Format) -> Vec<u8> {
        // Sequence number, shard id and punctuation: about 110 bytes a record.
        let mut out = Vec::with_capacity(64 + 112 * self.records.len());
        match format {
            Format::Json => self.json(&mut out),
            Format::Cbor => self.cbor(&mut out),
        }
        out
    }

    fn json(&self, out: &mut Vec<u8>) {
        write!(out, r#"{{"FailedRecordCount":{},"Records":["#, self.failed_record_count()).unwrap();
        for (i, record) in self.records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match record {
                Ok(written) => {
                    // Digits and the shard id need no escaping.
                    out.extend_from_slice(br#"{"SequenceNumber":""#);
                    out.extend_from_slice(written.sequence_number.as_bytes());
                    out.extend_from_slice(br#"","ShardId":""#);
                    out.extend_from_slice(&shard_id_bytes(written.shard_index));
                    out.extend_from_slice(br#""}"#);
                }
                Err(e) => {
                    out.extend_from_slice(br#"{"ErrorCode":"#);
                    json_string(e.code, out);
                    out.extend_from_slice(br#","ErrorMessage":"#);
                    json_string(e.message.as_deref().unwrap_or(DEFAULT_ERROR_MESSAGE), out);
                    out.push(b'}');
                }
            }
        }
        out.push(b']');
        if let Some(encryption_type) = self.encryption_type {
            out.extend_from_slice(br#","EncryptionType":"#);
            json_string(encryption_type, out);
        }
        out.push(b'}');
    }

    fn cbor(&self, out: &mut Vec<u8>) {
        cbor_head(5, 2 + u64::from(self.encryption_type.is_some()), out);
        cbor_text("FailedRecordCount", out);
        cbor_int(self.failed_record_count() as i64, out);
        cbor_text("Records", out);
        cbor_head(4, self.records.len() as u64, out);
        for record in &self.records {
            cbor_head(5, 2, out);
            match record {
                Ok(written) => {
                    cbor_text("SequenceNumber", out);
                    cbor_bytes_as_text(written.sequence_number.as_bytes(), out);
                    cbor_text("ShardId", out);
                    cbor_bytes_as_text(&shard_id_bytes(written.shard_index), out);
                }
                Err(e) => {
                    cbor_text("ErrorCode", out);
                    cbor_text(e.code, out);
                    cbor_text("ErrorMessage", out);
                    cbor_text(e.message.as_deref().unwrap_or(DEFAULT_ERROR_MESSAGE), out);
                }
            }
        }
        if let Some(encryption_type) = self.encryption_type {
            cbor_text("EncryptionType", out);
            cbor_text(encryption_type, out);
        }
    }
}

/// A CBOR text string of ASCII bytes (digits, a shard id), which need no UTF-8 check.
fn cbor_bytes_as_text(ascii: &[u8], out: &mut Vec<u8>) {
    cbor_head(3, ascii.len() as u64, out);
    out.extend_from_slice(ascii);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::encode;
    use crate::seqnum::SequenceNumber;

    fn answer(
        records: usize,
        failures: &[(usize, ApiError)],
        encryption_type: Option<&'static str>,
    ) -> PutRecordsAnswer {
        let first = SequenceNumber {
            shard_created_secs: 1_700_000_000,
            seq_ix: u64::from(u32::MAX) - 3,
            arrival_secs: 1_790_000_000,
            shard_index: 7,
        };
        let mut records: Vec<PutRecordsEntry> = first
            .encode_run(records)
            .enumerate()
            .map(|(i, sequence_number)| {
                Ok(WrittenRecord { shard_index: (i % 3) as u32 * 1000, sequence_number })
            })
            .collect();
        for (at, error) in failures {
            records[*at] = Err(error.clone());
        }
        PutRecordsAnswer { records, encryption_type }
    }

    /// Both encodings give the bytes of the tree, for every kind of entry and length head.
    #[test]
    fn encodes_like_the_tree() {
        let throttled = ApiError::new(
            "ProvisionedThroughputExceededException",
            "Rate exceeded for shard shardId-000000000001 in stream s under account 000000000000.",
        );
        let quoted = ApiError::new("InternalFailure", "a \"quoted\"\n\\ message");
        let answers = [
            answer(0, &[], None),
            answer(1, &[], Some("KMS")),
            answer(3, &[(1, ApiError::internal_failure())], None),
            answer(30, &[(0, throttled), (29, quoted), (5, ApiError::bare("InternalFailure"))], Some("NONE")),
            answer(500, &[], None),
        ];
        for answer in answers {
            for format in [Format::Json, Format::Cbor] {
                assert_eq!(answer.encode(format), encode(format, &answer.to_value()), "{format:?}");
            }
        }
    }
}
