//! The item operations: GetItem, PutItem, DeleteItem, UpdateItem, BatchGetItem and
//! BatchWriteItem. Every write reads the item and commits its change under the database's one
//! writer, so a condition is checked against the item as the last acknowledged write left it.

use serde_json::{json, Map, Value};

use crate::codec::{encode_item, item_size, MAX_ITEM_BYTES};
use crate::db::{Database, ItemChange, TableName, TableState};
use crate::error::{DynamoError, Result};
use crate::expr::Condition;
use crate::legacy::Operation;
use crate::params;
use crate::shape::{Fields, Violations};
use crate::{conditions, layout, projections, updates, Context, Item, Names};

/// The table key of `key` (already checked against the schema) as stored.
pub fn key_bytes(table: &TableState, key: &Item) -> Result<Vec<u8>> {
    layout::encoded_key(&table.meta.key, key)
        .ok_or_else(|| DynamoError::validation("The provided key element does not match the schema"))
}

/// Refuses an item over 400 KB with DynamoDB's message for the operation.
pub fn check_size(item: &Item, message: &str) -> Result<()> {
    if item_size(item) > MAX_ITEM_BYTES {
        return Err(DynamoError::validation(message));
    }
    Ok(())
}

/// One write as it was applied: the item before and after.
pub struct Written {
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// Reads the item at `key`, checks `condition` on it, makes its new state with `change`, checks
/// that and commits it, all under the writer.
pub fn write_one(
    db: &Database,
    table: &TableState,
    key: &Item,
    condition: Option<&Condition>,
    old_on_failure: bool,
    change: impl FnOnce(Option<&Item>) -> Result<Option<Item>>,
) -> Result<Written> {
    let key_bytes = key_bytes(table, key)?;
    let _writer = db.writer();
    let old = db.get_item(table.meta.id, &key_bytes)?;
    if let Some(condition) = condition {
        if !condition.matches(old.as_ref().unwrap_or(&Item::new())) {
            return Err(DynamoError::conditional_check_failed(old.filter(|_| old_on_failure)));
        }
    }
    let new = change(old.as_ref())?;
    db.write_items(&[ItemChange {
        table: table.meta.id,
        key: key_bytes,
        old: old.clone(),
        new: new.clone(),
    }])?;
    Ok(Written { old, new })
}

/// The answer's `Attributes`, when there are any.
fn with_attributes(attributes: Option<Item>) -> Value {
    match attributes {
        Some(item) if !item.is_empty() => json!({ "Attributes": encode_item(&item) }),
        _ => json!({}),
    }
}

/// What PutItem, DeleteItem and UpdateItem read and check alike, in DynamoDB's order: the item
/// (or key) under `member`, the table's name, ReturnValues and
/// ReturnValuesOnConditionCheckFailure, every violation in one ValidationException.
struct SingleWrite<'a> {
    item: Item,
    table: &'a str,
    return_values: Option<&'a str>,
    old_on_failure: bool,
}

fn single_write<'a>(body: Fields<'a>, member: &str, path: &str) -> Result<SingleWrite<'a>> {
    let mut violations = Violations::default();
    let item = params::required_item(body, member, path, &mut violations)?;
    let table = body.string("TableName")?;
    violations.not_null(table.is_some(), "tableName");
    violations.name(table, "tableName");
    let return_values = params::return_values(body, &mut violations)?;
    let old_on_failure = params::return_old_on_failure(body, &mut violations)?;
    params::accepted_enums(body, &mut violations)?;
    violations.check()?;
    // With no violations, both are there.
    Ok(SingleWrite {
        item: item.unwrap_or_default(),
        table: table.unwrap_or_default(),
        return_values,
        old_on_failure,
    })
}

pub fn put_item(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let SingleWrite { item, table: name, return_values, old_on_failure } =
        single_write(body, "Item", "item")?;
    let all_old = params::only_all_old_or_none(return_values)?;
    let mut placeholders = params::placeholders(body, Operation::PutItem)?;
    let condition = conditions::write_condition(body, &mut placeholders)?;
    placeholders.check_all_used()?;

    let table = db.serving_table(&ctx.table(name))?;
    table.meta.check_item(&item)?;
    check_size(&item, "Item size has exceeded the maximum allowed size")?;
    let key = table.meta.key.key_of(&item);
    let written = write_one(db, &table, &key, condition.as_ref(), old_on_failure, |_| Ok(Some(item)))?;
    Ok(with_attributes(written.old.filter(|_| all_old)))
}

