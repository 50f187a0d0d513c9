//! The protocol-neutral request tree: each protocol's decoder (`json.rs`, `cbor.rs`, `form.rs`)
//! turns a body into a [`Document`], and `request.rs` reads the operation's input from it with
//! the model's types, so validation and its messages are written once for all three protocols.

/// A decoded request value.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    /// JSON `null`, CBOR `null` or `undefined`: the member is absent.
    Null,
    Bool(bool),
    /// A CBOR integer (major types 0 and 1 span -2^64 ..= 2^64-1) or a JSON integer.
    Integer(i128),
    Float(f64),
    /// A string. Form values are all text; `request.rs` parses them by the model's type.
    Text(String),
    Bytes(Vec<u8>),
    /// A CBOR tag-1 epoch time, in seconds.
    Timestamp(f64),
    List(Vec<Document>),
    /// Members in the order they came; a later duplicate key wins when read.
    Map(Vec<(String, Document)>),
}

impl Document {
    /// The member `name` of a map, `None` when absent, null, or when this is not a map.
    pub fn member(&self, name: &str) -> Option<&Document> {
        match self {
            Document::Map(members) => members
                .iter()
                .rev()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value)
                .filter(|value| !matches!(value, Document::Null)),
            _ => None,
        }
    }
}
