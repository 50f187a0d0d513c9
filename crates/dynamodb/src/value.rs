//! DynamoDB's attribute values: the ten types of its data model.

use std::collections::BTreeMap;

use crate::Number;

/// An item: attribute names to values. Ordered, so that answers list attributes the same way
/// every time.
pub type Item = BTreeMap<String, AttributeValue>;

/// One attribute value. Sets keep the order they were written in and hold no duplicates (the
/// decoder refuses duplicates, as DynamoDB does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    S(String),
    N(Number),
    B(Vec<u8>),
    Ss(Vec<String>),
    Ns(Vec<Number>),
    Bs(Vec<Vec<u8>>),
    L(Vec<AttributeValue>),
    M(Item),
    Null,
    Bool(bool),
}

impl AttributeValue {
    /// The type's name on the wire (`S`, `NS`, `NULL`, ...), as DynamoDB's messages and
    /// `attribute_type` use it.
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
            AttributeValue::L(_) => "L",
            AttributeValue::M(_) => "M",
            AttributeValue::Null => "NULL",
            AttributeValue::Bool(_) => "BOOL",
        }
    }
}