pub fn delete_item(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let SingleWrite { item: key, table: name, return_values, old_on_failure } =
        single_write(body, "Key", "key")?;
    let all_old = params::only_all_old_or_none(return_values)?;
    let mut placeholders = params::placeholders(body, Operation::DeleteItem)?;
    let condition = conditions::write_condition(body, &mut placeholders)?;
    placeholders.check_all_used()?;

    let table = db.serving_table(&ctx.table(name))?;
    table.meta.check_key(&key)?;
    let written = write_one(db, &table, &key, condition.as_ref(), old_on_failure, |_| Ok(None))?;
    Ok(with_attributes(written.old.filter(|_| all_old)))
}

pub fn update_item(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let SingleWrite { item: key, table: name, return_values, old_on_failure } =
        single_write(body, "Key", "key")?;
    let mut placeholders = params::placeholders(body, Operation::UpdateItem)?;
    let update = updates::parse(body, &mut placeholders)?;
    let condition = conditions::write_condition(body, &mut placeholders)?;
    placeholders.check_all_used()?;

    let table = db.serving_table(&ctx.table(name))?;
    table.meta.check_key(&key)?;
    updates::check_keys_untouched(&update, &table.meta)?;
    let written = write_one(db, &table, &key, condition.as_ref(), old_on_failure, |old| {
        let new = updates::apply(&update, old, &key)?;
        table.meta.check_item(&new)?;
        check_size(&new, "Item size to update has exceeded the maximum allowed size")?;
        Ok(Some(new))
    })?;
    let attributes = updates::returned(&update, return_values, written.old.as_ref(), written.new.as_ref());
    Ok(with_attributes(attributes))
}

pub fn get_item(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let mut violations = Violations::default();
    let key = params::required_item(body, "Key", "key", &mut violations)?;
    let name = body.string("TableName")?;
    violations.not_null(name.is_some(), "tableName");
    violations.name(name, "tableName");
    body.boolean("ConsistentRead")?;
    params::accepted_enums(body, &mut violations)?;
    violations.check()?;
    let mut placeholders = params::placeholders(body, Operation::GetItem)?;
    let projection = projections::parse(body, &mut placeholders)?;
    placeholders.check_all_used()?;

    let key = key.unwrap_or_default();
    let table = db.serving_table(&ctx.table(name.unwrap_or_default()))?;
    table.meta.check_key(&key)?;
    let item = db.get_item(table.meta.id, &key_bytes(&table, &key)?)?;
    Ok(match item {
        Some(item) => json!({ "Item": encode_item(&projections::apply(projection.as_ref(), &item)) }),
        None => json!({}),
    })
}

/// At most 100 keys in a BatchGetItem and 25 writes in a BatchWriteItem.
const BATCH_GET_LIMIT: usize = 100;
const BATCH_WRITE_LIMIT: usize = 25;

/// A batch request's `RequestItems`, checked as DynamoDB does: present, with the request's
/// enums, and not empty.
fn request_items(body: Fields<'_>) -> Result<Map<String, Value>> {
    let request_items = body.map("RequestItems")?;
    let mut violations = Violations::default();
    violations.not_null(request_items.is_some(), "requestItems");
    params::accepted_enums(body, &mut violations)?;
    violations.check()?;
    let request_items = request_items.cloned().unwrap_or_default();
    if request_items.is_empty() {
        let mut v = Violations::default();
        v.add(Some("{}"), "requestItems", "Member must have length greater than or equal to 1");
        v.check()?;
    }
    Ok(request_items)
}

