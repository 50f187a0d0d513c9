//! The legacy parameters read from a request's JSON into `legacy.rs`'s types, with DynamoDB's
//! type checks and constraint messages for their enumerations.

use std::collections::BTreeMap;

use crate::codec::decode_value;
use crate::error::Result;
use crate::legacy::{
    AttributeAction, AttributeValueUpdate, ComparisonOperator, ConditionalOperator, ExpectedAttribute,
    FilterCondition,
};
use crate::shape::{self, Fields, Violations};

/// `ComparisonOperator`'s values as DynamoDB lists them in its constraint message.
const COMPARISON_OPERATORS: [&str; 13] = [
    "IN",
    "NULL",
    "BETWEEN",
    "LT",
    "NOT_CONTAINS",
    "EQ",
    "GT",
    "NOT_NULL",
    "NE",
    "LE",
    "BEGINS_WITH",
    "GE",
    "CONTAINS",
];

/// The entries of a map parameter, each a structure.
fn entries<'a>(body: Fields<'a>, name: &str) -> Result<Option<Vec<(&'a String, Fields<'a>)>>> {
    let Some(map) = body.map(name)? else { return Ok(None) };
    let entries: Result<Vec<_>> =
        map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| Ok((k, shape::structure(v)?))).collect();
    entries.map(Some)
}

fn values(fields: Fields<'_>, name: &str) -> Result<Option<Vec<crate::AttributeValue>>> {
    fields
        .list(name)?
        .map(|list| list.iter().filter(|v| !v.is_null()).map(decode_value).collect())
        .transpose()
}

fn operator(
    fields: Fields<'_>,
    path: &str,
    violations: &mut Violations,
) -> Result<Option<ComparisonOperator>> {
    let name = fields.string("ComparisonOperator")?;
    violations.one_of(name, &format!("{path}.comparisonOperator"), &COMPARISON_OPERATORS);
    Ok(name.and_then(ComparisonOperator::parse))
}

/// `ConditionalOperator`.
pub fn conditional_operator(
    body: Fields<'_>,
    violations: &mut Violations,
) -> Result<Option<ConditionalOperator>> {
    let name = body.string("ConditionalOperator")?;
    violations.one_of(name, "conditionalOperator", &["AND", "OR"]);
    Ok(name.and_then(ConditionalOperator::parse))
}

/// `Expected`.
pub fn expected(
    body: Fields<'_>,
    violations: &mut Violations,
) -> Result<Option<BTreeMap<String, ExpectedAttribute>>> {
    let Some(entries) = entries(body, "Expected")? else { return Ok(None) };
    let mut expected = BTreeMap::new();
    for (name, fields) in entries {
        let path = format!("expected.{name}.member");
        let entry = ExpectedAttribute {
            value: fields.0.get("Value").filter(|v| !v.is_null()).map(decode_value).transpose()?,
            exists: fields.boolean("Exists")?,
            comparison_operator: operator(fields, &path, violations)?,
            attribute_value_list: values(fields, "AttributeValueList")?,
        };
        expected.insert(name.clone(), entry);
    }
    Ok(Some(expected))
}

/// `KeyConditions`, `QueryFilter` or `ScanFilter` (`name`); each entry needs its operator.
pub fn filter(
    body: Fields<'_>,
    name: &str,
    violations: &mut Violations,
) -> Result<Option<BTreeMap<String, FilterCondition>>> {
    let Some(entries) = entries(body, name)? else { return Ok(None) };
    let parameter = lower_first(name);
    let mut conditions = BTreeMap::new();
    for (attribute, fields) in entries {
        let path = format!("{parameter}.{attribute}.member");
        let comparison = operator(fields, &path, violations)?;
        violations.not_null(fields.has("ComparisonOperator"), &format!("{path}.comparisonOperator"));
        let list = values(fields, "AttributeValueList")?.unwrap_or_default();
        if let Some(comparison_operator) = comparison {
            conditions.insert(
                attribute.clone(),
                FilterCondition { comparison_operator, attribute_value_list: list },
            );
        }
    }
    Ok(Some(conditions))
}

/// `AttributeUpdates`.
pub fn attribute_updates(
    body: Fields<'_>,
    violations: &mut Violations,
) -> Result<Option<BTreeMap<String, AttributeValueUpdate>>> {
    let Some(entries) = entries(body, "AttributeUpdates")? else { return Ok(None) };
    let mut updates = BTreeMap::new();
    for (name, fields) in entries {
        let action = fields.string("Action")?;
        violations.one_of(
            action,
            &format!("attributeUpdates.{name}.member.action"),
            &["ADD", "PUT", "DELETE"],
        );
        let update = AttributeValueUpdate {
            action: action.and_then(AttributeAction::parse),
            value: fields.0.get("Value").filter(|v| !v.is_null()).map(decode_value).transpose()?,
        };
        updates.insert(name.clone(), update);
    }
    Ok(Some(updates))
}

/// `AttributesToGet`: at least one name.
pub fn attributes_to_get(body: Fields<'_>, violations: &mut Violations) -> Result<Option<Vec<String>>> {
    let Some(names) = body.strings("AttributesToGet")? else { return Ok(None) };
    if names.is_empty() {
        violations.add(Some("[]"), "attributesToGet", "Member must have length greater than or equal to 1");
    }
    Ok(Some(names.into_iter().map(str::to_owned).collect()))
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}
