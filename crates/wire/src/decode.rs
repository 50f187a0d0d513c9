//! Request bodies: parsing (step 6 of `docs/protocol/front-door.md`, "Request pipeline") and
//! member type checks against the operation's input shape (step 10, messages of "Member type
//! errors" in the same file).

mod blob;
mod direct;
mod records;

use std::borrow::Cow;
use std::collections::HashMap;

use bytes::Bytes;

use crate::model::{self, Kind, Model, ShapeId, Structure};
use crate::raw::{KnownNames, OwnedRaw, Raw};
use crate::value::Key;
use crate::{ApiError, Format, Input, Operation, Value};

/// A parsed but not yet type-checked body: the members of the top-level object or map, in
/// document order. JSON text may borrow from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct RawBody<'a> {
    format: Format,
    members: Vec<(Cow<'a, str>, Raw<'a>)>,
}

/// Step 6: the (non-empty) body must parse as one JSON value or CBOR data item that is an
/// object or map; anything else is a bare `SerializationException`.
///
/// Trailing bytes after a complete CBOR item are ignored, as Jackson's CBOR reader does by
/// default; JSON allows trailing whitespace only.
pub fn parse_body(format: Format, body: &[u8]) -> Result<RawBody<'_>, ApiError> {
    let parsed = match format {
        Format::Json => serde_json::from_slice::<Raw>(body).ok(),
        Format::Cbor => {
            ciborium::de::from_reader::<OwnedRaw<MemberNames>, _>(body).ok().map(|OwnedRaw(raw, _)| raw)
        }
    };
    match parsed {
        Some(Raw::Map(members)) => Ok(RawBody { format, members }),
        _ => Err(ApiError::bare("SerializationException")),
    }
}

/// The API model's member names: nearly every key of a CBOR body, shared rather than copied.
/// (The model itself is read as JSON, borrowing its text, so this never runs while it loads.)
enum MemberNames {}

impl KnownNames for MemberNames {
    fn get(key: &str) -> Option<&'static str> {
        model::get().member_name(key)
    }
}

/// A body that parsed: already type-checked (the direct and the PutRecords fast paths), or
/// waiting for step 10.
#[derive(Debug)]
pub enum Parsed<'a> {
    Checked(Input),
    Raw(RawBody<'a>),
}

/// Step 6 for the request of `op` (`None`: an unknown operation). A PutRecords body, JSON or CBOR,
/// is type-checked and validated in the same pass when it passes both (see `decode/records.rs`), a
/// JSON body of another known operation type-checked when it passes the checks (see
/// `decode/direct.rs`); otherwise this is [`parse_body`], and [`Parsed::check_types`] does step 10
/// later.
pub fn parse(op: Option<Operation>, format: Format, body: &[u8]) -> Result<Parsed<'_>, ApiError> {
    if op == Some(Operation::PutRecords) {
        if let Some(input) = records::check(format, body) {
            return Ok(Parsed::Checked(Input::PutRecords(input)));
        }
    }
    if let (Some(op), Format::Json) = (op, format) {
        if let Some(input) = direct::check_json(op, body) {
            return Ok(Parsed::Checked(Input::Tree(input)));
        }
    }
    parse_body(format, body).map(Parsed::Raw)
}

impl Parsed<'_> {
    /// Step 10 for `op`, the operation the body was parsed for: the typed input.
    pub fn check_types(self, op: Operation) -> Result<Input, ApiError> {
        match self {
            Parsed::Checked(input) => Ok(input),
            Parsed::Raw(raw) => check_types(op, raw).map(Input::Tree),
        }
    }
}

/// Step 10: checks each member against its model type and returns the typed tree.
///
/// - Structures and maps become `Value::Map` (document order), lists `Value::List`.
/// - Null and undeclared structure members are dropped; null list elements and map values are
///   kept as `Value::Null` for [`validate`](crate::validate::validate) to report.
/// - Integers and longs become `Value::Int`: fractions floored, then clamped to the i32 range
///   (integers, as the service clamps) or the i64 range (longs).
/// - Blobs become `Value::Blob`: JSON base64 text with the service's checks, CBOR byte
///   strings (or base64 text).
/// - Timestamps become `Value::Timestamp` in epoch milliseconds: JSON numbers are seconds,
///   CBOR integers milliseconds (tagged 1 or not) and CBOR floats seconds.
///
/// The first mismatch in document order is reported, as a streaming parser would meet it, as
/// a `SerializationException` with a capitalised `Message`.
pub fn check_types(op: Operation, raw: RawBody) -> Result<Value, ApiError> {
    let model = model::get();
    Checker { model, format: raw.format }.structure(model.input(op), raw.members)
}

