//! The condition of a write (`ConditionExpression`, or the legacy `Expected` with
//! `ConditionalOperator`) and the filter of a read (`FilterExpression`, or `ScanFilter` /
//! `QueryFilter`), as one [`Condition`].

use crate::error::Result;
use crate::expr::{parse_condition, Condition, ExpressionKind, Placeholders};
use crate::legacy::{expected_condition, filter_condition};
use crate::legacy_params;
use crate::shape::{Fields, Violations};

/// The condition a write must meet, if it has one.
pub fn write_condition(body: Fields<'_>, placeholders: &mut Placeholders) -> Result<Option<Condition>> {
    if let Some(text) = body.string("ConditionExpression")? {
        return Ok(Some(parse_condition(text, ExpressionKind::Condition, placeholders)?));
    }
    let mut violations = Violations::default();
    let expected = legacy_params::expected(body, &mut violations)?;
    let operator = legacy_params::conditional_operator(body, &mut violations)?;
    violations.check()?;
    match expected {
        Some(expected) => Ok(expected_condition(&expected, operator)?),
        None => Ok(None),
    }
}

/// The filter a read applies after reading, if it has one. `legacy` names the legacy filter
/// parameter (`ScanFilter` or `QueryFilter`).
pub fn read_filter(
    body: Fields<'_>,
    placeholders: &mut Placeholders,
    legacy: &str,
) -> Result<Option<Condition>> {
    if let Some(text) = body.string("FilterExpression")? {
        return Ok(Some(parse_condition(text, ExpressionKind::Filter, placeholders)?));
    }
    let mut violations = Violations::default();
    let filter = legacy_params::filter(body, legacy, &mut violations)?;
    let operator = legacy_params::conditional_operator(body, &mut violations)?;
    violations.check()?;
    match filter {
        Some(filter) => Ok(filter_condition(&filter, operator)?),
        None => Ok(None),
    }
}
