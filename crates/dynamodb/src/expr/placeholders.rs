//! A request's `ExpressionAttributeNames` (`#n` -> attribute name) and
//! `ExpressionAttributeValues` (`:v` -> value), shared by all the expressions of one request,
//! with a record of which were used: DynamoDB refuses a request that defines one it never uses.

use std::collections::{BTreeMap, BTreeSet};

use super::error::ExprError;
use crate::AttributeValue;

#[derive(Debug, Clone, Default)]
pub struct Placeholders {
    names: BTreeMap<String, String>,
    values: BTreeMap<String, AttributeValue>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl Placeholders {
    /// The placeholders of a request, from its optional maps. An empty map, or a key that is not
    /// `#` (or `:`) followed by letters, digits and `_`, is refused with DynamoDB's message.
    pub fn new(
        names: Option<BTreeMap<String, String>>,
        values: Option<BTreeMap<String, AttributeValue>>,
    ) -> Result<Placeholders, ExprError> {
        if let Some(names) = &names {
            check_keys("ExpressionAttributeNames", '#', names.keys())?;
        }
        if let Some(values) = &values {
            check_keys("ExpressionAttributeValues", ':', values.keys())?;
        }
        Ok(Placeholders {
            names: names.unwrap_or_default(),
            values: values.unwrap_or_default(),
            ..Placeholders::default()
        })
    }

    /// The attribute name `#key` stands for, marking it used.
    pub(crate) fn name(&mut self, key: &str) -> Option<String> {
        let name = self.names.get(key)?.clone();
        self.used_names.insert(key.to_owned());
        Some(name)
    }

    /// The value `:key` stands for, marking it used.
    pub(crate) fn value(&mut self, key: &str) -> Option<AttributeValue> {
        let value = self.values.get(key)?.clone();
        self.used_values.insert(key.to_owned());
        Some(value)
    }

    /// Call after parsing every expression of the request: refuses names, then values, that
    /// no expression used.
    pub fn check_all_used(&self) -> Result<(), ExprError> {
        unused("ExpressionAttributeNames", self.names.keys(), &self.used_names)?;
        unused("ExpressionAttributeValues", self.values.keys(), &self.used_values)
    }
}

fn check_keys<'a>(
    parameter: &str,
    sigil: char,
    keys: impl ExactSizeIterator<Item = &'a String>,
) -> Result<(), ExprError> {
    if keys.len() == 0 {
        return Err(ExprError::new(format!("{parameter} must not be empty")));
    }
    for key in keys {
        let valid = key.strip_prefix(sigil).is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if !valid {
            return Err(ExprError::new(format!(
                "{parameter} contains invalid key: Syntax error; key: \"{key}\""
            )));
        }
    }
    Ok(())
}

fn unused<'a>(
    parameter: &str,
    keys: impl Iterator<Item = &'a String>,
    used: &BTreeSet<String>,
) -> Result<(), ExprError> {
    let unused: Vec<&str> = keys.filter(|key| !used.contains(*key)).map(String::as_str).collect();
    if unused.is_empty() {
        return Ok(());
    }
    Err(ExprError::new(format!(
        "Value provided in {parameter} unused in expressions: keys: {{{}}}",
        unused.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(keys: &[&str]) -> Option<BTreeMap<String, String>> {
        Some(keys.iter().map(|k| (k.to_string(), "x".to_string())).collect())
    }

    fn values(keys: &[&str]) -> Option<BTreeMap<String, AttributeValue>> {
        Some(keys.iter().map(|k| (k.to_string(), AttributeValue::Null)).collect())
    }

    fn error(result: Result<Placeholders, ExprError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn empty_maps_and_bad_keys_are_refused() {
        assert_eq!(error(Placeholders::new(names(&[]), None)), "ExpressionAttributeNames must not be empty");
        assert_eq!(
            error(Placeholders::new(None, values(&[]))),
            "ExpressionAttributeValues must not be empty"
        );
        assert_eq!(
            error(Placeholders::new(names(&["a"]), None)),
            "ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\""
        );
        assert_eq!(
            error(Placeholders::new(None, values(&[":a", "b"]))),
            "ExpressionAttributeValues contains invalid key: Syntax error; key: \"b\""
        );
        for bad in ["#", "#a-b", ":a", "# a"] {
            assert!(Placeholders::new(names(&[bad]), None).is_err(), "{bad}");
        }
        assert!(Placeholders::new(names(&["#_a9"]), values(&[":_"])).is_ok());
    }

    #[test]
    fn unused_placeholders_are_named_names_first() {
        let mut placeholders = Placeholders::new(names(&["#a", "#b", "#c"]), values(&[":a", ":b"])).unwrap();
        assert_eq!(placeholders.name("#b").as_deref(), Some("x"));
        assert_eq!(placeholders.name("#zz"), None);
        assert_eq!(
            placeholders.check_all_used().unwrap_err().to_string(),
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #c}"
        );
        placeholders.name("#a");
        placeholders.name("#c");
        placeholders.value(":b");
        assert_eq!(
            placeholders.check_all_used().unwrap_err().to_string(),
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:a}"
        );
        placeholders.value(":a");
        assert!(placeholders.check_all_used().is_ok());
        assert!(Placeholders::default().check_all_used().is_ok());
    }
}
