//! Attribute values and items to and from DynamoDB's JSON, with DynamoDB's checks and messages
//! for malformed values (`docs/dynamodb.md`, "Errors"), and the item size DynamoDB's 400 KB
//! limit counts.

use std::collections::HashSet;

use base64::Engine;
use serde_json::{Map, Value};

use crate::error::{DynamoError, Result};
use crate::shape;
use crate::{AttributeValue, Item, Number};

/// The largest item DynamoDB stores: 400 KB.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

const INVALID: &str = "One or more parameter values were invalid: ";

/// The types an AttributeValue may name, in the order DynamoDB checks them.
const TYPES: [&str; 10] = ["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"];

/// Decodes one AttributeValue (`{"S": "x"}`).
pub fn decode_value(value: &Value) -> Result<AttributeValue> {
    let fields = shape::structure(value)?;
    // Type errors of the members come first, as DynamoDB's deserializer finds them.
    let present: Vec<(&str, &Value)> =
        TYPES.iter().filter_map(|&t| fields.0.get(t).filter(|v| !v.is_null()).map(|v| (t, v))).collect();
    let mut decoded = Vec::with_capacity(present.len());
    for &(type_name, member) in &present {
        decoded.push(decode_member(type_name, member)?);
    }
    match decoded.len() {
        0 => Err(DynamoError::validation(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        )),
        1 => Ok(decoded.remove(0)),
        _ => Err(DynamoError::validation(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
        )),
    }
}

fn number(text: &str) -> Result<Number> {
    Number::parse(text).map_err(|e| DynamoError::validation(e.to_string()))
}

fn decode_member(type_name: &str, member: &Value) -> Result<AttributeValue> {
    Ok(match type_name {
        "S" => AttributeValue::S(shape::string(member)?.to_owned()),
        "N" => AttributeValue::N(number(shape::string(member)?)?),
        "B" => AttributeValue::B(shape::blob(member)?),
        "SS" => {
            let items = set_members(member, shape::string)?;
            if first_duplicate(items.iter().copied()).is_some() {
                return Err(DynamoError::validation(format!(
                    "{INVALID}Input collection [{}] contains duplicates.",
                    items.join(", ")
                )));
            }
            AttributeValue::Ss(items.into_iter().map(str::to_owned).collect())
        }
        "NS" => {
            let texts = set_members(member, shape::string)?;
            let numbers = texts.iter().map(|t| number(t)).collect::<Result<Vec<_>>>()?;
            if first_duplicate(numbers.iter()).is_some() {
                return Err(DynamoError::validation("Input collection contains duplicates"));
            }
            AttributeValue::Ns(numbers)
        }
        "BS" => {
            let blobs = set_members(member, shape::blob)?;
            if first_duplicate(blobs.iter()).is_some() {
                let shown: Vec<String> =
                    blobs.iter().map(|b| base64::engine::general_purpose::STANDARD.encode(b)).collect();
                return Err(DynamoError::validation(format!(
                    "{INVALID}Input collection [{}]of type BS contains duplicates.",
                    shown.join(", ")
                )));
            }
            AttributeValue::Bs(blobs)
        }
        "M" => AttributeValue::M(decode_item(member)?),
        "L" => AttributeValue::L(shape::list(member)?.iter().map(decode_value).collect::<Result<_>>()?),
        "NULL" => {
            let fields = Map::from_iter([("NULL".to_owned(), member.clone())]);
            match shape::Fields(&fields).boolean("NULL")? {
                Some(true) => AttributeValue::Null,
                _ => {
                    return Err(DynamoError::validation(format!(
                        "{INVALID}Null attribute value types must have the value of true"
                    )))
                }
            }
        }
        _ => {
            let fields = Map::from_iter([("BOOL".to_owned(), member.clone())]);
            AttributeValue::Bool(shape::Fields(&fields).boolean("BOOL")?.unwrap_or(false))
        }
    })
}

/// The members of a set: a non-empty list.
fn set_members<'a, T>(member: &'a Value, decode: impl Fn(&'a Value) -> Result<T>) -> Result<Vec<T>> {
    let items: Vec<T> =
        shape::list(member)?.iter().filter(|v| !v.is_null()).map(decode).collect::<Result<_>>()?;
    if items.is_empty() {
        return Err(DynamoError::validation(format!(
            "{INVALID}An AttributeValue may not contain an empty set."
        )));
    }
    Ok(items)
}

fn first_duplicate<T: std::hash::Hash + Eq>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut seen = HashSet::new();
    for item in items {
        if seen.contains(&item) {
            return Some(item);
        }
        seen.insert(item);
    }
    None
}

/// Decodes a map of attribute names to values (an `Item`, a `Key`, `M`).
pub fn decode_item(value: &Value) -> Result<Item> {
    shape::map(value)?
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| Ok((k.clone(), decode_value(v)?)))
        .collect()
}

pub fn encode_value(value: &AttributeValue) -> Value {
    let b64 = |b: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(b));
    let (type_name, member) = match value {
        AttributeValue::S(s) => ("S", Value::String(s.clone())),
        AttributeValue::N(n) => ("N", Value::String(n.to_string())),
        AttributeValue::B(b) => ("B", b64(b)),
        AttributeValue::Ss(items) => ("SS", items.iter().map(|s| Value::String(s.clone())).collect()),
        AttributeValue::Ns(items) => ("NS", items.iter().map(|n| Value::String(n.to_string())).collect()),
        AttributeValue::Bs(items) => ("BS", items.iter().map(|b| b64(b)).collect()),
        AttributeValue::L(items) => ("L", items.iter().map(encode_value).collect()),
        AttributeValue::M(item) => ("M", encode_item(item)),
        AttributeValue::Null => ("NULL", Value::Bool(true)),
        AttributeValue::Bool(b) => ("BOOL", Value::Bool(*b)),
    };
    Value::Object(Map::from_iter([(type_name.to_owned(), member)]))
}

