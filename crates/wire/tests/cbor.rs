//! CBOR requests as the Java SDK v2 sends them, and CBOR responses it can read
//! (`docs/protocol/encodings.md`, "CBOR").

mod common;

use bytes::Bytes;
use ciborium::Value as Cbor;
use common::run;
use kinesin_wire::{encode, Format, Operation, Value};

fn text(s: &str) -> Cbor {
    Cbor::Text(s.to_owned())
}

/// One CBOR item, written by ciborium.
fn item(value: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).unwrap();
    out
}

/// A definite-length map, written by ciborium.
fn definite(members: Vec<(&str, Cbor)>) -> Vec<u8> {
    item(&Cbor::Map(members.into_iter().map(|(k, v)| (text(k), v)).collect()))
}

/// An indefinite-length map (`bf ... ff`), the framing Jackson's CBOR generator uses for
/// objects; keys and values are written by ciborium.
fn indefinite(members: Vec<(&str, Cbor)>) -> Vec<u8> {
    let mut out = vec![0xbf];
    for (key, value) in members {
        out.extend(item(&text(key)));
        out.extend(item(&value));
    }
    out.push(0xff);
    out
}

fn tag1(millis: u64) -> Cbor {
    Cbor::Tag(1, Box::new(Cbor::Integer(millis.into())))
}

#[test]
fn get_shard_iterator_at_timestamp_from_the_java_sdk() {
    let body = indefinite(vec![
        ("StreamName", text("s")),
        ("ShardId", text("shardId-000000000000")),
        ("ShardIteratorType", text("AT_TIMESTAMP")),
        ("Timestamp", tag1(1787036486712)),
    ]);
    // The bytes of the captured request (floci-io/floci#2368).
    let capture =
        [b"Timestamp".as_slice(), &[0xc1, 0x1b, 0x00, 0x00, 0x01, 0xa0, 0x13, 0xac, 0xcc, 0x38]].concat();
    assert!(body.windows(capture.len()).any(|w| w == capture));

    let typed = run(Format::Cbor, Operation::GetShardIterator, &body).unwrap();
    assert_eq!(
        typed,
        Value::object()
            .with("StreamName", "s")
            .with("ShardId", "shardId-000000000000")
            .with("ShardIteratorType", "AT_TIMESTAMP")
            .with("Timestamp", Value::Timestamp(1787036486712))
    );
}

#[test]
fn timestamps_in_other_cbor_forms() {
    let ts = |value: Cbor| {
        let body = definite(vec![("StreamName", text("s")), ("StreamCreationTimestamp", value)]);
        run(Format::Cbor, Operation::ListShards, &body).unwrap().timestamp("StreamCreationTimestamp")
    };
    assert_eq!(ts(Cbor::Integer(1787036486712u64.into())), Some(1787036486712));
    assert_eq!(ts(Cbor::Float(1787036486.712)), Some(1787036486712));
    assert_eq!(ts(Cbor::Tag(1, Box::new(Cbor::Float(1787036486.712)))), Some(1787036486712));
}

#[test]
fn put_records_with_byte_string_data() {
    for framing in [definite as fn(Vec<(&str, Cbor)>) -> Vec<u8>, indefinite] {
        let record = |data: &[u8], key: &str| {
            Cbor::Map(vec![(text("Data"), Cbor::Bytes(data.to_vec())), (text("PartitionKey"), text(key))])
        };
        let body = framing(vec![
            ("Records", Cbor::Array(vec![record(b"hello", "a"), record(&[0, 255], "b")])),
            ("StreamName", text("s")),
        ]);
        let typed = run(Format::Cbor, Operation::PutRecords, &body).unwrap();
        let records = typed.list("Records").unwrap();
        assert_eq!(records[0].blob("Data"), Some(&Bytes::from_static(b"hello")));
        assert_eq!(records[1].blob("Data"), Some(&Bytes::from_static(&[0, 255])));
        assert_eq!(records[1].str("PartitionKey"), Some("b"));
    }
}

