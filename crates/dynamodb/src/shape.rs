//! Reading a request's JSON members with DynamoDB's type checks: a member of the wrong JSON type
//! is a `SerializationException` whose message names the Java class DynamoDB's deserializer
//! saw (`docs/dynamodb.md`, "Errors"). `null` is the same as absent.

use serde_json::{Map, Number, Value};

use crate::error::{DynamoError, Result};

/// The Java class DynamoDB's deserializer names for a JSON number.
fn class_of_number(n: &Number) -> &'static str {
    match n.as_i64() {
        Some(v) if (-32768..=32767).contains(&v) => "java.lang.Short",
        Some(v) if (i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&v) => "java.lang.Integer",
        Some(_) => "java.lang.Long",
        None if n.is_u64() => "java.lang.Long",
        None => "java.lang.Double",
    }
}

fn type_error(message: impl Into<String>) -> DynamoError {
    DynamoError::serialization(Some(message.into()))
}

const LIST_NOT_EXPECTED: &str = "Start of list found where not expected";
const MAP_NOT_EXPECTED: &str = "Start of structure or map found where not expected.";

/// A JSON object of a request (the body, or a structure inside it).
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a>(pub &'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// The body as a structure: anything but an object is a type error.
    pub fn of(value: &'a Value) -> Result<Fields<'a>> {
        structure(value)
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn string(&self, name: &str) -> Result<Option<&'a str>> {
        self.get(name).map(string).transpose()
    }

    pub fn integer(&self, name: &str) -> Result<Option<i64>> {
        let Some(value) = self.get(name) else { return Ok(None) };
        match value {
            Value::Number(n) => {
                Ok(Some(n.as_i64().unwrap_or_else(|| n.as_f64().unwrap_or(0.0).floor() as i64)))
            }
            Value::Bool(_) => Err(type_error("class java.lang.Boolean can not be converted to an Integer")),
            Value::String(_) => Err(type_error("class java.lang.String can not be converted to an Integer")),
            Value::Array(_) => Err(type_error(LIST_NOT_EXPECTED)),
            _ => Err(type_error(MAP_NOT_EXPECTED)),
        }
    }

    pub fn boolean(&self, name: &str) -> Result<Option<bool>> {
        let Some(value) = self.get(name) else { return Ok(None) };
        match value {
            Value::Bool(b) => Ok(Some(*b)),
            Value::Number(n) => match class_of_number(n) {
                "java.lang.Double" => Ok(Some(n.as_f64().unwrap_or(0.0).abs() >= 1.0)),
                class => Err(type_error(format!("class {class} can not be converted to an Boolean"))),
            },
            Value::String(s) => {
                Err(type_error(format!("'{}' can not be converted to an Boolean", s.to_uppercase())))
            }
            Value::Array(_) => Err(type_error(LIST_NOT_EXPECTED)),
            _ => Err(type_error(MAP_NOT_EXPECTED)),
        }
    }

    /// A structure member.
    pub fn structure(&self, name: &str) -> Result<Option<Fields<'a>>> {
        self.get(name).map(structure).transpose()
    }

    /// A map member (names to values of one shape).
    pub fn map(&self, name: &str) -> Result<Option<&'a Map<String, Value>>> {
        self.get(name).map(map).transpose()
    }

    /// A list member.
    pub fn list(&self, name: &str) -> Result<Option<&'a [Value]>> {
        self.get(name).map(list).transpose()
    }

    /// A list of strings.
    pub fn strings(&self, name: &str) -> Result<Option<Vec<&'a str>>> {
        self.list(name)?.map(|items| items.iter().filter(|v| !v.is_null()).map(string).collect()).transpose()
    }
}

pub fn string(value: &Value) -> Result<&str> {
    match value {
        Value::String(s) => Ok(s),
        Value::Bool(_) => Err(type_error("class java.lang.Boolean can not be converted to an String")),
        Value::Number(n) => {
            Err(type_error(format!("class {} can not be converted to an String", class_of_number(n))))
        }
        Value::Array(_) => Err(type_error(LIST_NOT_EXPECTED)),
        _ => Err(type_error(MAP_NOT_EXPECTED)),
    }
}

pub fn structure(value: &Value) -> Result<Fields<'_>> {
    match value {
        Value::Object(m) => Ok(Fields(m)),
        Value::Array(_) => Err(type_error(LIST_NOT_EXPECTED)),
        _ => Err(type_error("Expected null")),
    }
}

pub fn map(value: &Value) -> Result<&Map<String, Value>> {
    match value {
        Value::Object(m) => Ok(m),
        Value::Array(_) => Err(type_error(LIST_NOT_EXPECTED)),
        _ => Err(type_error("Expected map or null")),
    }
}

pub fn list(value: &Value) -> Result<&[Value]> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(_) => Err(type_error(MAP_NOT_EXPECTED)),
        _ => Err(type_error("Expected list or null")),
    }
}