const LIST_NOT_EXPECTED: &str = "Start of list found where not expected";
const STRUCTURE_NOT_EXPECTED: &str = "Start of structure or map found where not expected.";

fn type_error(message: impl Into<String>) -> ApiError {
    ApiError { code: "SerializationException", message: Some(message.into()), capitalized_message: true }
}

/// The message for a scalar of the wrong kind, e.g. `class java.lang.Boolean can not be
/// converted to an String`. `target` carries its article: the service writes "an" before
/// every type name but Blob.
fn mismatch(found: &Raw, target: &str) -> ApiError {
    let class = match found {
        Raw::List(_) => return type_error(LIST_NOT_EXPECTED),
        Raw::Map(_) => return type_error(STRUCTURE_NOT_EXPECTED),
        Raw::Bool(_) => "java.lang.Boolean",
        Raw::Int(_) | Raw::Float(_) => "com.amazon.coral.value.json.numbers.TruncatingBigNumber",
        Raw::Str(_) => "java.lang.String",
        // CBOR byte strings have no observed message; this is the Java class of a byte array.
        Raw::Bytes(_) => "[B",
        // Nulls are accepted before any type dispatch and never get here.
        Raw::Null => "null",
    };
    type_error(format!("class {class} can not be converted to {target}"))
}

struct Checker {
    model: &'static Model,
    format: Format,
}

impl Checker {
    /// Members take their names from the model, so the typed tree does not copy them.
    fn structure(&self, shape: &'static Structure, entries: Vec<(Cow<str>, Raw)>) -> Result<Value, ApiError> {
        let mut out: Vec<(Key, Value)> = Vec::with_capacity(entries.len().min(shape.members.len()));
        for (name, raw) in entries {
            if raw == Raw::Null {
                continue;
            }
            let Some(member) = shape.members.iter().find(|m| m.name == name) else {
                continue;
            };
            set_member(&mut out, &member.name, self.value(member.shape, raw)?);
        }
        Ok(Value::Map(out))
    }

    /// Checks one value. Nulls (list elements, map values) are kept as `Value::Null` for
    /// validation to report.
    fn value(&self, id: ShapeId, raw: Raw) -> Result<Value, ApiError> {
        if raw == Raw::Null {
            return Ok(Value::Null);
        }
        match &self.model.shape(id).kind {
            Kind::String => match raw {
                Raw::Str(s) => Ok(Value::Str(s.into_owned())),
                other => Err(mismatch(&other, "an String")),
            },
            Kind::Integer => {
                // Out-of-range integers are clamped (`docs/protocol/front-door.md`, "Member type
                // errors", shows 100000000000 read as 2147483647); the lower end is clamped alike
                // so the value fits an i32.
                let n = integer(raw, "an Integer")?;
                Ok(Value::Int(n.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i64))
            }
            Kind::Long => {
                let n = integer(raw, "an Long")?;
                Ok(Value::Int(n.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64))
            }
            Kind::Boolean => boolean(raw),
            Kind::Blob => match raw {
                Raw::Str(text) => {
                    blob::decode(&text).map(|b| Value::Blob(Bytes::from(b))).map_err(type_error)
                }
                Raw::Bytes(b) => Ok(Value::Blob(Bytes::from(b))),
                other => Err(mismatch(&other, "a Blob")),
            },
            Kind::Timestamp => self.timestamp(raw),
            Kind::List { member } => match raw {
                Raw::List(items) => items
                    .into_iter()
                    .map(|item| self.value(*member, item))
                    .collect::<Result<_, _>>()
                    .map(Value::List),
                Raw::Map(_) => Err(type_error(STRUCTURE_NOT_EXPECTED)),
                _ => Err(type_error("Expected list or null")),
            },
            Kind::Map { value, .. } => match raw {
                Raw::Map(entries) => self.map(*value, entries),
                Raw::List(_) => Err(type_error(LIST_NOT_EXPECTED)),
                _ => Err(type_error("Expected map or null")),
            },
            Kind::Structure(shape) => match raw {
                Raw::Map(entries) => self.structure(shape, entries),
                Raw::List(_) => Err(type_error(LIST_NOT_EXPECTED)),
                _ => Err(type_error("Expected null")),
            },
        }
    }

