//! Whatever the body, parsing, type checks, validation and encoding answer without panicking.

use base64::Engine;
use ciborium::Value as Cbor;
use kinesin_wire::{check_types, encode, parse_body, validate, Format, Operation, RawBody, Value};
use proptest::prelude::*;

/// Member names from many operations, so that generated bodies reach deep into the shapes.
const KEYS: &[&str] = &[
    "StreamName",
    "StreamARN",
    "Records",
    "Data",
    "PartitionKey",
    "ExplicitHashKey",
    "Tags",
    "TagKeys",
    "Limit",
    "ShardId",
    "ShardIteratorType",
    "Timestamp",
    "StartingSequenceNumber",
    "StreamModeDetails",
    "StreamMode",
    "ShardLevelMetrics",
    "ShardCount",
    "Entries",
    "ReceiptHandle",
    "QueueARN",
    "StreamConfigurationList",
    "S3DestinationConfiguration",
    "StorageConfiguration",
    "NextToken",
    "ShardFilter",
    "Type",
    "StartingPosition",
    "ConsumerARN",
    "DryRun",
    "RetentionPeriodHours",
    "MaxResults",
    "StreamCreationTimestamp",
    "k",
    "",
];

const TEXTS: &[&str] = &[
    "",
    "s",
    "aGVsbG8=",
    "+/+=",
    "=+/=",
    "23456",
    "AT_TIMESTAMP",
    "LATEST",
    "0",
    "01",
    "KMS",
    "ALL",
    "é😀",
    "arn:aws:kinesis:us-east-1:123456789012:stream/s",
    "shardId-000000000000",
];

fn leaf() -> impl Strategy<Value = Cbor> {
    prop_oneof![
        Just(Cbor::Null),
        any::<bool>().prop_map(Cbor::Bool),
        any::<i64>().prop_map(|n| Cbor::Integer(n.into())),
        any::<u64>().prop_map(|n| Cbor::Integer(n.into())),
        (-3i64..3).prop_map(|n| Cbor::Integer(n.into())),
        any::<f64>().prop_map(Cbor::Float),
        prop::sample::select(TEXTS).prop_map(|s| Cbor::Text(s.to_owned())),
        ".{0,12}".prop_map(Cbor::Text),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(Cbor::Bytes),
        any::<u64>().prop_map(|n| Cbor::Tag(1, Box::new(Cbor::Integer(n.into())))),
        prop::collection::vec(any::<u8>(), 0..20).prop_map(|b| Cbor::Tag(2, Box::new(Cbor::Bytes(b)))),
    ]
}

fn tree() -> impl Strategy<Value = Cbor> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Cbor::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|members| Cbor::Map(
                members.into_iter().map(|(k, v)| (Cbor::Text(k.into()), v)).collect()
            )),
        ]
    })
}

/// A top-level map of known members.
fn body() -> impl Strategy<Value = Cbor> {
    prop::collection::vec((prop::sample::select(KEYS), tree()), 0..8)
        .prop_map(|members| Cbor::Map(members.into_iter().map(|(k, v)| (Cbor::Text(k.into()), v)).collect()))
}

fn to_json(value: &Cbor) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Cbor::Null => J::Null,
        Cbor::Bool(b) => J::Bool(*b),
        Cbor::Integer(n) => {
            i128::from(*n).try_into().map(|n: i64| J::from(n)).unwrap_or_else(|_| J::from(u64::MAX))
        }
        Cbor::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
        Cbor::Text(s) => J::String(s.clone()),
        Cbor::Bytes(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Cbor::Tag(_, inner) => to_json(inner),
        Cbor::Array(items) => J::Array(items.iter().map(to_json).collect()),
        Cbor::Map(members) => J::Object(
            members.iter().map(|(k, v)| (k.as_text().unwrap_or_default().to_owned(), to_json(v))).collect(),
        ),
        _ => J::Null,
    }
}

/// The same tree as an (untyped) `Value`, to feed validation directly.
fn to_value(value: &Cbor) -> Value {
    match value {
        Cbor::Bool(b) => Value::Bool(*b),
        Cbor::Integer(n) => Value::Int(i128::from(*n).clamp(i64::MIN.into(), i64::MAX.into()) as i64),
        Cbor::Float(f) => Value::Float(*f),
        Cbor::Text(s) => Value::Str(s.clone()),
        Cbor::Bytes(b) => Value::Blob(b.clone().into()),
        Cbor::Tag(_, inner) => match to_value(inner) {
            Value::Int(n) => Value::Timestamp(n),
            other => other,
        },
        Cbor::Array(items) => Value::List(items.iter().map(to_value).collect()),
        Cbor::Map(members) => Value::Map(
            members
                .iter()
                .map(|(k, v)| (k.as_text().unwrap_or_default().to_owned().into(), to_value(v)))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// Runs every operation on the body; whatever type-checks is validated, encoded in both
/// formats, and (CBOR being exact) must decode back to the same typed tree.
fn exercise(raw: RawBody) {
    for op in Operation::ALL {
        let Ok(typed) = check_types(op, raw.clone()) else { continue };
        let _ = validate(op, &typed);
        encode(Format::Json, &typed);
        let again =
            check_types(op, parse_body(Format::Cbor, &encode(Format::Cbor, &typed)).unwrap()).unwrap();
        assert_eq!(again, typed, "{op:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for format in [Format::Json, Format::Cbor] {
            if let Ok(raw) = parse_body(format, &bytes) {
                exercise(raw);
            }
        }
    }

    #[test]
    fn arbitrary_cbor_bodies(body in body()) {
        let mut bytes = Vec::new();
        ciborium::ser::into_writer(&body, &mut bytes).unwrap();
        exercise(parse_body(Format::Cbor, &bytes).unwrap());
    }

    #[test]
    fn arbitrary_json_bodies(body in body()) {
        let bytes = serde_json::to_vec(&to_json(&body)).unwrap();
        exercise(parse_body(Format::Json, &bytes).unwrap());
    }

    #[test]
    fn validation_of_untyped_trees(body in body()) {
        let value = to_value(&body);
        for op in Operation::ALL {
            let _ = validate(op, &value);
        }
        encode(Format::Json, &value);
        encode(Format::Cbor, &value);
    }
}

#[test]
fn deep_nesting_is_rejected_not_overflowed() {
    let depth = 100_000;
    let json = format!("{{\"Records\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    assert!(parse_body(Format::Json, json.as_bytes()).is_err());
    let mut cbor = vec![0xa1, 0x67];
    cbor.extend_from_slice(b"Records");
    cbor.extend(std::iter::repeat_n(0x81, depth));
    cbor.push(0x80);
    assert!(parse_body(Format::Cbor, &cbor).is_err());
}