/// `Blob` members: base64 text, checked as DynamoDB's deserializer checks it.
pub fn blob(value: &Value) -> Result<Vec<u8>> {
    use base64::Engine;
    let text = match value {
        Value::String(s) => s,
        Value::Bool(_) => return Err(type_error("class java.lang.Boolean can not be converted to a Blob")),
        Value::Number(n) => {
            return Err(type_error(format!("class {} can not be converted to a Blob", class_of_number(n))))
        }
        Value::Array(_) => return Err(type_error(LIST_NOT_EXPECTED)),
        _ => return Err(type_error(MAP_NOT_EXPECTED)),
    };
    let cannot = |why: String| type_error(format!("'{text}' can not be converted to a Blob: {why}"));
    if text.len() % 4 != 0 {
        return Err(cannot(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            text.len()
        )));
    }
    let bytes = text.as_bytes();
    let bad = bytes.iter().enumerate().find(|&(i, &b)| {
        !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
            || (b == b'=' && bytes.get(i + 1).is_some_and(|&next| next != b'='))
    });
    if let Some((_, &b)) = bad {
        return Err(cannot(format!("Invalid Base64 character: '{}'", b as char)));
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| cannot("Invalid last non-pad Base64 character dectected".to_owned()))
}

/// Constraint violations of a request, collected and reported together as DynamoDB does: `N
/// validation error(s) detected: Value 'v' at 'path' failed to satisfy constraint: ...; ...`.
#[derive(Debug, Default)]
pub struct Violations(Vec<String>);

impl Violations {
    /// Records that `value` (as DynamoDB shows it; `None` for null) at `path` breaks `rule`.
    pub fn add(&mut self, value: Option<&str>, path: &str, rule: &str) {
        // DynamoDB stops listing at ten.
        if self.0.len() < 10 {
            let value = value.map_or_else(|| "null".to_owned(), |v| format!("'{v}'"));
            self.0.push(format!("Value {value} at '{path}' failed to satisfy constraint: {rule}"));
        }
    }

    pub fn not_null(&mut self, present: bool, path: &str) {
        if !present {
            self.add(None, path, "Member must not be null");
        }
    }

    /// A table or index name: 3 to 255 characters of `[a-zA-Z0-9_.-]`.
    pub fn name(&mut self, name: Option<&str>, path: &str) {
        let Some(name) = name else { return };
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-') {
            self.add(Some(name), path, "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
        }
        if name.chars().count() < 3 {
            self.add(Some(name), path, "Member must have length greater than or equal to 3");
        }
        if name.chars().count() > 255 {
            self.add(Some(name), path, "Member must have length less than or equal to 255");
        }
    }

    /// An enum member.
    pub fn one_of(&mut self, value: Option<&str>, path: &str, allowed: &[&str]) {
        if let Some(value) = value {
            if !allowed.contains(&value) {
                self.add(
                    Some(value),
                    path,
                    &format!("Member must satisfy enum value set: [{}]", allowed.join(", ")),
                );
            }
        }
    }

    pub fn at_least(&mut self, value: Option<i64>, path: &str, min: i64) {
        if let Some(v) = value.filter(|&v| v < min) {
            self.add(
                Some(&v.to_string()),
                path,
                &format!("Member must have value greater than or equal to {min}"),
            );
        }
    }

    pub fn at_most(&mut self, value: Option<i64>, path: &str, max: i64) {
        if let Some(v) = value.filter(|&v| v > max) {
            self.add(
                Some(&v.to_string()),
                path,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// The collected violations as one `ValidationException`, if there are any.
    pub fn check(self) -> Result<()> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(DynamoError::validation(format!(
                "{n} validation error{} detected: {}",
                if n > 1 { "s" } else { "" },
                self.0.join("; ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(e: DynamoError) -> String {
        e.message.unwrap()
    }

    #[test]
    fn wrong_types_name_the_java_class() {
        let body = json!({"a": true, "b": 5, "c": 70000, "d": 1.5, "e": [], "f": {}, "g": "x"});
        let f = Fields::of(&body).unwrap();
        assert_eq!(
            message(f.string("a").unwrap_err()),
            "class java.lang.Boolean can not be converted to an String"
        );
        assert_eq!(
            message(f.string("b").unwrap_err()),
            "class java.lang.Short can not be converted to an String"
        );
        assert_eq!(
            message(f.string("c").unwrap_err()),
            "class java.lang.Integer can not be converted to an String"
        );
        assert_eq!(
            message(f.string("d").unwrap_err()),
            "class java.lang.Double can not be converted to an String"
        );
        assert_eq!(message(f.string("e").unwrap_err()), LIST_NOT_EXPECTED);
        assert_eq!(
            message(f.integer("g").unwrap_err()),
            "class java.lang.String can not be converted to an Integer"
        );
        assert_eq!(message(f.boolean("g").unwrap_err()), "'X' can not be converted to an Boolean");
        assert_eq!(message(f.map("g").unwrap_err()), "Expected map or null");
        assert_eq!(message(f.list("f").unwrap_err()), MAP_NOT_EXPECTED);
        assert_eq!(f.boolean("d").unwrap(), Some(true));
        assert_eq!(f.string("missing").unwrap(), None);
    }

    #[test]
    fn blobs_are_checked_base64() {
        let err = |s: &str| message(blob(&json!(s)).unwrap_err());
        assert_eq!(err("abc"), "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3");
        assert_eq!(err("ab!d"), "'ab!d' can not be converted to a Blob: Invalid Base64 character: '!'");
        assert_eq!(err("a=bc"), "'a=bc' can not be converted to a Blob: Invalid Base64 character: '='");
        assert_eq!(blob(&json!("AQID")).unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn violations_are_counted_and_joined() {
        let mut v = Violations::default();
        v.name(Some("a!"), "tableName");
        assert_eq!(
            message(v.check().unwrap_err()),
            "2 validation errors detected: Value 'a!' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value 'a!' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3"
        );
    }
}