#[test]
fn base64_text_is_accepted_for_blobs_with_the_json_checks() {
    let body =
        definite(vec![("StreamName", text("s")), ("PartitionKey", text("p")), ("Data", text("aGVsbG8="))]);
    let typed = run(Format::Cbor, Operation::PutRecord, &body).unwrap();
    assert_eq!(typed.blob("Data"), Some(&Bytes::from_static(b"hello")));

    let body = definite(vec![("StreamName", text("s")), ("PartitionKey", text("p")), ("Data", text("+/+="))]);
    let err = run(Format::Cbor, Operation::PutRecord, &body).unwrap_err();
    assert_eq!(
        err.message.as_deref(),
        Some("'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected")
    );
}

#[test]
fn cbor_type_errors_use_the_json_texts() {
    let body = definite(vec![("StreamName", Cbor::Bool(true))]);
    let err = run(Format::Cbor, Operation::DescribeStreamSummary, &body).unwrap_err();
    assert_eq!(err.code, "SerializationException");
    assert_eq!(err.message.as_deref(), Some("class java.lang.Boolean can not be converted to an String"));

    let body = definite(vec![("StreamName", text("s")), ("Limit", text("1"))]);
    let err = run(Format::Cbor, Operation::DescribeStream, &body).unwrap_err();
    assert_eq!(err.message.as_deref(), Some("class java.lang.String can not be converted to an Integer"));
}

#[test]
fn cbor_validation_errors() {
    let body = definite(vec![("StreamName", text("")), ("Limit", Cbor::Integer(0.into()))]);
    let err = run(Format::Cbor, Operation::DescribeStream, &body).unwrap_err();
    assert_eq!(err.code, "ValidationException");
    assert!(err.message.unwrap().starts_with(
        "3 validation errors detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1; "
    ));
}

#[test]
fn responses_carry_integer_milliseconds_and_byte_strings() {
    let response = Value::object()
        .with(
            "Records",
            vec![Value::object()
                .with("SequenceNumber", "49590338271490256608559692538361571095921575989136588898")
                .with("ApproximateArrivalTimestamp", Value::Timestamp(1603152823565))
                .with("Data", Bytes::from_static(b"\x00hello"))
                .with("PartitionKey", "p")],
        )
        .with("MillisBehindLatest", 0i64)
        .with("NextShardIterator", "it");
    let bytes = encode(Format::Cbor, &response);
    let decoded: Cbor = ciborium::de::from_reader(&bytes[..]).unwrap();

    let members = decoded.as_map().unwrap();
    assert_eq!(members[0].0, text("Records"));
    let record = members[0].1.as_array().unwrap()[0].as_map().unwrap();
    assert_eq!(
        record[0],
        (text("SequenceNumber"), text("49590338271490256608559692538361571095921575989136588898"))
    );
    assert_eq!(record[1], (text("ApproximateArrivalTimestamp"), Cbor::Integer(1603152823565u64.into())));
    assert_eq!(record[2], (text("Data"), Cbor::Bytes(b"\x00hello".to_vec())));
    assert_eq!(members[1], (text("MillisBehindLatest"), Cbor::Integer(0.into())));
    // The timestamp is a plain 64-bit integer: `1b` and eight bytes, no tag, no float.
    let millis = [&[0x1bu8][..], &1603152823565u64.to_be_bytes()].concat();
    assert!(bytes.windows(millis.len()).any(|w| w == millis));
    assert!(!bytes.contains(&0xfb));
}

#[test]
fn a_typed_request_round_trips_through_the_encoder() {
    let body = indefinite(vec![
        ("StreamName", text("s")),
        ("ShardId", text("shardId-000000000000")),
        ("ShardIteratorType", text("AT_TIMESTAMP")),
        ("Timestamp", tag1(1787036486712)),
    ]);
    let typed = run(Format::Cbor, Operation::GetShardIterator, &body).unwrap();
    let again = run(Format::Cbor, Operation::GetShardIterator, &encode(Format::Cbor, &typed)).unwrap();
    assert_eq!(again, typed);
}
