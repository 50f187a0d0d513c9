//! The change an UpdateItem makes (`UpdateExpression`, or the legacy `AttributeUpdates`), the
//! checks DynamoDB makes of it against the table's key, and what `ReturnValues` answers.

use crate::error::{DynamoError, Result};
use crate::expr::{parse_update, Placeholders, Projection, Update};
use crate::shape::{Fields, Violations};
use crate::table::TableMeta;
use crate::Item;
use crate::{legacy, legacy_params};

/// The request's update, if it has one (an UpdateItem without one writes just the key).
pub fn parse(body: Fields<'_>, placeholders: &mut Placeholders) -> Result<Option<Update>> {
    if let Some(text) = body.string("UpdateExpression")? {
        return Ok(Some(parse_update(text, placeholders)?));
    }
    let mut violations = Violations::default();
    let updates = legacy_params::attribute_updates(body, &mut violations)?;
    violations.check()?;
    match updates {
        Some(updates) => Ok(Some(legacy::attribute_updates(&updates)?)),
        None => Ok(None),
    }
}

/// Key attributes may be neither changed nor reached into.
pub fn check_keys_untouched(update: &Option<Update>, meta: &TableMeta) -> Result<()> {
    let Some(update) = update else { return Ok(()) };
    if let Some(key) = update.nested_attributes().into_iter().find(|name| meta.key.contains(name)) {
        return Err(DynamoError::validation(format!(
            "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: {key}"
        )));
    }
    if let Some(key) = update.target_attributes().into_iter().find(|name| meta.key.contains(name)) {
        return Err(DynamoError::validation(format!(
            "One or more parameter values were invalid: Cannot update attribute {key}. This attribute is part of the key"
        )));
    }
    Ok(())
}

/// The item after the update: the old item changed, or (an upsert) the key changed.
pub fn apply(update: &Option<Update>, old: Option<&Item>, key: &Item) -> Result<Item> {
    let mut item = old.cloned().unwrap_or_else(|| key.clone());
    if let Some(update) = update {
        update.apply(&mut item)?;
    }
    Ok(item)
}

/// What `ReturnValues` answers: the whole item before or after, or only the attributes the
/// update changed (as they were, or became).
pub fn returned(
    update: &Option<Update>,
    return_values: Option<&str>,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Option<Item> {
    let changed = |item: Option<&Item>| {
        let paths = update.as_ref().map(Update::target_paths).unwrap_or_default();
        item.map(|item| Projection::of_paths(paths).apply(item))
    };
    match return_values {
        Some("ALL_OLD") => old.cloned(),
        Some("ALL_NEW") => new.cloned(),
        Some("UPDATED_OLD") => changed(old),
        Some("UPDATED_NEW") => changed(new),
        _ => None,
    }
}
