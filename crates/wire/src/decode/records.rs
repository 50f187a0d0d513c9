//! The PutRecords fast path: a JSON or CBOR PutRecords body read straight into a
//! [`PutRecordsInput`], type-checked and validated as it is read. The direct path (see
//! [`super::direct`]) would make every record a map in the typed tree, validation would walk
//! the tree again, and the engine would take the maps apart.
//!
//! It only ever answers for a body that the type checks and validation accept, and then with
//! the very input [`PutRecordsInput::from_tree`] makes of their tree. Whatever is unusual makes
//! it decline (`None`) — a null, a repeated member, a top-level member other than
//! `StreamName`, `StreamARN` and `Records`, an entry without a `PartitionKey`, a broken
//! constraint — and the caller takes the general path, which words the error. Values are read
//! by the direct path's [`Typed`] and checked by validation's own rules, so neither set of rules
//! is written twice.
//!
//! Both formats take the same reader; what differs is in [`Typed`] and its member names: a
//! CBOR blob is a byte string (or base64 text, as for JSON), a CBOR member name a text item,
//! and a CBOR tag, which the general path drops, declines. Every CBOR item is read with
//! `deserialize_any`, as the general path's parser reads it, so that ciborium counts the same
//! nesting and a tag reaches the visitor instead of being skipped.

use std::fmt;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::direct::{decline, skip_unknown, Blobs, Typed};
use super::Checker;
use crate::input::{PutRecordsInput, RecordInput};
use crate::model::{self, Kind, Member, Structure};
use crate::validate::{length_satisfies, requirements_met, satisfies};
use crate::value::Key;
use crate::{Format, Operation, Value};

/// The input of a PutRecords body, or `None` if the fast path declines it.
pub(super) fn check(format: Format, body: &[u8]) -> Option<PutRecordsInput> {
    match format {
        Format::Json => {
            let mut parser = serde_json::Deserializer::from_slice(body);
            let input = read(Format::Json, &Blobs::for_body(body), &mut parser).ok()?;
            parser.end().ok()?;
            Some(input)
        }
        // The reader `parse_body` uses, which ignores bytes after the item as it does.
        Format::Cbor => ciborium::de::from_reader::<CborBody, _>(body).ok().map(|CborBody(input)| input),
    }
}

fn read<'de, D: Deserializer<'de>>(
    format: Format,
    blobs: &Blobs,
    deserializer: D,
) -> Result<PutRecordsInput, D::Error> {
    let model = model::get();
    let checker = Checker { model, format };
    let typed = Typed { checker: &checker, blobs, shape: model.input_id(Operation::PutRecords) };
    Request(typed).deserialize(deserializer)
}

/// A CBOR body's input. ciborium only builds types that bring no state of their own, so this
/// one makes its blob buffer without knowing the body's length.
struct CborBody(PutRecordsInput);