pub fn batch_get_item(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let request_items = request_items(body)?;
    struct TableRead {
        name: TableName,
        keys: Vec<Item>,
        projection: Option<projections::Projection>,
    }
    let mut reads = Vec::new();
    let mut total = 0;
    for (table, request) in &request_items {
        let mut v = Violations::default();
        v.name(Some(table), &format!("requestItems.{table}.member.tableName"));
        v.check()?;
        let request = crate::shape::structure(request)?;
        let keys = request.list("Keys")?.unwrap_or_default();
        let mut v = Violations::default();
        v.not_null(request.has("Keys"), &format!("requestItems.{table}.member.keys"));
        if request.has("Keys") && keys.is_empty() {
            v.add(
                Some("[]"),
                &format!("requestItems.{table}.member.keys"),
                "Member must have length greater than or equal to 1",
            );
        }
        if keys.len() > BATCH_GET_LIMIT {
            v.add(
                None,
                &format!("requestItems.{table}.member.keys"),
                "Member must have length less than or equal to 100",
            );
        }
        request.boolean("ConsistentRead")?;
        v.check()?;
        let mut placeholders = params::placeholders(request, Operation::BatchGetItem)?;
        let projection = projections::parse(request, &mut placeholders)?;
        placeholders.check_all_used()?;
        let keys = keys.iter().map(crate::codec::decode_item).collect::<Result<Vec<_>>>()?;
        total += keys.len();
        reads.push(TableRead { name: ctx.table(table), keys, projection });
    }
    if total > BATCH_GET_LIMIT {
        return Err(DynamoError::validation("Too many items requested for the BatchGetItem call"));
    }
    let mut responses = Map::new();
    for read in &reads {
        let table = db.serving_table(&read.name)?;
        let mut seen = Vec::new();
        for key in &read.keys {
            table.meta.check_key(key)?;
            let bytes = key_bytes(&table, key)?;
            if seen.contains(&bytes) {
                return Err(DynamoError::validation("Provided list of item keys contains duplicates"));
            }
            seen.push(bytes);
        }
        let mut found = Vec::new();
        for key in seen {
            if let Some(item) = db.get_item(table.meta.id, &key)? {
                found.push(encode_item(&projections::apply(read.projection.as_ref(), &item)));
            }
        }
        responses.insert(read.name.name.clone(), Value::Array(found));
    }
    Ok(json!({ "Responses": responses, "UnprocessedKeys": {} }))
}

pub fn batch_write_item(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let request_items = request_items(body)?;
    // Every request is checked before anything is written: bad input changes nothing.
    let mut planned: Vec<(TableState, Item, Option<Item>)> = Vec::new();
    let mut count = 0;
    for (table, requests) in &request_items {
        let mut v = Violations::default();
        v.name(Some(table), &format!("requestItems.{table}.member.tableName"));
        v.check()?;
        let requests = crate::shape::list(requests)?;
        if requests.is_empty() {
            let mut v = Violations::default();
            v.add(
                Some("[]"),
                &format!("requestItems.{table}.member"),
                "Member must have length greater than or equal to 1",
            );
            v.check()?;
        }
        let state = db.serving_table(&ctx.table(table))?;
        for request in requests {
            count += 1;
            let request = crate::shape::structure(request)?;
            let put = request.structure("PutRequest")?;
            let delete = request.structure("DeleteRequest")?;
            match (put, delete) {
                (Some(put), None) => {
                    let mut v = Violations::default();
                    let item = params::required_item(put, "Item", &format!("requestItems.{table}.member.1.member.putRequest.item"), &mut v)?;
                    v.check()?;
                    let item = item.unwrap_or_default();
                    state.meta.check_item(&item)?;
                    check_size(&item, "Item size has exceeded the maximum allowed size")?;
                    planned.push((state.clone(), state.meta.key.key_of(&item), Some(item)));
                }
                (None, Some(delete)) => {
                    let mut v = Violations::default();
                    let key = params::required_item(delete, "Key", &format!("requestItems.{table}.member.1.member.deleteRequest.key"), &mut v)?;
                    v.check()?;
                    let key = key.unwrap_or_default();
                    state.meta.check_key(&key)?;
                    planned.push((state.clone(), key, None));
                }
                _ => {
                    return Err(DynamoError::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    ))
                }
            }
        }
    }
    if count > BATCH_WRITE_LIMIT {
        let mut v = Violations::default();
        v.add(None, "requestItems", "Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]");
        v.check()?;
    }
    let mut keys = Vec::new();
    for (table, key, _) in &planned {
        let bytes = (table.meta.id, key_bytes(table, key)?);
        if keys.contains(&bytes) {
            return Err(DynamoError::validation("Provided list of item keys contains duplicates"));
        }
        keys.push(bytes);
    }
    let _writer = db.writer();
    let mut changes = Vec::new();
    for ((table, key), (_, _, new)) in keys.into_iter().zip(planned) {
        let old = db.get_item(table, &key)?;
        changes.push(ItemChange { table, key, old, new });
    }
    db.write_items(&changes)?;
    Ok(json!({ "UnprocessedItems": {} }))
}
