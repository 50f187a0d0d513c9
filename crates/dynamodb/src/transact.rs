//! TransactWriteItems: up to 100 ConditionChecks, Puts, Updates and Deletes, all checked and
//! then all written in one commit, or none (`TransactionCanceledException` with a reason per
//! item).

use serde_json::{json, Value};

use crate::db::{Database, ItemChange, TableState};
use crate::error::{CancellationReason, DynamoError, Result};
use crate::expr::{Condition, Update};
use crate::items::{check_size, key_bytes};
use crate::legacy::Operation;
use crate::params;
use crate::shape::{Fields, Violations};
use crate::{conditions, updates, Context, Item, Names};

const MAX_ITEMS: usize = 100;

/// What one transaction item does once its condition holds.
enum Action {
    Check,
    Put(Item),
    Update(Option<Update>),
    Delete,
}

struct Planned {
    table: TableState,
    key: Item,
    key_bytes: Vec<u8>,
    condition: Option<Condition>,
    old_on_failure: bool,
    action: Action,
}

/// Reads and checks one transaction item.
fn plan(db: &Database, ctx: &Context, request: Fields<'_>, path: &str) -> Result<Planned> {
    let (kind, fields) =
        match (
            request.structure("ConditionCheck")?,
            request.structure("Put")?,
            request.structure("Update")?,
            request.structure("Delete")?,
        ) {
            (Some(f), None, None, None) => ("conditionCheck", f),
            (None, Some(f), None, None) => ("put", f),
            (None, None, Some(f), None) => ("update", f),
            (None, None, None, Some(f)) => ("delete", f),
            _ => return Err(DynamoError::validation(
                "The action or operation requested is invalid. Verify that the action is typed correctly.",
            )),
        };
    let path = format!("{path}.{kind}");
    let mut violations = Violations::default();
    let name = fields.string("TableName")?;
    violations.not_null(name.is_some(), &format!("{path}.tableName"));
    violations.name(name, &format!("{path}.tableName"));
    let item_or_key = if kind == "put" {
        params::required_item(fields, "Item", &format!("{path}.item"), &mut violations)?
    } else {
        params::required_item(fields, "Key", &format!("{path}.key"), &mut violations)?
    };
    let old_on_failure = params::return_old_on_failure(fields, &mut violations)?;
    if kind == "conditionCheck" {
        violations.not_null(fields.has("ConditionExpression"), &format!("{path}.conditionExpression"));
    }
    if kind == "update" {
        violations.not_null(fields.has("UpdateExpression"), &format!("{path}.updateExpression"));
    }
    violations.check()?;
    let operation = if kind == "update" { Operation::UpdateItem } else { Operation::PutItem };
    let mut placeholders = params::placeholders(fields, operation)?;
    let update = if kind == "update" { updates::parse(fields, &mut placeholders)? } else { None };
    let condition = conditions::write_condition(fields, &mut placeholders)?;
    placeholders.check_all_used()?;

    let table = db.serving_table(&ctx.table(name.unwrap_or_default()))?;
    let item_or_key = item_or_key.unwrap_or_default();
    let (key, action) = match kind {
        "put" => {
            table.meta.check_item(&item_or_key)?;
            check_size(&item_or_key, "Item size has exceeded the maximum allowed size")?;
            (table.meta.key.key_of(&item_or_key), Action::Put(item_or_key))
        }
        _ => {
            table.meta.check_key(&item_or_key)?;
            let action = match kind {
                "update" => {
                    updates::check_keys_untouched(&update, &table.meta)?;
                    Action::Update(update)
                }
                "delete" => Action::Delete,
                _ => Action::Check,
            };
            (item_or_key, action)
        }
    };
    let key_bytes = key_bytes(&table, &key)?;
    Ok(Planned { table, key, key_bytes, condition, old_on_failure, action })
}

pub fn transact_write_items(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let items = body.list("TransactItems")?;
    let mut violations = Violations::default();
    violations.not_null(items.is_some(), "transactItems");
    let items = items.unwrap_or_default();
    if body.has("TransactItems") && items.is_empty() {
        violations.add(Some("[]"), "transactItems", "Member must have length greater than or equal to 1");
    }
    if items.len() > MAX_ITEMS {
        violations.add(None, "transactItems", "Member must have length less than or equal to 100");
    }
    body.string("ClientRequestToken")?;
    params::accepted_enums(body, &mut violations)?;
    violations.check()?;

    let mut planned = Vec::with_capacity(items.len());
    for (i, request) in items.iter().enumerate() {
        let request = crate::shape::structure(request)?;
        planned.push(plan(db, ctx, request, &format!("transactItems.{}.member", i + 1))?);
    }
    for (i, a) in planned.iter().enumerate() {
        if planned[..i].iter().any(|b| b.table.meta.id == a.table.meta.id && b.key_bytes == a.key_bytes) {
            return Err(DynamoError::validation(
                "Transaction request cannot include multiple operations on one item",
            ));
        }
    }

    let _writer = db.writer();
    let mut reasons = Vec::with_capacity(planned.len());
    let mut changes = Vec::new();
    let mut failed = false;
    for item in &planned {
        let old = db.get_item(item.table.meta.id, &item.key_bytes)?;
        let holds = item.condition.as_ref().is_none_or(|c| c.matches(old.as_ref().unwrap_or(&Item::new())));
        if !holds {
            failed = true;
            reasons.push(CancellationReason {
                code: "ConditionalCheckFailed",
                message: Some("The conditional request failed".to_owned()),
                item: old.filter(|_| item.old_on_failure),
            });
            continue;
        }
        let new = match &item.action {
            Action::Check => {
                reasons.push(none());
                continue;
            }
            Action::Put(new) => Some(new.clone()),
            Action::Delete => None,
            Action::Update(update) => {
                let applied = updates::apply(update, old.as_ref(), &item.key).and_then(|new| {
                    item.table.meta.check_item(&new)?;
                    check_size(&new, "Item size to update has exceeded the maximum allowed size")?;
                    Ok(new)
                });
                match applied {
                    Ok(new) => Some(new),
                    Err(e) => {
                        failed = true;
                        reasons.push(CancellationReason {
                            code: "ValidationError",
                            message: e.message,
                            item: None,
                        });
                        continue;
                    }
                }
            }
        };
        reasons.push(none());
        changes.push(ItemChange { table: item.table.meta.id, key: item.key_bytes.clone(), old, new });
    }
    if failed {
        return Err(DynamoError::transaction_canceled(reasons));
    }
    db.write_items(&changes)?;
    Ok(json!({}))
}

fn none() -> CancellationReason {
    CancellationReason { code: "None", message: None, item: None }
}