pub fn encode_item(item: &Item) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), encode_value(v))).collect())
}

/// The bytes DynamoDB counts for a value: strings and binaries their length, numbers about one
/// byte per two significant digits plus one, `NULL` and `BOOL` one, lists and maps three plus a
/// byte per element plus their elements (and, for maps, the names).
pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Ss(items) => items.iter().map(String::len).sum(),
        AttributeValue::Ns(items) => items.iter().map(number_size).sum(),
        AttributeValue::Bs(items) => items.iter().map(Vec::len).sum(),
        AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(item) => 3 + item.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
        AttributeValue::Null | AttributeValue::Bool(_) => 1,
    }
}

fn number_size(n: &Number) -> usize {
    n.significant_digits().div_ceil(2) + 1
}

/// An item's size: its names and values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// Any attribute value DynamoDB accepts: sets non-empty and without duplicates.
    fn attribute_value() -> impl Strategy<Value = AttributeValue> {
        let number = "-?[0-9]{1,15}(\\.[0-9]{1,10})?".prop_map(|t| Number::parse(&t).unwrap());
        let leaf = prop_oneof![
            ".{0,8}".prop_map(AttributeValue::S),
            number.clone().prop_map(AttributeValue::N),
            prop::collection::vec(any::<u8>(), 0..8).prop_map(AttributeValue::B),
            prop::collection::btree_set(".{0,4}", 1..4)
                .prop_map(|s| AttributeValue::Ss(s.into_iter().collect())),
            prop::collection::btree_set(number, 1..4)
                .prop_map(|s| AttributeValue::Ns(s.into_iter().collect())),
            prop::collection::btree_set(prop::collection::vec(any::<u8>(), 0..4), 1..4)
                .prop_map(|s| AttributeValue::Bs(s.into_iter().collect())),
            Just(AttributeValue::Null),
            any::<bool>().prop_map(AttributeValue::Bool),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
                prop::collection::btree_map(".{0,4}", inner, 0..4).prop_map(AttributeValue::M),
            ]
        })
    }

    /// Any JSON, to decode.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|x| json!(x)),
            "(S|N|B|SS|NS|BS|L|M|NULL|BOOL|[0-9.eE+-]{0,6}|.{0,6})".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("(S|N|B|SS|NS|BS|L|M|NULL|BOOL|x)", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// What the codec writes it reads back as the same value: the encoding is the
        /// reference, and the decoder agrees with it.
        #[test]
        fn encoding_round_trips(value in attribute_value()) {
            prop_assert_eq!(decode_value(&encode_value(&value)), Ok(value));
        }

        /// Any JSON decodes to a value or to a 400 error, never a panic; a value decoded
        /// encodes back to JSON that decodes to it again.
        #[test]
        fn any_json_decodes_or_is_refused(json in json_value()) {
            match decode_value(&json) {
                Ok(value) => prop_assert_eq!(decode_value(&encode_value(&value)), Ok(value)),
                Err(e) => prop_assert_eq!(e.status.as_u16(), 400),
            }
        }
    }

    fn error(value: Value) -> String {
        decode_value(&value).unwrap_err().message.unwrap()
    }

    #[test]
    fn malformed_values_get_dynamodbs_messages() {
        assert_eq!(
            error(json!({})),
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        );
        assert_eq!(error(json!({"S": "a", "N": "1"})), "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes");
        assert_eq!(
            error(json!({"SS": []})),
            "One or more parameter values were invalid: An AttributeValue may not contain an empty set."
        );
        assert_eq!(
            error(json!({"SS": ["a", "b", "a"]})),
            "One or more parameter values were invalid: Input collection [a, b, a] contains duplicates."
        );
        assert_eq!(error(json!({"NS": ["1", "1.0"]})), "Input collection contains duplicates");
        assert_eq!(error(json!({"BS": ["AQ==", "AQ=="]})), "One or more parameter values were invalid: Input collection [AQ==, AQ==]of type BS contains duplicates.");
        assert_eq!(error(json!({"N": "x"})), "The parameter cannot be converted to a numeric value: x");
        assert_eq!(error(json!({"N": ""})), "The parameter cannot be converted to a numeric value");
        assert_eq!(error(json!({"NULL": false})), "One or more parameter values were invalid: Null attribute value types must have the value of true");
        assert_eq!(
            error(json!({"L": [{"M": {"a": {}}}]})),
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        );
        let serialization = decode_value(&json!({"S": 5})).unwrap_err();
        assert_eq!(serialization.code, "SerializationException");
    }

    #[test]
    fn values_round_trip() {
        let item = json!({
            "s": {"S": ""}, "n": {"N": "5.0"}, "b": {"B": "AQI="}, "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": ["AQ=="]}, "l": {"L": [{"NULL": true}, {"BOOL": false}]},
            "m": {"M": {"x": {"S": "y"}}}, "unknown_member_is_ignored": {"S": "z", "Q": 1}
        });
        let decoded = decode_item(&item).unwrap();
        let mut expected = item.clone();
        expected["n"] = json!({"N": "5"});
        expected["unknown_member_is_ignored"] = json!({"S": "z"});
        assert_eq!(encode_item(&decoded), expected);
    }

    #[test]
    fn sizes_count_names_and_values() {
        let item =
            decode_item(&json!({"ab": {"S": "xyz"}, "n": {"N": "12345"}, "m": {"M": {"k": {"BOOL": true}}}}))
                .unwrap();
        assert_eq!(item_size(&item), (2 + 3) + (1 + 4) + (1 + 3 + 1 + 1 + 1));
    }
}
