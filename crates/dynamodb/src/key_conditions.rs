//! The key a Query reads: `KeyConditionExpression` (or the legacy `KeyConditions`) checked
//! against the key schema of the table or index queried.

use crate::error::{DynamoError, Result};
use crate::expr::{parse_key_condition, KeyCondition, KeyTest, Placeholders};
use crate::shape::{Fields, Violations};
use crate::table::KeySchema;
use crate::AttributeValue;
use crate::{legacy, legacy_params};

/// The partition a Query reads, and the test of its sort key.
pub struct KeyQuery {
    pub hash: AttributeValue,
    pub range: Option<KeyTest>,
}

/// The request's key condition; a Query must have one.
pub fn parse(body: Fields<'_>, placeholders: &mut Placeholders) -> Result<KeyCondition> {
    if let Some(text) = body.string("KeyConditionExpression")? {
        return Ok(parse_key_condition(text, placeholders)?);
    }
    let mut violations = Violations::default();
    let conditions = legacy_params::filter(body, "KeyConditions", &mut violations)?;
    violations.check()?;
    match conditions {
        Some(conditions) => Ok(legacy::key_conditions(&conditions)?),
        None => Err(DynamoError::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        )),
    }
}

/// Checks the condition against `key` and splits it into partition and sort key.
pub fn resolve(condition: KeyCondition, key: &KeySchema) -> Result<KeyQuery> {
    let range = key.range.as_ref().map(|r| (r.name.as_str(), r.scalar.name()));
    condition.check_schema((&key.hash.name, key.hash.scalar.name()), range)?;
    let hash = match condition.predicate(&key.hash.name).map(|p| &p.test) {
        Some(KeyTest::Equal(value)) => value.clone(),
        _ => {
            return Err(DynamoError::validation(format!(
                "Query condition missed key schema element: {}",
                key.hash.name
            )))
        }
    };
    let range = key.range.as_ref().and_then(|r| condition.predicate(&r.name)).map(|p| p.test.clone());
    Ok(KeyQuery { hash, range })
}
