//! The awsQuery request decoder: an `application/x-www-form-urlencoded` body such as
//! `Action=PutMetricData&Namespace=app&MetricData.member.1.Dimensions.member.1.Name=Operation`
//! becomes a [`Document`] of nested maps and lists whose leaves are all text
//! (`docs/cloudwatch.md`, "Protocols").
//!
//! A key's `.`-separated parts name structure members, except that `member.N` is the N-th
//! element (from 1) of a list; a list's elements are ordered by N. A list name given with an
//! empty value (`MetricData=`) is how botocore sends an empty list; `request.rs` reads it so.

use std::collections::BTreeMap;

use crate::document::Document;

/// More dotted parts than any CloudWatch parameter has; bounds the tree's depth.
const MAX_KEY_PARTS: usize = 16;

/// Why a form's keys do not make one tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    /// The key, as sent, where the problem was found.
    pub key: String,
    pub reason: &'static str,
}

/// A decoded form: its parameters as a tree, less `Action` and `Version`.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub action: Option<String>,
    pub version: Option<String>,
    pub parameters: Document,
}

/// Splits a form body into its decoded name/value pairs, in order: `&`-separated, each split at
/// its first `=`, with `+` as a space and `%XX` escapes; as browsers and the `form_urlencoded`
/// crate do, a malformed escape stays as written and invalid UTF-8 becomes U+FFFD.
pub fn pairs(body: &[u8]) -> Vec<(String, String)> {
    body.split(|byte| *byte == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = match piece.iter().position(|byte| *byte == b'=') {
                Some(equals) => (&piece[..equals], &piece[equals + 1..]),
                None => (piece, &[][..]),
            };
            (unescape(name), unescape(value))
        })
        .collect()
}

