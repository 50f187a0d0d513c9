//! The direct path for JSON bodies: parsing (step 6) and the type checks (step 10) in one
//! pass, straight into the typed tree, with no [`Raw`] tree in between. For a PutRecords of
//! 500 small records the intermediate tree was most of the decoding's allocations.
//!
//! It only ever answers for a body the two-step path accepts, and then with the very same
//! tree. Anything the two steps would reject makes it decline (`None`) — and, rarely, a body
//! they accept (see [`MemberName`]) — and the caller takes the two-step path, which words the
//! error and keeps the order in which errors are reported (a syntax error before an
//! authentication error before a type error). Scalars are converted
//! by the same [`Checker::value`] as on the two-step path, so their rules exist once.
//!
//! Blobs are the exception, being the bulk of a PutRecords body: their base64 text is read as
//! raw bytes (a byte that is not base64 fails the decoding, so UTF-8 need not be checked
//! first) and decoded into one buffer per body, each blob a slice of it — one allocation
//! instead of one per record. The strict decoder is the one [`blob::decode`] uses, so they
//! accept the same texts with the same bytes.
//!
//! [`Typed`] also reads CBOR, for the PutRecords fast path (see [`super::records`]). There a
//! blob is a byte string, copied into the buffer as it is, or base64 text, converted by
//! [`Checker::value`] as on the two-step path; member names are text items; and a CBOR tag,
//! which the two-step parser drops, declines.

use std::borrow::Cow;
use std::cell::{Cell, RefCell, RefMut};
use std::fmt;

use base64_simd::Out;
use bytes::{Bytes, BytesMut};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{set_member, Checker, MapEntries};
use crate::model::{self, Kind, Member, ShapeId, Structure};
use crate::raw::{KeyVisitor, Raw};
use crate::value::Key;
use crate::{Format, Operation, Value};

/// `op`'s input from a JSON body, or `None` if the body is not one the type checks accept.
pub(super) fn check_json(op: Operation, body: &[u8]) -> Option<Value> {
    let model = model::get();
    let checker = Checker { model, format: Format::Json };
    let blobs = Blobs::for_body(body);
    let mut parser = serde_json::Deserializer::from_slice(body);
    let typed = Typed { checker: &checker, blobs: &blobs, shape: model.input_id(op) };
    let input = typed.deserialize(&mut parser).ok()?;
    parser.end().ok()?;
    // A top-level `null` is not an object: the two-step path rejects it.
    (!matches!(input, Value::Null)).then_some(input)
}

/// The error that makes the direct path decline; its text is never shown.
pub(super) fn decline<E: de::Error>() -> E {
    E::custom("declined")
}

/// Reads the value of a member the structure does not have, and drops it. It is parsed as the
/// two-step path parses it, not skipped: a skipped value is not checked, and a body the
/// two-step path rejects (invalid UTF-8 or a lone surrogate in a string, a number out of
/// range, nesting too deep) would be accepted.
pub(super) fn skip_unknown<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<Raw>().map(drop)
}

/// The buffer a body's blobs are decoded or copied into, allocated at the first blob.
pub(super) struct Blobs {
    /// Bytes to reserve when the buffer has no room for the next blob.
    reserve: Cell<usize>,
    /// What `reserve` doubles up to after each reservation.
    max_reserve: usize,
    buffer: RefCell<BytesMut>,
}

impl Blobs {
    /// For a JSON body: base64 text decodes to at most 3/4 of its length, so one reservation
    /// holds every blob of the body.
    pub(super) fn for_body(body: &[u8]) -> Blobs {
        let reserve = body.len() / 4 * 3 + 3;
        Blobs { reserve: Cell::new(reserve), max_reserve: reserve, buffer: RefCell::default() }
    }

    /// For a body whose length is not known where its blobs are read (a CBOR body: ciborium
    /// only builds types that bring no state of their own): reserved 1 KiB first, then twice
    /// as much each time up to 64 KiB. Every blob keeps its chunk alive until the append is
    /// durable, so a small body must not hold a big chunk.
    pub(super) fn in_chunks() -> Blobs {
        Blobs { reserve: Cell::new(1024), max_reserve: 64 * 1024, buffer: RefCell::default() }
    }

