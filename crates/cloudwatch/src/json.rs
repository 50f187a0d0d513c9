//! The AWS JSON 1.0 request decoder: a body becomes a [`Document`]. serde_json does the parsing
//! (its recursion limit bounds nesting); this only maps its values. An empty body is an empty
//! structure.

use crate::document::Document;

pub fn decode(body: &[u8]) -> Result<Document, serde_json::Error> {
    if body.is_empty() {
        return Ok(Document::Map(Vec::new()));
    }
    serde_json::from_slice(body).map(from_value)
}

fn from_value(value: serde_json::Value) -> Document {
    use serde_json::Value;
    match value {
        Value::Null => Document::Null,
        Value::Bool(flag) => Document::Bool(flag),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(integer), _) => Document::Integer(i128::from(integer)),
            (None, Some(integer)) => Document::Integer(i128::from(integer)),
            _ => Document::Float(number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => Document::Text(text),
        Value::Array(items) => Document::List(items.into_iter().map(from_value).collect()),
        Value::Object(members) => {
            Document::Map(members.into_iter().map(|(key, value)| (key, from_value(value))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_json_values() {
        let document = decode(br#"{"a":[1,-2,1.5,18446744073709551615],"b":null,"c":"x","d":true}"#).unwrap();
        assert_eq!(
            document,
            Document::Map(vec![
                (
                    "a".into(),
                    Document::List(vec![
                        Document::Integer(1),
                        Document::Integer(-2),
                        Document::Float(1.5),
                        Document::Integer(u64::MAX.into()),
                    ])
                ),
                ("b".into(), Document::Null),
                ("c".into(), Document::Text("x".into())),
                ("d".into(), Document::Bool(true)),
            ])
        );
        assert!(decode(b"{").is_err());
        assert_eq!(decode(b"").unwrap(), Document::Map(Vec::new()));
    }
}
