//! The typed value tree that requests are decoded into and responses are built from.
//!
//! Requests arrive as JSON or CBOR; after type checking against the API model (see
//! [`crate::decode`]) every member has its model type: blobs are raw bytes and timestamps are
//! epoch milliseconds, whatever the wire encoding was. Responses are built as the same tree and
//! encoded by [`crate::encode()`], which applies each format's rules (base64 vs byte strings,
//! fractional seconds vs integer milliseconds).

use std::borrow::Cow;

use bytes::Bytes;

/// A key of [`Value::Map`]: a structure member's name, borrowed from the API model or a
/// response builder's literal (most keys, and no allocation), or a map key from a request.
pub type Key = Cow<'static, str>;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// Integers and longs.
    Int(i64),
    /// Only appears in raw (not yet type-checked) input; never in a typed tree.
    Float(f64),
    Str(String),
    Blob(Bytes),
    /// Epoch milliseconds.
    Timestamp(i64),
    List(Vec<Value>),
    /// A structure or map; keys keep their insertion order.
    Map(Vec<(Key, Value)>),
}

impl Value {
    /// An empty structure, to be filled with [`Value::with`].
    pub fn object() -> Value {
        Value::Map(Vec::new())
    }

    /// Adds a member to a structure (builder style). Panics if `self` is not a map: that is a
    /// programming error in a response builder, never a consequence of input.
    pub fn with(mut self, key: &'static str, value: impl Into<Value>) -> Value {
        self.set(key, value);
        self
    }

    /// Adds a member only when `value` is `Some`; absent members are omitted on the wire.
    pub fn with_opt(self, key: &'static str, value: Option<impl Into<Value>>) -> Value {
        match value {
            Some(v) => self.with(key, v),
            None => self,
        }
    }

    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        match self {
            Value::Map(entries) => entries.push((Cow::Borrowed(key), value.into())),
            other => panic!("Value::set on a non-map value {other:?}"),
        }
    }

    /// A member of a structure, `None` when absent or null.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => {
                entries.iter().find(|(k, _)| k == key).map(|(_, v)| v).filter(|v| !matches!(v, Value::Null))
            }
            _ => None,
        }
    }

    /// Moves a member out of a structure (leaving `Value::Null`), `None` when absent or null:
    /// lets a consumer keep a request's strings and blobs without copying them.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        match self {
            Value::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k == key)
                .map(|(_, v)| std::mem::replace(v, Value::Null))
                .filter(|v| !matches!(v, Value::Null)),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_blob(&self) -> Option<&Bytes> {
        match self {
            Value::Blob(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_timestamp(&self) -> Option<i64> {
        match self {
            Value::Timestamp(t) => Some(*t),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Value)]> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// Shorthands for typed members of a structure.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
    pub fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::as_int)
    }
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }
    pub fn blob(&self, key: &str) -> Option<&Bytes> {
        self.get(key).and_then(Value::as_blob)
    }
    pub fn timestamp(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::as_timestamp)
    }
    pub fn list(&self, key: &str) -> Option<&[Value]> {
        self.get(key).and_then(Value::as_list)
    }
    pub fn map(&self, key: &str) -> Option<&[(Key, Value)]> {
        self.get(key).and_then(Value::as_map)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::Str(s.clone())
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<u32> for Value {
    fn from(i: u32) -> Value {
        Value::Int(i64::from(i))
    }
}
impl From<usize> for Value {
    fn from(i: usize) -> Value {
        Value::Int(i as i64)
    }
}
impl From<Bytes> for Value {
    fn from(b: Bytes) -> Value {
        Value::Blob(b)
    }
}
impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::List(items)
    }
}