fn unescape(escaped: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(escaped.len());
    let mut at = 0;
    while at < escaped.len() {
        match escaped[at] {
            b'+' => bytes.push(b' '),
            b'%' => match (escaped.get(at + 1).and_then(hex), escaped.get(at + 2).and_then(hex)) {
                (Some(high), Some(low)) => {
                    bytes.push(high << 4 | low);
                    at += 2;
                }
                _ => bytes.push(b'%'),
            },
            byte => bytes.push(byte),
        }
        at += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn hex(digit: &u8) -> Option<u8> {
    (*digit as char).to_digit(16).map(|value| value as u8)
}

/// Decodes a form body into its action, version and parameter tree.
pub fn decode(body: &[u8]) -> Result<Form, FormError> {
    let mut form = Form { action: None, version: None, parameters: Document::Null };
    let mut root = Node::Struct(BTreeMap::new());
    for (key, value) in pairs(body) {
        match key.as_str() {
            "Action" => form.action = Some(value),
            "Version" => form.version = Some(value),
            _ => root.insert(&key, value)?,
        }
    }
    form.parameters = root.into_document();
    Ok(form)
}

/// The tree while it is built: members by name, list elements by index.
enum Node {
    Leaf(String),
    Struct(BTreeMap<String, Node>),
    List(BTreeMap<u32, Node>),
}

/// One step of a key's path.
enum Step<'a> {
    Member(&'a str),
    Element(u32),
}

fn steps(key: &str) -> Result<Vec<Step<'_>>, FormError> {
    let error = |reason| FormError { key: key.to_string(), reason };
    let parts: Vec<&str> = key.split('.').collect();
    if parts.len() > MAX_KEY_PARTS {
        return Err(error("too many parts"));
    }
    let mut steps = Vec::with_capacity(parts.len());
    let mut parts = parts.into_iter();
    while let Some(part) = parts.next() {
        if part.is_empty() {
            return Err(error("an empty part"));
        }
        if part != "member" {
            steps.push(Step::Member(part));
            continue;
        }
        match parts.next().map(str::parse::<u32>) {
            Some(Ok(index)) if index >= 1 => steps.push(Step::Element(index)),
            _ => return Err(error("`member` not followed by an index from 1")),
        }
    }
    Ok(steps)
}

impl Node {
    fn insert(&mut self, key: &str, value: String) -> Result<(), FormError> {
        let conflict = || FormError { key: key.to_string(), reason: "given both as a value and as a parent" };
        let mut node = self;
        for step in steps(key)? {
            node = match (node, step) {
                (Node::Struct(members), Step::Member(name)) => {
                    members.entry(name.to_string()).or_insert_with(|| Node::Struct(BTreeMap::new()))
                }
                (node @ Node::Struct(_), Step::Element(index)) if node.is_empty() => {
                    *node = Node::List(BTreeMap::new());
                    node.element(index)
                }
                (node @ Node::List(_), Step::Element(index)) => node.element(index),
                _ => return Err(conflict()),
            };
        }
        match node {
            // A repeated key: the last value wins.
            node @ Node::Leaf(_) => {
                *node = Node::Leaf(value);
                Ok(())
            }
            node @ Node::Struct(_) if node.is_empty() => {
                *node = Node::Leaf(value);
                Ok(())
            }
            _ => Err(conflict()),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Node::Struct(members) if members.is_empty())
    }

    fn element(&mut self, index: u32) -> &mut Node {
        match self {
            Node::List(elements) => elements.entry(index).or_insert_with(|| Node::Struct(BTreeMap::new())),
            _ => unreachable!("called on lists only"),
        }
    }

    fn into_document(self) -> Document {
        match self {
            Node::Leaf(text) => Document::Text(text),
            Node::Struct(members) => {
                Document::Map(members.into_iter().map(|(name, node)| (name, node.into_document())).collect())
            }
            Node::List(elements) => Document::List(elements.into_values().map(Node::into_document).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(value: &str) -> Document {
        Document::Text(value.to_string())
    }

    #[test]
    fn nests_members_and_orders_list_elements_by_index() {
        let body = b"Action=PutMetricData&Version=2010-08-01&Namespace=my+app\
            &MetricData.member.2.MetricName=b&MetricData.member.1.MetricName=a%2Fx\
            &MetricData.member.1.Dimensions.member.1.Name=Operation\
            &MetricData.member.1.StatisticValues.Sum=3";
        let form = decode(body).unwrap();
        assert_eq!(form.action.as_deref(), Some("PutMetricData"));
        assert_eq!(form.version.as_deref(), Some("2010-08-01"));
        let first = Document::Map(vec![
            (
                "Dimensions".into(),
                Document::List(vec![Document::Map(vec![("Name".into(), text("Operation"))])]),
            ),
            ("MetricName".into(), text("a/x")),
            ("StatisticValues".into(), Document::Map(vec![("Sum".into(), text("3"))])),
        ]);
        let second = Document::Map(vec![("MetricName".into(), text("b"))]);
        assert_eq!(
            form.parameters,
            Document::Map(vec![
                ("MetricData".into(), Document::List(vec![first, second])),
                ("Namespace".into(), text("my app")),
            ])
        );
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let form = decode(b"Period=60&Period=120").unwrap();
        assert_eq!(form.parameters.member("Period"), Some(&text("120")));
    }

    #[test]
    fn rejects_keys_that_do_not_make_a_tree() {
        for body in [
            &b"A=1&A.B=2"[..],
            b"A.B=2&A=1",
            b"A.member.0=x",
            b"A.member.x=1",
            b"A.member=1",
            b"A..B=1",
            b"A.member.1=x&A.B=y",
            b"A.B.C.D.E.F.G.H.I.J.K.L.M.N.O.P.Q=1",
        ] {
            assert!(decode(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }

    proptest! {
        #[test]
        fn pairs_match_the_form_urlencoded_crate(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let reference: Vec<(String, String)> =
                form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            prop_assert_eq!(pairs(&body), reference);
        }

        #[test]
        fn pairs_read_back_what_form_urlencoded_encodes(
            entries in proptest::collection::vec((".{0,20}", ".{0,30}"), 0..10)
        ) {
            let mut serializer = form_urlencoded::Serializer::new(String::new());
            for (key, value) in &entries {
                serializer.append_pair(key, value);
            }
            let body = serializer.finish();
            prop_assert_eq!(pairs(body.as_bytes()), entries);
        }

        #[test]
        fn list_members_come_back_in_index_order(values in proptest::collection::btree_map(1u32..1000, "[a-z]{1,8}", 1..20)) {
            let mut serializer = form_urlencoded::Serializer::new(String::new());
            for (index, value) in values.iter().rev() {
                serializer.append_pair(&format!("Values.member.{index}"), value);
            }
            let form = decode(serializer.finish().as_bytes()).unwrap();
            let expected = Document::List(values.values().map(|v| text(v)).collect());
            prop_assert_eq!(form.parameters.member("Values"), Some(&expected));
        }

        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&body);
        }
    }
}
