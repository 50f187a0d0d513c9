//! Response and error bodies (`docs/protocol/encodings.md`; `docs/protocol/front-door.md`, "Front-door
//! error bodies" and "Member type errors"; `docs/protocol/validation.md`).

use bytes::Bytes;
use kinesin_wire::{encode, encode_error, ApiError, Format, Value};

fn json(value: &Value) -> String {
    String::from_utf8(encode(Format::Json, value)).unwrap()
}

#[test]
fn no_output_is_an_empty_body() {
    assert!(encode(Format::Json, &Value::Null).is_empty());
    assert!(encode(Format::Cbor, &Value::Null).is_empty());
}

#[test]
fn json_is_compact_with_base64_blobs_and_second_timestamps() {
    let value = Value::object()
        .with("StreamName", "a\"b\\c\n")
        .with("Data", Bytes::from_static(b"hello"))
        .with("Empty", Bytes::new())
        .with("Created", Value::Timestamp(1671562498449))
        .with("Open", true)
        .with("Count", -3i64)
        .with("Shards", vec![Value::from("x"), Value::object()])
        .with("Tags", Value::object());
    assert_eq!(
        json(&value),
        r#"{"StreamName":"a\"b\\c\n","Data":"aGVsbG8=","Empty":"","Created":1671562498.449,"Open":true,"Count":-3,"Shards":["x",{}],"Tags":{}}"#
    );
}

#[test]
fn json_timestamps_always_have_three_fraction_digits() {
    for (millis, text) in [
        (0, "0.000"),
        (1000, "1.000"),
        (1671562498000, "1671562498.000"),
        (5, "0.005"),
        (-1, "-0.001"),
        (-1500, "-1.500"),
    ] {
        assert_eq!(json(&Value::Timestamp(millis)), text);
    }
    // A JSON reader sees the same instant.
    let parsed: f64 = serde_json::from_str(&json(&Value::Timestamp(1704164645678))).unwrap();
    assert_eq!(parsed, 1704164645.678);
}

#[test]
fn json_errors() {
    let encode = |e: &ApiError| String::from_utf8(encode_error(Format::Json, e)).unwrap();
    assert_eq!(encode(&ApiError::bare("SerializationException")), r#"{"__type":"SerializationException"}"#);
    assert_eq!(
        encode(&ApiError::bare("UnknownOperationException")),
        r#"{"__type":"UnknownOperationException"}"#
    );
    assert_eq!(
        encode(&ApiError::validation("1 validation error detected: x")),
        r#"{"__type":"ValidationException","message":"1 validation error detected: x"}"#
    );
    let type_error = ApiError {
        code: "SerializationException",
        message: Some("Expected null".into()),
        capitalized_message: true,
    };
    assert_eq!(encode(&type_error), r#"{"__type":"SerializationException","Message":"Expected null"}"#);
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn cbor_errors_match_the_bytes_observed_from_aws() {
    let serialization = encode_error(Format::Cbor, &ApiError::bare("SerializationException"));
    assert_eq!(serialization, hex("bf 66 5f5f74797065 76 53657269616c697a6174696f6e457863657074696f6e ff"));
    assert_eq!(serialization.len(), 32);

    let unknown = encode_error(Format::Cbor, &ApiError::bare("UnknownOperationException"));
    assert_eq!(
        unknown,
        hex("bf 66 5f5f74797065 78 19 556e6b6e6f776e4f7065726174696f6e457863657074696f6e ff")
    );
    assert_eq!(unknown.len(), 36);
}

#[test]
fn cbor_errors_with_messages_decode_as_maps() {
    let bytes = encode_error(
        Format::Cbor,
        &ApiError::resource_not_found("Stream s under account 000000000000 not found."),
    );
    let decoded: ciborium::Value = ciborium::de::from_reader(&bytes[..]).unwrap();
    assert_eq!(
        decoded,
        ciborium::Value::Map(vec![
            ("__type".into(), "ResourceNotFoundException".into()),
            ("message".into(), "Stream s under account 000000000000 not found.".into()),
        ])
    );
}

#[test]
fn cbor_integers_use_the_shortest_head() {
    let cases: [(i64, &str); 8] = [
        (0, "00"),
        (23, "17"),
        (24, "18 18"),
        (256, "19 0100"),
        (65536, "1a 00010000"),
        (1 << 32, "1b 0000000100000000"),
        (-1, "20"),
        (-500, "39 01f3"),
    ];
    for (n, bytes) in cases {
        assert_eq!(encode(Format::Cbor, &Value::Int(n)), hex(bytes), "{n}");
    }
    assert_eq!(encode(Format::Cbor, &Value::Int(i64::MIN)), hex("3b 7fffffffffffffff"));
}
