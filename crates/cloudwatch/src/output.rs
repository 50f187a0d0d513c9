//! Answers, built once as a [`Node`] tree and written in each protocol's encoding: JSON (epoch
//! seconds for times), CBOR (tag 1 for times) and awsQuery XML (ISO 8601 times, lists as
//! `<member>`, maps as `<entry><key>/<value>`).

use ciborium::value::Value as Cbor;

use crate::time::{self, Millis};

/// An answer's structure, independent of encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    Double(f64),
    Time(Millis),
    List(Vec<Node>),
    /// A structure's members in the model's order.
    Struct(Vec<(&'static str, Node)>),
    /// A map with string keys (`ExtendedStatistics`).
    Map(Vec<(String, Node)>),
}

pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match node {
        Node::Text(text) => Value::String(text.clone()),
        Node::Double(number) => serde_json::Number::from_f64(*number).map_or(Value::Null, Value::Number),
        Node::Time(millis) => {
            if millis % 1000 == 0 {
                Value::from(millis / 1000)
            } else {
                serde_json::Number::from_f64(time::to_epoch_seconds(*millis))
                    .map_or(Value::Null, Value::Number)
            }
        }
        Node::List(items) => Value::Array(items.iter().map(to_json).collect()),
        Node::Struct(members) => {
            Value::Object(members.iter().map(|(name, value)| (name.to_string(), to_json(value))).collect())
        }
        Node::Map(entries) => {
            Value::Object(entries.iter().map(|(key, value)| (key.clone(), to_json(value))).collect())
        }
    }
}

pub fn to_cbor(node: &Node) -> Cbor {
    match node {
        Node::Text(text) => Cbor::Text(text.clone()),
        Node::Double(number) => Cbor::Float(*number),
        Node::Time(millis) => Cbor::Tag(1, Box::new(Cbor::Float(time::to_epoch_seconds(*millis)))),
        Node::List(items) => Cbor::Array(items.iter().map(to_cbor).collect()),
        Node::Struct(members) => Cbor::Map(
            members.iter().map(|(name, value)| (Cbor::Text(name.to_string()), to_cbor(value))).collect(),
        ),
        Node::Map(entries) => {
            Cbor::Map(entries.iter().map(|(key, value)| (Cbor::Text(key.clone()), to_cbor(value))).collect())
        }
    }
}

pub fn cbor_bytes(value: &Cbor) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing to a Vec cannot fail, and every value built here is encodable.
    ciborium::ser::into_writer(value, &mut bytes).expect("CBOR into a Vec");
    bytes
}

/// Writes the members of a structure (or a list's or map's contents) as XML into `out`.
pub fn write_xml(node: &Node, out: &mut String) {
    match node {
        Node::Text(text) => escape_into(text, out),
        // `{:?}` keeps a decimal point or exponent (`1.0`, `1e300`) that every XML client
        // parses as a double.
        Node::Double(number) => out.push_str(&format!("{number:?}")),
        Node::Time(millis) => out.push_str(&time::format_iso8601(*millis)),
        Node::List(items) => {
            for item in items {
                element("member", item, out);
            }
        }
        Node::Struct(members) => {
            for (name, value) in members {
                element(name, value, out);
            }
        }
        Node::Map(entries) => {
            for (key, value) in entries {
                out.push_str("<entry><key>");
                escape_into(key, out);
                out.push_str("</key>");
                element("value", value, out);
                out.push_str("</entry>");
            }
        }
    }
}

fn element(name: &str, value: &Node, out: &mut String) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    write_xml(value, out);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// XML character data: the five special characters, and other control characters (which XML
/// 1.0 cannot carry raw) as character references.
pub fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push_str(&format!("&#x{:x};", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Node {
        Node::Struct(vec![
            ("Label", Node::Text("a<b".into())),
            (
                "Datapoints",
                Node::List(vec![Node::Struct(vec![
                    ("Timestamp", Node::Time(1500)),
                    ("Sum", Node::Double(2.0)),
                ])]),
            ),
            ("ExtendedStatistics", Node::Map(vec![("p99".into(), Node::Double(1.5))])),
        ])
    }

    #[test]
    fn json_uses_epoch_seconds() {
        assert_eq!(
            to_json(&sample()),
            serde_json::json!({"Label":"a<b","Datapoints":[{"Timestamp":1.5,"Sum":2.0}],"ExtendedStatistics":{"p99":1.5}})
        );
        assert_eq!(to_json(&Node::Time(60_000)), serde_json::json!(60));
    }

    #[test]
    fn cbor_tags_times() {
        let value = to_cbor(&Node::Time(1500));
        assert_eq!(value, Cbor::Tag(1, Box::new(Cbor::Float(1.5))));
        let bytes = cbor_bytes(&to_cbor(&sample()));
        let back: Cbor = ciborium::de::from_reader(bytes.as_slice()).unwrap();
        assert_eq!(back, to_cbor(&sample()));
    }

    #[test]
    fn xml_members_entries_and_escapes() {
        let mut out = String::new();
        write_xml(&sample(), &mut out);
        assert_eq!(
            out,
            "<Label>a&lt;b</Label><Datapoints><member><Timestamp>1970-01-01T00:00:01.500Z</Timestamp><Sum>2.0</Sum></member></Datapoints><ExtendedStatistics><entry><key>p99</key><value>1.5</value></entry></ExtendedStatistics>"
        );
        let mut escaped = String::new();
        escape_into("\u{1}&\"'", &mut escaped);
        assert_eq!(escaped, "&#x1;&amp;&quot;&apos;");
    }
}
