//! The PutRecords fast path: a JSON PutRecords body read straight into a [`PutRecordsInput`],
//! type-checked and validated as it is read. The direct path (see [`super::direct`]) would
//! make every record a map in the typed tree, validation would walk the tree again, and the
//! engine would take the maps apart.
//!
//! It only ever answers for a body that the type checks and validation accept, and then with
//! the very input [`PutRecordsInput::from_tree`] makes of their tree. Whatever is unusual makes
//! it decline (`None`) — a null, a repeated member, a top-level member other than
//! `StreamName`, `StreamARN` and `Records`, an entry without a `PartitionKey`, a broken
//! constraint — and the caller takes the general path, which words the error. Values are read
//! by the direct path's [`Typed`] and checked by validation's own rules, so neither set of rules
//! is written twice.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::direct::{decline, skip_unknown, Blobs, MemberName, Typed};
use super::Checker;
use crate::input::{PutRecordsInput, RecordInput};
use crate::model::{self, Kind, Member, Structure};
use crate::validate::{length_satisfies, requirements_met, satisfies};
use crate::value::Key;
use crate::{Format, Operation, Value};

/// The input of a JSON PutRecords body, or `None` if the fast path declines it.
pub(super) fn check_json(body: &[u8]) -> Option<PutRecordsInput> {
    let model = model::get();
    let checker = Checker { model, format: Format::Json };
    let blobs = Blobs::for_body(body);
    let typed = Typed { checker: &checker, blobs: &blobs, shape: model.input_id(Operation::PutRecords) };
    let mut parser = serde_json::Deserializer::from_slice(body);
    let input = Request(typed).deserialize(&mut parser).ok()?;
    parser.end().ok()?;
    Some(input)
}

/// Reads one member's value: present, not null, and within its shape's constraints.
fn member_value<'de, A: MapAccess<'de>>(
    typed: Typed,
    member: &Member,
    map: &mut A,
) -> Result<Value, A::Error> {
    let value = map.next_value_seed(typed.at(member.shape))?;
    let valid = value != Value::Null && satisfies(typed.checker.model.shape(member.shape), &value);
    if valid {
        Ok(value)
    } else {
        Err(decline())
    }
}

fn structure(typed: Typed) -> &'static Structure {
    match &typed.checker.model.shape(typed.shape).kind {
        Kind::Structure(shape) => shape,
        _ => unreachable!("PutRecords' input and its entries are structures"),
    }
}

/// The whole body: PutRecords' input structure.
struct Request<'c>(Typed<'c>);

impl<'de> DeserializeSeed<'de> for Request<'_> {
    type Value = PutRecordsInput;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<PutRecordsInput, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Request<'_> {
    type Value = PutRecordsInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a PutRecords request")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PutRecordsInput, A::Error> {
        let shape = structure(self.0);
        let mut members: Vec<(Key, Value)> = Vec::with_capacity(2);
        let mut records = None;
        while let Some(member) = map.next_key_seed(MemberName(shape))? {
            let Some(member) = member else {
                skip_unknown(&mut map)?;
                continue;
            };
            let repeated = members.iter().any(|(name, _)| name == member.name.as_str());
            match member.name.as_str() {
                "Records" if records.is_none() => {
                    records = Some(map.next_value_seed(Entries(self.0.at(member.shape)))?);
                }
                "StreamName" | "StreamARN" if !repeated => {
                    let value = member_value(self.0, member, &mut map)?;
                    members.push((Key::Borrowed(member.name.as_str()), value));
                }
                _ => return Err(decline()),
            }
        }
        let is_present = |name: &str| name == "Records" || members.iter().any(|(m, _)| m == name);
        let records = records.ok_or_else(decline)?;
        if !requirements_met(shape, is_present) {
            return Err(decline());
        }
        Ok(PutRecordsInput { members: Value::Map(members), records })
    }
}

/// `Records`: the list of entries, within the list's length constraints.
struct Entries<'c>(Typed<'c>);

