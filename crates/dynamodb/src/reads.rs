//! Scan and Query: pages of at most `Limit` items and 1 MB read, in key order (a Query's range
//! key in DynamoDB's order, forwards or backwards), resumed exactly after `ExclusiveStartKey`;
//! parallel Scan segments split the partitions disjointly and completely; filters apply after
//! reading, projections and `Select` shape the answer.

use serde_json::{json, Map, Value};

use crate::codec::{decode_item, encode_item, item_size};
use crate::db::{Database, TableState};
use crate::error::{DynamoError, Result};
use crate::expr::{Condition, Projection};
use crate::key_conditions::{self, KeyQuery};
use crate::layout::{self, TABLE_SPACE};
use crate::legacy::Operation;
use crate::params;
use crate::shape::{Fields, Violations};
use crate::table::{IndexMeta, KeySchema, ProjectionType};
use crate::{conditions, projections, Context, Item, Names};

/// A page stops once it has read this much.
const PAGE_BYTES: usize = 1024 * 1024;

/// What the answer carries, from `Select` and the projection.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Count,
    Items(Option<Projection>),
}

/// Where a read goes: the table, or one of its indexes.
struct Source<'a> {
    table: &'a TableState,
    index: Option<&'a IndexMeta>,
}

impl Source<'_> {
    fn space(&self) -> u32 {
        self.index.map_or(TABLE_SPACE, |i| i.id)
    }

    fn key(&self) -> &KeySchema {
        self.index.map_or(&self.table.meta.key, |i| &i.key)
    }

    /// The item as the source holds it: whole for the table, projected for an index.
    fn holds(&self, item: &Item) -> Item {
        match self.index {
            Some(index) => index.project(&self.table.meta.key, item),
            None => item.clone(),
        }
    }

    /// The position of an item in the source's space.
    fn position(&self, item: &Item) -> Option<Vec<u8>> {
        let mut position = layout::encoded_key(self.key(), item)?;
        if self.index.is_some() {
            position.extend(layout::encoded_key(&self.table.meta.key, item)?);
        }
        Some(position)
    }

    /// `LastEvaluatedKey`: the table's key and, reading an index, the index's key.
    fn last_key(&self, item: &Item) -> Item {
        let mut key = self.table.meta.key.key_of(item);
        key.extend(self.key().key_of(item));
        key
    }
}

/// The parameters Scan and Query share.
struct Common<'a> {
    name: &'a str,
    index: Option<&'a str>,
    limit: Option<i64>,
    select: Option<&'a str>,
    start: Option<Item>,
}

fn common<'a>(body: Fields<'a>, violations: &mut Violations) -> Result<Common<'a>> {
    let name = body.string("TableName")?;
    violations.not_null(name.is_some(), "tableName");
    violations.name(name, "tableName");
    let index = body.string("IndexName")?;
    violations.name(index, "indexName");
    let limit = body.integer("Limit")?;
    violations.at_least(limit, "limit", 1);
    let select = body.string("Select")?;
    violations.one_of(
        select,
        "select",
        &["SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"],
    );
    body.boolean("ConsistentRead")?;
    params::accepted_enums(body, violations)?;
    let start = match body.map("ExclusiveStartKey")? {
        Some(_) => Some(decode_item(&body.0["ExclusiveStartKey"]).map_err(|e| {
            DynamoError::validation(format!(
                "The provided starting key is invalid: {}",
                e.message.unwrap_or_default()
            ))
        })?),
        None => None,
    };
    Ok(Common { name: name.unwrap_or_default(), index, limit, select, start })
}

/// Checks `Select` against the projection and the index, with DynamoDB's messages (a Query's
/// wrapped as a validation error list).
fn shape(
    select: Option<&str>,
    projection: Option<Projection>,
    projection_parameter: Option<&str>,
    index: Option<&IndexMeta>,
    query: bool,
) -> Result<Shape> {
    let prefix = if query { "1 validation error detected: " } else { "" };
    let error = |message: String| Err(DynamoError::validation(format!("{prefix}{message}")));
    let described =
        |select: &str| if select == "COUNT" { "only the Count".to_owned() } else { select.to_owned() };
    match (select, projection_parameter) {
        (Some("SPECIFIC_ATTRIBUTES"), None) => {
            return error("Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES".into())
        }
        (Some("ALL_PROJECTED_ATTRIBUTES"), _) if index.is_none() => {
            return error("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName".into())
        }
        (Some(select @ ("ALL_ATTRIBUTES" | "ALL_PROJECTED_ATTRIBUTES" | "COUNT")), Some(parameter)) => {
            return error(format!("Cannot specify the {parameter} when choosing to get {}", described(select)))
        }
        _ => {}
    }
    if let (Some("ALL_ATTRIBUTES"), Some(index)) = (select, index) {
        if index.projection.kind != ProjectionType::All {
            return Err(DynamoError::validation(format!(
                "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                index.name
            )));
        }
    }
    Ok(if select == Some("COUNT") { Shape::Count } else { Shape::Items(projection) })
}

