//! The condition of a write (`ConditionExpression`, or the legacy `Expected` with
//! `ConditionalOperator`) and the filter of a read (`FilterExpression`, or `ScanFilter` /
//! `QueryFilter`), as one [`Condition`].

use crate::error::Result;
use crate::expr::{parse_condition, Condition, ExpressionKind, Placeholders};
use crate::shape::Fields;

/// The condition a write must meet, if it has one.
pub fn write_condition(body: Fields<'_>, placeholders: &mut Placeholders) -> Result<Option<Condition>> {
    if let Some(text) = body.string("ConditionExpression")? {
        return Ok(Some(parse_condition(text, ExpressionKind::Condition, placeholders)?));
    }
    Ok(None)
}

/// The filter a read applies after reading, if it has one. `legacy` names the legacy filter
/// parameter (`ScanFilter` or `QueryFilter`).
pub fn read_filter(body: Fields<'_>, placeholders: &mut Placeholders, legacy: &str) -> Result<Option<Condition>> {
    let _ = legacy;
    if let Some(text) = body.string("FilterExpression")? {
        return Ok(Some(parse_condition(text, ExpressionKind::Filter, placeholders)?));
    }
    Ok(None)
}