impl<'de> DeserializeSeed<'de> for Entries<'_> {
    type Value = Vec<RecordInput>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<RecordInput>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_> {
    type Value = Vec<RecordInput>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of PutRecords entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<RecordInput>, A::Error> {
        let list = self.0.checker.model.shape(self.0.shape);
        let Kind::List { member } = list.kind else {
            unreachable!("PutRecords' Records is a list");
        };
        let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(record) = seq.next_element_seed(Entry(self.0.at(member)))? {
            records.push(record);
            // A list already too long is not read to its end.
            if list.max.is_some_and(|max| records.len() as i64 > max) {
                return Err(decline());
            }
        }
        if length_satisfies(list, records.len()) {
            Ok(records)
        } else {
            Err(decline())
        }
    }
}

/// One entry of `Records`.
struct Entry<'c>(Typed<'c>);

impl<'de> DeserializeSeed<'de> for Entry<'_> {
    type Value = RecordInput;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RecordInput, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Entry<'_> {
    type Value = RecordInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a PutRecords entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordInput, A::Error> {
        let shape = structure(self.0);
        let (mut data, mut partition_key, mut explicit_hash_key) = (None, None, None);
        while let Some(member) = map.next_key_seed(MemberName(shape))? {
            let Some(member) = member else {
                skip_unknown(&mut map)?;
                continue;
            };
            let slot = match member.name.as_str() {
                "Data" => &mut data,
                "PartitionKey" => &mut partition_key,
                "ExplicitHashKey" => &mut explicit_hash_key,
                _ => return Err(decline()),
            };
            if slot.is_some() {
                return Err(decline());
            }
            *slot = Some(member_value(self.0, member, &mut map)?);
        }
        let is_present = |name: &str| match name {
            "Data" => data.is_some(),
            "PartitionKey" => partition_key.is_some(),
            "ExplicitHashKey" => explicit_hash_key.is_some(),
            _ => false,
        };
        if !requirements_met(shape, is_present) {
            return Err(decline());
        }
        let explicit_hash_key = match explicit_hash_key {
            None => None,
            Some(Value::Str(key)) => Some(key),
            Some(_) => return Err(decline()),
        };
        match (data, partition_key) {
            (Some(Value::Blob(data)), Some(Value::Str(partition_key))) => {
                Ok(RecordInput { partition_key, data, explicit_hash_key })
            }
            _ => Err(decline()),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{json, Value as Json};

    use super::check_json;
    use crate::decode::{check_types, parse_body};
    use crate::input::PutRecordsInput;
    use crate::{validate, Format, Operation};

    /// What the general path makes of a body: type checks, validation, then the records
    /// moved out of the tree.
    fn general(body: &[u8]) -> Option<PutRecordsInput> {
        let tree = check_types(Operation::PutRecords, parse_body(Format::Json, body).ok()?).ok()?;
        validate(Operation::PutRecords, &tree).ok()?;
        Some(PutRecordsInput::from_tree(tree))
    }

    fn assert_agrees(body: &Json) {
        let text = serde_json::to_vec(body).unwrap();
        if let Some(fast) = check_json(&text) {
            assert_eq!(Some(fast), general(&text), "{body}");
        }
    }

    fn records(n: usize) -> Vec<Json> {
        (0..n).map(|i| json!({"Data": "AAEC", "PartitionKey": format!("k{i}")})).collect()
    }

    #[test]
    fn a_valid_body_is_read_into_typed_records() {
        let body = br#"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k\u00e9"},
            {"PartitionKey":"k","ExplicitHashKey":"12","Data":"","Unknown":[1,{"a":null}]}],"Other":1}"#;
        let input = check_json(body).expect("the fast path reads it");
        assert_eq!(input.members, crate::Value::object().with("StreamName", "s"));
        assert_eq!(input.records.len(), 2);
        assert_eq!(
            (&input.records[0].data[..], input.records[0].partition_key.as_str()),
            (&b"hello"[..], "k\u{e9}")
        );
        assert_eq!(input.records[1].explicit_hash_key.as_deref(), Some("12"));
        assert_eq!(Some(input), general(body));
    }

    #[test]
    fn the_limits_are_validations_limits() {
        let key = |n: usize, c: &str| c.repeat(n);
        for (body, accepted) in [
            (json!({"StreamName": "s", "Records": records(500)}), true),
            (json!({"StreamName": "s", "Records": records(501)}), false),
            (json!({"StreamName": "s", "Records": []}), false),
            (json!({"StreamName": "s", "Records": [{"Data": "", "PartitionKey": key(256, "\u{e9}")}]}), true),
            (json!({"StreamName": "s", "Records": [{"Data": "", "PartitionKey": key(257, "a")}]}), false),
            // Lengths count UTF-16 units: 128 emoji are 256 of them, 129 too many.
            (
                json!({"StreamName": "s", "Records": [{"Data": "", "PartitionKey": key(128, "\u{1f600}")}]}),
                true,
            ),
            (
                json!({"StreamName": "s", "Records": [{"Data": "", "PartitionKey": key(129, "\u{1f600}")}]}),
                false,
            ),
            (json!({"StreamName": "s", "Records": [{"Data": "", "PartitionKey": ""}]}), false),
            (
                json!({"StreamName": "s", "Records": [{"Data": "", "PartitionKey": "k", "ExplicitHashKey": "012"}]}),
                false,
            ),
            (json!({"StreamName": "bad name", "Records": records(1)}), false),
            (
                json!({"StreamARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s", "Records": records(1)}),
                true,
            ),
            (json!({"Records": records(1)}), false),
        ] {
            let text = serde_json::to_vec(&body).unwrap();
            let shown = String::from_utf8_lossy(&text[..text.len().min(120)]);
            assert_eq!(check_json(&text).is_some(), accepted, "{shown}");
            assert_eq!(general(&text).is_some(), accepted, "{shown}");
            assert_agrees(&body);
        }
    }

    /// Bodies the general path accepts, but with something the fast path leaves to it.
    #[test]
    fn what_is_unusual_is_declined() {
        for body in [
            &br#"{"StreamName":"s","StreamName":"s","Records":[{"Data":"","PartitionKey":"k"}]}"#[..],
            br#"{"StreamName":"s","StreamARN":null,"Records":[{"Data":"","PartitionKey":"k"}]}"#,
            br#"{"StreamName":"s","DryRun":false,"Records":[{"Data":"","PartitionKey":"k"}]}"#,
            br#"{"StreamName":"s","Records":[{"Data":"","PartitionKey":"k","PartitionKey":"j"}]}"#,
            br#"{"StreamName":"s","Records":[{"Data":"","PartitionKey":"k","ExplicitHashKey":null}]}"#,
            br#"{"StreamName":"s","Records":[{"Data":""}]}"#,
            br#"{"StreamName":"s","Records":[{"Data":"","PartitionKey":"k"}],"Records":[{"Data":"","PartitionKey":"k"}]}"#,
        ] {
            assert!(general(body).is_some(), "{}", String::from_utf8_lossy(body));
            assert!(check_json(body).is_none(), "{}", String::from_utf8_lossy(body));
        }
    }

    /// Unknown members' values are parsed, not skipped: what the general path's parser rejects
    /// (a number out of range, invalid UTF-8, a lone surrogate, bad names in a nested object,
    /// nesting too deep) declines, in the body or in an entry.
    #[test]
    fn unknown_values_the_parser_rejects_are_declined() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for unknown in [
            "1e400".to_owned(),
            "1".repeat(400),
            "\"\\ud800\"".to_owned(),
            "{\"\\udc00\":1}".to_owned(),
            "\"\u{ff}\"".to_owned(),
            deep,
        ] {
            for body in [
                format!(r#"{{"StreamName":"s","Records":[{{"Data":"","PartitionKey":"k"}}],"x":{unknown}}}"#),
                format!(r#"{{"StreamName":"s","Records":[{{"Data":"","PartitionKey":"k","x":{unknown}}}]}}"#),
            ] {
                let mut body = body.into_bytes();
                // A raw byte that is not UTF-8, where the text has the placeholder.
                if let Some(at) = body.windows(2).position(|w| w == "\u{ff}".as_bytes()) {
                    body.splice(at..at + 2, [0xff]);
                }
                let shown = String::from_utf8_lossy(&body[..body.len().min(90)]).into_owned();
                assert!(general(&body).is_none(), "{shown}");
                assert!(check_json(&body).is_none(), "{shown}");
            }
        }
    }

    /// A value for a member: mostly valid, sometimes of the wrong type or null.
    fn member_value(valid: impl Strategy<Value = Json> + 'static) -> BoxedStrategy<Json> {
        prop_oneof![
            30 => valid,
            1 => Just(Json::Null),
            1 => prop_oneof![Just(json!(1)), Just(json!(true)), Just(json!([])), Just(json!({}))],
        ]
        .boxed()
    }

    /// An object's text from its members, in an order of their own: mostly the `usual`
    /// members, with up to two `extra` ones (repeated names included, which a JSON map type
    /// could not hold).
    fn object(
        usual: Vec<BoxedStrategy<(&'static str, String)>>,
        extra: BoxedStrategy<(&'static str, String)>,
    ) -> impl Strategy<Value = String> {
        let extra = prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(extra, 1..3)];
        (usual, extra)
            .prop_flat_map(|(mut members, extra)| {
                members.extend(extra);
                Just(members).prop_shuffle()
            })
            .prop_map(|members| {
                let text: Vec<String> =
                    members.iter().map(|(name, value)| format!("{}:{value}", Json::from(*name))).collect();
                format!("{{{}}}", text.join(","))
            })
    }

    fn member(name: &'static str, value: BoxedStrategy<Json>) -> BoxedStrategy<(&'static str, String)> {
        value.prop_map(move |v| (name, v.to_string())).boxed()
    }

    fn entry() -> impl Strategy<Value = String> {
        let data = || {
            member_value(prop_oneof![
                16 => prop::collection::vec(any::<u8>(), 0..12).prop_map(|bytes| {
                    use base64::Engine;
                    Json::from(base64::engine::general_purpose::STANDARD.encode(bytes))
                }),
                1 => Just(json!("not base64")),
            ])
        };
        let key = || {
            member_value(
                prop_oneof![16 => "\\PC{1,6}", 1 => Just(String::new()), 1 => "[a\u{e9}\u{1f600}]{250,260}"]
                    .prop_map(Json::from),
            )
        };
        let hash_key = member_value(
            prop_oneof![
                Just("0"),
                Just("12"),
                Just("012"),
                Just(""),
                Just("340282366920938463463374607431768211455")
            ]
            .prop_map(Json::from),
        );
        let extra = prop_oneof![
            member("ExplicitHashKey", hash_key),
            member("Other", Just(json!({"a": null})).boxed()),
            member("Data", data()),
            member("PartitionKey", key()),
        ];
        let usual = vec![member("Data", data()), member("PartitionKey", key())];
        prop_oneof![30 => object(usual, extra.boxed()), 1 => Just("null".to_owned())]
    }

    fn request() -> impl Strategy<Value = String> {
        let name = || {
            member_value(
                prop_oneof![16 => Just("s"), 1 => Just(""), 1 => Just("bad name")].prop_map(Json::from),
            )
        };
        let records = || {
            prop_oneof![12 => prop::collection::vec(entry(), 1..4), 1 => Just(Vec::new())]
                .prop_map(|entries| ("Records", format!("[{}]", entries.join(","))))
                .boxed()
        };
        let extra = prop_oneof![
            member("StreamARN", member_value(Just(json!("arn:aws:kinesis:us-east-1:123456789012:stream/s")))),
            member("StreamName", name()),
            member("DryRun", Just(json!(false)).boxed()),
            member("Other", Just(json!({"a": [null]})).boxed()),
            records(),
        ];
        object(vec![member("StreamName", name()), records()], extra.boxed())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Whatever the fast path accepts, the general path accepts too, with the same input.
        #[test]
        fn agrees_with_the_general_path(text in request()) {
            let fast = check_json(text.as_bytes());
            if fast.is_some() {
                prop_assert_eq!(fast, general(text.as_bytes()), "{}", text);
            }
        }

        /// Well-formed PutRecords bodies, the hot path, take the fast path.
        #[test]
        fn put_records_bodies_take_the_fast_path(
            records in prop::collection::vec(("\\PC{1,20}", prop::collection::vec(any::<u8>(), 0..40)), 1..20),
        ) {
            let text = crate::decode::test_bodies::put_records(&records);
            let fast = check_json(&text);
            prop_assert!(fast.is_some());
            prop_assert_eq!(fast, general(&text));
        }
    }
}
