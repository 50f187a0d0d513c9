//! Parameters several operations share: the two dialects (expressions and the legacy
//! parameters) and their placeholders, `ReturnValues`, keys and items (`docs/dynamodb.md`,
//! "Errors").

use std::collections::BTreeMap;

use serde_json::Value;

use crate::codec::{decode_item, decode_value};
use crate::error::{DynamoError, Result};
use crate::expr::{ExprError, Placeholders};
use crate::legacy::{check_parameter_mix, Operation};
use crate::shape::{Fields, Violations};
use crate::Item;

impl From<ExprError> for DynamoError {
    fn from(e: ExprError) -> DynamoError {
        DynamoError::validation(e.message())
    }
}

/// Refuses a request that mixes the dialects, or gives placeholders without expressions, with
/// DynamoDB's messages; returns the request's placeholders.
pub fn placeholders(body: Fields<'_>, operation: Operation) -> Result<Placeholders> {
    check_parameter_mix(operation, |name| body.has(name))?;
    let names = body
        .map("ExpressionAttributeNames")?
        .map(|m| {
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| Ok((k.clone(), crate::shape::string(v)?.to_owned())))
                .collect::<Result<BTreeMap<_, _>>>()
        })
        .transpose()?;
    let values = body
        .map("ExpressionAttributeValues")?
        .map(|m| {
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| Ok((k.clone(), decode_value(v)?)))
                .collect::<Result<BTreeMap<_, _>>>()
        })
        .transpose()?;
    Ok(Placeholders::new(names, values)?)
}

/// `ReturnValues`, checked against the enum and then against what the operation allows.
pub fn return_values<'a>(body: Fields<'a>, violations: &mut Violations) -> Result<Option<&'a str>> {
    let value = body.string("ReturnValues")?;
    violations.one_of(value, "returnValues", &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"]);
    Ok(value)
}

/// `ReturnValuesOnConditionCheckFailure`: whether the item goes into the error.
pub fn return_old_on_failure(body: Fields<'_>, violations: &mut Violations) -> Result<bool> {
    let value = body.string("ReturnValuesOnConditionCheckFailure")?;
    violations.one_of(value, "returnValuesOnConditionCheckFailure", &["ALL_OLD", "NONE"]);
    Ok(value == Some("ALL_OLD"))
}

/// The enums answers ignore but DynamoDB checks.
pub fn accepted_enums(body: Fields<'_>, violations: &mut Violations) -> Result<()> {
    violations.one_of(
        body.string("ReturnConsumedCapacity")?,
        "returnConsumedCapacity",
        &["INDEXES", "TOTAL", "NONE"],
    );
    violations.one_of(
        body.string("ReturnItemCollectionMetrics")?,
        "returnItemCollectionMetrics",
        &["SIZE", "NONE"],
    );
    Ok(())
}

/// A map of attribute values that must be present (`Key`, `Item`): `None` records a
/// violation at `path`.
pub fn required_item(
    body: Fields<'_>,
    name: &str,
    path: &str,
    violations: &mut Violations,
) -> Result<Option<Item>> {
    let value: Option<&Value> = body.0.get(name).filter(|v| !v.is_null());
    violations.not_null(value.is_some(), path);
    value.map(decode_item).transpose()
}

/// `ALL_OLD` on a PutItem or DeleteItem: the item as it was.
pub fn only_all_old_or_none(return_values: Option<&str>) -> Result<bool> {
    match return_values {
        None | Some("NONE") => Ok(false),
        Some("ALL_OLD") => Ok(true),
        Some(_) => Err(DynamoError::validation("ReturnValues can only be ALL_OLD or NONE")),
    }
}
