//! The records a shard's processor holds until they become one object: when to write it, what
//! it is called and what it holds (docs/cli.md, "kinesin archive").

use std::io::Write;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::{DateTime, DateTimeFormat};
use base64::Engine as _;
use kinesin_client::deaggregation::UserRecord;
use object_store::path::Path;

use super::{Compression, Format};
use crate::tail::json_record;

/// When a held batch becomes an object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_records: u64,
    pub max_bytes: u64,
    pub max_age: Duration,
    /// How often the processor is called (with records or without): a batch is written when it
    /// would be older than `max_age` at the next call.
    pub poll: Duration,
}

/// A record's place in its shard: its sequence number and sub-sequence number (0 for a record
/// that was not aggregated), as the consumer's checkpoints count them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    pub sequence_number: String,
    pub sub_sequence_number: u64,
}

impl Position {
    fn of(record: &UserRecord) -> Position {
        Position {
            sequence_number: record.sequence_number.clone(),
            sub_sequence_number: record.sub_sequence_number.unwrap_or(0),
        }
    }
}

/// Consecutive records of one shard, all of one arrival hour, as the lines of an object.
pub(crate) struct Batch {
    /// The first record's position and arrival hour: the object's name.
    first: Position,
    hour: [String; 4],
    last: Position,
    lines: Vec<u8>,
    records: u64,
    started: Instant,
}

/// A batch ready to be written: its name's parts, its body and the position to checkpoint
/// once it is written.
pub(crate) struct Object {
    pub key: Path,
    pub body: Vec<u8>,
    pub records: u64,
    pub last: Position,
}

impl Batch {
    /// A batch that starts with `record`.
    pub fn new(shard_id: &str, record: &UserRecord, format: Format) -> Batch {
        let mut batch = Batch {
            first: Position::of(record),
            hour: arrival_hour(record.approximate_arrival_timestamp),
            last: Position::of(record),
            lines: Vec::new(),
            records: 0,
            started: Instant::now(),
        };
        batch.push(shard_id, record, format);
        batch
    }

    /// Whether `record` belongs in this batch's object: objects do not straddle hours.
    pub fn takes(&self, record: &UserRecord) -> bool {
        arrival_hour(record.approximate_arrival_timestamp) == self.hour
    }

    pub fn push(&mut self, shard_id: &str, record: &UserRecord, format: Format) {
        self.lines.extend_from_slice(line(shard_id, record, format).as_bytes());
        self.lines.push(b'\n');
        self.records += 1;
        self.last = Position::of(record);
    }

    /// Full: as many records or bytes as an object holds.
    pub fn is_full(&self, limits: &Limits) -> bool {
        self.records >= limits.max_records || self.lines.len() as u64 >= limits.max_bytes
    }

    /// Held so long that waiting for the next call would exceed `max_age`.
    pub fn is_due(&self, limits: &Limits) -> bool {
        self.started.elapsed() + limits.poll >= limits.max_age
    }

    /// The object: `PREFIX/STREAM/YYYY/MM/DD/HH/SHARD-SEQUENCE-SUBSEQUENCE.jsonl.zst|gz`, its
    /// name fixed by its first record alone (docs/cli.md, "No loss, no duplicates").
    pub fn into_object(
        self,
        prefix: &Path,
        stream: &str,
        shard_id: &str,
        compression: Compression,
    ) -> std::io::Result<Object> {
        let extension = match compression {
            Compression::Zstd => "zst",
            Compression::Gzip => "gz",
        };
        let name = format!(
            "{shard_id}-{}-{}.jsonl.{extension}",
            self.first.sequence_number, self.first.sub_sequence_number
        );
        let parts =
            std::iter::once(stream).chain(self.hour.iter().map(String::as_str)).chain([name.as_str()]);
        let key = parts.fold(prefix.clone(), Path::join);
        let body = compress(&self.lines, compression)?;
        Ok(Object { key, body, records: self.records, last: self.last })
    }
}

/// A record as a line of JSON: the fields of `kinesin tail --format json`, the data in base64,
/// or with `json-utf8` as text (`dataBase64` in its place when it is not UTF-8).
fn line(shard_id: &str, record: &UserRecord, format: Format) -> String {
    let mut object = json_record(shard_id, record);
    if format == Format::JsonUtf8 {
        match std::str::from_utf8(&record.data) {
            Ok(text) => object["data"] = text.into(),
            Err(_) => {
                let fields = object.as_object_mut().expect("a record is a JSON object");
                fields.remove("data");
                fields.insert(
                    "dataBase64".into(),
                    base64::engine::general_purpose::STANDARD.encode(&record.data).into(),
                );
            }
        }
    }
    object.to_string()
}