    /// A map: a repeated key keeps its first position and takes the last value, like a Java
    /// `LinkedHashMap`.
    fn map(&self, value_shape: ShapeId, entries: Vec<(Cow<str>, Raw)>) -> Result<Value, ApiError> {
        let mut out = MapEntries::with_capacity(entries.len());
        for (key, raw) in entries {
            out.insert(key, self.value(value_shape, raw)?);
        }
        Ok(out.finish())
    }

    /// JSON carries epoch seconds (possibly fractional); the Java SDK's CBOR carries integer
    /// epoch milliseconds (tag 1, already dropped by the parser). A CBOR float is read as
    /// seconds, the RFC 8949 meaning.
    fn timestamp(&self, raw: Raw) -> Result<Value, ApiError> {
        match raw {
            Raw::Int(n) => {
                let millis = match self.format {
                    Format::Json => n.saturating_mul(1000),
                    Format::Cbor => n,
                };
                Ok(Value::Timestamp(millis.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64))
            }
            Raw::Float(seconds) => Ok(Value::Timestamp(seconds_to_millis(seconds))),
            other => Err(mismatch(&other, "milliseconds since epoch")),
        }
    }
}

/// Sets a structure member's value. A repeated member: the last one wins, as it would in a
/// Java map. The name is the model's, so the tree does not copy it.
fn set_member(members: &mut Vec<(Key, Value)>, name: &'static str, value: Value) {
    match members.iter_mut().find(|(k, _)| *k == name) {
        Some(slot) => slot.1 = value,
        None => members.push((Cow::Borrowed(name), value)),
    }
}

/// A map's entries as they are read: a repeated key keeps its first position and takes the
/// last value, like a Java `LinkedHashMap`.
struct MapEntries {
    entries: Vec<(Key, Value)>,
    positions: HashMap<String, usize>,
}

impl MapEntries {
    fn with_capacity(capacity: usize) -> MapEntries {
        MapEntries { entries: Vec::with_capacity(capacity), positions: HashMap::with_capacity(capacity) }
    }

    fn insert(&mut self, key: Cow<str>, value: Value) {
        match self.positions.get(key.as_ref()) {
            Some(&i) => self.entries[i].1 = value,
            None => {
                let key = key.into_owned();
                self.positions.insert(key.clone(), self.entries.len());
                self.entries.push((Cow::Owned(key), value));
            }
        }
    }

    fn finish(self) -> Value {
        Value::Map(self.entries)
    }
}

/// Integers and longs accept any number; fractions are floored.
fn integer(raw: Raw, target: &str) -> Result<i128, ApiError> {
    match raw {
        Raw::Int(n) => Ok(n),
        // `as` saturates (and maps NaN, which only CBOR can carry, to 0).
        Raw::Float(f) => Ok(f.floor() as i128),
        other => Err(mismatch(&other, target)),
    }
}

fn boolean(raw: Raw) -> Result<Value, ApiError> {
    match raw {
        Raw::Bool(b) => Ok(Value::Bool(b)),
        // Recorded: floats are accepted for booleans (`docs/protocol/front-door.md`, "Member type
        // errors"). How they convert is not; non-zero is taken as true.
        Raw::Float(f) => Ok(Value::Bool(f != 0.0)),
        Raw::Str(s) => Err(type_error(format!("'{s}' can not be converted to an Boolean"))),
        other => Err(mismatch(&other, "an Boolean")),
    }
}

/// Decimal seconds (millisecond precision in practice) to epoch milliseconds. The binary
/// product is off by a hair (`1704164645.678 * 1000` is `1704164645677.9998`), so a result
/// within float noise of a whole millisecond is snapped to it; genuine sub-millisecond
/// fractions are truncated (floored).
fn seconds_to_millis(seconds: f64) -> i64 {
    let millis = seconds * 1000.0;
    let nearest = millis.round();
    let millis = if (millis - nearest).abs() < 1e-3 { nearest } else { millis.floor() };
    // `as` saturates out-of-range values and maps NaN to 0.
    millis as i64
}

/// Test bodies shared by the direct and the PutRecords fast path's tests, built as ciborium
/// trees (which keep member order and repeated names) and written as JSON or CBOR.
#[cfg(test)]
pub(crate) mod test_bodies {
    use base64::Engine;
    use ciborium::Value as Cbor;

    use crate::Format;