    /// The buffer, with room for a blob of `len` bytes.
    fn with_room(&self, len: usize) -> RefMut<'_, BytesMut> {
        let mut buffer = self.buffer.borrow_mut();
        if buffer.capacity() < len {
            let reserve = self.reserve.get();
            buffer.reserve(len.max(reserve));
            self.reserve.set((reserve * 2).min(self.max_reserve));
        }
        buffer
    }

    /// Copies a CBOR byte string as the next blob.
    fn copy(&self, bytes: &[u8]) -> Value {
        let mut buffer = self.with_room(bytes.len());
        buffer.extend_from_slice(bytes);
        Value::Blob(buffer.split().freeze())
    }

    /// Decodes base64 `text` (standard, padded, canonical) as the next blob.
    fn decode<E: de::Error>(&self, text: &[u8]) -> Result<Value, E> {
        let decoder = base64_simd::STANDARD;
        let len = decoder.decoded_length(text).map_err(|_| decline())?;
        let mut buffer = self.with_room(len);
        buffer.resize(len, 0);
        if decoder.decode(text, Out::from_slice(&mut buffer[..])).is_err() {
            buffer.clear();
            return Err(decline());
        }
        Ok(Value::Blob(buffer.split().freeze()))
    }
}

/// Deserializes one value of shape `shape`. A `null` anywhere becomes `Value::Null`, which a
/// structure then drops and a list or map keeps, as the type checks do.
#[derive(Clone, Copy)]
pub(super) struct Typed<'c> {
    pub(super) checker: &'c Checker,
    pub(super) blobs: &'c Blobs,
    pub(super) shape: ShapeId,
}

impl Typed<'_> {
    fn kind(&self) -> &'static Kind {
        &self.checker.model.shape(self.shape).kind
    }

    pub(super) fn at(self, shape: ShapeId) -> Self {
        Typed { shape, ..self }
    }

    /// The seed of `structure`'s member names, as this body's format writes them.
    pub(super) fn member_name(self, structure: &'static Structure) -> MemberName {
        MemberName { structure, format: self.checker.format }
    }

    fn scalar<E: de::Error>(self, raw: Raw) -> Result<Value, E> {
        self.checker.value(self.shape, raw).map_err(|_| decline())
    }

    fn structure<'de, A: MapAccess<'de>>(
        self,
        shape: &'static Structure,
        mut map: A,
    ) -> Result<Value, A::Error> {
        let mut out: Vec<(Key, Value)> = Vec::with_capacity(shape.members.len());
        while let Some(member) = map.next_key_seed(self.member_name(shape))? {
            let Some(member) = member else {
                skip_unknown(&mut map)?;
                continue;
            };
            let value = map.next_value_seed(self.at(member.shape))?;
            if !matches!(value, Value::Null) {
                set_member(&mut out, &member.name, value);
            }
        }
        Ok(Value::Map(out))
    }

    fn map<'de, A: MapAccess<'de>>(self, value_shape: ShapeId, mut map: A) -> Result<Value, A::Error> {
        let mut out = MapEntries::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(key) = map.next_key_seed(KeyVisitor::borrowing())? {
            let value = map.next_value_seed(self.at(value_shape))?;
            out.insert(key, value);
        }
        Ok(out.finish())
    }
}

/// A structure's member name: the member, or `None` for a name the structure does not have.
///
/// A JSON name is read as raw bytes, which spares the UTF-8 check of every member name of the
/// body: bytes equal to a member's name are that name. Any other name is skipped, but the
/// two-step parser reads it as text, so it must be UTF-8 without raw control characters. An
/// escaped control character reads the same as a raw one (which is a syntax error), so a
/// skipped name with either declines.
///
/// A CBOR name is a text item, which ciborium has checked is UTF-8, and any text is a name to
/// the two-step parser. A key of another kind, which fails its parse, declines, and so does a
/// tagged name, which it accepts.
pub(super) struct MemberName {
    structure: &'static Structure,
    format: Format,
}

impl MemberName {
    fn member(&self, name: &[u8]) -> Option<&'static Member> {
        self.structure.members.iter().find(|m| m.name.as_bytes() == name)
    }
}

impl<'de> DeserializeSeed<'de> for MemberName {
    type Value = Option<&'static Member>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        match self.format {
            Format::Json => deserializer.deserialize_bytes(self),
            Format::Cbor => deserializer.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for MemberName {
    type Value = Option<&'static Member>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    /// A JSON name. (A CBOR byte string is no name.)
    fn visit_bytes<E: de::Error>(self, name: &[u8]) -> Result<Self::Value, E> {
        if self.format != Format::Json {
            return Err(decline());
        }
        if let Some(member) = self.member(name) {
            return Ok(Some(member));
        }
        if std::str::from_utf8(name).is_ok() && !name.iter().any(|&b| b < 0x20) {
            Ok(None)
        } else {
            Err(decline())
        }
    }

    /// A CBOR name.
    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(self.member(name.as_bytes()))
    }
}