impl<'de> Deserialize<'de> for CborBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<CborBody, D::Error> {
        read(Format::Cbor, &Blobs::in_chunks(), deserializer).map(CborBody)
    }
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
        deserializer.deserialize_any(self)
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
        while let Some(member) = map.next_key_seed(self.0.member_name(shape))? {
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
        deserializer.deserialize_any(self)
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
        deserializer.deserialize_any(self)
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
        while let Some(member) = map.next_key_seed(self.0.member_name(shape))? {
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
    use ciborium::Value as Cbor;
    use proptest::prelude::*;
    use proptest::strategy::{Union, ValueTree};
    use proptest::test_runner::TestRunner;

    use super::check;
    use crate::decode::test_bodies::{self, blob, object, text, Encoding};
    use crate::decode::{check_types, parse_body};
    use crate::input::PutRecordsInput;
    use crate::{validate, Format, Operation};

    /// What the general path makes of a body: type checks, validation, then the records
    /// moved out of the tree.
    fn general(format: Format, body: &[u8]) -> Option<PutRecordsInput> {
        let tree = check_types(Operation::PutRecords, parse_body(format, body).ok()?).ok()?;
        validate(Operation::PutRecords, &tree).ok()?;
        Some(PutRecordsInput::from_tree(tree))
    }

    fn assert_agrees(format: Format, body: &[u8]) {
        if let Some(fast) = check(format, body) {
            assert_eq!(Some(fast), general(format, body), "{}", String::from_utf8_lossy(body));
        }
    }

    /// Stands for a value written as raw bytes by [`with_raw`].
    const RAW: &str = "raw value here";

    /// `tree` written as `encoding`, with the bytes of `raw` where it has the text [`RAW`]:
    /// for what a ciborium tree cannot hold or its writer would not write.
    fn with_raw(encoding: Encoding, tree: &Cbor, raw: &[u8]) -> Vec<u8> {
        let mut body = encoding.write(tree);
        let placeholder = encoding.write(&text(RAW));
        let at = body.windows(placeholder.len()).position(|w| w == placeholder).expect("the tree holds RAW");
        body.splice(at..at + placeholder.len(), raw.iter().copied());
        body
    }

    /// An entry of `Data` and `PartitionKey`, then the `extra` members.
    fn entry_with(format: Format, extra: Vec<(&str, Cbor)>) -> Cbor {
        let mut members = vec![("Data", blob(format, b"")), ("PartitionKey", text("k"))];
        members.extend(extra);
        object(members)
    }

    /// A body of `StreamName` and `Records`, then the `extra` members.
    fn request_with(extra: Vec<(&str, Cbor)>, entries: Vec<Cbor>) -> Cbor {
        let mut members = vec![("StreamName", text("s")), ("Records", Cbor::Array(entries))];
        members.extend(extra);
        object(members)
    }

    /// A valid body with `extra` added to its members, and one with it added to its entry's.
    fn with_extra_member(format: Format, extra: (Cbor, Cbor)) -> [Cbor; 2] {
        let add = |mut map: Cbor, member: (Cbor, Cbor)| {
            if let Cbor::Map(members) = &mut map {
                members.push(member);
            }
            map
        };
        [
            add(request_with(vec![], vec![entry_with(format, vec![])]), extra.clone()),
            request_with(vec![], vec![add(entry_with(format, vec![]), extra)]),
        ]
    }

    #[test]
    fn a_valid_body_is_read_into_typed_records() {
        let body = br#"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k\u00e9"},
            {"PartitionKey":"k","ExplicitHashKey":"12","Data":"","Unknown":[1,{"a":null}]}],"Other":1}"#;
        let input = check(Format::Json, body).expect("the fast path reads it");
        assert_eq!(input.members, crate::Value::object().with("StreamName", "s"));
        assert_eq!(input.records.len(), 2);
        assert_eq!(
            (&input.records[0].data[..], input.records[0].partition_key.as_str()),
            (&b"hello"[..], "k\u{e9}")
        );
        assert_eq!(input.records[1].explicit_hash_key.as_deref(), Some("12"));
        assert_eq!(Some(input), general(Format::Json, body));
    }

    /// Byte strings short and long (past ciborium's 4 KiB scratch buffer), base64 text, unknown
    /// members with what only CBOR has, either framing, and bytes after the item.
    #[test]
    fn a_valid_cbor_body_is_read_into_typed_records() {
        let long = vec![7u8; 5000];
        let unknown = Cbor::Array(vec![
            Cbor::Tag(1, Box::new(Cbor::Integer(5.into()))),
            Cbor::Bytes(vec![0]),
            Cbor::Float(1.5),
            Cbor::Integer((-(1i128 << 64)).try_into().unwrap()),
            Cbor::Map(vec![(Cbor::Tag(0, Box::new(text("a"))), Cbor::Null), (text("a\u{1}\n"), Cbor::Null)]),
        ]);
        let tree = object(vec![
            ("StreamName", text("s")),
            (
                "Records",
                Cbor::Array(vec![
                    object(vec![("Data", Cbor::Bytes(b"hello".to_vec())), ("PartitionKey", text("k\u{e9}"))]),
                    object(vec![
                        ("PartitionKey", text("k")),
                        ("ExplicitHashKey", text("12")),
                        ("Data", text("aGVsbG8=")),
                        ("Unknown", unknown.clone()),
                    ]),
                    object(vec![("Data", Cbor::Bytes(long.clone())), ("PartitionKey", text("k"))]),
                ]),
            ),
            ("Other", unknown),
            ("\u{e9}\u{1}", text(RAW)),
        ]);
        for encoding in [Encoding::Cbor, Encoding::IndefiniteCbor] {
            // `undefined`, which ciborium's trees cannot hold, in an unknown member.
            let body = with_raw(encoding, &tree, &[0xf7]);
            let trailing = [&body[..], &[0xff, 0x00]].concat();
            for body in [body, trailing] {
                let input = check(Format::Cbor, &body).expect("the fast path reads it");
                assert_eq!(input.members, crate::Value::object().with("StreamName", "s"));
                let records: Vec<_> =
                    input.records.iter().map(|r| (&r.data[..], r.partition_key.as_str())).collect();
                assert_eq!(records, [(&b"hello"[..], "k\u{e9}"), (b"hello", "k"), (&long, "k")]);
                assert_eq!(input.records[1].explicit_hash_key.as_deref(), Some("12"));
                assert_eq!(Some(input), general(Format::Cbor, &body), "{encoding:?}");
            }
        }
    }

    #[test]
    fn the_limits_are_validations_limits() {
        for encoding in Encoding::ALL {
            let format = encoding.format();
            let entry = |key: &str, data: &[u8]| {
                object(vec![("Data", blob(format, data)), ("PartitionKey", text(key))])
            };
            let records =
                |n: usize| Cbor::Array((0..n).map(|i| entry(&format!("k{i}"), &[0, 1, 2])).collect());
            let request = |name: &str, value: &str, records: Cbor| {
                object(vec![(name, text(value)), ("Records", records)])
            };
            let one = |entry: Cbor| request("StreamName", "s", Cbor::Array(vec![entry]));
            let hash_key = |key: &str| {
                one(object(vec![
                    ("Data", blob(format, b"")),
                    ("PartitionKey", text("k")),
                    ("ExplicitHashKey", text(key)),
                ]))
            };
            let data_max = vec![0; 10 << 20];
            for (case, (tree, accepted)) in [
                (request("StreamName", "s", records(500)), true),
                (request("StreamName", "s", records(501)), false),
                (request("StreamName", "s", records(0)), false),
                (one(entry(&"\u{e9}".repeat(256), b"")), true),
                (one(entry(&"a".repeat(257), b"")), false),
                // Lengths count UTF-16 units: 128 emoji are 256 of them, 129 too many.
                (one(entry(&"\u{1f600}".repeat(128), b"")), true),
                (one(entry(&"\u{1f600}".repeat(129), b"")), false),
                (one(entry("", b"")), false),
                (one(entry("k", &data_max)), true),
                (one(entry("k", &[&data_max[..], &[0]].concat())), false),
                (hash_key("340282366920938463463374607431768211455"), true),
                (hash_key("012"), false),
                (request("StreamName", "bad name", records(1)), false),
                (request("StreamARN", "arn:aws:kinesis:us-east-1:123456789012:stream/s", records(1)), true),
                (object(vec![("Records", records(1))]), false),
            ]
            .into_iter()
            .enumerate()
            {
                let body = encoding.write(&tree);
                assert_eq!(check(format, &body).is_some(), accepted, "case {case} in {encoding:?}");
                assert_eq!(general(format, &body).is_some(), accepted, "case {case} in {encoding:?}");
                assert_agrees(format, &body);
            }
        }
    }

    /// Bodies the general path accepts, but with something the fast path leaves to it.
    #[test]
    fn what_is_unusual_is_declined() {
        for encoding in Encoding::ALL {
            let format = encoding.format();
            let entry = |extra| entry_with(format, extra);
            let request = |extra, entry| request_with(extra, vec![entry]);
            let mut bodies = vec![
                request(vec![("StreamName", text("s"))], entry(vec![])),
                request(vec![("StreamARN", Cbor::Null)], entry(vec![])),
                request(vec![("DryRun", Cbor::Bool(false))], entry(vec![])),
                request(vec![], entry(vec![("PartitionKey", text("j"))])),
                request(vec![], entry(vec![("ExplicitHashKey", Cbor::Null)])),
                request(vec![("Records", Cbor::Array(vec![entry(vec![])]))], entry(vec![])),
            ];
            // An entry without a PartitionKey is declined too, and the general path refuses it.
            let keyless = encoding.write(&request(vec![], object(vec![("Data", blob(format, b""))])));
            assert!(general(format, &keyless).is_none() && check(format, &keyless).is_none(), "{encoding:?}");
            if format == Format::Cbor {
                // Tags, which the general path drops: on the body, a member's value, a name.
                let tag = |item: Cbor| Cbor::Tag(1, Box::new(item));
                let valid = request(vec![], entry(vec![]));
                bodies.extend([
                    tag(valid.clone()),
                    tag(tag(valid)),
                    request(
                        vec![("StreamARN", tag(text("arn:aws:kinesis:us-east-1:123456789012:stream/s")))],
                        entry(vec![]),
                    ),
                    request(vec![("Other", tag(Cbor::Null))], tag(entry(vec![]))),
                    request(vec![], entry(vec![("ExplicitHashKey", tag(text("12")))])),
                    request(
                        vec![],
                        object(vec![("Data", tag(Cbor::Bytes(vec![1]))), ("PartitionKey", text("k"))]),
                    ),
                    request(
                        vec![],
                        object(vec![("Data", Cbor::Bytes(vec![1])), ("PartitionKey", tag(text("k")))]),
                    ),
                    object(vec![
                        ("StreamName", text("s")),
                        ("Records", tag(Cbor::Array(vec![entry(vec![])]))),
                    ]),
                    Cbor::Map(vec![
                        (tag(text("StreamName")), text("s")),
                        (text("Records"), Cbor::Array(vec![entry(vec![])])),
                    ]),
                ]);
            }
            for tree in bodies {
                let body = encoding.write(&tree);
                assert!(general(format, &body).is_some(), "{encoding:?} {tree:?}");
                assert!(check(format, &body).is_none(), "{encoding:?} {tree:?}");
            }
        }
    }

    /// CBOR `undefined` is a null to both paths.
    #[test]
    fn cbor_undefined_is_read_as_null() {
        let undefined = [0xf7];
        let entry = || entry_with(Format::Cbor, vec![]);
        for (tree, general_accepts, fast_accepts) in [
            (request_with(vec![("Other", Cbor::Array(vec![text(RAW)]))], vec![entry()]), true, true),
            (request_with(vec![("StreamARN", text(RAW))], vec![entry()]), true, false),
            (request_with(vec![], vec![entry(), text(RAW)]), false, false),
            (
                request_with(vec![], vec![object(vec![("Data", text(RAW)), ("PartitionKey", text("k"))])]),
                false,
                false,
            ),
        ] {
            let body = with_raw(Encoding::Cbor, &tree, &undefined);
            assert_eq!(general(Format::Cbor, &body).is_some(), general_accepts, "{tree:?}");
            assert_eq!(check(Format::Cbor, &body).is_some(), fast_accepts, "{tree:?}");
            assert_agrees(Format::Cbor, &body);
        }
    }

    /// A CBOR map key must be text: the general path's parser fails on any other, and the fast
    /// path declines it, even a byte string that spells a member's name. Any text is a name,
    /// control characters included; a tagged one is left to the general path.
    #[test]
    fn cbor_member_names_are_text() {
        let tagged = |name: &str| Cbor::Tag(0, Box::new(text(name)));
        for (key, general_accepts, fast_accepts) in [
            (Cbor::Integer(1.into()), false, false),
            (Cbor::Float(1.0), false, false),
            (Cbor::Null, false, false),
            (Cbor::Bytes(b"StreamName".to_vec()), false, false),
            (Cbor::Bytes(b"PartitionKey".to_vec()), false, false),
            (Cbor::Bytes(b"x".to_vec()), false, false),
            (tagged("x"), true, false),
            (tagged("StreamName"), true, false),
            (text("a\u{1}\n\u{1f600}"), true, true),
            (text("PartitionKey\u{0}"), true, true),
        ] {
            for tree in with_extra_member(Format::Cbor, (key, text("k"))) {
                let body = Encoding::Cbor.write(&tree);
                assert_eq!(general(Format::Cbor, &body).is_some(), general_accepts, "{tree:?}");
                assert_eq!(check(Format::Cbor, &body).is_some(), fast_accepts, "{tree:?}");
                assert_agrees(Format::Cbor, &body);
            }
        }
    }

    /// Unknown members' values are parsed, not skipped: what the general path's parser rejects
    /// declines, in the body or in an entry.
    #[test]
    fn unknown_values_the_parser_rejects_are_declined() {
        let json: Vec<Vec<u8>> = vec![
            b"1e400".to_vec(),
            "1".repeat(400).into_bytes(),
            br#""\ud800""#.to_vec(),
            br#"{"\udc00":1}"#.to_vec(),
            b"\"\xff\"".to_vec(),
            [b"[".repeat(200), b"]".repeat(200)].concat(),
        ];
        let cbor: Vec<Vec<u8>> = vec![
            // {1: 2}, {h'61': 2}: keys that are not text.
            vec![0xa1, 0x01, 0x02],
            vec![0xa1, 0x41, b'a', 0x02],
            // Text that is not UTF-8.
            vec![0x62, 0xff, 0xfe],
            // Simple value 16, which ciborium does not know.
            vec![0xf0],
            // A negative bignum beyond the i128 range.
            [&[0xc3, 0x50][..], &[0xff; 16]].concat(),
            // A break outside an indefinite-length item; a reserved length.
            vec![0xff],
            vec![0x1c],
            // Nesting past ciborium's limit, of arrays and of tags.
            [vec![0x81; 300], vec![0x00]].concat(),
            [vec![0xc1; 300], vec![0x00]].concat(),
        ];
        for (encoding, values) in [(Encoding::Json, json), (Encoding::Cbor, cbor)] {
            let format = encoding.format();
            for value in values {
                for tree in with_extra_member(format, (text("x"), text(RAW))) {
                    let body = with_raw(encoding, &tree, &value);
                    let shown = String::from_utf8_lossy(&body[..body.len().min(90)]).into_owned();
                    assert!(general(format, &body).is_none(), "{shown}");
                    assert!(check(format, &body).is_none(), "{shown}");
                }
            }
        }
    }

    /// ciborium limits nesting to 256 levels, a tag counting as one: an unknown value at the
    /// edge is accepted by both paths or by neither.
    #[test]
    fn cbor_nesting_is_counted_as_the_general_path_counts_it() {
        for opener in [0x81, 0xc1] {
            let mut outcomes = Vec::new();
            for depth in 248..258 {
                let value = [vec![opener; depth], vec![0x00]].concat();
                for tree in with_extra_member(Format::Cbor, (text("x"), text(RAW))) {
                    let body = with_raw(Encoding::Cbor, &tree, &value);
                    let fast = check(Format::Cbor, &body).is_some();
                    assert_eq!(fast, general(Format::Cbor, &body).is_some(), "{opener:#x} x {depth}");
                    assert_agrees(Format::Cbor, &body);
                    outcomes.push(fast);
                }
            }
            assert!(outcomes.contains(&true) && outcomes.contains(&false), "the edge is in the range");
        }
    }

    /// A value: mostly `valid`, sometimes null or of the wrong type; in CBOR also tagged, a
    /// float or a byte string.
    fn mostly(format: Format, valid: impl Strategy<Value = Cbor> + Clone + 'static) -> BoxedStrategy<Cbor> {
        let mut wrong =
            vec![Cbor::Integer(1.into()), Cbor::Bool(true), Cbor::Array(vec![]), Cbor::Map(vec![])];
        let mut values = vec![(60, valid.clone().boxed()), (1, Just(Cbor::Null).boxed())];
        if format == Format::Cbor {
            wrong.extend([Cbor::Float(1.5), Cbor::Bytes(b"s".to_vec())]);
            values.push((1, valid.prop_map(|v| Cbor::Tag(1, Box::new(v))).boxed()));
        }
        values.push((1, prop::sample::select(wrong).boxed()));
        Union::new_weighted(values).boxed()
    }

    type MemberStrategy = BoxedStrategy<(Cbor, Cbor)>;

    /// A map from its members, in an order of their own: mostly the `usual` members, with up to
    /// two `extra` ones (repeated names included).
    fn shuffled_object(
        usual: Vec<MemberStrategy>,
        extra: Vec<(u32, MemberStrategy)>,
    ) -> impl Strategy<Value = Cbor> {
        let extra =
            prop_oneof![5 => Just(Vec::new()), 1 => prop::collection::vec(Union::new_weighted(extra), 1..3)];
        (usual, extra)
            .prop_flat_map(|(mut members, extra)| {
                members.extend(extra);
                Just(members).prop_shuffle()
            })
            .prop_map(Cbor::Map)
    }

    fn member(name: &'static str, value: BoxedStrategy<Cbor>) -> MemberStrategy {
        value.prop_map(move |v| (text(name), v)).boxed()
    }

    /// The value of a member neither structure has: one the general path accepts, or in CBOR
    /// sometimes one its parser rejects (a map with a key that is not text).
    fn unknown_value(format: Format) -> BoxedStrategy<Cbor> {
        let mut values = vec![object(vec![("a", Cbor::Array(vec![Cbor::Null]))])];
        if format == Format::Cbor {
            values.extend([
                Cbor::Tag(1, Box::new(Cbor::Integer(1.into()))),
                Cbor::Array(vec![Cbor::Bytes(vec![1]), Cbor::Float(f64::NAN)]),
                Cbor::Map(vec![(Cbor::Tag(0, Box::new(text("a"))), Cbor::Null)]),
                Cbor::Map(vec![(Cbor::Integer(1.into()), Cbor::Null)]),
            ]);
        }
        prop::sample::select(values).boxed()
    }

    /// Members whose keys only CBOR can write: not text (the general path rejects them), or
    /// tagged text (which it accepts). The key spells, or tags, `name`, a member that is
    /// otherwise absent, and the value is a valid one for it.
    fn odd_keys(format: Format, name: &'static str, value: Cbor) -> Vec<(u32, MemberStrategy)> {
        if format == Format::Json {
            return Vec::new();
        }
        let keys = vec![
            Cbor::Integer(1.into()),
            Cbor::Bytes(name.as_bytes().to_vec()),
            Cbor::Tag(0, Box::new(text(name))),
        ];
        vec![(1, prop::sample::select(keys).prop_map(move |key| (key, value.clone())).boxed())]
    }

    /// Data past ciborium's 4 KiB scratch buffer, which it hands over in a vector of its own.
    /// (One repeated byte: a strategy per byte would make the test crawl.)
    fn long_data() -> impl Strategy<Value = Vec<u8>> {
        (any::<u8>(), 4090..4100usize).prop_map(|(byte, len)| vec![byte; len])
    }

    fn data(format: Format) -> BoxedStrategy<Cbor> {
        let bytes = || prop::collection::vec(any::<u8>(), 0..12);
        let base64 = bytes().prop_map(|b| blob(Format::Json, &b));
        let not_base64 = Just(text("not base64"));
        match format {
            Format::Json => prop_oneof![40 => base64, 1 => not_base64].boxed(),
            Format::Cbor => prop_oneof![
                40 => bytes().prop_map(Cbor::Bytes),
                1 => long_data().prop_map(Cbor::Bytes),
                1 => base64,
                1 => not_base64,
                // A bignum to ciborium.
                1 => bytes().prop_map(|b| Cbor::Tag(2, Box::new(Cbor::Bytes(b)))),
            ]
            .boxed(),
        }
    }

    fn entry(format: Format) -> impl Strategy<Value = Cbor> {
        let data = || mostly(format, data(format));
        let key = || {
            mostly(
                format,
                prop_oneof![40 => "\\PC{1,6}", 1 => Just(String::new()), 1 => "[a\u{e9}\u{1f600}]{250,260}"]
                    .prop_map(Cbor::Text),
            )
        };
        let hash_key = mostly(
            format,
            prop::sample::select(vec!["0", "12", "012", "", "340282366920938463463374607431768211455"])
                .prop_map(text),
        );
        let mut extra = vec![
            (1, member("ExplicitHashKey", hash_key)),
            (1, member("Other", unknown_value(format))),
            (1, member("Data", data())),
            (1, member("PartitionKey", key())),
        ];
        extra.extend(odd_keys(format, "ExplicitHashKey", text("12")));
        let usual = vec![member("Data", data()), member("PartitionKey", key())];
        mostly(format, shuffled_object(usual, extra).boxed())
    }

    fn request(format: Format) -> impl Strategy<Value = Cbor> {
        let name = || {
            mostly(format, prop_oneof![40 => Just("s"), 1 => Just(""), 1 => Just("bad name")].prop_map(text))
        };
        let records = || {
            let entries =
                prop_oneof![24 => prop::collection::vec(entry(format), 1..5), 1 => Just(Vec::new())];
            member("Records", mostly(format, entries.prop_map(Cbor::Array)))
        };
        let arn = text("arn:aws:kinesis:us-east-1:123456789012:stream/s");
        let mut extra = vec![
            (1, member("StreamARN", mostly(format, Just(arn.clone())))),
            (1, member("StreamName", name())),
            (1, member("DryRun", Just(Cbor::Bool(false)).boxed())),
            (1, member("Other", unknown_value(format))),
            (1, records()),
        ];
        extra.extend(odd_keys(format, "StreamARN", arn));
        mostly(format, shuffled_object(vec![member("StreamName", name()), records()], extra).boxed())
    }

    /// Generated bodies of `encoding`.
    fn bodies(encoding: Encoding) -> impl Strategy<Value = Vec<u8>> {
        request(encoding.format()).prop_map(move |tree| encoding.write(&tree))
    }

    fn encodings() -> impl Strategy<Value = Encoding> {
        prop::sample::select(Encoding::ALL.to_vec())
    }

    /// The equivalence test shows little if the fast path declines most bodies: of 1,024
    /// generated bodies of each encoding, it accepts more than a quarter.
    #[test]
    fn generated_bodies_often_take_the_fast_path() {
        for encoding in Encoding::ALL {
            let format = encoding.format();
            let strategy = bodies(encoding);
            let mut runner = TestRunner::deterministic();
            let (mut fast, mut general_only, mut neither) = (0, 0, 0);
            for _ in 0..1024 {
                let body = strategy.new_tree(&mut runner).unwrap().current();
                match (check(format, &body), general(format, &body)) {
                    (Some(input), general) => {
                        assert_eq!(Some(input), general);
                        fast += 1;
                    }
                    (None, Some(_)) => general_only += 1,
                    (None, None) => neither += 1,
                }
            }
            eprintln!(
                "{encoding:?}, 1024 bodies: the fast path accepted {fast}, the general path alone {general_only}, neither {neither}"
            );
            assert!(fast > 256, "{encoding:?}: {fast}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Whatever the fast path accepts, the general path accepts too, with the same input.
        #[test]
        fn agrees_with_the_general_path((encoding, body) in encodings().prop_flat_map(|e| (Just(e), bodies(e)))) {
            let format = encoding.format();
            let fast = check(format, &body);
            if fast.is_some() {
                prop_assert_eq!(fast, general(format, &body), "{:?} {}", encoding, String::from_utf8_lossy(&body));
            }
        }

        /// Well-formed PutRecords bodies, the hot path, take the fast path.
        #[test]
        fn put_records_bodies_take_the_fast_path(
            encoding in encodings(),
            records in prop::collection::vec(
                ("\\PC{1,20}", prop_oneof![8 => prop::collection::vec(any::<u8>(), 0..40), 1 => long_data()]),
                1..20,
            ),
        ) {
            let format = encoding.format();
            let body = encoding.write(&test_bodies::put_records_tree(format, &records));
            let fast = check(format, &body);
            prop_assert!(fast.is_some());
            prop_assert_eq!(fast, general(format, &body));
        }
    }
}