/// The arrival time's year, month, day and hour (UTC), each a part of the object's key.
fn arrival_hour(time: Option<DateTime>) -> [String; 4] {
    // Kinesis always gives the arrival time; without one the record goes to 1970.
    let text = time
        .unwrap_or(DateTime::from_secs(0))
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into());
    // RFC 3339: YYYY-MM-DDTHH:MM:SS…
    [&text[0..4], &text[5..7], &text[8..10], &text[11..13]].map(str::to_owned)
}

fn compress(lines: &[u8], compression: Compression) -> std::io::Result<Vec<u8>> {
    match compression {
        Compression::Zstd => zstd::encode_all(lines, zstd::DEFAULT_COMPRESSION_LEVEL),
        Compression::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(lines)?;
            encoder.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn record(sequence_number: &str, sub: Option<u64>, data: &[u8], seconds: i64) -> UserRecord {
        UserRecord {
            partition_key: "k".into(),
            explicit_hash_key: None,
            data: data.to_vec(),
            sequence_number: sequence_number.into(),
            sub_sequence_number: sub,
            approximate_arrival_timestamp: Some(DateTime::from_secs(seconds)),
            encryption_type: None,
        }
    }

    const SHARD: &str = "shardId-000000000001";
    // 2023-11-14T22:13:20Z
    const T: i64 = 1_700_000_000;

    #[test]
    fn an_object_is_named_by_its_stream_hour_shard_and_first_record() {
        let mut batch = Batch::new(SHARD, &record("49", Some(3), b"a", T), Format::Json);
        assert!(batch.takes(&record("50", None, b"b", T + 60)));
        batch.push(SHARD, &record("50", None, b"b", T + 60), Format::Json);
        assert!(!batch.takes(&record("51", None, b"c", T + 3600)), "the next hour is another object");
        let object = batch.into_object(&Path::from("archive/x"), "clicks", SHARD, Compression::Gzip).unwrap();
        assert_eq!(object.key.as_ref(), "archive/x/clicks/2023/11/14/22/shardId-000000000001-49-3.jsonl.gz");
        assert_eq!(object.records, 2);
        assert_eq!(object.last, Position { sequence_number: "50".into(), sub_sequence_number: 0 });
        let mut text = String::new();
        flate2::read::GzDecoder::new(&object.body[..]).read_to_string(&mut text).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["subSequenceNumber"], 3);
        assert_eq!(lines[1]["sequenceNumber"], "50");
        assert_eq!(lines[1]["approximateArrivalTimestamp"], "2023-11-14T22:14:20Z");
        assert_eq!(lines[1]["data"], "Yg==");
    }

    #[test]
    fn utf8_data_is_text_and_other_data_base64() {
        let text = line(SHARD, &record("1", None, "é".as_bytes(), T), Format::JsonUtf8);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["data"], "é");
        let binary = line(SHARD, &record("1", None, &[0xff], T), Format::JsonUtf8);
        let json: serde_json::Value = serde_json::from_str(&binary).unwrap();
        assert_eq!((json.get("data"), json["dataBase64"].as_str()), (None, Some("/w==")));
    }

    #[test]
    fn limits_fill_and_age_a_batch() {
        let limits = Limits {
            max_records: 2,
            max_bytes: 1 << 20,
            max_age: Duration::from_secs(60),
            poll: Duration::ZERO,
        };
        let mut batch = Batch::new(SHARD, &record("1", None, b"a", T), Format::Json);
        assert!(!batch.is_full(&limits) && !batch.is_due(&limits));
        batch.push(SHARD, &record("2", None, b"b", T), Format::Json);
        assert!(batch.is_full(&limits));
        let by_bytes = Limits { max_records: 10, max_bytes: 10, ..limits };
        assert!(Batch::new(SHARD, &record("1", None, b"a", T), Format::Json).is_full(&by_bytes));
        let soon = Limits { poll: Duration::from_secs(60), ..limits };
        assert!(batch.is_due(&soon), "due when the next call would come too late");
        let mut zstd = Batch::new(SHARD, &record("1", None, b"a", T), Format::Json)
            .into_object(&Path::default(), "s", SHARD, Compression::Zstd)
            .unwrap();
        assert_eq!(zstd.key.as_ref(), "s/2023/11/14/22/shardId-000000000001-1-0.jsonl.zst");
        zstd.body = zstd::decode_all(&zstd.body[..]).unwrap();
        assert!(String::from_utf8(zstd.body).unwrap().ends_with("}\n"));
    }
}