impl<'de> DeserializeSeed<'de> for Typed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match (self.kind(), self.checker.format) {
            // `null`, or a string as raw bytes (see `visit_some`).
            (Kind::Blob, Format::Json) => deserializer.deserialize_option(self),
            // Anything else, CBOR blobs included, as the two-step parser reads it: ciborium's
            // other entry points would skip a CBOR tag, which `deserialize_any` hands to
            // `visit_enum`, not implemented here, so that it declines.
            _ => deserializer.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Typed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a value of shape {}", self.checker.model.shape(self.shape).name)
    }

    // Scalars arrive as the same `Raw` scalars the two-step parser would make of them.
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.scalar(Raw::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.scalar(Raw::Int(i128::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.scalar(Raw::Int(i128::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.scalar(Raw::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.scalar(Raw::Str(Cow::Borrowed(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    /// Only blobs are read as options: what is not `null` must be a string, read as raw bytes
    /// (anything else declines).
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_bytes(self)
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        match (self.kind(), self.checker.format) {
            (Kind::Blob, Format::Json) => self.blobs.decode(v),
            // A CBOR byte string is the blob itself.
            (Kind::Blob, Format::Cbor) => Ok(self.blobs.copy(v)),
            _ => Err(decline()),
        }
    }
    /// ciborium hands over a byte string longer than its 4 KiB scratch buffer (or in chunks)
    /// in a vector of its own, which becomes the blob without a copy, as on the two-step path.
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        match (self.kind(), self.checker.format) {
            (Kind::Blob, Format::Cbor) => Ok(Value::Blob(Bytes::from(v))),
            _ => self.visit_bytes(&v),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let Kind::List { member } = self.kind() else {
            return Err(decline());
        };
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(self.at(*member))? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        match self.kind() {
            Kind::Structure(shape) => self.structure(shape, map),
            Kind::Map { value, .. } => self.map(*value, map),
            _ => Err(decline()),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Value as Json;

    use super::check_json;
    use crate::decode::{check_types, parse_body};
    use crate::{Format, Operation, Value};

    /// What the two-step path makes of a body, when it accepts it.
    fn two_step(op: Operation, body: &[u8]) -> Option<Value> {
        check_types(op, parse_body(Format::Json, body).ok()?).ok()
    }

    fn assert_agrees(op: Operation, body: &[u8]) {
        assert_eq!(check_json(op, body), two_step(op, body), "{op:?} {}", String::from_utf8_lossy(body));
    }

    /// Each blob keeps its chunk alive until its append is durable: a small CBOR body must not
    /// hold a big one.
    #[test]
    fn cbor_blob_chunks_start_small_and_grow_to_64_kib() {
        let blobs = super::Blobs::in_chunks();
        blobs.copy(b"x");
        assert!(blobs.buffer.borrow().capacity() < 1024);
        for _ in 0..200 {
            blobs.copy(&[7; 1000]);
        }
        assert_eq!(blobs.reserve.get(), 64 * 1024);
        assert!(blobs.buffer.borrow().capacity() < 64 * 1024);
    }

    #[test]
    fn a_put_records_body_is_read_in_one_pass() {
        let body = br#"{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k"},
            {"Data":"","PartitionKey":"k\u00e9","ExplicitHashKey":"12"}],"Unknown":[1,{"a":null}]}"#;
        assert!(check_json(Operation::PutRecords, body).is_some());
        assert_agrees(Operation::PutRecords, body);
    }

    #[test]
    fn what_the_checks_reject_is_declined() {
        for body in [
            &br#"{"StreamName":1}"#[..],
            br#"{"Records":[{"Data":"not base64!"}]}"#,
            br#"{"Records":[{"Data":"AA=\u0000"}]}"#,
            b"{\"Records\":[{\"Data\":\"A\xffA=\"}]}",
            br#"{"Records":[{"Data":"\ud800AAA"}]}"#,
            br#"{"Records":[{"Data":[65,65]}]}"#,
            br#"{"Records":[{"Data":7}]}"#,
            br#"{"Records":{"Data":""}}"#,
            br#"{"Records":"x"}"#,
            br#"{"StreamName":"s"} trailing"#,
            br#"{"StreamName":"s""#,
            b"null",
            b"[]",
            b"\"s\"",
        ] {
            assert_eq!(check_json(Operation::PutRecords, body), None, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn repeated_members_and_nulls_are_treated_as_the_checks_treat_them() {
        for (op, body) in [
            (Operation::PutRecord, &br#"{"StreamName":"a","StreamName":"b","Data":null,"Data":"AA=="}"#[..]),
            (Operation::PutRecord, br#"{"StreamName":"a","StreamName":null}"#),
            (Operation::PutRecords, br#"{"Records":[null,{"Data":null}]}"#),
            (Operation::PutRecord, br#"{"Data":"\u0041A==","PartitionKey":"k"}"#),
            (Operation::AddTagsToStream, br#"{"Tags":{"b":"1","a":null,"b":"2","\u0061":"3"}}"#),
            (Operation::ListShards, br#"{"MaxResults":1e20,"StreamCreationTimestamp":1.5}"#),
            (
                Operation::CreateStream,
                br#"{"ShardCount":-3.7,"StreamModeDetails":{"StreamMode":"ON_DEMAND"}}"#,
            ),
        ] {
            assert!(check_json(op, body).is_some(), "{}", String::from_utf8_lossy(body));
            assert_agrees(op, body);
        }
    }

    #[test]
    fn member_names_are_read_as_the_two_steps_read_them() {
        for (op, body) in [
            (
                Operation::PutRecords,
                &br#"{"\u0053treamName":"s","Records":[{"Data":"","Partition\u004bey":"k"}]}"#[..],
            ),
            (
                Operation::PutRecords,
                br#"{"StreamName":"s","\u00e9":1,"x\"y":2,"\ud83d\ude00":3,"Recordsx":4}"#,
            ),
            (Operation::PutRecords, "{\"StreamName\":\"s\",\"é\":1}".as_bytes()),
        ] {
            assert!(check_json(op, body).is_some(), "{}", String::from_utf8_lossy(body));
            assert_agrees(op, body);
        }
    }

    #[test]
    fn unknown_member_names_the_two_steps_reject_are_declined() {
        for body in [
            &b"{\"StreamName\":\"s\",\"a\x01\":1}"[..],
            b"{\"StreamName\":\"s\",\"\xff\":1}",
            br#"{"StreamName":"s","\ud800":1}"#,
            br#"{"StreamName":"s","\udc00x":1}"#,
        ] {
            assert_eq!(check_json(Operation::PutRecords, body), None, "{}", String::from_utf8_lossy(body));
            assert_eq!(two_step(Operation::PutRecords, body), None, "{}", String::from_utf8_lossy(body));
        }
    }

    /// An escaped control character in an unknown name cannot be told from a raw one: the
    /// direct path declines, and the body takes the two-step path, which accepts it.
    #[test]
    fn unknown_member_names_with_escaped_control_characters_take_the_two_step_path() {
        let body = br#"{"StreamName":"s","a\u0001":1,"\n":2}"#;
        assert_eq!(check_json(Operation::PutRecords, body), None);
        let parsed = crate::decode::parse(Some(Operation::PutRecords), Format::Json, body).unwrap();
        assert_eq!(
            parsed.check_types(Operation::PutRecords).ok().map(crate::Input::into_tree),
            two_step(Operation::PutRecords, body)
        );
        assert!(two_step(Operation::PutRecords, body).is_some());
    }

    /// JSON values built from the model's member names and values of every kind.
    fn json_value() -> impl Strategy<Value = Json> {
        let name = prop::sample::select(vec![
            "StreamName",
            "StreamARN",
            "Records",
            "Data",
            "PartitionKey",
            "ExplicitHashKey",
            "Tags",
            "ShardCount",
            "StreamModeDetails",
            "StreamMode",
            "MaxResults",
            "Timestamp",
            "Limit",
            "StreamCreationTimestamp",
            "ShardFilter",
            "Type",
            "TagKeys",
            "x",
            "",
        ]);
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::from),
            any::<i64>().prop_map(Json::from),
            any::<u64>().prop_map(Json::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Json::from),
            prop::sample::select(vec!["", "aGVsbG8=", "AA==", "A", "s-1", "ON_DEMAND", "12", "é\"\\"])
                .prop_map(Json::from),
            "\\PC{0,8}".prop_map(Json::from),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
                prop::collection::vec((name.clone(), inner), 0..6).prop_map(|members| Json::Object(
                    members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }

    proptest! {
        /// The direct path accepts exactly the bodies the two steps accept, with the same tree.
        #[test]
        fn agrees_with_the_two_step_path(
            op in prop::sample::select(Operation::ALL.to_vec()),
            body in json_value(),
        ) {
            let text = serde_json::to_vec(&body).unwrap();
            prop_assert_eq!(check_json(op, &text), two_step(op, &text));
        }

        /// Well-formed PutRecords bodies, the hot path, take the direct path.
        #[test]
        fn put_records_bodies_take_the_direct_path(
            records in prop::collection::vec(("\\PC{1,20}", prop::collection::vec(any::<u8>(), 0..40)), 1..20),
        ) {
            let text = crate::decode::test_bodies::put_records(&records);
            let direct = check_json(Operation::PutRecords, &text);
            prop_assert!(direct.is_some());
            prop_assert_eq!(direct, two_step(Operation::PutRecords, &text));
        }
    }
}