/// The index a read names: a missing one is a `ValidationException`.
fn index_of<'a>(table: &'a TableState, name: Option<&str>) -> Result<Option<&'a IndexMeta>> {
    match name {
        None => Ok(None),
        Some(name) => table.meta.index(name).map(Some).ok_or_else(|| {
            DynamoError::validation(format!("The table does not have the specified index: {name}"))
        }),
    }
}

/// The start position from `ExclusiveStartKey`, which must hold the source's keys.
fn start_position(source: &Source<'_>, start: Option<&Item>) -> Result<Option<Vec<u8>>> {
    let Some(start) = start else { return Ok(None) };
    let invalid = || {
        DynamoError::validation(
            "The provided starting key is invalid: The provided key element does not match the schema",
        )
    };
    let expected: Vec<&str> = source
        .table
        .meta
        .key
        .attributes()
        .chain(source.index.map(|i| i.key.attributes().collect::<Vec<_>>()).unwrap_or_default())
        .map(|a| a.name.as_str())
        .collect();
    if start.keys().any(|k| !expected.contains(&k.as_str())) {
        return Err(invalid());
    }
    source.position(start).map(Some).ok_or_else(invalid)
}

/// One page being read.
struct Page<'a> {
    source: &'a Source<'a>,
    limit: usize,
    filter: Option<&'a Condition>,
    shape: &'a Shape,
    items: Vec<Value>,
    count: usize,
    scanned: usize,
    bytes: usize,
    last: Option<Item>,
}

impl<'a> Page<'a> {
    /// An empty page of at most `limit` items read (no limit when absent).
    fn new(
        source: &'a Source<'a>,
        limit: Option<i64>,
        filter: Option<&'a Condition>,
        shape: &'a Shape,
    ) -> Self {
        Page {
            source,
            limit: limit.map_or(usize::MAX, |l| l as usize),
            filter,
            shape,
            items: Vec::new(),
            count: 0,
            scanned: 0,
            bytes: 0,
            last: None,
        }
    }

    /// Takes one item read; `false` once the page is full.
    fn take(&mut self, item: Item) -> bool {
        let held = self.source.holds(&item);
        self.scanned += 1;
        self.bytes += item_size(&held);
        if self.filter.is_none_or(|f| f.matches(&held)) {
            self.count += 1;
            if let Shape::Items(projection) = self.shape {
                self.items.push(encode_item(&projections::apply(projection.as_ref(), &held)));
            }
        }
        let full = self.scanned >= self.limit || self.bytes >= PAGE_BYTES;
        if full {
            self.last = Some(self.source.last_key(&item));
        }
        !full
    }

    fn answer(self) -> Value {
        let mut answer = Map::new();
        if let Shape::Items(_) = self.shape {
            answer.insert("Items".into(), Value::Array(self.items));
        }
        answer.insert("Count".into(), json!(self.count));
        answer.insert("ScannedCount".into(), json!(self.scanned));
        if let Some(last) = self.last {
            answer.insert("LastEvaluatedKey".into(), encode_item(&last));
        }
        Value::Object(answer)
    }
}

/// Reads the item an entry of `source`'s space stands for.
fn entry_item(db: &Database, source: &Source<'_>, value: &[u8]) -> Result<Option<Item>> {
    match source.index {
        None => layout::decode_stored_item(value).map(Some),
        Some(_) => db.get_item(source.table.meta.id, value),
    }
}

/// A stable hash of a partition, for parallel Scan segments (FNV-1a).
fn partition_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