    /// How a body is written.
    #[derive(Debug, Clone, Copy)]
    pub enum Encoding {
        Json,
        /// CBOR with definite lengths, as ciborium writes it.
        Cbor,
        /// CBOR with indefinite lengths, as Jackson's generator (the Java SDK's) writes maps and
        /// arrays; byte and text strings too, in two chunks.
        IndefiniteCbor,
    }

    impl Encoding {
        pub const ALL: [Encoding; 3] = [Encoding::Json, Encoding::Cbor, Encoding::IndefiniteCbor];

        pub fn format(self) -> Format {
            match self {
                Encoding::Json => Format::Json,
                Encoding::Cbor | Encoding::IndefiniteCbor => Format::Cbor,
            }
        }

        /// `tree` as a body. Trees for JSON hold no byte strings or tags.
        pub fn write(self, tree: &Cbor) -> Vec<u8> {
            let mut out = Vec::new();
            match self {
                Encoding::Json => serde_json::to_writer(&mut out, tree).unwrap(),
                Encoding::Cbor => ciborium::ser::into_writer(tree, &mut out).unwrap(),
                Encoding::IndefiniteCbor => write_indefinite(tree, &mut out),
            }
            out
        }
    }

    fn write_indefinite(item: &Cbor, out: &mut Vec<u8>) {
        let definite = |item: &Cbor, out: &mut Vec<u8>| ciborium::ser::into_writer(item, out).unwrap();
        match item {
            Cbor::Map(entries) => {
                out.push(0xbf);
                for (key, value) in entries {
                    write_indefinite(key, out);
                    write_indefinite(value, out);
                }
                out.push(0xff);
            }
            Cbor::Array(items) => {
                out.push(0x9f);
                items.iter().for_each(|item| write_indefinite(item, out));
                out.push(0xff);
            }
            Cbor::Bytes(bytes) => {
                out.push(0x5f);
                let (first, second) = bytes.split_at(bytes.len() / 2);
                definite(&Cbor::Bytes(first.to_vec()), out);
                definite(&Cbor::Bytes(second.to_vec()), out);
                out.push(0xff);
            }
            Cbor::Text(text) => {
                out.push(0x7f);
                let middle = text.char_indices().nth(text.chars().count() / 2).map_or(text.len(), |(i, _)| i);
                definite(&Cbor::Text(text[..middle].to_owned()), out);
                definite(&Cbor::Text(text[middle..].to_owned()), out);
                out.push(0xff);
            }
            scalar_or_tag => definite(scalar_or_tag, out),
        }
    }

    pub fn text(text: &str) -> Cbor {
        Cbor::Text(text.to_owned())
    }

    /// A map of the named members, in their order.
    pub fn object(members: Vec<(&str, Cbor)>) -> Cbor {
        Cbor::Map(members.into_iter().map(|(name, value)| (text(name), value)).collect())
    }

    /// A blob as `format` carries it: base64 text in JSON, a byte string in CBOR.
    pub fn blob(format: Format, data: &[u8]) -> Cbor {
        match format {
            Format::Json => text(&base64::engine::general_purpose::STANDARD.encode(data)),
            Format::Cbor => Cbor::Bytes(data.to_vec()),
        }
    }

    /// A well-formed PutRecords body of `records` (partition key, data).
    pub fn put_records_tree(format: Format, records: &[(String, Vec<u8>)]) -> Cbor {
        let records = records
            .iter()
            .map(|(key, data)| object(vec![("PartitionKey", text(key)), ("Data", blob(format, data))]))
            .collect();
        object(vec![("StreamName", text("s")), ("Records", Cbor::Array(records))])
    }

    /// A well-formed PutRecords JSON body of `records` (partition key, data).
    pub fn put_records(records: &[(String, Vec<u8>)]) -> Vec<u8> {
        Encoding::Json.write(&put_records_tree(Format::Json, records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_to_millis_keeps_the_sent_milliseconds() {
        assert_eq!(seconds_to_millis(1704164645.678), 1704164645678);
        assert_eq!(seconds_to_millis(1.441215410867E9), 1441215410867);
        assert_eq!(seconds_to_millis(1671562498.449), 1671562498449);
        assert_eq!(seconds_to_millis(0.0015), 1);
        assert_eq!(seconds_to_millis(-0.001), -1);
        assert_eq!(seconds_to_millis(f64::NAN), 0);
        assert_eq!(seconds_to_millis(1e300), i64::MAX);
    }
}
