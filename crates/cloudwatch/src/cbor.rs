//! The Smithy RPC v2 CBOR request decoder (RFC 8949): a body becomes a [`Document`].
//!
//! It accepts everything a conforming client may send (`docs/cloudwatch.md`, "Protocols"):
//! definite and indefinite lengths, every integer and float width, half floats, and tag 1
//! (epoch seconds) for timestamps. Map keys must be text, as they name structure members.
//! Nesting is bounded and no length is trusted beyond the bytes that remain, so no input can
//! make it recurse deeply or allocate more than the body's size.

use crate::document::Document;

/// Deeper nesting than any CloudWatch input needs (MetricData > datum > Dimensions > dimension
/// is four levels).
const MAX_DEPTH: usize = 32;

/// Why a body is not CBOR a structure can be read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CborError {
    pub offset: usize,
    pub reason: &'static str,
}

impl std::fmt::Display for CborError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed CBOR at byte {}: {}", self.offset, self.reason)
    }
}

/// Decodes one CBOR data item that spans the whole of `bytes`. An empty body is an empty
/// structure, as the protocol allows for inputs without members.
pub fn decode(bytes: &[u8]) -> Result<Document, CborError> {
    if bytes.is_empty() {
        return Ok(Document::Map(Vec::new()));
    }
    let mut reader = Reader { bytes, at: 0 };
    let document = reader.item(0)?;
    if reader.at != bytes.len() {
        return Err(reader.error("bytes after the end of the data item"));
    }
    Ok(document)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// The argument of an initial byte: a number, or the indefinite-length marker.
enum Argument {
    Value(u64),
    Indefinite,
}

const BREAK: u8 = 0xff;

impl Reader<'_> {
    fn error(&self, reason: &'static str) -> CborError {
        CborError { offset: self.at, reason }
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        let byte = *self.bytes.get(self.at).ok_or_else(|| self.error("unexpected end"))?;
        self.at += 1;
        Ok(byte)
    }

    fn take(&mut self, count: u64) -> Result<&[u8], CborError> {
        let remaining = self.bytes.len() - self.at;
        if count > remaining as u64 {
            return Err(self.error("a length runs past the end"));
        }
        let start = self.at;
        self.at += count as usize;
        Ok(&self.bytes[start..self.at])
    }

    fn uint(&mut self, width: u64) -> Result<u64, CborError> {
        Ok(self.take(width)?.iter().fold(0u64, |value, byte| (value << 8) | u64::from(*byte)))
    }

    fn argument(&mut self, info: u8) -> Result<Argument, CborError> {
        Ok(Argument::Value(match info {
            0..=23 => u64::from(info),
            24 => self.uint(1)?,
            25 => self.uint(2)?,
            26 => self.uint(4)?,
            27 => self.uint(8)?,
            31 => return Ok(Argument::Indefinite),
            _ => return Err(self.error("reserved additional information")),
        }))
    }

    fn at_break(&mut self) -> Result<bool, CborError> {
        if *self.bytes.get(self.at).ok_or_else(|| self.error("unexpected end"))? == BREAK {
            self.at += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// A count of nested items, each at least one byte, so at most what remains.
    fn count(&self, declared: u64) -> Result<usize, CborError> {
        if declared > (self.bytes.len() - self.at) as u64 {
            return Err(self.error("more items declared than bytes remain"));
        }
        Ok(declared as usize)
    }

    fn item(&mut self, depth: usize) -> Result<Document, CborError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let initial = self.byte()?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        match major {
            0 => match self.argument(info)? {
                Argument::Value(value) => Ok(Document::Integer(i128::from(value))),
                Argument::Indefinite => Err(self.error("indefinite-length integer")),
            },
            1 => match self.argument(info)? {
                Argument::Value(value) => Ok(Document::Integer(-1 - i128::from(value))),
                Argument::Indefinite => Err(self.error("indefinite-length integer")),
            },
            2 => Ok(Document::Bytes(self.string_bytes(2, info)?)),
            3 => {
                let bytes = self.string_bytes(3, info)?;
                String::from_utf8(bytes)
                    .map(Document::Text)
                    .map_err(|_| self.error("text string is not UTF-8"))
            }
            4 => self.list(info, depth),
            5 => self.map(info, depth),
            6 => self.tagged(info, depth),
            _ => self.simple(info),
        }
    }

    /// A byte or text string, definite or made of definite chunks of the same major type.
    fn string_bytes(&mut self, major: u8, info: u8) -> Result<Vec<u8>, CborError> {
        match self.argument(info)? {
            Argument::Value(length) => Ok(self.take(length)?.to_vec()),
            Argument::Indefinite => {
                let mut bytes = Vec::new();
                while !self.at_break()? {
                    let initial = self.byte()?;
                    if initial >> 5 != major {
                        return Err(self.error("string chunk of another type"));
                    }
                    match self.argument(initial & 0x1f)? {
                        Argument::Value(length) => bytes.extend_from_slice(self.take(length)?),
                        Argument::Indefinite => return Err(self.error("nested indefinite string")),
                    }
                }
                Ok(bytes)
            }
        }
    }

    fn list(&mut self, info: u8, depth: usize) -> Result<Document, CborError> {
        let mut items = Vec::new();
        match self.argument(info)? {
            Argument::Value(declared) => {
                let count = self.count(declared)?;
                items.reserve(count);
                for _ in 0..count {
                    items.push(self.item(depth + 1)?);
                }
            }
            Argument::Indefinite => {
                while !self.at_break()? {
                    items.push(self.item(depth + 1)?);
                }
            }
        }
        Ok(Document::List(items))
    }

    fn map(&mut self, info: u8, depth: usize) -> Result<Document, CborError> {
        let mut members = Vec::new();
        match self.argument(info)? {
            Argument::Value(declared) => {
                let count = self.count(declared)?;
                members.reserve(count / 2);
                for _ in 0..count {
                    members.push(self.member(depth)?);
                }
            }
            Argument::Indefinite => {
                while !self.at_break()? {
                    members.push(self.member(depth)?);
                }
            }
        }
        Ok(Document::Map(members))
    }

    fn member(&mut self, depth: usize) -> Result<(String, Document), CborError> {
        let key = match self.item(depth + 1)? {
            Document::Text(key) => key,
            _ => return Err(self.error("map key is not a text string")),
        };
        Ok((key, self.item(depth + 1)?))
    }

    /// Tag 1 is an epoch time; other tags carry no meaning in this protocol and their content
    /// is read as if untagged.
    fn tagged(&mut self, info: u8, depth: usize) -> Result<Document, CborError> {
        let tag = match self.argument(info)? {
            Argument::Value(tag) => tag,
            Argument::Indefinite => return Err(self.error("indefinite-length tag")),
        };
        let content = self.item(depth + 1)?;
        if tag != 1 {
            return Ok(content);
        }
        match content {
            Document::Integer(seconds) => Ok(Document::Timestamp(seconds as f64)),
            Document::Float(seconds) => Ok(Document::Timestamp(seconds)),
            _ => Err(self.error("tag 1 on something other than a number")),
        }
    }

    fn simple(&mut self, info: u8) -> Result<Document, CborError> {
        match info {
            20 => Ok(Document::Bool(false)),
            21 => Ok(Document::Bool(true)),
            22 | 23 => Ok(Document::Null),
            25 => Ok(Document::Float(half_to_f64(self.uint(2)? as u16))),
            26 => Ok(Document::Float(f64::from(f32::from_bits(self.uint(4)? as u32)))),
            27 => Ok(Document::Float(f64::from_bits(self.uint(8)?))),
            31 => Err(self.error("break outside an indefinite-length item")),
            _ => Err(self.error("unassigned simple value")),
        }
    }
}

/// IEEE 754 half precision (RFC 8949, appendix D).
fn half_to_f64(half: u16) -> f64 {
    let exponent = (half >> 10) & 0x1f;
    let mantissa = f64::from(half & 0x3ff);
    let magnitude = match exponent {
        0 => mantissa * 2f64.powi(-24),
        31 if mantissa == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (mantissa + 1024.0) * 2f64.powi(i32::from(exponent) - 25),
    };
    if half & 0x8000 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ciborium::value::Value;
    use proptest::prelude::*;

    fn encoded(value: &Value) -> Vec<u8> {
        let mut bytes = Vec::new();
        ciborium::ser::into_writer(value, &mut bytes).unwrap();
        bytes
    }

    /// What the decoder should make of a ciborium value.
    fn expected(value: &Value) -> Document {
        match value {
            Value::Integer(integer) => Document::Integer(i128::from(*integer)),
            Value::Float(float) => Document::Float(*float),
            Value::Text(text) => Document::Text(text.clone()),
            Value::Bytes(bytes) => Document::Bytes(bytes.clone()),
            Value::Bool(flag) => Document::Bool(*flag),
            Value::Null => Document::Null,
            Value::Tag(1, inner) => match inner.as_ref() {
                Value::Integer(integer) => Document::Timestamp(i128::from(*integer) as f64),
                Value::Float(float) => Document::Timestamp(*float),
                _ => unreachable!("the strategy tags numbers only"),
            },
            Value::Array(items) => Document::List(items.iter().map(expected).collect()),
            Value::Map(members) => Document::Map(
                members
                    .iter()
                    .map(|(key, value)| (key.as_text().unwrap().to_string(), expected(value)))
                    .collect(),
            ),
            other => unreachable!("not generated: {other:?}"),
        }
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(|n| Value::Integer(n.into())),
            any::<u64>().prop_map(|n| Value::Integer(n.into())),
            any::<f64>().prop_filter("NaN is not equal to itself", |f| !f.is_nan()).prop_map(Value::Float),
            any::<f32>().prop_filter("NaN", |f| !f.is_nan()).prop_map(|f| Value::Float(f64::from(f))),
            ".{0,40}".prop_map(Value::Text),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
            any::<i32>().prop_map(|n| Value::Tag(1, Box::new(Value::Integer(n.into())))),
            (0f64..4e9).prop_map(|f| Value::Tag(1, Box::new(Value::Float(f)))),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::vec(("[A-Za-z]{1,12}", inner), 0..8).prop_map(|members| {
                    Value::Map(members.into_iter().map(|(k, v)| (Value::Text(k), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn decodes_what_ciborium_encodes(value in value()) {
            prop_assert_eq!(decode(&encoded(&value)).unwrap(), expected(&value));
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn every_truncation_is_an_error(value in value()) {
            let bytes = encoded(&value);
            for end in 1..bytes.len() {
                prop_assert!(decode(&bytes[..end]).is_err());
            }
        }
    }

    #[test]
    fn reads_indefinite_lengths_and_half_floats() {
        // {_ "a": [_ 1, 1.5 (half)], "b": (_ "x", "y") }
        let bytes = [
            0xbf, 0x61, b'a', 0x9f, 0x01, 0xf9, 0x3e, 0x00, 0xff, 0x61, b'b', 0x7f, 0x61, b'x', 0x61, b'y',
            0xff, 0xff,
        ];
        let document = decode(&bytes).unwrap();
        assert_eq!(
            document,
            Document::Map(vec![
                ("a".into(), Document::List(vec![Document::Integer(1), Document::Float(1.5)])),
                ("b".into(), Document::Text("xy".into())),
            ])
        );
    }

    #[test]
    fn rejects_what_is_not_one_well_formed_item() {
        for bytes in [
            &[0x9f, 0x01][..],                                       // unterminated list
            &[0x01, 0x02],                                           // trailing bytes
            &[0xa1, 0x01, 0x02],                                     // integer key
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // huge declared length
            &[0x7f, 0x41, 0x00, 0xff],                               // byte chunk in a text string
            &[0xc1, 0x61, b'x'],                                     // tag 1 on text
            &[0xff],                                                 // stray break
        ] {
            assert!(decode(bytes).is_err(), "{bytes:02x?}");
        }
        let deep = [vec![0x81; 100], vec![0x01]].concat();
        assert_eq!(decode(&deep).unwrap_err().reason, "nested too deeply");
    }

    #[test]
    fn an_empty_body_is_an_empty_structure() {
        assert_eq!(decode(&[]).unwrap(), Document::Map(Vec::new()));
    }
}