pub fn scan(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let mut violations = Violations::default();
    let common = common(body, &mut violations)?;
    let segment = body.integer("Segment")?;
    let total = body.integer("TotalSegments")?;
    violations.at_least(segment, "segment", 0);
    violations.at_most(segment, "segment", 999_999);
    violations.at_least(total, "totalSegments", 1);
    violations.at_most(total, "totalSegments", 1_000_000);
    violations.check()?;
    let segments = match (segment, total) {
        (Some(_), None) => {
            return Err(DynamoError::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ))
        }
        (None, Some(_)) => {
            return Err(DynamoError::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ))
        }
        (Some(segment), Some(total)) if segment >= total => {
            return Err(DynamoError::validation(format!(
                "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
            )))
        }
        (Some(segment), Some(total)) => Some((segment as u64, total as u64)),
        (None, None) => None,
    };
    let mut placeholders = params::placeholders(body, Operation::Scan)?;
    let projection = projections::parse(body, &mut placeholders)?;
    let filter = conditions::read_filter(body, &mut placeholders, "ScanFilter")?;
    placeholders.check_all_used()?;

    let table = db.serving_table(&ctx.table(common.name))?;
    let index = index_of(&table, common.index)?;
    let parameter = projection_parameter(body);
    let shape = shape(common.select, projection, parameter, index, false)?;
    let source = Source { table: &table, index };
    let start = start_position(&source, common.start.as_ref())?;
    let mut page = Page::new(&source, common.limit, filter.as_ref(), &shape);
    db.scan_space(table.meta.id, source.space(), &[], start.as_deref(), false, &mut |key, value| {
        if let Some((segment, total)) = segments {
            let hash_len = partition_key_len(key);
            if partition_hash(&key[..hash_len]) % total != segment {
                return Ok(true);
            }
        }
        match entry_item(db, &source, value)? {
            Some(item) => Ok(page.take(item)),
            None => Ok(true),
        }
    })?;
    Ok(page.answer())
}

/// The length of the partition (hash) key's encoding at the front of a position.
fn partition_key_len(position: &[u8]) -> usize {
    crate::keys::decode_key_value(position).map_or(position.len(), |(_, rest)| position.len() - rest.len())
}

/// The projection parameter a request gives, for `Select`'s messages.
fn projection_parameter(body: Fields<'_>) -> Option<&'static str> {
    if body.has("ProjectionExpression") {
        Some("ProjectionExpression")
    } else if body.has("AttributesToGet") {
        Some("AttributesToGet")
    } else {
        None
    }
}

pub fn query(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let mut violations = Violations::default();
    let common = common(body, &mut violations)?;
    let forward = body.boolean("ScanIndexForward")?.unwrap_or(true);
    violations.check()?;
    let mut placeholders = params::placeholders(body, Operation::Query)?;
    let projection = projections::parse(body, &mut placeholders)?;
    let filter = conditions::read_filter(body, &mut placeholders, "QueryFilter")?;
    let key_query = key_conditions::parse(body, &mut placeholders)?;
    placeholders.check_all_used()?;

    let table = db.serving_table(&ctx.table(common.name))?;
    let index = index_of(&table, common.index)?;
    let parameter = projection_parameter(body);
    let shape = shape(common.select, projection, parameter, index, true)?;
    let source = Source { table: &table, index };
    let key_query: KeyQuery = key_conditions::resolve(key_query, source.key())?;
    if let Some(filter) = &filter {
        let names = filter.attribute_names();
        if let Some(key) = source.key().attributes().find(|a| names.contains(a.name.as_str())) {
            let parameter = if body.has("QueryFilter") { "QueryFilter" } else { "Filter Expression" };
            return Err(DynamoError::validation(format!(
                "{parameter} can only contain non-primary key attributes: Primary key attribute: {}",
                key.name
            )));
        }
    }
    let start = start_position(&source, common.start.as_ref())?;
    let mut partition = Vec::new();
    crate::keys::encode_key_value(&mut partition, &key_query.hash);
    let mut page = Page::new(&source, common.limit, filter.as_ref(), &shape);
    let range_name = source.key().range.as_ref().map(|r| r.name.clone());
    db.scan_space(table.meta.id, source.space(), &partition, start.as_deref(), !forward, &mut |_, value| {
        let Some(item) = entry_item(db, &source, value)? else { return Ok(true) };
        let in_range = match (&key_query.range, &range_name) {
            (Some(condition), Some(name)) => item.get(name).is_some_and(|v| condition.matches(v)),
            _ => true,
        };
        if !in_range {
            return Ok(true);
        }
        Ok(page.take(item))
    })?;
    Ok(page.answer())
}
