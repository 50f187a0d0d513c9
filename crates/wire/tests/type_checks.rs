//! Whole-body parsing (step 6 of `docs/protocol/front-door.md`, "Request pipeline") and member type
//! errors ("Member type errors" in the same file).

mod common;

use bytes::Bytes;
use common::{run_json, type_error};
use kinesin_wire::{check_types, parse_body, ApiError, Format, Operation, Value};
use Operation::*;

const L: &str = "Start of list found where not expected";
const S: &str = "Start of structure or map found where not expected.";
const TBN: &str = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to ";

/// The probe values of the table in `docs/protocol/front-door.md`, "Member type errors", as JSON.
const PROBES: [&str; 8] = ["\"23\"", "true", "23", "-2147483648", "2147483648", "34.56", "[]", "{}"];

/// Sends `{"<member>": <probe>}` (plus `extra` members) for each probe and compares the
/// outcome with `expected`: `Some(message)` for a type error, `None` when the type check passes.
fn probe_table(op: Operation, member: &str, extra: &str, expected: [Option<&str>; 8]) {
    for (probe, expected) in PROBES.iter().zip(expected) {
        let body = format!("{{{extra}\"{member}\":{probe}}}");
        let raw = parse_body(Format::Json, body.as_bytes()).unwrap();
        match (check_types(op, raw), expected) {
            (Ok(_), None) => {}
            (Err(err), Some(message)) => {
                assert_eq!(
                    err,
                    ApiError {
                        code: "SerializationException",
                        message: Some(message.into()),
                        capitalized_message: true
                    },
                    "{body}"
                );
            }
            (outcome, expected) => panic!("{body}: got {outcome:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn unparsable_or_non_object_bodies_are_bare_serialization_exceptions() {
    for format in [Format::Json, Format::Cbor] {
        for body in [&b"hello"[..], b"true", b"null", b"[]", b"23", b"\"x\"", b"{", b"{\"a\":1} x"] {
            let err = parse_body(format, body).unwrap_err();
            assert_eq!(err, ApiError::bare("SerializationException"), "{format:?} {body:?}");
        }
    }
    // CBOR: an array, a text string, a truncated map.
    for body in [&[0x80u8][..], &[0x61, b'a'], &[0xa1, 0x61, b'a']] {
        assert_eq!(parse_body(Format::Cbor, body).unwrap_err(), ApiError::bare("SerializationException"));
    }
}

#[test]
fn string_members() {
    probe_table(
        ListStreams,
        "ExclusiveStartStreamName",
        "",
        [
            None,
            Some("class java.lang.Boolean can not be converted to an String"),
            Some(&format!("{TBN}an String")),
            Some(&format!("{TBN}an String")),
            Some(&format!("{TBN}an String")),
            Some(&format!("{TBN}an String")),
            Some(L),
            Some(S),
        ],
    );
}

#[test]
fn integer_members() {
    probe_table(
        ListStreams,
        "Limit",
        "",
        [
            Some("class java.lang.String can not be converted to an Integer"),
            Some("class java.lang.Boolean can not be converted to an Integer"),
            None,
            None,
            None,
            None,
            Some(L),
            Some(S),
        ],
    );
}

#[test]
fn boolean_members() {
    probe_table(
        DeleteStream,
        "EnforceConsumerDeletion",
        "",
        [
            Some("'23' can not be converted to an Boolean"),
            None,
            Some(&format!("{TBN}an Boolean")),
            Some(&format!("{TBN}an Boolean")),
            Some(&format!("{TBN}an Boolean")),
            None,
            Some(L),
            Some(S),
        ],
    );
}

#[test]
fn blob_members() {
    probe_table(
        PutRecord,
        "Data",
        "",
        [
            Some("'23' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 2"),
            Some("class java.lang.Boolean can not be converted to a Blob"),
            Some(&format!("{TBN}a Blob")),
            Some(&format!("{TBN}a Blob")),
            Some(&format!("{TBN}a Blob")),
            Some(&format!("{TBN}a Blob")),
            Some(L),
            Some(S),
        ],
    );
}

#[test]
fn timestamp_members() {
    probe_table(
        GetShardIterator,
        "Timestamp",
        "",
        [
            Some("class java.lang.String can not be converted to milliseconds since epoch"),
            Some("class java.lang.Boolean can not be converted to milliseconds since epoch"),
            None,
            None,
            None,
            None,
            Some(L),
            Some(S),
        ],
    );
}

#[test]
fn list_members() {
    let e = Some("Expected list or null");
    probe_table(RemoveTagsFromStream, "TagKeys", "", [e, e, e, e, e, e, None, Some(S)]);
}

#[test]
fn map_members() {
    let e = Some("Expected map or null");
    probe_table(AddTagsToStream, "Tags", "", [e, e, e, e, e, e, Some(L), None]);
}

#[test]
fn structure_members() {
    let e = Some("Expected null");
    probe_table(CreateStream, "StreamModeDetails", "", [e, e, e, e, e, e, Some(L), None]);
}

#[test]
fn base64_messages() {
    let cases = [
        ("23456", "Base64 encoded length is expected a multiple of 4 bytes but found: 5"),
        ("=+/=", "Invalid Base64 character: '='"),
        ("+/+=", "Invalid last non-pad Base64 character dectected"),
    ];
    for (data, reason) in cases {
        let body = format!(r#"{{"StreamName":"s","PartitionKey":"p","Data":"{data}"}}"#);
        assert_eq!(
            type_error(PutRecord, &body),
            format!("'{data}' can not be converted to a Blob: {reason}")
        );
    }
}

#[test]
fn nested_values_are_checked_against_their_own_types() {
    assert_eq!(
        type_error(RemoveTagsFromStream, r#"{"StreamName":"s","TagKeys":["a",true]}"#),
        "class java.lang.Boolean can not be converted to an String"
    );
    assert_eq!(
        type_error(AddTagsToStream, r#"{"StreamName":"s","Tags":{"a":23}}"#),
        format!("{TBN}an String")
    );
    assert_eq!(type_error(PutRecords, r#"{"StreamName":"s","Records":[{"Data":""},"x"]}"#), "Expected null");
    assert_eq!(
        type_error(PutRecords, r#"{"Records":[{"Data":true}]}"#),
        "class java.lang.Boolean can not be converted to a Blob"
    );
    assert_eq!(
        type_error(PutRecords, r#"{"Records":[{"Data":"","PartitionKey":1}]}"#),
        format!("{TBN}an String")
    );
    assert_eq!(type_error(PutRecords, r#"{"Records":[{"Data":"","ExplicitHashKey":[]}]}"#), L);
    assert_eq!(type_error(CreateStream, r#"{"StreamModeDetails":{"StreamMode":{}}}"#), S);
}

#[test]
fn the_first_error_in_document_order_wins() {
    assert_eq!(
        type_error(ListStreams, r#"{"Limit":"x","ExclusiveStartStreamName":true}"#),
        "class java.lang.String can not be converted to an Integer"
    );
    assert_eq!(
        type_error(ListStreams, r#"{"ExclusiveStartStreamName":true,"Limit":"x"}"#),
        "class java.lang.Boolean can not be converted to an String"
    );
}

#[test]
fn null_and_unknown_members_are_dropped() {
    let typed = run_json(
        PutRecord,
        r#"{"Whatever":{"x":[1]},"StreamName":"s","ExplicitHashKey":null,"PartitionKey":"p","Data":"aGVsbG8="}"#,
    )
    .unwrap();
    assert_eq!(
        typed,
        Value::object()
            .with("StreamName", "s")
            .with("PartitionKey", "p")
            .with("Data", Bytes::from_static(b"hello"))
    );
    // Unknown members are not type-checked either, at any depth.
    run_json(
        PutRecords,
        r#"{"StreamName":"s","Records":[{"Data":"","PartitionKey":"p","Bad":{}}],"X":true}"#,
    )
    .unwrap();
}

#[test]
fn numbers_are_floored_and_clamped() {
    let limit = |body: &str| {
        check_types(ListStreams, parse_body(Format::Json, body.as_bytes()).unwrap()).unwrap().int("Limit")
    };
    assert_eq!(limit(r#"{"Limit":34.56}"#), Some(34));
    assert_eq!(limit(r#"{"Limit":-0.5}"#), Some(-1));
    assert_eq!(limit(r#"{"Limit":2147483648}"#), Some(2147483647));
    assert_eq!(limit(r#"{"Limit":100000000000}"#), Some(2147483647));
    assert_eq!(limit(r#"{"Limit":1e30}"#), Some(2147483647));
    assert_eq!(limit(r#"{"Limit":-2147483648}"#), Some(-2147483648));
    assert_eq!(limit(r#"{"Limit":1E2}"#), Some(100));
}

#[test]
fn json_timestamps_are_seconds() {
    let ts = |body: &str| {
        check_types(GetShardIterator, parse_body(Format::Json, body.as_bytes()).unwrap())
            .unwrap()
            .timestamp("Timestamp")
    };
    assert_eq!(ts(r#"{"Timestamp":1704164645.678}"#), Some(1704164645678));
    assert_eq!(ts(r#"{"Timestamp":1.441215410867E9}"#), Some(1441215410867));
    assert_eq!(ts(r#"{"Timestamp":1704164645}"#), Some(1704164645000));
    assert_eq!(ts(r#"{"Timestamp":34.56}"#), Some(34560));
}

#[test]
fn maps_keep_order_and_the_last_duplicate_wins() {
    let typed = run_json(AddTagsToStream, r#"{"StreamName":"s","Tags":{"b":"1","a":"2","b":"3"}}"#).unwrap();
    assert_eq!(typed.map("Tags").unwrap(), [("b".into(), Value::from("3")), ("a".into(), Value::from("2"))]);
    let typed = run_json(ListStreams, r#"{"Limit":1,"Limit":2}"#).unwrap();
    assert_eq!(typed, Value::object().with("Limit", 2i64));
}

#[test]
fn empty_blob_is_valid() {
    let typed =
        run_json(PutRecords, r#"{"StreamName":"s","Records":[{"PartitionKey":"p","Data":""}]}"#).unwrap();
    assert_eq!(typed.list("Records").unwrap()[0].blob("Data").unwrap().len(), 0);
}
